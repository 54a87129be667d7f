"""The HTTP API: Kubernetes-shaped JSON on a unix socket and, when asked, TCP.

    serve_api(kubelet, endpoints)   run the API until cancelled (use with TaskGroup.start)
    ApiEndpoints                    where to listen (socket path, TCP address and port),
                                    with TLS or not, and who may use TCP (token, anonymous)
    Listening                       where it listens (what ``task_status.started`` reports)
    SocketInUseError                the socket belongs to another live minikubelet

Modules: ``app`` (routes, errors), ``discovery`` (discovery and OpenAPI), ``resources``
(lists, objects, watches and Tables of any resource), ``pods`` (pod endpoints, delete
options and logs), ``objects`` (ConfigMaps and Secrets), ``decoding`` (request bodies to
Pods), ``updates`` (PATCH, server-side apply, ``pods/status``), ``exec`` (``kubectl exec``
over websockets), ``events``, ``nodes`` (this machine as a Node, ``metrics.k8s.io``),
``logs`` (log selection and reading), ``watch`` and ``changes`` (resource versions and
watch streams), ``selectors``, ``metrics``, ``summary`` (``/stats/summary``), ``listen``
(the sockets), ``auth`` (who may talk over which transport, and what a request must look
like), ``tls`` (the listener's certificate, configured or its own), ``kubeconfig``
(credentials handed out over the socket), ``streaming`` (long-lived responses).

The server is a Starlette app run by hypercorn inside minikubelet's own event loop,
asyncio or trio (whichever is running, through sniffio), so handlers read the kubelet's
state directly, between its steps, with no locking.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import sniffio
import structlog
from hypercorn.config import Config, Sockets

from minikubelet.kubelet import Kubelet
from minikubelet.server.app import build_app
from minikubelet.server.auth import TcpEndpoint
from minikubelet.server.changes import ChangeLog, VersionReservation
from minikubelet.server.listen import Listeners, SocketInUseError, open_listeners
from minikubelet.server.tls import SelfSigned, TlsFiles, TlsSource

__all__ = [
    "SHUTDOWN_GRACE",
    "ApiEndpoints",
    "Listening",
    "SelfSigned",
    "SocketInUseError",
    "TlsFiles",
    "TlsSource",
    "serve_api",
]

_log = structlog.get_logger("minikubelet.server")

SHUTDOWN_GRACE = 2.0  # seconds open requests get to finish once the server stops


@dataclass(frozen=True)
class ApiEndpoints:
    """Where the API listens: the unix socket (None: none), and TCP only with a port.

    Over TCP, requests must carry ``token`` (``Authorization: Bearer``) unless
    ``anonymous``; with ``tls`` the TCP listener serves HTTPS (the daemon always gives
    one; without, as embedded in a test, plain HTTP). Without a token and
    anonymous requests, TCP answers only ``/healthz`` and ``/version``. Whether a
    non-loopback address is safe is for the caller to decide (``minikubelet.config``).
    """

    socket: Path | None
    address: str = "127.0.0.1"
    port: int | None = None  # 0: any free port (``Listening.port`` says which)
    tls: TlsSource | None = None  # the daemon always gives one (``daemon.api_endpoints``)
    token: str | None = None
    anonymous: bool = False
    # Where resourceVersions are reserved across restarts (the daemon's root dir); None:
    # they start at the wall clock in milliseconds.
    versions: Path | None = None


@dataclass(frozen=True)
class Listening:
    """Where the API listens once started: ``await group.start(serve_api, …)`` returns it."""

    socket: Path | None
    address: str | None
    port: int | None  # the real TCP port, also when 0 was asked for
    tls: bool = False

    @property
    def url(self) -> str | None:
        if self.port is None or self.address is None:
            return None
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"


async def serve_api(
    kubelet: Kubelet,
    endpoints: ApiEndpoints,
    *,
    task_status: anyio.abc.TaskStatus[Listening] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the API until cancelled; ``task_status.started(Listening(...))`` once listening.

    Raises ``SocketInUseError`` (an OSError) when another minikubelet serves the socket,
    ``ConfigError`` for an unusable socket path or TLS files, ``OSError`` when binding
    fails — all before ``started``, with nothing left open. Cancelled, it stops accepting,
    ends open streams (watches, ``logs -f``), gives requests ``SHUTDOWN_GRACE`` to finish,
    and removes its socket file.
    """
    tls = endpoints.tls if endpoints.port is not None else None
    ssl_context = tls.context() if tls is not None else None
    authority = tls.certificates() if tls is not None else None
    listeners = open_listeners(endpoints.socket, endpoints.address, endpoints.port)
    reservation = VersionReservation(endpoints.versions) if endpoints.versions else None
    changes = ChangeLog(kubelet, reservation=reservation)
    detach = changes.attach()
    try:
        tcp = None
        if listeners.port is not None:
            tcp = TcpEndpoint(
                address=endpoints.address,
                port=listeners.port,
                tls=tls is not None,
                token=endpoints.token,
                anonymous=endpoints.anonymous,
                certificate_authority=authority,
            )
        app = build_app(kubelet, changes, tcp=tcp, unix=listeners.unix is not None)
        config = _config(ssl_context)
        stop = anyio.Event()
        async with anyio.create_task_group() as group:
            # Shielded so that cancelling serve_api stops it gracefully (below) rather
            # than tearing hypercorn down mid-response; the deadline bounds the grace.
            serving = anyio.CancelScope(shield=True)
            group.start_soon(_serve, app, config, listeners, stop, serving)
            listening = Listening(
                endpoints.socket, listeners.address, listeners.port, tls=tls is not None
            )
            _log.info(
                "api.listening",
                socket=str(listening.socket) if listening.socket else None,
                url=listening.url,
            )
            task_status.started(listening)
            try:
                await anyio.sleep_forever()
            finally:
                changes.close()  # watches and log follows end now
                stop.set()
                serving.deadline = anyio.current_time() + SHUTDOWN_GRACE + 1.0
    finally:
        detach()
        listeners.close()
        _log.info("api.stopped")


class _Config(Config):
    """hypercorn's configuration, with a TLS context we built (and checked) ourselves.

    hypercorn would build one from file names of its own (``certfile``, ``keyfile``) each
    time it starts; ours is loaded once, before anything listens, so a bad file is a
    start-up error that names it.
    """

    def __init__(self, ssl_context: ssl.SSLContext | None) -> None:
        super().__init__()
        self._ssl_context = ssl_context

    @property
    def ssl_enabled(self) -> bool:
        return self._ssl_context is not None

    def create_ssl_context(self) -> ssl.SSLContext | None:
        return self._ssl_context


def _config(ssl_context: ssl.SSLContext | None) -> Config:
    config = _Config(ssl_context)
    config.graceful_timeout = SHUTDOWN_GRACE
    config.accesslog = None
    # hypercorn's own lines ("Running on …") stay quiet; its errors still show.
    errors = logging.getLogger("minikubelet.server.http")
    errors.setLevel(logging.WARNING)
    config.errorlog = errors
    return config


async def _serve(
    app: Any, config: Config, listeners: Listeners, stop: anyio.Event, scope: anyio.CancelScope
) -> None:
    # hypercorn's ``serve`` binds sockets itself from ``config.bind``; ``worker_serve``,
    # which it calls, takes ready sockets, which we need (see ``listen``).
    from hypercorn.utils import wrap_app

    # The unix socket never carries TLS; the TCP one does when a context was given.
    secure = config.ssl_enabled and listeners.tcp is not None
    sockets = Sockets(
        secure_sockets=[listeners.tcp] if secure and listeners.tcp else [],
        insecure_sockets=[s for s in listeners.sockets if not (secure and s is listeners.tcp)],
        quic_sockets=[],
    )
    wrapped = wrap_app(app, config.wsgi_max_body_size, "asgi")
    with scope:
        try:
            if sniffio.current_async_library() == "trio":
                from hypercorn.trio.run import worker_serve as trio_serve

                await trio_serve(wrapped, config, sockets=sockets, shutdown_trigger=stop.wait)
            else:
                from hypercorn.asyncio.run import worker_serve as asyncio_serve

                await asyncio_serve(wrapped, config, sockets=sockets, shutdown_trigger=stop.wait)
        except Exception as error:
            # Past the shutdown deadline hypercorn is cancelled while it still waits for its
            # connections; a TLS connection whose client keeps it open without reading
            # (an idle keep-alive in a pool) waits for a close_notify that never comes, and
            # asyncio's hypercorn then fails in its own clean-up. Nothing is left to save.
            if not scope.cancel_called:
                raise
            _log.info("api.stop_forced", error=repr(error))
