"""``describe pod``: the pod, then its events (those of this incarnation of it).

``describe configmap|secret`` is ``cli.client.objects``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from minikubelet.cli.client.commands import common
from minikubelet.cli.client.connection import Connection, StatusError
from minikubelet.cli.client.messages import status_error

__all__ = ["describe"]


def _events_for(connection: Connection, pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The pod's events; none when the server has no events for it (or no events endpoint)."""
    metadata = common.metadata_of(pod)
    name, namespace = str(metadata.get("name")), str(metadata.get("namespace") or "default")
    annotations = metadata.get("annotations")
    if not isinstance(annotations, Mapping):
        annotations = {}
    uid = str(annotations.get("kubernetes.io/config.mirror") or metadata.get("uid") or "")
    try:
        listing = connection.get(
            f"/api/v1/namespaces/{namespace}/events",
            {"fieldSelector": f"involvedObject.name={name}"},
        )
    except StatusError:
        return []
    events = []
    for event in common.items_of(listing):
        involved = event.get("involvedObject")
        if not isinstance(involved, Mapping) or involved.get("name") != name:
            continue
        if involved.get("namespace", namespace) != namespace:
            continue
        if uid and involved.get("uid") and involved.get("uid") != uid:
            continue  # an earlier incarnation of the pod, as kubectl filters by uid
        events.append(event)
    return events


def _trace_for(connection: Connection, pod: Mapping[str, Any]) -> dict[str, Any] | None:
    """The pod's last terminations, step by step; None from a server that has none."""
    metadata = common.metadata_of(pod)
    path = common.pod_path(str(metadata.get("namespace", "default")), str(metadata.get("name", "")))
    try:
        trace = connection.get(path + "/trace")
    except StatusError:
        return None
    return trace if isinstance(trace, dict) else None


def _find_pods(connection: Connection, namespace: str, name: str) -> list[dict[str, Any]]:
    """The pod, or (as kubectl does when it is not found) every pod whose name starts so."""
    try:
        return [connection.get(common.pod_path(namespace, name))]
    except StatusError as error:
        if error.code != 404:
            raise
        matches = [
            pod
            for pod in common.items_of(connection.get(common.pods_path(namespace)))
            if str(common.metadata_of(pod).get("name", "")).startswith(name)
        ]
        if not matches:
            raise
        return matches


@click.command()
@click.argument("arguments", nargs=-1, metavar="pod|configmap|secret [NAME...]")
@common.namespace_option
@common.server_option
@common.handles_errors
def describe(arguments: tuple[str, ...], namespace: str, server: str | None) -> None:
    """Show a pod in detail (containers, states, probes, conditions, events), or a
    configmap or secret (a secret's values are never shown, only their sizes)."""
    from minikubelet.cli.client import objects
    from minikubelet.cli.client.describe import describe_pod

    if objects.resource_of(arguments) is not None:
        objects.describe_objects(arguments, namespace=namespace, server=server)
        return

    names = common.pod_names(arguments, verb="describe")
    texts = []
    failures = []
    with common.connect(server) as connection:
        if names:
            pods = []
            for name in names:
                try:
                    pods += _find_pods(connection, namespace, name)
                except StatusError as error:
                    failures.append(error.status)
        else:
            pods = common.items_of(connection.get(common.pods_path(namespace)))
            if not pods:
                common.no_resources(namespace)
        for pod in pods:
            events = _events_for(connection, pod)
            texts.append(describe_pod(pod, events, common.now(), _trace_for(connection, pod)))
    if texts:
        click.echo("\n\n".join(texts), nl=False)
    for status in failures:
        click.echo(status_error(status), err=True)
    if failures:
        raise common.Failed
