"""``logs``: kubectl's container choice, its parameters, and the log streamed as it comes."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import click

from minikubelet.cli.client.commands import common

__all__ = ["choose_container", "logs"]


def _container_names(pod: Mapping[str, Any], key: str) -> list[str]:
    spec = pod.get("spec") if isinstance(pod.get("spec"), Mapping) else {}
    containers = spec.get(key) if isinstance(spec, Mapping) else None
    if not isinstance(containers, list):
        return []
    return [str(c.get("name")) for c in containers if isinstance(c, Mapping)]


def choose_container(pod: Mapping[str, Any], requested: str | None) -> tuple[str, str | None]:
    """kubectl's container choice: ``-c``, the default-container annotation, else the first.

    Returns the container and the notice kubectl writes to stderr when it chose among several.
    Raises ``ValueError`` with kubectl's message for a container the pod does not have.
    """
    name = str(common.metadata_of(pod).get("name", ""))
    regular = _container_names(pod, "containers")
    init = _container_names(pod, "initContainers")
    ephemeral = _container_names(pod, "ephemeralContainers")
    if requested:
        if requested not in (*regular, *init, *ephemeral):
            raise ValueError(f"container {requested} is not valid for pod {name}")
        return requested, None
    annotations = common.metadata_of(pod).get("annotations")
    if isinstance(annotations, Mapping):
        wanted = annotations.get("kubectl.kubernetes.io/default-container")
        if isinstance(wanted, str) and wanted in (*regular, *init, *ephemeral):
            return wanted, None
    if not regular:
        raise ValueError(f"pod {name} has no containers")
    notice = None
    if len(regular) > 1 or init or ephemeral:
        everything = [
            *regular,
            *(f"{c} (ephem)" for c in ephemeral),
            *(f"{c} (init)" for c in init),
        ]
        notice = f'Defaulted container "{regular[0]}" out of: {", ".join(everything)}'
    return regular[0], notice


@click.command()
@click.argument("pod_name", metavar="POD")
@click.option("--container", "-c", help="The container to print (default: the first).")
@click.option("--follow", "-f", is_flag=True, help="Stream the log as it is written.")
@click.option("--previous", "-p", is_flag=True, help="The previous, terminated instance's log.")
@click.option(
    "--tail", type=int, default=-1, show_default=True, help="Lines from the end; -1: all."
)
@click.option("--timestamps", is_flag=True, help="Prefix each line with its RFC 3339 time.")
@click.option(
    "--since", "since_text", metavar="DURATION", help="Only lines newer than this: 5s, 2m, 3h."
)
@click.option("--limit-bytes", type=int, default=None, help="At most this many bytes.")
@common.namespace_option
@common.server_option
@common.handles_errors
def logs(
    pod_name: str,
    container: str | None,
    follow: bool,
    previous: bool,
    tail: int,
    timestamps: bool,
    since_text: str | None,
    limit_bytes: int | None,
    namespace: str,
    server: str | None,
) -> None:
    """Print the log of a container of POD (pod/NAME works too), as kubectl logs."""
    resource, slash, rest = pod_name.partition("/")
    if slash:
        if resource not in common.POD_RESOURCES:
            common.fail(f'error: the server doesn\'t have a resource type "{resource}"')
        pod_name = rest
    params = {}
    if since_text is not None:
        from minikubelet.model.duration import parse_duration

        try:
            params["sinceSeconds"] = str(max(1, round(parse_duration(since_text))))
        except ValueError as error:
            common.fail(f'error: invalid argument "{since_text}" for "--since" flag: {error}')
    if limit_bytes is not None:
        if limit_bytes <= 0:
            common.fail("error: --limit-bytes must be greater than 0")
        params["limitBytes"] = str(limit_bytes)
    if tail >= 0:
        params["tailLines"] = str(tail)
    for flag, key in ((follow, "follow"), (previous, "previous"), (timestamps, "timestamps")):
        if flag:
            params[key] = "true"
    with common.connect(server) as connection:
        pod = connection.get(common.pod_path(namespace, pod_name))
        try:
            chosen, notice = choose_container(pod, container)
        except ValueError as error:
            common.fail(f"error: {error}")
        if notice:
            click.echo(notice, err=True)
        params["container"] = chosen
        out = sys.stdout.buffer
        with connection.stream(f"{common.pod_path(namespace, pod_name)}/log", params) as chunks:
            for chunk in chunks:
                out.write(chunk)
                out.flush()
