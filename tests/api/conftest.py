"""A real API server on a real unix socket (and loopback TCP, port 0) over a real kubelet."""

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


@dataclass
class Server:
    kubelet: Kubelet
    listening: Listening
    client: httpx.AsyncClient  # over the unix socket

    @property
    def socket(self) -> Path:
        assert self.listening.socket is not None
        return self.listening.socket

    @property
    def url(self) -> str:
        assert self.listening.url is not None
        return self.listening.url

    async def json(self, path: str, **params: Any) -> Any:
        response = await self.client.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()


def unix_client(socket: Path) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(uds=str(socket))
    return httpx.AsyncClient(transport=transport, base_url="http://minikubelet", timeout=10)


@pytest.fixture
async def server(kubelet: Kubelet, socket_dir: Path) -> AsyncIterator[Server]:
    endpoints = ApiEndpoints(socket=socket_dir / "run" / "minikubelet.sock", port=0)
    async with anyio.create_task_group() as group:
        listening = await group.start(serve_api, kubelet, endpoints)
        async with unix_client(listening.socket) as client:
            yield Server(kubelet, listening, client)
        group.cancel_scope.cancel()


def lines(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.splitlines() if line.strip()]
