"""The listening sockets: permissions, stale and live socket files, TCP port 0, shutdown."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import anyio
import anyio.abc
import pytest

from minikubelet.errors import ConfigError
from minikubelet.kubelet import Kubelet
from minikubelet.server import ApiEndpoints, SocketInUseError
from minikubelet.server.serving import serve_api
from tests.api.conftest import unix_client

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_socket_is_0600_in_a_new_0700_directory(kubelet: Kubelet, socket_dir: Path) -> None:
    path = socket_dir / "new" / "dir" / "mk.sock"
    async with anyio.create_task_group() as group:
        listening = await group.start(serve_api, kubelet, ApiEndpoints(socket=path))
        assert listening.socket == path
        assert listening.port is None
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        assert mode(path) == 0o600
        assert mode(path.parent) == 0o700
        async with unix_client(path) as client:
            assert (await client.get("/healthz")).text == "ok"
        group.cancel_scope.cancel()
    assert not path.exists(), "the socket file is removed on stop"


async def test_an_existing_directory_keeps_its_mode(kubelet: Kubelet, socket_dir: Path) -> None:
    os.chmod(socket_dir, 0o755)
    path = socket_dir / "mk.sock"
    async with anyio.create_task_group() as group:
        await group.start(serve_api, kubelet, ApiEndpoints(socket=path))
        assert mode(socket_dir) == 0o755
        assert mode(path) == 0o600
        group.cancel_scope.cancel()


async def test_a_stale_socket_is_replaced(kubelet: Kubelet, socket_dir: Path) -> None:
    path = socket_dir / "mk.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(path))  # bound, never listening, then closed: what a crash leaves
    assert path.exists()
    async with anyio.create_task_group() as group:
        await group.start(serve_api, kubelet, ApiEndpoints(socket=path))
        async with unix_client(path) as client:
            assert (await client.get("/healthz")).text == "ok"
        group.cancel_scope.cancel()


async def test_a_live_socket_is_a_clear_error(kubelet: Kubelet, socket_dir: Path) -> None:
    path = socket_dir / "mk.sock"
    async with anyio.create_task_group() as group:
        await group.start(serve_api, kubelet, ApiEndpoints(socket=path))
        with pytest.raises(SocketInUseError) as caught:
            await group.start(serve_api, kubelet, ApiEndpoints(socket=path, port=0))
        assert str(caught.value) == (
            f"{path}: the socket is in use by another running minikubelet "
            "(stop it, or choose another --socket)"
        )
        assert isinstance(caught.value, OSError)
        async with unix_client(path) as client:  # the first server is unharmed
            assert (await client.get("/healthz")).text == "ok"
        group.cancel_scope.cancel()


async def test_a_path_that_is_not_a_socket_is_refused(kubelet: Kubelet, socket_dir: Path) -> None:
    path = socket_dir / "file"
    path.write_text("precious")
    with pytest.raises(ConfigError, match="exists and is not a socket"):
        await serve_api(kubelet, ApiEndpoints(socket=path))
    assert path.read_text() == "precious"


async def test_a_socket_path_too_long_is_refused(kubelet: Kubelet, socket_dir: Path) -> None:
    path = socket_dir / ("x" * 120) / "mk.sock"
    with pytest.raises(ConfigError, match="at most 107"):
        await serve_api(kubelet, ApiEndpoints(socket=path))


async def test_tcp_only_on_port_zero_reports_the_real_port(kubelet: Kubelet) -> None:
    import httpx

    async with anyio.create_task_group() as group:
        listening = await group.start(serve_api, kubelet, ApiEndpoints(socket=None, port=0))
        assert listening.socket is None
        assert listening.address == "127.0.0.1"
        assert listening.port is not None
        assert listening.port > 0
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{listening.port}") as client:
            assert (await client.get("/healthz")).text == "ok"
        group.cancel_scope.cancel()


async def test_stop_ends_open_streams(kubelet: Kubelet, socket_dir: Path) -> None:
    """Stopping the server ends a watch that is still open, cleanly and promptly."""
    path = socket_dir / "mk.sock"
    opened, ended = anyio.Event(), anyio.Event()
    server = anyio.CancelScope()

    async def run_server(*, task_status: anyio.abc.TaskStatus[object]) -> None:
        with server:
            await serve_api(kubelet, ApiEndpoints(socket=path), task_status=task_status)

    async def watch() -> None:
        async with (
            unix_client(path) as client,
            client.stream("GET", "/api/v1/pods", params={"watch": "true"}) as response,
        ):
            opened.set()
            async for _ in response.aiter_bytes():
                pass
        ended.set()  # a clean end of the body, not an error

    async with anyio.create_task_group() as group:
        await group.start(run_server)
        group.start_soon(watch)
        with anyio.fail_after(10):
            await opened.wait()
            server.cancel()
            await ended.wait()
    assert not path.exists()
