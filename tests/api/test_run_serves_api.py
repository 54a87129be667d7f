"""``minikubelet run`` serves the same API: on --socket, on --port, and next to a daemon."""

from __future__ import annotations

import signal
import stat
import subprocess  # noqa: TID251 - the test runs the CLI as a user would
import sys
import textwrap
import time
from pathlib import Path

import anyio
import httpx
import pytest

from minikubelet.cli.run import ApiOptions, start_api
from minikubelet.kubelet import Kubelet
from minikubelet.server import ApiEndpoints, SocketInUseError
from minikubelet.server.serving import serve_api
from tests.conftest import CHILD, PYTHON

MINIKUBELET = [sys.executable, "-m", "minikubelet"]


def manifest(path: Path, name: str, ready: Path) -> Path:
    path.write_text(
        textwrap.dedent(
            f"""\
            apiVersion: v1
            kind: Pod
            metadata: {{name: {name}}}
            spec:
              terminationGracePeriodSeconds: 5
              containers:
              - name: app
                command: ["{PYTHON}", "{CHILD}", --forever, --ready-file, "{ready}"]
            """
        )
    )
    return path


def wait_until_exists(path: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout  # noqa: TID251 - a synchronous wait for a fact, under a deadline
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"  # noqa: TID251 - a synchronous wait for a fact, under a deadline
        time.sleep(0.02)  # noqa: TID251 - a synchronous wait for a fact, under a deadline


@pytest.mark.e2e
def test_run_serves_the_api_on_its_socket_and_port(tmp_path: Path, socket_dir: Path) -> None:
    sock, ready = socket_dir / "mk.sock", tmp_path / "ready"
    command = [*MINIKUBELET, "run", "--root-dir", str(tmp_path / "root"), "--socket", str(sock)]
    first = subprocess.Popen(
        [*command, "--port", "0", str(manifest(tmp_path / "a.yaml", "alpha", ready))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_exists(ready)
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        transport = httpx.HTTPTransport(uds=str(sock))
        with httpx.Client(transport=transport, base_url="http://minikubelet") as client:
            pods = client.get("/api/v1/namespaces/default/pods").json()
        assert [item["metadata"]["name"] for item in pods["items"]] == ["alpha"]
        assert pods["items"][0]["status"]["phase"] == "Running"

        # An explicit --socket that a live minikubelet serves is an error, before any pod.
        other_ready = tmp_path / "other-ready"
        second = subprocess.run(
            [*command, str(manifest(tmp_path / "b.yaml", "beta", other_ready))],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 1
        assert f"error: {sock}: the socket is in use by another running minikubelet" in (
            second.stderr
        )
        assert not other_ready.exists()
    finally:
        first.send_signal(signal.SIGINT)
        _, stderr = first.communicate(timeout=30)
    assert first.returncode == 130, stderr
    assert f"serving the API on {sock} and https://127.0.0.1:" in stderr
    assert not sock.exists()


@pytest.mark.anyio
@pytest.mark.integration
async def test_the_default_socket_in_use_is_only_a_warning(
    kubelet: Kubelet, socket_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sock = socket_dir / "mk.sock"
    async with anyio.create_task_group() as group:
        await group.start(serve_api, kubelet, ApiEndpoints(socket=sock))
        capsys.readouterr()
        # As a second `run` in another terminal: the default socket is taken.
        await start_api(group, kubelet, ApiOptions(ApiEndpoints(socket=sock, port=0)))
        err = capsys.readouterr().err
        assert "warning: " in err
        assert "the socket is in use by another running minikubelet" in err
        assert "serving the API on http://127.0.0.1:" in err
        await start_api(group, kubelet, ApiOptions(ApiEndpoints(socket=sock)))
        assert "warning: " in capsys.readouterr().err
        # Asked for by name, the same socket is an error.
        with pytest.raises(SocketInUseError):
            await start_api(
                group, kubelet, ApiOptions(ApiEndpoints(socket=sock), explicit_socket=True)
            )
        group.cancel_scope.cancel()
