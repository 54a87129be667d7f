"""The ASGI application: routes, the endpoints that are not about pods, and error shapes.

Every error is a Kubernetes ``Status`` with the right code: the handlers raise
``ApiError``; Starlette's own 404 (no route) and 405 (wrong method) are reworded as the
apiserver words them; anything unexpected is logged (``api.request_failed``) and answered
500 ``InternalError``, so a malformed request never hurts the daemon.
"""

from __future__ import annotations

import platform
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from minikubelet import __version__
from minikubelet.kubelet import Kubelet
from minikubelet.server import actions, discovery, kubeconfig, objects, pods
from minikubelet.server.auth import RequestGuard, TcpEndpoint
from minikubelet.server.changes import ChangeLog, Snapshot
from minikubelet.server.context import Api, api_of, json_response, list_response
from minikubelet.server.metrics import metrics_registries, render, render_metrics
from minikubelet.server.selectors import EVENT_FIELDS, parse_field_selector
from minikubelet.server.status import ApiError, status_json
from minikubelet.server.summary import UsageSampler
from minikubelet.server.watch import watch_response

__all__ = ["KUBERNETES_VERSION", "build_app"]

JSON = dict[str, Any]
_log = structlog.get_logger("minikubelet.server")

KUBERNETES_VERSION = ("1", "33")  # what kubectl's version dispatcher picks a client by
_MACHINES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}
_PLATFORM = f"{platform.system().lower()}/{_MACHINES.get(platform.machine(), platform.machine())}"


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def version(request: Request) -> Response:
    major, minor = KUBERNETES_VERSION
    return json_response(
        {
            "major": major,
            "minor": minor,
            "gitVersion": f"v{major}.{minor}.0-minikubelet",
            "gitCommit": "",
            "gitTreeState": "",
            "buildDate": "",
            "goVersion": "",
            "compiler": "minikubelet",
            "platform": _PLATFORM,
            "minikubeletVersion": __version__,
        }
    )


async def list_events(request: Request) -> Response:
    """``GET /api/v1/events`` and ``/api/v1/namespaces/{namespace}/events`` (EventList)."""
    api = api_of(request)
    namespace = request.path_params.get("namespace")
    query = request.query_params
    fields = parse_field_selector(query.get("fieldSelector"), EVENT_FIELDS)

    def matches(obj: JSON) -> bool:
        in_namespace = namespace is None or obj["metadata"].get("namespace") == namespace
        return in_namespace and fields.matches(obj)

    def current() -> list[Snapshot]:
        events = api.kubelet.recorder.events(namespace)
        events.sort(key=lambda e: (e.namespace, e.name))
        return [api.changes.event(e) for e in events]

    if query.get("watch") in ("true", "1", "True", "TRUE", "t"):
        return watch_response(api.changes, "events", current, matches, dict(query))
    items = [snapshot for snapshot in current() if matches(snapshot.obj)]
    return list_response("EventList", api.changes.version, items)


async def metrics(request: Request) -> Response:
    api = api_of(request)
    accept = request.headers.get("accept", "")
    body, content_type = await render_metrics(api.kubelet, api.metrics, accept)
    return Response(body, media_type=content_type)


async def probe_metrics(request: Request) -> Response:
    body, content_type = render(api_of(request).probe_metrics, request.headers.get("accept", ""))
    return Response(body, media_type=content_type)


async def stats_summary(request: Request) -> Response:
    return json_response(await api_of(request).sampler.summary())


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return json_response(exc.json(), exc.code)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message, reason = "the server could not find the requested resource", "NotFound"
    elif exc.status_code == 405:
        message = "the server does not allow this method on the requested resource"
        reason = "MethodNotAllowed"
    else:
        message, reason = str(exc.detail), ApiError(exc.status_code, "").reason
    return json_response(status_json(exc.status_code, message, reason), exc.status_code)


class _CatchAll:
    """Answer 500 ``InternalError`` to whatever a handler did not expect, and log it."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self._app(scope, receive, tracking_send)
        except ClientDisconnect:
            return  # the client left while sending its body: nobody to answer
        except Exception as error:
            _log.exception(
                "api.request_failed",
                method=scope.get("method"),
                path=scope.get("path"),
                error=repr(error),
            )
            if started:
                return  # a stream broke half-way: nothing more can be said to this client
            response = json_response(
                status_json(500, f"Internal error occurred: {error}", "InternalError"), 500
            )
            await response(scope, receive, send)


ROUTES = [
    Route("/healthz", healthz),
    Route("/version", version),
    *discovery.ROUTES,
    Route("/pods", pods.kubelet_pods),
    Route("/api/v1/pods", pods.list_pods),
    Route("/api/v1/events", list_events),
    Route("/api/v1/namespaces/{namespace}/pods", pods.list_pods, methods=["GET"]),
    Route("/api/v1/namespaces/{namespace}/pods", pods.create_pod, methods=["POST"]),
    Route("/api/v1/namespaces/{namespace}/pods/{name}", pods.get_pod, methods=["GET"]),
    Route("/api/v1/namespaces/{namespace}/pods/{name}", pods.replace_pod, methods=["PUT"]),
    Route("/api/v1/namespaces/{namespace}/pods/{name}", pods.delete_pod, methods=["DELETE"]),
    Route("/api/v1/namespaces/{namespace}/pods/{name}/log", pods.pod_log),
    Route("/api/v1/namespaces/{namespace}/pods/{name}/trace", pods.pod_trace),
    Route(
        "/api/v1/namespaces/{namespace}/pods/{name}/restart",
        actions.restart_container,
        methods=["POST"],
    ),
    Route("/api/v1/namespaces/{namespace}/events", list_events),
    *objects.ROUTES,
    Route("/containerLogs/{namespace}/{pod}/{container}", pods.container_logs),
    Route("/metrics", metrics),
    Route("/metrics/probes", probe_metrics),
    Route("/stats/summary", stats_summary),
    Route("/kubeconfig", kubeconfig.kubeconfig),
]


def build_app(
    kubelet: Kubelet,
    changes: ChangeLog,
    *,
    tcp: TcpEndpoint | None = None,
    unix: bool = True,
) -> Starlette:
    """The API for ``kubelet``; ``changes`` must be attached to it by the caller.

    ``tcp`` is the TCP listener (None: there is none) and ``unix`` whether a unix socket
    is served: the guard (``server.auth``) refuses what either may not do, before routing.
    """
    everything, probes = metrics_registries(kubelet)
    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(_CatchAll), Middleware(RequestGuard, tcp=tcp, unix=unix)],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
    app.state.tcp = tcp
    app.state.api = Api(
        kubelet=kubelet,
        changes=changes,
        sampler=UsageSampler(kubelet),
        metrics=everything,
        probe_metrics=probes,
    )
    return app
