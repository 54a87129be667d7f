"""HTTP over the daemon's unix socket for the dashboard, on a raw non-blocking socket.

    UnixTransport(path)   an ``httpx.AsyncBaseTransport``: httpcore's connection pool over
                          ``UnixBackend``, httpcore's errors raised as httpx's
    UnixBackend()         an ``httpcore.AsyncNetworkBackend`` that opens ``UnixStream``s
    UnixStream(sock)      an ``httpcore.AsyncNetworkStream``: recv/send on the socket, waiting
                          with ``anyio.wait_readable()`` / ``anyio.wait_writable()``

Why not httpx's own ``uds=`` transport: it reaches the socket through httpcore's anyio
backend, ``anyio.connect_unix()``, whose ``UNIXSocketStream`` on asyncio (anyio 4.16 and
earlier) waits for data with ``loop.add_reader(sock, future.set_result, None)`` and removes
the reader only in a done-callback of that future. When the waiting task is cancelled in
the loop iteration in which the selector reported the socket readable, the reader's handle
is already queued; the cancellation cancels the future, the removal is merely scheduled,
and the queued handle then calls ``set_result`` on a cancelled future: asyncio reports
"Exception in callback Future.set_result(None)" with ``InvalidStateError``. Sending has the
same shape (``add_writer``). TCP streams are not affected: anyio runs them on asyncio
transports. The dashboard cancels tasks that are reading all the time (Textual cancels its
workers at exit and when an exclusive worker, such as a followed log, is replaced, while
the pods watch or the log is receiving), so the error was printed over the screen.

``anyio.wait_readable()`` / ``wait_writable()`` remove their reader or writer in the
cancelled task itself and ignore a callback that finds its future already done, on asyncio
and on trio; this stream waits with them and nothing else. It plugs into httpx only through
public APIs (``httpcore.AsyncConnectionPool(uds=..., network_backend=...)`` under an
``httpx.AsyncBaseTransport``), so requests keep httpx's timeouts: httpcore reads them from
each request's ``timeout`` extension and passes them down to ``read``/``write``/connect.
"""

from __future__ import annotations

import select
import socket
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import anyio.lowlevel
import httpcore
import httpx

__all__ = ["UnixBackend", "UnixStream", "UnixTransport"]


@contextmanager
def _network_errors(
    timeout: type[httpcore.TimeoutException], failure: type[httpcore.NetworkError]
) -> Iterator[None]:
    """The socket's errors as httpcore's, as its own backends raise them."""
    try:
        yield
    except TimeoutError as error:  # anyio.fail_after's; before OSError, which it subclasses
        raise timeout(str(error)) from error
    except (OSError, anyio.ClosedResourceError) as error:
        raise failure(str(error)) from error


class UnixStream(httpcore.AsyncNetworkStream):
    """One connected, non-blocking unix stream socket (it owns the socket)."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._socket = sock

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Up to ``max_bytes``; ``b""`` when the peer has closed (what httpcore expects)."""
        with _network_errors(httpcore.ReadTimeout, httpcore.ReadError), anyio.fail_after(timeout):
            await anyio.lowlevel.checkpoint()  # a read is a checkpoint even when data waits
            while True:
                try:
                    return self._socket.recv(max_bytes)
                except BlockingIOError:
                    await anyio.wait_readable(self._socket)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        view = memoryview(buffer)
        with _network_errors(httpcore.WriteTimeout, httpcore.WriteError), anyio.fail_after(timeout):
            await anyio.lowlevel.checkpoint()
            while view:
                try:
                    view = view[self._socket.send(view) :]
                except BlockingIOError:
                    await anyio.wait_writable(self._socket)

    async def aclose(self) -> None:
        if self._socket.fileno() >= 0:
            # Wake a task still waiting on the socket (ClosedResourceError, so ReadError)
            # before the descriptor goes and its number can be reused.
            anyio.notify_closing(self._socket)
            self._socket.close()

    def get_extra_info(self, info: str) -> Any:
        if info == "socket":
            return self._socket
        if info == "is_readable":
            # httpcore asks this of an idle kept-alive connection before reusing it: anything
            # to read there (EOF included) means the daemon has closed it.
            if self._socket.fileno() < 0:
                return True
            poller = select.poll()
            poller.register(self._socket, select.POLLIN)
            return bool(poller.poll(0))
        return None


class UnixBackend(httpcore.AsyncNetworkBackend):
    """Opens ``UnixStream``s (unix sockets only: the pool is made with ``uds=``)."""

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            for option in socket_options or ():
                sock.setsockopt(*option)
            with (
                _network_errors(httpcore.ConnectTimeout, httpcore.ConnectError),
                anyio.fail_after(timeout),
            ):
                await anyio.lowlevel.checkpoint()
                while True:
                    try:
                        sock.connect(path)
                    except BlockingIOError:
                        # A unix socket says EAGAIN when the listener's backlog is full:
                        # nothing is in progress, so wait and ask again.
                        await anyio.wait_writable(sock)
                    else:
                        return UnixStream(sock)
        except BaseException:
            sock.close()
            raise

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


# httpcore's exceptions and httpx's of the same names: what httpx's own transport raises.
_AS_HTTPX: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.ProtocolError: httpx.ProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
}


@contextmanager
def _as_httpx() -> Iterator[None]:
    try:
        yield
    except Exception as error:
        for kind in type(error).__mro__:  # the most specific class first
            if kind in _AS_HTTPX:
                raise _AS_HTTPX[kind](str(error)) from error
        raise


class _Body(httpx.AsyncByteStream):
    """A response's body from httpcore, its errors raised as httpx's."""

    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            with _as_httpx():
                await close()


class UnixTransport(httpx.AsyncBaseTransport):
    """httpx's requests to the server at the unix socket ``path``, over ``UnixStream``s."""

    def __init__(self, path: str) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            uds=path,
            network_backend=UnixBackend(),
            # httpx's default limits (httpcore's own keep no idle connection limit or expiry)
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,  # "timeout": httpx's Timeout, per phase
        )
        with _as_httpx():
            response = await self._pool.handle_async_request(core)
        assert isinstance(response.stream, AsyncIterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
