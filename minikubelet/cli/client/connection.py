"""Finding the daemon and talking to it: the only module of the client that does HTTP.

The server is ``--server`` (a unix socket path, ``unix://PATH``, or an ``http(s)://`` URL),
else ``$MINIKUBELET_SERVER``, else the default socket: ``/run/minikubelet/minikubelet.sock``
as root, ``$XDG_RUNTIME_DIR/minikubelet.sock`` otherwise, and
``~/.local/state/minikubelet/minikubelet.sock`` when ``XDG_RUNTIME_DIR`` is unset.

Over the socket no credentials are needed: whoever may open it may use the API. Over TCP
the daemon wants its bearer token: ``$MINIKUBELET_TOKEN`` (what ``minikubelet kubeconfig``
hands out) is sent as ``Authorization: Bearer`` to a URL server, never to a socket; an
``https://`` server's certificate is checked against the system's CAs, or against
``$MINIKUBELET_CERTIFICATE_AUTHORITY`` (a PEM file) when it is set.

Failures come out as two exceptions: ``StatusError`` carries the server's ``Status`` object (a
synthetic one when the body is not a Status), ``Unreachable`` says why nothing answered.

Why the standard library's ``http.client`` and not httpx: start-up time. ``get pods`` must
answer within 300 ms *including* Python's start-up, and importing httpx costs 120-150 ms
on its own here, plus httpcore, which imports every optional backend it finds (trio, anyio,
h2: another 100-200 ms), against ~25 ms for ``http.client``. The client needs nothing httpx
adds: one short request at a time, a streamed body for watches and ``logs -f`` (chunked
decoding is ``http.client``'s), and a unix socket, which takes the ten lines of
``_UnixConnection``.
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import socket
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minikubelet.cli.client.messages import synthetic_status
from minikubelet.paths import default_socket as _default_socket

__all__ = [
    "Connection",
    "Server",
    "StatusError",
    "Unreachable",
    "default_socket",
    "resolve_server",
]

ENVIRONMENT_VARIABLE = "MINIKUBELET_SERVER"
TOKEN_VARIABLE = "MINIKUBELET_TOKEN"
CERTIFICATE_AUTHORITY_VARIABLE = "MINIKUBELET_CERTIFICATE_AUTHORITY"
_HINT = "is 'minikubelet serve' or 'minikubelet run' running?"


class Unreachable(Exception):
    """Nothing answered at the server address: no socket, refused, or the connection broke.

    Raised by every ``Connection`` call; the CLI prints it as ``error: ...`` and exits 1.
    """


class StatusError(Exception):
    """The server answered with an error; ``status`` is the Kubernetes ``Status`` object."""

    def __init__(self, status: Mapping[str, Any]) -> None:
        super().__init__(str(status.get("message") or ""))
        self.status = dict(status)

    @property
    def code(self) -> int:
        code = self.status.get("code")
        return code if isinstance(code, int) else 0

    @property
    def reason(self) -> str:
        return str(self.status.get("reason") or "")


@dataclass(frozen=True)
class Server:
    """Where the daemon listens: a unix socket path, or a base URL (with its credentials)."""

    socket: str | None = None
    url: str | None = None
    token: str | None = field(default=None, repr=False)  # sent to a URL server only
    certificate_authority: str | None = None  # a PEM file checking an https server

    def __str__(self) -> str:
        return self.socket if self.socket is not None else str(self.url)


def default_socket(
    euid: int | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> str:
    """The socket a daemon started without ``--socket`` listens on."""
    return str(_default_socket(euid, environ, home))


def resolve_server(flag: str | None, environ: Mapping[str, str] | None = None) -> Server:
    """``--server``, then ``$MINIKUBELET_SERVER``, then the default socket.

    A URL comes with ``$MINIKUBELET_TOKEN`` and ``$MINIKUBELET_CERTIFICATE_AUTHORITY``.
    """
    environ = os.environ if environ is None else environ
    value = flag or environ.get(ENVIRONMENT_VARIABLE) or default_socket(environ=environ)
    if value.startswith(("http://", "https://")):
        return Server(
            url=value.rstrip("/"),
            token=environ.get(TOKEN_VARIABLE) or None,
            certificate_authority=environ.get(CERTIFICATE_AUTHORITY_VARIABLE) or None,
        )
    return Server(socket=value.removeprefix("unix://"))


_REASONS = {
    errno.ENOENT: "no such socket",
    errno.ECONNREFUSED: "connection refused",
    errno.EACCES: "permission denied",
    errno.ENOTSOCK: "not a socket",
}


def _why(error: BaseException) -> str:
    """A short reason for a failed connection."""
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.errno is not None:
        return _REASONS.get(error.errno, error.strerror or str(error))
    return str(error) or type(error).__name__


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over a unix socket: ``http.client`` with another ``connect``."""

    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


_CONNECT_TIMEOUT = 5.0
_READ_TIMEOUT = 30.0


class Connection:
    """Requests to the daemon: JSON in and out, or a streamed body. A context manager.

    Every request uses a connection of its own (cheap on a socket or loopback), so a watch
    can stay open while other requests are made.
    """

    def __init__(self, server: Server) -> None:
        self.server = server
        self._prefix = ""
        if server.url is not None:
            self._url = urllib.parse.urlsplit(server.url)
            self._prefix = self._url.path.rstrip("/")

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def unreachable(self, error: BaseException) -> Unreachable:
        return Unreachable(f"cannot reach minikubelet at {self.server}: {_why(error)} ({_HINT})")

    def _open(self) -> http.client.HTTPConnection:
        if self.server.socket is not None:
            return _UnixConnection(self.server.socket, _CONNECT_TIMEOUT)
        host, port = self._url.hostname or "localhost", self._url.port
        if self._url.scheme == "https":
            import ssl  # only https pays for it

            authority = self.server.certificate_authority
            try:
                context = ssl.create_default_context(cafile=authority)
            except OSError as error:  # ssl.SSLError included
                raise Unreachable(
                    f"${CERTIFICATE_AUTHORITY_VARIABLE} {authority}: not a PEM certificate "
                    f"file: {error.strerror or error}"
                ) from None
            return http.client.HTTPSConnection(
                host, port, timeout=_CONNECT_TIMEOUT, context=context
            )
        return http.client.HTTPConnection(host, port, timeout=_CONNECT_TIMEOUT)

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: Mapping[str, Any] | None,
        read_timeout: float | None,
        streaming: bool = False,
        content_type: str = "application/json",
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        target = self._prefix + path
        if params:
            target += "?" + urllib.parse.urlencode(params)
        content = None if body is None else json.dumps(body, default=str).encode()
        headers = {"Accept": "application/json", "User-Agent": "minikubelet"}
        if self.server.url is not None and self.server.token:
            headers["Authorization"] = f"Bearer {self.server.token}"
        if content is not None:
            headers["Content-Type"] = content_type
        connection = self._open()
        connected = False
        try:
            connection.connect()
            connected = True
            assert connection.sock is not None
            connection.sock.settimeout(read_timeout)
            connection.request(method, target, body=content, headers=headers)
            response = connection.getresponse()
        except TimeoutError as error:
            connection.close()
            if connected and streaming:
                raise  # the caller's read_timeout: silence, not an absent server
            raise self.unreachable(error) from error
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise self.unreachable(error) from error
        return connection, response

    @staticmethod
    def _check(response: http.client.HTTPResponse) -> None:
        if response.status < 400:
            return
        body = response.read().decode("utf-8", "replace")
        try:
            status = json.loads(body)
        except ValueError:
            status = None
        if not isinstance(status, dict) or status.get("kind") != "Status":
            status = synthetic_status(response.status, body)
        status.setdefault("code", response.status)
        raise StatusError(status)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
        read_timeout: float | None = _READ_TIMEOUT,
    ) -> tuple[int, dict[str, Any]]:
        """Send a request; the status code and the decoded JSON body of a success.

        ``content_type`` is the body's (a patch type for PATCH); ``read_timeout`` None
        waits as long as the server takes (a replace that waits for a long grace period).
        """
        connection, response = self._send(
            method, path, params, body, read_timeout, content_type=content_type
        )
        try:
            self._check(response)
            try:
                data = response.read()
            except (OSError, http.client.HTTPException) as error:
                raise self.unreachable(error) from error
        finally:
            connection.close()
        try:
            decoded = json.loads(data) if data else {}
        except ValueError:
            decoded = {}
        return response.status, decoded if isinstance(decoded, dict) else {}

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self.request("GET", path, params=params)[1]

    def open_socket(self) -> tuple[socket.socket, str]:
        """A connected socket to the server (TLS-wrapped for https) and the ``Host`` to
        name: what a websocket (``exec``) is opened on. Raises Unreachable."""
        connection = self._open()
        try:
            connection.connect()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise self.unreachable(error) from error
        assert connection.sock is not None
        sock: socket.socket = connection.sock
        connection.sock = None  # ours now: closing the connection must not close it
        if self.server.socket is not None:
            return sock, "localhost"
        host = self._url.hostname or "localhost"
        host = f"[{host}]" if ":" in host else host
        return sock, f"{host}:{self._url.port}" if self._url.port else host

    @property
    def prefix(self) -> str:
        return self._prefix

    def authorization(self) -> dict[str, str]:
        """The credentials header a request to this server carries (none on the socket)."""
        if self.server.url is not None and self.server.token:
            return {"Authorization": f"Bearer {self.server.token}"}
        return {}

    @contextmanager
    def stream(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        read_timeout: float | None = None,
    ) -> Iterator[Iterator[bytes]]:
        """A GET whose body arrives as it is written (watches, ``logs -f``).

        Reads wait forever unless ``read_timeout`` is given; then a silence that long raises
        the builtin ``TimeoutError``. A connection the server drops ends the stream.
        """
        connection, response = self._send("GET", path, params, None, read_timeout, streaming=True)
        try:
            self._check(response)
            yield self._chunks(response)
        finally:
            connection.close()

    @staticmethod
    def _chunks(response: http.client.HTTPResponse) -> Iterator[bytes]:
        while True:
            try:
                chunk = response.read1(65536)
            except (http.client.IncompleteRead, ConnectionError):
                return  # the server went away mid-stream: the stream is over
            if not chunk:
                return
            yield chunk

    @contextmanager
    def watch(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        read_timeout: float | None = None,
    ) -> Iterator[Iterator[dict[str, Any]]]:
        """A ``?watch=true`` stream, as decoded ``WatchEvent`` objects."""

        def events(chunks: Iterator[bytes]) -> Iterator[dict[str, Any]]:
            pending = b""
            for chunk in chunks:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        decoded = json.loads(line)
                        if isinstance(decoded, dict):
                            yield decoded

        watch_params = {**(params or {}), "watch": "true"}
        with self.stream(path, watch_params, read_timeout=read_timeout) as chunks:
            yield events(chunks)
