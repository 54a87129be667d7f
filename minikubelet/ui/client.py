"""The dashboard's HTTP calls: async (httpx), every one with a timeout.

The daemon is found as the other client commands find it (``--server``,
``$MINIKUBELET_SERVER``, the default socket: ``cli.client.connection.resolve_server``).
Unlike those commands, the dashboard lives in an event loop, so a slow or absent daemon
must never block it: every request has a deadline, streams (the pods watch, a followed
log) wait without one but are cancelled with their task, and failures come out as two
exceptions, ``Disconnected`` (nothing answered) and ``StatusError`` (the daemon said no,
with a ``Status``: the client commands' own exception).

httpx rather than the commands' ``http.client``: it is async, so nothing needs a thread,
and cancelling a task closes its connection; start-up time matters less in a program that
runs for hours. Over the unix socket its transport is ``ui.unix.UnixTransport`` (why: that
module's docstring, an anyio race when a reading task is cancelled); over TCP, httpx's own.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx

from minikubelet.api.types import JSON
from minikubelet.cli.client.connection import Server, StatusError, resolve_server
from minikubelet.ui.unix import UnixTransport

__all__ = ["REQUEST_TIMEOUT", "ApiClient", "Disconnected", "StatusError"]

REQUEST_TIMEOUT = 5.0  # seconds: connect, read, write and pool, each


class Disconnected(Exception):
    """Nothing answered at the server address (or the connection broke, or timed out)."""


def _why(error: BaseException) -> str:
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
        cause = cause.__cause__ or cause.__context__
    return str(error) or type(error).__name__


class ApiClient:
    """Requests to one daemon. Use as an async context manager."""

    def __init__(self, server: Server | str | None = None) -> None:
        if not isinstance(server, Server):
            server = resolve_server(server)
        self.server = server
        timeout = httpx.Timeout(REQUEST_TIMEOUT)
        headers = {"Accept": "application/json", "User-Agent": "minikubelet-ui"}
        if server.socket is not None:
            transport = UnixTransport(server.socket)
            self._client = httpx.AsyncClient(
                transport=transport, base_url="http://localhost", timeout=timeout, headers=headers
            )
        else:
            # The TCP listener is HTTPS with the daemon's certificate, and wants its token
            # ($MINIKUBELET_CERTIFICATE_AUTHORITY, $MINIKUBELET_TOKEN, as the commands).
            if server.token:
                headers["Authorization"] = f"Bearer {server.token}"
            verify: ssl.SSLContext | bool = True
            if server.certificate_authority:
                verify = ssl.create_default_context(cafile=server.certificate_authority)
            self._client = httpx.AsyncClient(
                base_url=str(server.url), timeout=timeout, headers=headers, verify=verify
            )

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.aclose()

    def _disconnected(self, error: BaseException) -> Disconnected:
        return Disconnected(f"cannot reach minikubelet at {self.server}: {_why(error)}")

    @staticmethod
    def _check(response: httpx.Response, body: bytes) -> None:
        if response.status_code < 400:
            return
        message = body.decode("utf-8", "replace").strip()
        try:
            status = json.loads(body)
        except ValueError:
            status = None
        if not isinstance(status, dict) or not status.get("message"):
            status = {"message": message or f"HTTP {response.status_code}"}
        raise StatusError({**status, "code": response.status_code})

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> JSON:
        """One request with ``REQUEST_TIMEOUT``; the decoded JSON body of a success."""
        try:
            response = await self._client.request(
                method, path, params=dict(params or {}), json=dict(body) if body else None
            )
        except httpx.HTTPError as error:
            raise self._disconnected(error) from error
        self._check(response, response.content)
        try:
            decoded = response.json()
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> JSON:
        return await self.request("GET", path, params)

    @asynccontextmanager
    async def _stream(
        self, path: str, params: Mapping[str, str]
    ) -> AsyncIterator[AsyncIterator[str]]:
        timeout = httpx.Timeout(REQUEST_TIMEOUT, read=None)  # a stream may be quiet for long
        try:
            async with self._client.stream(
                "GET", path, params=dict(params), timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    self._check(response, await response.aread())

                async def lines() -> AsyncIterator[str]:
                    try:
                        async for line in response.aiter_lines():
                            yield line
                    except httpx.HTTPError:
                        return  # the daemon went away mid-stream: the stream is over

                yield lines()
        except httpx.HTTPError as error:
            raise self._disconnected(error) from error

    async def watch_pods(self, version: str) -> AsyncIterator[JSON]:
        """``WatchEvent``s of every pod after ``version``; ends when the daemon closes it."""
        params = {"watch": "true", "allowWatchBookmarks": "false"}
        if version:
            params["resourceVersion"] = version
        async with self._stream("/api/v1/pods", params) as lines:
            async for line in lines:
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict):
                    yield event

    async def log_lines(
        self, namespace: str, pod: str, params: Mapping[str, str]
    ) -> AsyncIterator[str]:
        """The lines of a container's log (``follow`` in ``params`` keeps it open)."""
        path = f"/api/v1/namespaces/{namespace}/pods/{pod}/log"
        async with self._stream(path, params) as lines:
            async for line in lines:
                yield line
