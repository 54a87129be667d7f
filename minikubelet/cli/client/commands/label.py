"""``label`` and ``annotate pod NAME KEY=VALUE... KEY-...``, as kubectl's, word for word.

``KEY=VALUE`` sets, ``KEY-`` removes. A key that already has another value is refused
unless ``--overwrite`` (``'app' already has a value (web), and --overwrite is false``);
removing a label that is not there says so (``label "x" not found.``). The change is one
JSON merge patch of the pod's metadata (what kubectl sends), which the daemon applies in
place: the pod keeps running. Prints ``pod/NAME labeled``, ``unlabeled`` (removals only)
or ``not labeled`` (no change), and ``pod/NAME annotated``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from minikubelet.cli.client.commands import common

__all__ = ["annotate", "label", "parse_changes"]

_MERGE_PATCH = "application/merge-patch+json"


def parse_changes(arguments: tuple[str, ...], what: str) -> tuple[dict[str, str], list[str]]:
    """``KEY=VALUE`` and ``KEY-`` arguments -> (to set, to remove); fails on others."""
    changes: dict[str, str] = {}
    removals: list[str] = []
    for argument in arguments:
        if "=" in argument:
            key, _, value = argument.partition("=")
            if not key:
                common.fail(f"error: invalid {what} format: {argument}")
            changes[key] = value
        elif argument.endswith("-") and len(argument) > 1:
            removals.append(argument[:-1])
        else:
            common.fail(f"error: at least one {what} update is required")
    for key in removals:
        if key in changes:
            common.fail(f"error: can not both modify and remove {what}s in the same command")
    if not changes and not removals:
        common.fail(f"error: at least one {what} update is required")
    return changes, removals


def _run(
    field: str,
    what: str,
    arguments: tuple[str, ...],
    overwrite: bool,
    namespace: str,
    server: str | None,
) -> None:
    if len(arguments) < 2:
        common.fail(
            "error: one or more resources must be specified as <resource> <name> or "
            "<resource>/<name>"
        )
    target, rest = arguments[:2], arguments[2:]
    if "/" in target[0]:
        names = common.pod_names(target[:1], verb=what, required=True)
        rest = arguments[1:]
    else:
        names = common.pod_names(target, verb=what, required=True)
    (name,) = names
    changes, removals = parse_changes(rest, what)
    with common.connect(server) as connection:
        pod = connection.get(common.pod_path(namespace, name))
        current = common.metadata_of(pod).get(field)
        current = current if isinstance(current, Mapping) else {}
        if not overwrite:
            for key, value in changes.items():
                if key in current and current[key] != value:
                    if what == "label":
                        common.fail(
                            f"error: '{key}' already has a value ({current[key]}), and "
                            "--overwrite is false"
                        )
                    common.fail(
                        "error: --overwrite is false but found the following declared "
                        f"annotation(s): '{key}' already has a value ({current[key]})"
                    )
        patch: dict[str, Any] = dict(changes)
        for key in removals:
            if key in current:
                patch[key] = None
            elif what == "label":
                click.echo(f'{what} "{key}" not found.')
        changed = any(current.get(k) != v for k, v in changes.items()) or any(
            k in current for k in removals
        )
        if patch:
            connection.request(
                "PATCH",
                common.pod_path(namespace, name),
                body={"metadata": {field: patch}},
                content_type=_MERGE_PATCH,
            )
    done = "annotated"
    if what == "label":
        done = "labeled" if changes else "unlabeled"
        if not changed:
            done = "not labeled"
    click.echo(f"pod/{name} {done}")


@click.command()
@click.argument("arguments", nargs=-1, metavar="pod NAME KEY=VALUE... [KEY-]...")
@click.option("--overwrite", is_flag=True, help="Replace a label that already has a value.")
@common.namespace_option
@common.server_option
@common.handles_errors
def label(arguments: tuple[str, ...], overwrite: bool, namespace: str, server: str | None) -> None:
    """Set (KEY=VALUE) or remove (KEY-) labels of a running pod, in place."""
    _run("labels", "label", arguments, overwrite, namespace, server)


@click.command()
@click.argument("arguments", nargs=-1, metavar="pod NAME KEY=VALUE... [KEY-]...")
@click.option("--overwrite", is_flag=True, help="Replace an annotation that already has a value.")
@common.namespace_option
@common.server_option
@common.handles_errors
def annotate(
    arguments: tuple[str, ...], overwrite: bool, namespace: str, server: str | None
) -> None:
    """Set (KEY=VALUE) or remove (KEY-) annotations of a running pod, in place."""
    _run("annotations", "annotation", arguments, overwrite, namespace, server)
