"""TCP (and TLS) connections for probes, and Go's wording of what went wrong.

Why raw non-blocking sockets driven by ``anyio.wait_readable`` / ``wait_writable``
rather than ``anyio.connect_tcp`` streams: a probe opens a connection, writes one small
request, reads one small answer and closes, hundreds of times a second. The stream
stack (happy-eyeballs task group, cancel scopes, asyncio transport and protocol objects)
cost more CPU than the HTTP work itself; a plain socket with readiness waits costs a
fraction (measurements in ``prober/http.py``). It works the same under asyncio and trio.
TLS is ``ssl.SSLObject`` over memory BIOs on the same socket, as anyio's ``TLSStream``
does it over a stream.

Errors are spelled as Go's ``net`` package spells them, because probe outputs end up in
events (``Readiness probe failed: <output>``) that users compare with a real kubelet's:
``dial tcp 127.0.0.1:8080: connect: connection refused``,
``read tcp 127.0.0.1:40000->127.0.0.1:8080: read: connection reset by peer``.

The kubelet dials with ``probe.ProbeDialer()`` (``pkg/probe/dialer_others.go``), which sets
``SO_LINGER`` to 1 s. We do not: on Linux a lingering ``close()`` blocks (even on a
non-blocking socket) until the peer acknowledges the FIN, which would stall the event
loop on a slow peer.
"""

from __future__ import annotations

import errno
import functools
import os
import socket
import ssl

import anyio

from minikubelet.model.spec import Container

__all__ = [
    "DEFAULT_HOST",
    "Connection",
    "ConnectionFailed",
    "DialError",
    "TLSConnection",
    "dial",
    "go_duration",
    "go_quote",
    "join_host_port",
    "probe_port",
    "resolve_port",
]

DEFAULT_HOST = "127.0.0.1"  # the "pod IP" of a local pod
_RECEIVE = 65536


class DialError(Exception):
    """A TCP connection could not be made; ``str()`` is Go's text for it."""


class ConnectionFailed(Exception):
    """Reading, writing or a TLS handshake failed; ``str()`` is Go's text for it."""


def join_host_port(host: str, port: int) -> str:
    """Go's ``net.JoinHostPort``: IPv6 literals in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def resolve_port(container: Container, port: int | str) -> int:
    """A port number, or a named port of ``container`` (validated at parse time)."""
    if isinstance(port, int):
        return port
    for declared in container.ports:
        if declared.name == port:
            return declared.container_port
    raise ValueError(f'port "{port}" is not a named port of container "{container.name}"')


def probe_port(container: Container, port: int | str) -> int:
    """``probe.ResolveContainerPort``: a number, a named port, or a number spelled as text.

    Raises ValueError with the kubelet's wording; the caller turns it into a probe error.
    """
    try:
        number = resolve_port(container, port)
    except ValueError:
        # pkg/probe/util.go: a name that is not declared is tried as a number.
        if isinstance(port, str) and port.isdigit():
            number = int(port)
        else:
            raise ValueError(f"couldn't find port: {port} in {container.name}") from None
    if not 0 < number < 65536:
        raise ValueError(f"invalid port number: {number}")
    return number


def go_quote(text: str) -> str:
    """Go's ``%q`` for the common cases: double quotes, backslash escapes."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{escaped}"'


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()``: ``1s``, ``1.5s``, ``500ms``, ``1m30s``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        millis = seconds * 1000
        return f"{millis:g}ms" if millis >= 1 else f"{seconds * 1e6:g}µs"
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    text = f"{round(rest, 9):g}s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    if minutes:
        return f"{minutes}m{text}"
    return text


def _errno_text(error: OSError) -> str:
    """Go's syscall error strings are the C ones, lowercased: "connection refused"."""
    if error.errno is not None:
        text = os.strerror(error.errno)
        return text[:1].lower() + text[1:]
    return str(error) or type(error).__name__


def _address(address: object) -> str:
    """``getsockname()`` as Go prints it: ``127.0.0.1:40000``, ``[::1]:40000``."""
    if isinstance(address, tuple) and len(address) >= 2:
        return join_host_port(str(address[0]), int(address[1]))
    return str(address)


class Connection:
    """A connected non-blocking TCP socket; the caller bounds every await with a timeout."""

    def __init__(self, sock: socket.socket, remote: tuple[str, int]) -> None:
        self.socket = sock
        self._remote = remote

    def _error(self, op: str, error: OSError) -> ConnectionFailed:
        try:
            local = _address(self.socket.getsockname())
        except OSError:
            local = "?"
        remote = join_host_port(*self._remote)
        return ConnectionFailed(f"{op} tcp {local}->{remote}: {op}: {_errno_text(error)}")

    async def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[self.socket.send(view) :]
            except BlockingIOError:
                await anyio.wait_writable(self.socket)
            except OSError as error:
                raise self._error("write", error) from None

    async def receive(self) -> bytes:
        """Some bytes, or b"" once the peer closed."""
        while True:
            try:
                return self.socket.recv(_RECEIVE)
            except BlockingIOError:
                await anyio.wait_readable(self.socket)
            except OSError as error:
                raise self._error("read", error) from None

    def close(self) -> None:
        self.socket.close()


class TLSConnection:
    """TLS over a Connection (``ssl.SSLObject`` on memory BIOs); EOF without
    close_notify counts as EOF, as HTTP allows."""

    def __init__(self, raw: Connection, context: ssl.SSLContext, hostname: str) -> None:
        self._raw = raw
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_hostname=hostname)

    async def _flush(self) -> None:
        pending = self._outgoing.read()
        if pending:
            await self._raw.send(pending)

    async def _feed(self) -> None:
        data = await self._raw.receive()
        if data:
            self._incoming.write(data)
        else:
            self._incoming.write_eof()

    async def handshake(self) -> None:
        while True:
            try:
                self._tls.do_handshake()
            except ssl.SSLWantReadError:
                await self._flush()
                await self._feed()
            except ssl.SSLEOFError:
                raise ConnectionFailed("EOF") from None
            except ssl.SSLError as error:
                raise ConnectionFailed(_tls_text(error)) from None
            else:
                await self._flush()
                return

    async def send(self, data: bytes) -> None:
        self._tls.write(data)  # a memory BIO takes everything at once
        await self._flush()

    async def receive(self) -> bytes:
        while True:
            try:
                return self._tls.read(_RECEIVE)
            except ssl.SSLWantReadError:
                await self._flush()
                await self._feed()
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""
            except ssl.SSLError as error:
                raise ConnectionFailed(_tls_text(error)) from None

    def close(self) -> None:
        self._raw.close()


def _tls_text(error: ssl.SSLError) -> str:
    reason = error.reason or str(error)
    if reason.upper() in {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST"}:
        # What Go's transport says when an HTTPS probe reaches a plain HTTP server.
        return "http: server gave HTTP response to HTTPS client"
    return f"tls: {reason.lower().replace('_', ' ')}"


@functools.lru_cache(maxsize=256)
def _literal_family(host: str) -> int:
    """The address family of an IP literal; ValueError for a host name (not cached)."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        return family
    raise ValueError(host)


def _established(sock: socket.socket) -> bool:
    """Whether a non-blocking connect already completed. On loopback the kernel runs the
    whole handshake inside ``connect()``, so this saves an event-loop round trip."""
    try:
        sock.getpeername()
    except OSError:
        return False
    return True


async def _connect_one(family: int, address: tuple[str, int]) -> Connection:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        code = sock.connect_ex(address)
        if code in (errno.EINPROGRESS, errno.EAGAIN):
            if not _established(sock):
                await anyio.wait_writable(sock)
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            raise OSError(code, os.strerror(code))
        return Connection(sock, address)
    except BaseException:
        sock.close()
        raise


async def dial(host: str, port: int) -> Connection:
    """Connect to ``host:port``; raise DialError worded as Go's ``net.Dial``.

    Addresses of a host name are tried in turn (Go's ``dialSerial``); the first error is
    reported. Timeouts are the caller's: a cancel scope around this and what follows.
    """
    try:
        family = _literal_family(host)
    except ValueError:
        try:
            found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            raise DialError(f"dial tcp: lookup {host}: no such host") from None
        targets = [(int(family), (str(sa[0]), port)) for family, _, _, _, sa in found]
    else:
        targets = [(family, (host, port))]
    first: DialError | None = None
    for address_family, address in targets:
        try:
            return await _connect_one(address_family, address)
        except OSError as error:
            where = join_host_port(*address)
            first = first or DialError(f"dial tcp {where}: connect: {_errno_text(error)}")
    assert first is not None
    raise first
