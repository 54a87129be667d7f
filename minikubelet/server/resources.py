"""Reading any resource as the apiserver serves it: lists, objects, watches, and Tables.

One implementation for pods, events, and whatever else a server module registers
(ConfigMaps, Secrets): a ``Resource`` names the resource, its kind and the fields its
field selector knows; ``list_response`` and ``object_response`` do the rest.

- ``labelSelector`` and ``fieldSelector`` filter lists and watches (``selectors.py``);
  the namespace in the path too (``/api/v1/pods`` is every namespace).
- ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` (what kubectl sends for human
  output) gets a ``meta.k8s.io`` Table from the apiserver's printers (``api/tables.py``):
  a list as a Table with the list's resourceVersion, one object as a one-row Table, a
  watch as one-row Tables; ``includeObject`` (``None``, ``Metadata``, ``Object``) says what
  each row's ``object`` is. A resource without a printer is served as JSON whatever the
  client asks (kubectl then prints NAME and AGE, as for any resource without one).
- Otherwise the ``<Kind>List`` with every item ready-encoded, or the object itself.

``limit`` is accepted and every item is sent, with no ``continue`` token, which clients
read as the last page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minikubelet.api import tables
from minikubelet.server.changes import Snapshot, encode
from minikubelet.server.context import Api, json_response, list_response, snapshot_response
from minikubelet.server.selectors import Reader, parse_field_selector, parse_label_selector
from minikubelet.server.watch import Frame, is_watch, plain_frame, watch_response

__all__ = ["Resource", "list_response_for", "object_response", "table_frame"]


@dataclass(frozen=True)
class Resource:
    """A resource as the list, get and watch handlers need to know it."""

    name: str  # "pods": its URL segment, and the change log's and the printers' key
    kind: str  # "Pod"
    fields: Mapping[str, Reader]  # what its fieldSelector may name

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def printed(self) -> bool:
        return self.name in tables.RESOURCES


def _table_options(request: Request, resource: Resource) -> tables.TableOptions | None:
    """The Table the client asked for, or None for JSON (also for a resource without one)."""
    if not resource.printed:
        return None
    version = tables.negotiate_table(request.headers.get("accept"))
    if version is None:
        return None
    return tables.table_options(request.query_params, version)


def table_frame(resource: Resource, options: tables.TableOptions, api: Api) -> Frame:
    """Watch frames as one-row Tables, the column definitions in the first one only."""

    def frame(type: str, snapshot: Snapshot, first: bool) -> bytes:
        return encode(
            tables.table(
                resource.name,
                [snapshot.obj],
                api.kubelet.clock(),
                resource_version=str(snapshot.version),
                options=replace(options, no_headers=not first),
            )
        )

    return frame


def list_response_for(
    request: Request,
    api: Api,
    resource: Resource,
    current: Callable[[str | None], Sequence[Snapshot]],
) -> Response:
    """``GET`` of a collection (``{namespace}`` from the path, or every namespace), with
    ``watch=true`` a watch. ``current(namespace)`` lists the objects now, in name order;
    it may narrow by namespace, the matching is done here whatever it returns."""
    namespace = request.path_params.get("namespace")
    query = request.query_params
    labels = parse_label_selector(query.get("labelSelector"))
    fields = parse_field_selector(query.get("fieldSelector"), resource.fields)
    options = _table_options(request, resource)

    def matches(obj: Mapping[str, Any]) -> bool:
        metadata = obj.get("metadata") or {}
        return (
            (namespace is None or metadata.get("namespace") == namespace)
            and labels.matches(metadata.get("labels") or {})
            and fields.matches(obj)
        )

    def now() -> Sequence[Snapshot]:
        return current(namespace)

    if is_watch(query.get("watch")):
        frame = plain_frame if options is None else table_frame(resource, options, api)
        return watch_response(
            api.changes, resource.name, now, matches, dict(query), kind=resource.kind, frame=frame
        )
    items = [snapshot for snapshot in now() if matches(snapshot.obj)]
    if options is None:
        return list_response(resource.list_kind, api.changes.version, items)
    return json_response(
        tables.table(
            resource.name,
            [item.obj for item in items],
            api.kubelet.clock(),
            resource_version=str(api.changes.version),
            options=options,
        )
    )


def object_response(
    request: Request,
    api: Api,
    resource: Resource,
    snapshot: Snapshot,
    status: int = 200,
    warnings: Sequence[str] = (),
) -> Response:
    """One object, or its one-row Table when the client asked for a Table."""
    options = _table_options(request, resource)
    if options is None:
        return snapshot_response(snapshot, status, warnings)
    return json_response(
        tables.table(
            resource.name,
            [snapshot.obj],
            api.kubelet.clock(),
            resource_version=str(snapshot.version),
            options=options,
        ),
        status,
        warnings,
    )
