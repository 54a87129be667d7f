"""``apply -f``: create, replace (PUT) when the manifest changed, or leave unchanged.

Pods, ConfigMaps and Secrets: the objects are applied before the pods of the same
invocation, so a pod does not start (and fail with ``CreateContainerConfigError``) before
the ConfigMap beside it in the file exists. kubectl applies in file order; the end state is
the same, since a waiting pod starts as soon as its object is created.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import click

from minikubelet.cli.client.commands import common
from minikubelet.cli.client.connection import ApiError
from minikubelet.cli.client.messages import status_error

__all__ = ["apply"]


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
    """Create pods, configmaps and secrets, or replace those whose manifest changed
    (created, configured, unchanged)."""
    from minikubelet.cli.client.manifests import (
        LAST_APPLIED,
        ManifestProblem,
        last_applied,
        read_sources,
        with_last_applied,
    )

    stdin_text = sys.stdin.read() if "-" in filenames else None
    try:
        pods = read_sources(filenames, stdin_text, namespace)
    except ManifestProblem as error:
        common.fail(str(error))
    if not pods:
        common.fail("error: no objects passed to apply")
    pods.sort(key=lambda item: item.kind == "Pod")  # stable: objects first, each in order
    failed = False
    with common.connect(server) as connection:
        for pod in pods:
            pod_namespace = str(pod.manifest["metadata"]["namespace"])
            collection = f"/api/v1/namespaces/{pod_namespace}/{pod.resource}"
            path = f"{collection}/{pod.name}"
            label = f"{pod.singular}/{pod.name}"
            desired = with_last_applied(pod.manifest)
            verb = ""
            try:
                try:
                    current: dict[str, Any] | None = connection.get(path)
                except ApiError as error:
                    if error.code != 404:
                        raise
                    current = None
                if current is None:
                    verb = "creating"
                    connection.request("POST", collection, body=desired)
                    click.echo(f"{label} created")
                    continue
                annotations = common.metadata_of(current).get("annotations")
                stored = annotations.get(LAST_APPLIED) if isinstance(annotations, Mapping) else None
                if stored == last_applied(pod.manifest):
                    click.echo(f"{label} unchanged")
                    continue
                if stored is None:
                    click.echo(
                        f"Warning: resource {pod.resource}/{pod.name} is missing the "
                        f"{LAST_APPLIED} annotation which is required by minikubelet apply. "
                        "The missing annotation will be added.",
                        err=True,
                    )
                version = common.metadata_of(current).get("resourceVersion")
                if version:
                    desired["metadata"]["resourceVersion"] = version
                verb = "replacing"
                connection.request("PUT", path, body=desired)
                click.echo(f"{label} configured")
            except ApiError as error:
                prefix = f'error when {verb} "{pod.source}": ' if verb else ""
                click.echo(status_error(error.status, prefix), err=True)
                failed = True
    if failed:
        raise common.Failed
