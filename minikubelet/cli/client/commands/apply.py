"""``apply -f``: create, replace (PUT) when the manifest changed, or leave unchanged.

Every object of the input is applied on its own, whatever its kind (Pods, ConfigMaps,
Secrets; a ``kind: List`` may mix them): a failure is reported for that object and the
others go on, as kubectl does. ConfigMaps and Secrets go before the pods of the same
invocation, so a pod does not start (and fail with ``CreateContainerConfigError``) before
the ConfigMap beside it in the file exists; kubectl applies in file order, and the end
state is the same, since a waiting pod starts as soon as its object is created. As
kubectl's client-side apply, the manifest sent carries its own
``last-applied-configuration``; one whose record matches the live object's is
``unchanged``. A changed pod is replaced: the old one stops gracefully (its
preStop hook, its grace period) and the new one starts, so the command can wait for as
long as that grace period; after a second of it, it says so on stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import click

from minikubelet.cli.client.commands import common
from minikubelet.cli.client.connection import StatusError
from minikubelet.cli.client.messages import status_error

__all__ = ["WAIT_NOTICE_AFTER", "apply"]

WAIT_NOTICE_AFTER = 1.0  # seconds a replacement may take before the command says why


def _grace(obj: Mapping[str, Any]) -> int:
    spec = obj.get("spec")
    grace = spec.get("terminationGracePeriodSeconds") if isinstance(spec, Mapping) else None
    return grace if isinstance(grace, int) else 30


@click.command()
@click.option(
    "--filename",
    "-f",
    "filenames",
    multiple=True,
    required=True,
    help="A manifest file, a directory of them, or - for stdin. Repeatable.",
)
@common.namespace_option
@common.server_option
@common.handles_errors
def apply(filenames: tuple[str, ...], namespace: str, server: str | None) -> None:
    """Create objects, or replace those whose manifest changed (created, configured,
    unchanged)."""
    from minikubelet.cli.client.manifests import (
        LAST_APPLIED,
        ManifestProblem,
        last_applied,
        read_sources,
        with_last_applied,
    )

    stdin_text = sys.stdin.read() if "-" in filenames else None
    try:
        objects = read_sources(filenames, stdin_text, namespace)
    except ManifestProblem as error:
        common.fail(str(error))
    if not objects:
        common.fail("error: no objects passed to apply")
    objects.sort(key=lambda item: item.kind == "Pod")  # stable: objects first, each in order
    failed = False
    with common.connect(server) as connection:
        for obj in objects:
            object_namespace = str(obj.manifest["metadata"]["namespace"])
            collection = f"/api/v1/namespaces/{object_namespace}/{obj.resource}"
            path = f"{collection}/{obj.name}"
            desired = with_last_applied(obj.manifest)
            verb = ""
            try:
                try:
                    current: dict[str, Any] | None = connection.get(path)
                except StatusError as error:
                    if (
                        error.code != 404
                        or error.reason != "NotFound"
                        or "details" not in (error.status)
                    ):
                        raise
                    current = None
                if current is None:
                    verb = "creating"
                    connection.request("POST", collection, body=desired)
                    click.echo(f"{obj.label} created")
                    continue
                annotations = common.metadata_of(current).get("annotations")
                stored = annotations.get(LAST_APPLIED) if isinstance(annotations, Mapping) else None
                if stored == last_applied(obj.manifest):
                    click.echo(f"{obj.label} unchanged")
                    continue
                if stored is None:
                    click.echo(
                        f"Warning: resource {obj.resource}/{obj.name} is missing the "
                        f"{LAST_APPLIED} annotation which is required by minikubelet apply. "
                        "The missing annotation will be added.",
                        err=True,
                    )
                version = common.metadata_of(current).get("resourceVersion")
                if version:
                    desired["metadata"]["resourceVersion"] = version
                verb = "replacing"
                notice = None
                if obj.kind == "Pod":
                    notice = common.notice_after(
                        WAIT_NOTICE_AFTER,
                        f"waiting for {obj.label} to stop before it is replaced (grace period "
                        f"{_grace(current)}s: preStop, SIGTERM, then SIGKILL)...",
                    )
                try:
                    # No read timeout: a pod's replacement takes its whole grace period.
                    connection.request("PUT", path, body=desired, read_timeout=None)
                finally:
                    if notice is not None:
                        notice.cancel()
                click.echo(f"{obj.label} configured")
            except StatusError as error:
                prefix = f'error when {verb} "{obj.source}": ' if verb else ""
                click.echo(status_error(error.status, prefix), err=True)
                failed = True
    if failed:
        raise common.Failed
