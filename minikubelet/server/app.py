"""The ASGI application: routes, the endpoints that are not about pods, and error shapes.

Every error is a Kubernetes ``Status`` with the right code: the handlers raise
``RequestError``; Starlette's own 404 (no route) and 405 (wrong method) are reworded as the
apiserver words them; anything unexpected is logged (``api.request_failed``) and answered
500 ``InternalError``, so a malformed request never hurts the daemon.
"""

from __future__ import annotations

import platform

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from minikubelet import __version__
from minikubelet.api.reasons import STATUS_REASONS
from minikubelet.errors import RequestError
from minikubelet.kubelet import Kubelet
from minikubelet.server import (
    actions,
    discovery,
    events,
    exec,
    kubeconfig,
    nodes,
    objects,
    pods,
    updates,
)
from minikubelet.server.auth import RequestGuard, TcpEndpoint
from minikubelet.server.changes import ChangeLog
from minikubelet.server.context import Api, api_of, json_response
from minikubelet.server.metrics import metrics_registries, render, render_metrics
from minikubelet.server.status import status_json, status_of
from minikubelet.server.summary import UsageSampler

__all__ = ["KUBERNETES_VERSION", "build_app"]

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


async def _request_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestError)
    return json_response(status_of(exc), exc.code)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message, reason = "the server could not find the requested resource", "NotFound"
    elif exc.status_code == 405:
        message = "the server does not allow this method on the requested resource"
        reason = "MethodNotAllowed"
    else:
        message, reason = str(exc.detail), STATUS_REASONS.get(exc.status_code, "Unknown")
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


_POD = "/api/v1/namespaces/{namespace}/pods/{name}"
_METRICS = "/apis/metrics.k8s.io/v1beta1"

ROUTES = [
    Route("/healthz", healthz),
    Route("/version", version),
    *discovery.ROUTES,
    Route("/pods", pods.kubelet_pods),
    Route("/api/v1/pods", pods.list_pods),
    Route("/api/v1/events", events.list_events),
    Route("/api/v1/nodes", nodes.list_nodes, methods=["GET"]),
    Route("/api/v1/nodes/{name}", nodes.get_node, methods=["GET"]),
    Route("/api/v1/namespaces/{namespace}/pods", pods.list_pods, methods=["GET"]),
    Route("/api/v1/namespaces/{namespace}/pods", pods.create_pod, methods=["POST"]),
    Route(_POD, pods.get_pod, methods=["GET"]),
    Route(_POD, pods.replace_pod, methods=["PUT"]),
    Route(_POD, updates.patch_pod, methods=["PATCH"]),
    Route(_POD, pods.delete_pod, methods=["DELETE"]),
    Route(f"{_POD}/status", pods.get_pod, methods=["GET"]),
    Route(f"{_POD}/status", updates.replace_pod_status, methods=["PUT"]),
    Route(f"{_POD}/status", updates.patch_pod_status, methods=["PATCH"]),
    Route(f"{_POD}/log", pods.pod_log),
    WebSocketRoute(f"{_POD}/exec", exec.exec_websocket),
    Route(f"{_POD}/exec", exec.exec_upgrade_required, methods=["GET", "POST"]),
    Route(f"{_POD}/trace", pods.pod_trace),
    Route(f"{_POD}/restart", actions.restart_container, methods=["POST"]),
    Route("/api/v1/namespaces/{namespace}/events", events.list_events),
    Route("/api/v1/namespaces/{namespace}/events/{name}", events.get_event),
    *objects.ROUTES,
    Route(f"{_METRICS}/pods", nodes.list_pod_metrics),
    Route(f"{_METRICS}/namespaces/{{namespace}}/pods", nodes.list_pod_metrics),
    Route(f"{_METRICS}/namespaces/{{namespace}}/pods/{{name}}", nodes.get_pod_metrics),
    Route(f"{_METRICS}/nodes", nodes.list_node_metrics),
    Route(f"{_METRICS}/nodes/{{name}}", nodes.get_node_metrics),
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
        exception_handlers={
            RequestError: _request_error,
            HTTPException: _http_error,
        },
    )
    app.state.tcp = tcp
    app.state.api = Api(
        kubelet=kubelet,
        changes=changes,
        sampler=UsageSampler(kubelet),
        metrics=everything,
        probe_metrics=probes,
        started=kubelet.clock(),
        kubernetes_version=f"{KUBERNETES_VERSION[0]}.{KUBERNETES_VERSION[1]}.0",
    )
    return app
