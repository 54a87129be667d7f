"""What every handler shares: the kubelet, the change log, and small request helpers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client.core import CollectorRegistry
from starlette.requests import Request
from starlette.responses import Response

from minikubelet.errors import RequestError
from minikubelet.kubelet import Kubelet
from minikubelet.server.changes import ChangeLog, Snapshot, encode
from minikubelet.server.summary import UsageSampler

__all__ = [
    "MAX_BODY",
    "Api",
    "api_of",
    "json_response",
    "list_response",
    "read_body",
    "snapshot_response",
]

MAX_BODY = 3 * 1024 * 1024  # the apiserver's limit on a request body


@dataclass
class Api:
    kubelet: Kubelet
    changes: ChangeLog
    sampler: UsageSampler
    metrics: CollectorRegistry
    probe_metrics: CollectorRegistry
    started: datetime = field(default_factory=lambda: datetime.now().astimezone())
    kubernetes_version: str = "1.33.0"  # what /version reports (``app.KUBERNETES_VERSION``)


def api_of(request: Request) -> Api:
    api = request.app.state.api
    assert isinstance(api, Api)
    return api


def json_response(data: Any, status: int = 200, warnings: Sequence[str] = ()) -> Response:
    return _response(encode(data), status, warnings)


def snapshot_response(
    snapshot: Snapshot, status: int = 200, warnings: Sequence[str] = ()
) -> Response:
    return _response(snapshot.data, status, warnings)


def list_response(kind: str, version: int | None, items: Sequence[Snapshot]) -> Response:
    """A ``PodList``/``EventList`` from ready-encoded items (no version: ``metadata: {}``)."""
    metadata = b"{}" if version is None else b'{"resourceVersion":"%d"}' % version
    body = b"".join(
        (
            b'{"kind":"' + kind.encode() + b'","apiVersion":"v1","metadata":' + metadata,
            b',"items":[' + b",".join(item.data for item in items) + b"]}",
        )
    )
    return _response(body, 200, ())


def _response(body: bytes, status: int, warnings: Sequence[str]) -> Response:
    response = Response(body, status_code=status, media_type="application/json")
    for warning in warnings:
        # RFC 7234 warn-code 299, as the apiserver sends them; kubectl prints "Warning: …".
        text = warning.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
        text = text.encode("ascii", "backslashreplace").decode("ascii")
        response.headers.append("Warning", f'299 - "{text}"')
    return response


async def read_body(request: Request) -> bytes:
    """The request body, refusing more than ``MAX_BODY`` bytes (413)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise RequestError(413, f"the request body is larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
