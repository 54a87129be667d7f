"""Who may use the API, and what a request must look like: the guard in front of every route.

Whoever can open the unix socket (mode 0600, its directory 0700: the daemon's own user)
may do anything: the socket is the trust root, and its requests need no credentials. The
TCP listener is reachable by every local user (and, with TLS on a public address, by the
network), so there a request passes only when

1. its ``Host`` names this listener (``localhost``, a loopback address, the configured
   address, the address the connection came in on, or this machine's hostname; with or
   without the listener's port): a DNS-rebinding page's requests carry its own name;
2. it has no cross-origin ``Origin`` (nor ``Sec-Fetch-Site: cross-site``): a browser adds
   one to every request a page makes to another origin, so no web page can drive the API;
3. it carries the bearer token (``Authorization: Bearer …``, compared in constant time),
   unless anonymous requests were allowed (``--anonymous-auth``), or it only reads
   ``/healthz``, ``/livez``, ``/readyz`` or ``/version``: what the apiserver lets
   ``system:unauthenticated`` read (the ``system:public-info-viewer`` role), and what
   kubectl asks before anything else, which it does without credentials over plain HTTP.
   Wrong tokens are rate-limited per client address (``FailedAuthLimiter``): after
   ``MAX_FAILURES`` in ``FAILURE_WINDOW`` seconds every request of that address that
   carries credentials gets 429 until the oldest failure is that old, even a right one,
   so guessing a weak ``--token-file`` stays slow;

and on both transports a request with a body must declare it as one of
``minikubelet.api.media`` (JSON, YAML; the patch types for PATCH), else 415. A body
without a ``Content-Type`` is JSON on the socket and with the token, as the apiserver
reads it, and refused on anonymous TCP (a browser's ``fetch`` can send one without asking
first, but never with the token).

Refusals are ``Status`` objects worded as the apiserver words them (401 ``Unauthorized``,
403 ``Forbidden``, 415 ``UnsupportedMediaType``, 429 ``TooManyRequests``), answered before
any handler runs, so a refused request has no effect. Handlers that only the socket may
use (``/kubeconfig``) ask ``over_unix_socket``.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import math
import socket
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import anyio
import structlog
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from minikubelet.api import media
from minikubelet.server.status import status_json

__all__ = [
    "FAILURE_WINDOW",
    "MAX_FAILURES",
    "PUBLIC_PATHS",
    "FailedAuthLimiter",
    "RequestGuard",
    "TcpEndpoint",
    "over_unix_socket",
    "split_host",
]

_log = structlog.get_logger("minikubelet.server.auth")

MAX_FAILURES = 10  # wrong tokens per client address ...
FAILURE_WINDOW = 60.0  # ... in this many seconds, then 429 until the oldest is that old
MAX_TRACKED_CLIENTS = 4096  # addresses remembered at once (memory stays bounded)

# GET/HEAD only; what system:public-info-viewer allows on a real apiserver.
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})

_TRANSPORT = "minikubelet.transport"  # scope key: "unix" or "tcp", set by the guard

Transport = Literal["unix", "tcp"]


@dataclass(frozen=True)
class TcpEndpoint:
    """The TCP listener, as the guard and ``/kubeconfig`` need to know it."""

    address: str  # as configured (``0.0.0.0`` for every interface)
    port: int  # the real one, also when 0 was asked for
    tls: bool
    token: str | None  # None: no token is accepted (anonymous requests only, if allowed)
    anonymous: bool = False
    certificate_authority: bytes | None = None  # PEM, for a kubeconfig; with TLS only

    @property
    def client_host(self) -> str:
        """Where a local client should connect: the address, or loopback for a wildcard."""
        try:
            ip = ipaddress.ip_address(self.address)
        except ValueError:
            return self.address
        if ip.is_unspecified:
            return "::1" if ip.version == 6 else "127.0.0.1"
        return self.address

    @property
    def url(self) -> str:
        host = self.client_host
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"


def over_unix_socket(request: Request) -> bool:
    """Whether ``request`` came through the unix socket (the trust root)."""
    return request.scope.get(_TRANSPORT) == "unix"


class FailedAuthLimiter:
    """At most ``limit`` failed authentications per client address in ``window`` seconds.

    ``now`` is passed in (the guard reads ``anyio.current_time``), so the counting is
    deterministic under a test's clock.
    """

    def __init__(
        self,
        limit: int = MAX_FAILURES,
        window: float = FAILURE_WINDOW,
        max_clients: int = MAX_TRACKED_CLIENTS,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, client: str, now: float) -> float | None:
        """Seconds until ``client`` may try again, or None when it may now."""
        failures = self._failures.get(client)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return None
        if len(failures) < self.limit:
            return None
        return failures[0] + self.window - now

    def failed(self, client: str, now: float) -> bool:
        """Count one failure; True when this one used up the client's allowance."""
        failures = self._failures.get(client)
        if failures is None:
            if len(self._failures) >= self.max_clients:
                self._forget_oldest(now)
            failures = self._failures[client] = deque()
        failures.append(now)
        return len(failures) >= self.limit

    def _forget_oldest(self, now: float) -> None:
        expired = [c for c, f in self._failures.items() if not f or f[-1] <= now - self.window]
        for client in expired:
            del self._failures[client]
        if len(self._failures) >= self.max_clients:
            oldest = min(self._failures, key=lambda c: self._failures[c][-1])
            del self._failures[oldest]


def split_host(value: str) -> tuple[str, int | None] | None:
    """``Host`` -> (name, port); ``[::1]:80`` -> ("::1", 80); None when it is malformed."""
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1 :]
        if not rest:
            return name, None
        if not rest.startswith(":") or not rest[1:].isdigit():
            return None
        return name, int(rest[1:])
    name, colon, port = value.rpartition(":")
    if not colon:
        return (value, None) if value else None
    if ":" in name or not port.isdigit() or not name:
        return None  # an IPv6 address must be bracketed in a Host header
    return name, int(port)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


class _Refused(Exception):
    def __init__(self, code: int, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.headers: dict[str, str] = {}


_REASONS = {
    401: "Unauthorized",
    403: "Forbidden",
    415: "UnsupportedMediaType",
    429: "TooManyRequests",
}


class RequestGuard:
    """ASGI middleware: the checks of this module's docstring, before any route runs."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        tcp: TcpEndpoint | None,
        unix: bool,
        limiter: FailedAuthLimiter | None = None,
        clock: Callable[[], float] = anyio.current_time,
    ) -> None:
        self._app = app
        self._tcp = tcp
        self._unix = unix
        self._limiter = limiter or FailedAuthLimiter()
        self._clock = clock
        self._token = tcp.token.encode() if tcp is not None and tcp.token else None
        names = {"localhost", socket.gethostname().lower()}
        if tcp is not None:
            ip = _ip(tcp.address)
            if ip is None or not ip.is_unspecified:
                names.add(tcp.address.lower())
        self._names = frozenset(names)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        # hypercorn reports no server address for a unix socket connection. Anything
        # else, or a server without a socket, gets the TCP checks: when in doubt, guard.
        transport: Transport = "unix" if self._unix and scope.get("server") is None else "tcp"
        try:
            token = False
            if transport == "tcp":
                token = self._check_tcp(scope, headers)
            self._check_body(scope, headers, transport, token)
        except _Refused as refusal:
            await self._refuse(scope, receive, send, refusal)
            return
        scope[_TRANSPORT] = transport
        await self._app(scope, receive, send)

    # -- the checks ----------------------------------------------------------------------

    def _check_tcp(self, scope: Scope, headers: Headers) -> bool:
        """The TCP checks; True when the request carries the right token."""
        tcp = self._tcp
        if tcp is None:
            raise _Refused(403, "forbidden: this server has no TCP listener")
        local = scope.get("server")
        local_ip = _ip(str(local[0])) if local else None
        host = headers.get("host")
        if host is None or not self._names_listener(host, local_ip, tcp.port):
            _log.info("api.request_refused", reason="host", host=host, client=_client(scope))
            raise _Refused(
                403, f'forbidden: the Host header "{host or ""}" does not name this server'
            )
        origin = headers.get("origin")
        scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        if origin is not None and not self._same_origin(origin, scheme, local_ip, tcp.port):
            _log.info("api.request_refused", reason="origin", origin=origin, client=_client(scope))
            raise _Refused(403, f'forbidden: cross-origin requests are refused (Origin "{origin}")')
        if headers.get("sec-fetch-site", "").lower() == "cross-site":
            _log.info("api.request_refused", reason="sec-fetch-site", client=_client(scope))
            raise _Refused(403, "forbidden: cross-site requests are refused")
        if scope.get("method", "GET") in ("GET", "HEAD") and scope["path"] in PUBLIC_PATHS:
            return False
        return self._authenticate(scope, headers, tcp)

    def _names_listener(self, host: str, local_ip: Any, port: int) -> bool:
        parsed = split_host(host)
        if parsed is None:
            return False
        name, given_port = parsed
        if given_port is not None and given_port != port:
            return False
        return self._is_our_name(name, local_ip)

    def _is_our_name(self, name: str, local_ip: Any) -> bool:
        name = name.lower().removesuffix(".")
        ip = _ip(name)
        if ip is None:
            return name in self._names
        if ip.is_loopback or (local_ip is not None and ip == local_ip):
            return True
        configured = _ip(self._tcp.address) if self._tcp is not None else None
        return configured is not None and not configured.is_unspecified and ip == configured

    def _same_origin(self, origin: str, scheme: str, local_ip: Any, port: int) -> bool:
        try:
            parsed = urllib.parse.urlsplit(origin)
            origin_port = parsed.port or (443 if parsed.scheme == "https" else 80)
        except ValueError:
            return False
        return (
            parsed.scheme == scheme
            and parsed.hostname is not None
            and origin_port == port
            and self._is_our_name(parsed.hostname, local_ip)
        )

    def _authenticate(self, scope: Scope, headers: Headers, tcp: TcpEndpoint) -> bool:
        """Refuses what may not pass; True when the right token came (False: anonymous)."""
        authorization = headers.get("authorization")
        if authorization is None:
            if tcp.anonymous:
                return False
            raise _Refused(401, "Unauthorized")
        client = _client(scope)
        now = self._clock()
        wait = self._limiter.retry_after(client, now)
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            refusal = _Refused(
                429,
                "Too many requests, please try again later.",
                {"retryAfterSeconds": seconds},
            )
            refusal.headers["Retry-After"] = str(seconds)
            raise refusal
        scheme, _, credentials = authorization.partition(" ")
        presented = credentials.strip().encode("utf-8", "surrogateescape")
        if (
            scheme.lower() == "bearer"
            and self._token is not None
            and hmac.compare_digest(presented, self._token)
        ):
            return True
        if self._limiter.failed(client, now):
            _log.warning(
                "api.auth_rate_limited",
                client=client,
                failures=self._limiter.limit,
                seconds=self._limiter.window,
            )
        else:
            _log.info("api.auth_failed", client=client)
        raise _Refused(401, "Unauthorized")

    def _check_body(
        self, scope: Scope, headers: Headers, transport: Transport, token: bool = False
    ) -> None:
        if scope["type"] != "http":
            return
        length = headers.get("content-length")
        has_body = "transfer-encoding" in headers or (length is not None and length != "0")
        if not has_body:
            return
        method = scope.get("method", "GET")
        accepted = media.accepted_media_types(method)
        declared = headers.get("content-type")
        if declared is None and (transport == "unix" or token) and method != "PATCH":
            # The apiserver's default: JSON. Not for anonymous TCP requests, which a web
            # page could send (a fetch of an ArrayBuffer carries no Content-Type); a page
            # cannot send the token. (The official Python client sends none with a dict.)
            return
        if declared is not None and media.media_type(declared) in accepted:
            return
        raise _Refused(
            415,
            "the body of the request was in an unknown format - accepted media types "
            f"include: {', '.join(accepted)}",
        )

    # -- the answer ----------------------------------------------------------------------

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, refusal: _Refused) -> None:
        body = json.dumps(
            status_json(refusal.code, refusal.message, _REASONS[refusal.code], refusal.details),
            separators=(",", ":"),
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *((name.lower().encode(), value.encode()) for name, value in refusal.headers.items()),
        ]
        if scope["type"] == "websocket":
            if "websocket.http.response" in scope.get("extensions", {}):
                start = {"type": "websocket.http.response.start", "status": refusal.code}
                await send({**start, "headers": headers})
                await send({"type": "websocket.http.response.body", "body": body})
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "http.response.start", "status": refusal.code, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
