"""A real API server on a real unix socket (and loopback TCP, port 0) over a real kubelet.

TCP requests need the server's bearer token (``Server.token``; ``Server.tcp_client()``
sends it), as they do from a daemon.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.server import ApiEndpoints, Listening, serve_api


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    """A short directory under /tmp: AF_UNIX paths must stay under 108 bytes."""
    path = Path(tempfile.mkdtemp(prefix="mk", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


TOKEN = "test-token-0123456789abcdef"


@dataclass
class Server:
    kubelet: Kubelet
    listening: Listening
    client: httpx.AsyncClient  # over the unix socket
    token: str = TOKEN

    @property
    def socket(self) -> Path:
        assert self.listening.socket is not None
        return self.listening.socket

    @property
    def url(self) -> str:
        assert self.listening.url is not None
        return self.listening.url

    def tcp_client(self, token: str | None = TOKEN) -> httpx.AsyncClient:
        """A client of the TCP listener, with ``token`` (None: no credentials)."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10)

    async def json(self, path: str, **params: Any) -> Any:
        response = await self.client.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()


def unix_client(socket: Path) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(uds=str(socket))
    return httpx.AsyncClient(transport=transport, base_url="http://minikubelet", timeout=10)


@pytest.fixture
async def server(kubelet: Kubelet, socket_dir: Path) -> AsyncIterator[Server]:
    endpoints = ApiEndpoints(socket=socket_dir / "run" / "minikubelet.sock", port=0, token=TOKEN)
    async with anyio.create_task_group() as group:
        listening = await group.start(serve_api, kubelet, endpoints)
        async with unix_client(listening.socket) as client:
            yield Server(kubelet, listening, client)
        group.cancel_scope.cancel()


def lines(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.splitlines() if line.strip()]
