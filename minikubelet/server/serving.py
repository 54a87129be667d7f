"""``serve_api``: the Starlette app on hypercorn, inside minikubelet's own event loop."""

from __future__ import annotations

import logging
import ssl
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
from minikubelet.server.endpoints import ApiEndpoints, Listening
from minikubelet.server.listen import Listeners, open_listeners

__all__ = ["SHUTDOWN_GRACE", "serve_api"]

_log = structlog.get_logger("minikubelet.server")

SHUTDOWN_GRACE = 2.0  # seconds open requests get to finish once the server stops


async def serve_api(
    kubelet: Kubelet,
    endpoints: ApiEndpoints,
    *,
    listeners: Listeners | None = None,
    task_status: anyio.abc.TaskStatus[Listening] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the API until cancelled; ``task_status.started(Listening(...))`` once listening.

    Raises ``SocketInUseError`` (an OSError) when another minikubelet serves the socket,
    ``ConfigError`` for an unusable socket path or TLS files, ``OSError`` when binding
    fails — all before ``started``, with nothing left open. ``listeners``: sockets the
    caller opened already (``listen.open_listeners``), which it then owns no more.
    Cancelled, it stops accepting, ends open streams (watches, ``logs -f``), gives
    requests ``SHUTDOWN_GRACE`` to finish, and removes its socket file.
    """
    tls = endpoints.tls if endpoints.port is not None else None
    ssl_context = tls.context() if tls is not None else None
    authority = tls.certificates() if tls is not None else None
    if listeners is None:
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
