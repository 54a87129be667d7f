"""``get`` and ``describe`` of ConfigMaps and Secrets, as kubectl prints them.

``get configmaps``: NAME DATA AGE (DATA counts ``data`` and ``binaryData`` keys);
``get secrets``: NAME TYPE DATA AGE (kubectl's ``printConfigMap``/``printSecret``), NAMESPACE
first with ``-A``; ``-o json|yaml|name``; ``-w`` prints a row per change. ``describe
configmap`` is kubectl's ``describeConfigMap`` (every value, binary ones as sizes, then the
events); ``describe secret`` is ``describeSecret``: its values are never shown, only their
sizes (``password:  16 bytes``), and it has no events section.
"""

from __future__ import annotations

import base64
import binascii
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime

import click

from minikubelet.api.types import JSONView
from minikubelet.cli.client.commands import common
from minikubelet.cli.client.connection import Connection, StatusError
from minikubelet.cli.client.humanize import since
from minikubelet.cli.client.messages import status_error
from minikubelet.cli.client.tabwriter import TabWriter, tabulate

__all__ = [
    "RESOURCES",
    "describe_config_map",
    "describe_objects",
    "describe_secret",
    "get_objects",
    "object_path",
    "objects_path",
    "objects_table",
    "resource_of",
]


# What a user may type -> (API resource, kubectl's singular, Kind).
RESOURCES = {
    "configmap": "configmaps",
    "configmaps": "configmaps",
    "cm": "configmaps",
    "secret": "secrets",
    "secrets": "secrets",
}
_SINGULAR = {"configmaps": "configmap", "secrets": "secret"}
_KIND = {"configmaps": "ConfigMap", "secrets": "Secret"}
_SKIPPED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})


def resource_of(arguments: Sequence[str]) -> str | None:
    """``configmaps`` or ``secrets`` when the command names one of them, else None."""
    if not arguments:
        return None
    return RESOURCES.get(arguments[0].partition("/")[0])


def _names(arguments: Sequence[str], resource: str) -> list[str]:
    """``configmap NAME...``, ``configmaps``, or ``cm/NAME...`` -> the names (empty: all)."""
    if "/" in arguments[0]:
        names = []
        for argument in arguments:
            kind, _, name = argument.partition("/")
            if RESOURCES.get(kind) != resource:
                common.fail("error: arguments in resource/name form must have a single resource")
            if not name:
                common.fail(
                    "error: arguments in resource/name form must have a single resource and name"
                )
            names.append(name)
        return names
    return list(arguments[1:])


def objects_path(resource: str, namespace: str | None) -> str:
    if namespace is None:
        return f"/api/v1/{resource}"
    return f"/api/v1/namespaces/{namespace}/{resource}"


def object_path(resource: str, namespace: str, name: str) -> str:
    return f"{objects_path(resource, namespace)}/{name}"


def _mapping(value: object) -> JSONView:
    return value if isinstance(value, Mapping) else {}


def _row(resource: str, obj: JSONView, now: datetime, namespaced: bool) -> list[str]:
    metadata = _mapping(obj.get("metadata"))
    cells = [str(metadata.get("name", ""))]
    if resource == "secrets":
        cells.append(str(obj.get("type", "")))
        cells.append(str(len(_mapping(obj.get("data")))))
    else:
        cells.append(str(len(_mapping(obj.get("data"))) + len(_mapping(obj.get("binaryData")))))
    cells.append(since(metadata.get("creationTimestamp"), now))
    if namespaced:
        cells.insert(0, str(metadata.get("namespace", "")))
    return cells


def objects_table(
    resource: str,
    objects: Sequence[JSONView],
    now: datetime,
    *,
    namespaced: bool = False,
    header: bool = True,
    writer: TabWriter | None = None,
) -> str:
    """The ``get`` table: kubectl's columns for ConfigMaps or Secrets."""
    lines: list[list[str]] = []
    if header:
        columns = (
            ["NAME", "TYPE", "DATA", "AGE"] if resource == "secrets" else ["NAME", "DATA", "AGE"]
        )
        lines.append(["NAMESPACE", *columns] if namespaced else columns)
    lines.extend(_row(resource, obj, now, namespaced) for obj in objects)
    text = "".join("\t".join(cells) + "\n" for cells in lines)
    return (writer or TabWriter(minwidth=6, padding=3, remember=True)).format(text)


class _Printer:
    def __init__(self, resource: str, output: str | None, namespaced: bool) -> None:
        self.resource = resource
        self.output = output
        self.namespaced = namespaced
        self.writer = TabWriter(minwidth=6, padding=3, remember=True)
        self.header_printed = False

    def print(self, objects: Sequence[JSONView], *, as_list: bool) -> None:
        from minikubelet.cli.client import output as formats

        if self.output in ("json", "yaml"):
            kind = _KIND[self.resource]
            document: JSONView = formats.as_list(objects, kind) if as_list else objects[0]
            text = formats.to_json(document) if self.output == "json" else formats.to_yaml(document)
            if not as_list and self.output == "yaml" and self.header_printed:
                text = "---\n" + text
            click.echo(text, nl=False)
        elif self.output == "name":
            singular = _SINGULAR[self.resource]
            click.echo("".join(formats.to_name(obj, singular) for obj in objects), nl=False)
        else:
            text = objects_table(
                self.resource,
                objects,
                common.now(),
                namespaced=self.namespaced,
                header=not self.header_printed,
                writer=self.writer,
            )
            click.echo(text, nl=False)
        self.header_printed = True
        sys.stdout.flush()


def get_objects(
    arguments: Sequence[str],
    *,
    namespace: str,
    all_namespaces: bool,
    output: str | None,
    watch: bool,
    server: str | None,
) -> None:
    """``get configmaps|secrets [NAME...]``."""
    resource = resource_of(arguments)
    assert resource is not None
    names = _names(arguments, resource)
    if all_namespaces and names:
        common.fail("error: a resource cannot be retrieved by name across all namespaces")
    scope = None if all_namespaces else namespace
    printer = _Printer(resource, output, namespaced=scope is None)
    failures: list[JSONView] = []
    with common.connect(server) as connection:
        if names:
            objects = []
            for name in names:
                try:
                    objects.append(connection.get(object_path(resource, namespace, name)))
                except StatusError as error:
                    failures.append(error.status)
            version, as_list = "", len(names) > 1
        else:
            listing = connection.get(objects_path(resource, scope))
            objects = common.items_of(listing)
            version = str(common.metadata_of(listing).get("resourceVersion") or "")
            as_list = True
        if objects or (as_list and output in ("json", "yaml")):
            printer.print(objects, as_list=as_list)
        elif not names and not watch:
            common.no_resources(scope)
        for status in failures:
            click.echo(status_error(status), err=True)
        if failures and not objects:
            raise common.Failed
        if watch:
            _watch(connection, printer, resource, scope, names, version, objects)
    if failures:
        raise common.Failed


def _watch(
    connection: Connection,
    printer: _Printer,
    resource: str,
    namespace: str | None,
    names: list[str],
    version: str,
    listed: Sequence[JSONView],
) -> None:
    """A row per change after the list, until the server closes the stream."""
    printed = {
        str(common.metadata_of(obj).get("uid")): str(common.metadata_of(obj).get("resourceVersion"))
        for obj in listed
    }
    params = {"resourceVersion": version} if version else {}
    if len(names) == 1:
        params["fieldSelector"] = f"metadata.name={names[0]}"
    with connection.watch(objects_path(resource, namespace), params) as events:
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
            key, seen = str(metadata.get("uid")), str(metadata.get("resourceVersion") or "")
            if event.get("type") != "DELETED" and seen and printed.get(key) == seen:
                continue  # a replay of what the list already showed
            printed[key] = seen
            printer.print([obj], as_list=False)


# -- describe ------------------------------------------------------------------------


def _labels(title: str, labels: JSONView) -> str:
    if not labels:
        return f"{title}:\t<none>\n"
    keys = sorted(labels)
    return f"{title}:\t" + "".join(
        ("" if i == 0 else "\t") + f"{key}={labels[key]}\n" for i, key in enumerate(keys)
    )


def _annotations(annotations: JSONView) -> str:
    keys = sorted(key for key in annotations if key not in _SKIPPED_ANNOTATIONS)
    if not keys:
        return "Annotations:\t<none>\n"
    return "Annotations:\t" + "".join(
        ("" if i == 0 else "\t") + f"{key}: {annotations[key]}\n" for i, key in enumerate(keys)
    )


def _header(obj: JSONView) -> str:
    metadata = _mapping(obj.get("metadata"))
    return (
        f"Name:\t{metadata.get('name', '')}\n"
        f"Namespace:\t{metadata.get('namespace', '')}\n"
        + _labels("Labels", _mapping(metadata.get("labels")))
        + _annotations(_mapping(metadata.get("annotations")))
    )


def _size(encoded: object) -> int:
    """The decoded size of a base64 value (what kubectl counts)."""
    try:
        return len(base64.b64decode(str(encoded), validate=True))
    except (binascii.Error, ValueError):
        return 0


def describe_config_map(config_map: JSONView, events: Sequence[JSONView], now: datetime) -> str:
    """kubectl's ``describeConfigMap``: the values, binary ones as sizes, then the events."""
    from minikubelet.cli.client.describe import describe_events

    text = _header(config_map) + "\nData\n====\n"
    data = _mapping(config_map.get("data"))
    for key in sorted(data):
        text += f"{key}:\n----\n{data[key]}\n"
    text += "\nBinaryData\n====\n"
    binary = _mapping(config_map.get("binaryData"))
    for key in sorted(binary):
        text += f"{key}: {_size(binary[key])} bytes\n"
    text += "\n"
    return tabulate(text) + describe_events(events, now)


def describe_secret(secret: JSONView) -> str:
    """kubectl's ``describeSecret``: every key with the size of its value, never the value."""
    text = _header(secret) + f"\nType:\t{secret.get('type', '')}\n\nData\n====\n"
    data = _mapping(secret.get("data"))
    for key in sorted(data):
        text += f"{key}:\t{_size(data[key])} bytes\n"
    return tabulate(text)


def _events(connection: Connection, obj: JSONView) -> list[JSONView]:
    metadata = _mapping(obj.get("metadata"))
    name, namespace = str(metadata.get("name")), str(metadata.get("namespace") or "default")
    try:
        listing = connection.get(
            f"/api/v1/namespaces/{namespace}/events",
            {"fieldSelector": f"involvedObject.name={name}"},
        )
    except StatusError:
        return []
    return [
        event
        for event in common.items_of(listing)
        if _mapping(event.get("involvedObject")).get("kind") == "ConfigMap"
        and _mapping(event.get("involvedObject")).get("name") == name
    ]


def describe_objects(arguments: Sequence[str], *, namespace: str, server: str | None) -> None:
    """``describe configmap|secret [NAME...]`` (no name: every one in the namespace)."""
    resource = resource_of(arguments)
    assert resource is not None
    names = _names(arguments, resource)
    texts, failures = [], []
    with common.connect(server) as connection:
        if names:
            objects = []
            for name in names:
                try:
                    objects.append(connection.get(object_path(resource, namespace, name)))
                except StatusError as error:
                    failures.append(error.status)
        else:
            objects = common.items_of(connection.get(objects_path(resource, namespace)))
            if not objects:
                common.no_resources(namespace)
        for obj in objects:
            if resource == "secrets":
                texts.append(describe_secret(obj))
            else:
                texts.append(describe_config_map(obj, _events(connection, obj), common.now()))
    if texts:
        click.echo("\n\n".join(texts), nl=False)
    for status in failures:
        click.echo(status_error(status), err=True)
    if failures:
        raise common.Failed
