"""``get pods`` and ``get events``: the table (or ``-o wide|json|yaml|name``), and ``-w``'s
rows as they change.

``get configmaps|secrets`` is ``cli.client.objects``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click

from minikubelet.cli.client.commands import common
from minikubelet.cli.client.connection import Connection, StatusError
from minikubelet.cli.client.messages import status_error

__all__ = ["EVENT_RESOURCES", "get"]

EVENT_RESOURCES = frozenset({"event", "events", "ev"})


class _Printer:
    """Prints pods in one ``-o`` format; the table remembers its widths across ``-w`` rows."""

    def __init__(self, output: str | None, namespaced: bool) -> None:
        from minikubelet.cli.client.pods import table_writer

        self.output = output
        self.namespaced = namespaced
        self.writer = table_writer()
        self.header_printed = False

    def print_pods(self, pods: Sequence[Mapping[str, Any]], *, as_list: bool) -> None:
        from minikubelet.cli.client import output as formats

        if self.output in ("json", "yaml"):
            document: Mapping[str, Any] = formats.as_list(pods) if as_list else pods[0]
            text = formats.to_json(document) if self.output == "json" else formats.to_yaml(document)
            if not as_list and self.output == "yaml" and self.header_printed:
                text = "---\n" + text  # -w -o yaml: one document per event
            click.echo(text, nl=False)
        elif self.output == "name":
            click.echo("".join(formats.to_name(pod) for pod in pods), nl=False)
        else:
            from minikubelet.cli.client.pods import pod_row, pods_table

            now = common.now()
            text = pods_table(
                [pod_row(pod, now) for pod in pods],
                wide=self.output == "wide",
                namespaced=self.namespaced,
                header=not self.header_printed,
                writer=self.writer,
            )
            click.echo(text, nl=False)
        self.header_printed = True
        sys.stdout.flush()


def _watch_pods(
    connection: Connection,
    printer: _Printer,
    namespace: str | None,
    names: list[str],
    resource_version: str,
    printed: dict[str, str],
) -> None:
    """Print every change after the list, as ``get -w`` does, until the server closes."""
    params = {"resourceVersion": resource_version} if resource_version else {}
    if len(names) == 1:
        params["fieldSelector"] = f"metadata.name={names[0]}"
    with connection.watch(common.pods_path(namespace), params) as events:
        for event in events:
            obj = event.get("object")
            if not isinstance(obj, dict):
                continue
            if event.get("type") == "ERROR":
                click.echo(status_error(obj), err=True)
                return
            metadata = common.metadata_of(obj)
            if names and metadata.get("name") not in names:
                continue
            key = str(metadata.get("uid") or metadata.get("name"))
            version = str(metadata.get("resourceVersion") or "")
            if event.get("type") != "DELETED" and version and printed.get(key) == version:
                continue  # a replay of what the list already showed
            printed[key] = version
            printer.print_pods([obj], as_list=False)


def _get_events(
    connection: Connection, names: list[str], scope: str | None, output: str | None, watch: bool
) -> None:
    """``get events``: the apiserver's event Table (LAST SEEN, TYPE, REASON, OBJECT, ...)."""
    from minikubelet.cli.client import output as formats
    from minikubelet.cli.client.pods import table_writer
    from minikubelet.cli.client.printing import resource_table

    path = "/api/v1/events" if scope is None else f"/api/v1/namespaces/{scope}/events"
    listing = connection.get(path)
    items = [item for item in common.items_of(listing) if not names or _name(item) in names]
    writer = table_writer()
    printed = False

    def show(events: list[dict[str, Any]]) -> None:
        nonlocal printed
        if output in ("json", "yaml"):
            document = formats.as_list(events, "Event") if not watch or not printed else events[0]
            text = formats.to_json(document) if output == "json" else formats.to_yaml(document)
            click.echo(text, nl=False)
        elif output == "name":
            click.echo("".join(formats.to_name(e, "event") for e in events), nl=False)
        else:
            text = resource_table(
                "events",
                events,
                common.now(),
                wide=output == "wide",
                namespaced=scope is None,
                header=not printed,
                writer=writer,
            )
            click.echo(text, nl=False)
        printed = True
        sys.stdout.flush()

    if items or output in ("json", "yaml"):
        show(items)
    elif not watch:
        common.no_resources(scope)
    if not watch:
        return
    version = str(common.metadata_of(listing).get("resourceVersion") or "")
    with connection.watch(path, {"resourceVersion": version} if version else {}) as events:
        for event in events:
            obj = event.get("object")
            if not isinstance(obj, dict):
                continue
            if event.get("type") == "ERROR":
                click.echo(status_error(obj), err=True)
                return
            if not names or _name(obj) in names:
                show([obj])


def _name(obj: Mapping[str, Any]) -> str:
    return str(common.metadata_of(obj).get("name") or "")


@click.command()
@click.argument("arguments", nargs=-1, metavar="pods|events|configmaps|secrets [NAME...]")
@common.namespace_option
@click.option("--all-namespaces", "-A", is_flag=True, help="List pods in every namespace.")
@click.option(
    "--output",
    "-o",
    type=click.Choice(["wide", "json", "yaml", "name"]),
    help="Output format (default: a table like kubectl's).",
)
@click.option("--watch", "-w", is_flag=True, help="After listing, watch for changes.")
@common.server_option
@common.handles_errors
def get(
    arguments: tuple[str, ...],
    namespace: str,
    all_namespaces: bool,
    output: str | None,
    watch: bool,
    server: str | None,
) -> None:
    """Display pods (NAME READY STATUS RESTARTS AGE), events, configmaps or secrets, as kubectl
    get does."""
    from minikubelet.cli.client import objects

    if objects.resource_of(arguments) is not None:
        if output == "wide":
            output = None  # kubectl's wide table of these is the same table
        objects.get_objects(
            arguments,
            namespace=namespace,
            all_namespaces=all_namespaces,
            output=output,
            watch=watch,
            server=server,
        )
        return
    if arguments and arguments[0] in EVENT_RESOURCES:
        if all_namespaces and arguments[1:]:
            common.fail("error: a resource cannot be retrieved by name across all namespaces")
        with common.connect(server) as connection:
            _get_events(
                connection,
                list(arguments[1:]),
                None if all_namespaces else namespace,
                output,
                watch,
            )
        return
    names = common.pod_names(arguments, verb="get")
    if all_namespaces and names:
        common.fail("error: a resource cannot be retrieved by name across all namespaces")
    scope = None if all_namespaces else namespace
    printer = _Printer(output, namespaced=scope is None)
    failures: list[Mapping[str, Any]] = []
    with common.connect(server) as connection:
        if names:
            pods = []
            for name in names:
                try:
                    pods.append(connection.get(common.pod_path(namespace, name)))
                except StatusError as error:
                    failures.append(error.status)
            resource_version = ""
            as_list = len(names) > 1
        else:
            listing = connection.get(common.pods_path(scope))
            pods = common.items_of(listing)
            resource_version = str(common.metadata_of(listing).get("resourceVersion") or "")
            as_list = True
        if pods or (as_list and output in ("json", "yaml")):
            printer.print_pods(pods, as_list=as_list)
        elif not names and not watch:
            common.no_resources(scope)
        for status in failures:
            click.echo(status_error(status), err=True)
        if failures and not pods:
            raise common.Failed
        if watch:
            printed = {
                str(common.metadata_of(pod).get("uid") or common.metadata_of(pod).get("name")): str(
                    common.metadata_of(pod).get("resourceVersion") or ""
                )
                for pod in pods
            }
            _watch_pods(connection, printer, scope, names, resource_version, printed)
    if failures:
        raise common.Failed
