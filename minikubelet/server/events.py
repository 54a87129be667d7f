"""``/api/v1/events`` and ``/api/v1/namespaces/{namespace}/events``: what the kubelet recorded.

Listed in name order, which is the apiserver's order and, since events are named as the
kubelet names them (``<pod>.<hex UnixNano>``), the order they were first seen; selected by
``fieldSelector`` on ``involvedObject.*``, ``reason``, ``type``... (what ``kubectl
describe`` and ``kubectl events --for`` send), watched, and printed as the apiserver's
event Table (``kubectl get events``: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import Response

from minikubelet.server.changes import Snapshot
from minikubelet.server.context import api_of
from minikubelet.server.resources import Resource, list_response_for, object_response
from minikubelet.server.selectors import EVENT_FIELDS
from minikubelet.server.status import not_found

__all__ = ["EVENT", "get_event", "list_events"]

EVENT = Resource("events", "Event", EVENT_FIELDS)


async def list_events(request: Request) -> Response:
    """``GET /api/v1/events`` and ``/api/v1/namespaces/{namespace}/events`` (and watch)."""
    api = api_of(request)

    def current(namespace: str | None) -> Sequence[Snapshot]:
        events = api.kubelet.recorder.events(namespace)
        events.sort(key=lambda e: (e.namespace, e.name))
        return [api.changes.event(e) for e in events]

    return list_response_for(request, api, EVENT, current)


async def get_event(request: Request) -> Response:
    """``GET /api/v1/namespaces/{namespace}/events/{name}``."""
    api = api_of(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    for event in api.kubelet.recorder.events(namespace):
        if event.name == name:
            return object_response(request, api, EVENT, api.changes.event(event))
    raise not_found(name, "events")
