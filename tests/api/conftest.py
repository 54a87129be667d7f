"""A real API server on a real unix socket (and loopback TCP, port 0) over a real kubelet.

TCP is HTTPS with a self-signed certificate, as from a daemon (``Server.ca_file`` is the
certificate to trust), and requests need the server's bearer token (``Server.token``;
``Server.tcp_client()`` sends both).
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.server import ApiEndpoints, Listening
from minikubelet.server.serving import serve_api
from minikubelet.server.tls import listener_names, self_signed


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
    ca_file: Path | None = None  # the TCP listener's certificates (PEM); None: plain HTTP
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
        return httpx.AsyncClient(
            base_url=self.url, headers=headers, timeout=10, verify=self.ssl_context()
        )

    def ssl_context(self) -> ssl.SSLContext | bool:
        if self.ca_file is None:
            return True
        return ssl.create_default_context(cafile=str(self.ca_file))

    async def json(self, path: str, **params: Any) -> Any:
        response = await self.client.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()


def unix_client(socket: Path) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(uds=str(socket))
    return httpx.AsyncClient(transport=transport, base_url="http://minikubelet", timeout=10)


@pytest.fixture
async def server(kubelet: Kubelet, socket_dir: Path, tmp_path: Path) -> AsyncIterator[Server]:
    tls = self_signed(tmp_path / "pki", listener_names("127.0.0.1", os.uname().nodename))
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(tls.certificates())
    endpoints = ApiEndpoints(
        socket=socket_dir / "run" / "minikubelet.sock", port=0, token=TOKEN, tls=tls
    )
    async with anyio.create_task_group() as group:
        listening = await group.start(serve_api, kubelet, endpoints)
        async with unix_client(listening.socket) as client:
            yield Server(kubelet, listening, client, ca_file)
        group.cancel_scope.cancel()


def lines(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.splitlines() if line.strip()]
