"""The engine is anyio all the way down: the same lifecycle runs under trio."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.model.spec import (
    HTTPGetAction,
    Lifecycle,
    Probe,
    RestartPolicy,
    TCPSocketAction,
)
from minikubelet.model.status import PodPhase, Terminated
from minikubelet.testing import container, wait_for_file, wait_for_status
from tests.helpers.pods import child, pod, py, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


async def test_crash_loop_under_trio(kubelet: Kubelet) -> None:
    worker = await start(kubelet, pod("trio-loop", child("app", "--exit-code", "1")))
    status = await wait_for_status(worker, lambda s: container(s, "app").restart_count >= 2)
    assert status.phase is PodPhase.RUNNING


async def test_graceful_stop_with_pre_stop_under_trio(kubelet: Kubelet, tmp_path: Path) -> None:
    ready, marker = tmp_path / "ready", tmp_path / "prestop"
    hook = py(f"open({str(marker)!r}, 'w').write('ran')")
    app = child(
        "app",
        "--forever",
        "--ignore-sigterm",
        "--spawn",
        "double-fork",
        "--ready-file",
        str(ready),
        lifecycle=Lifecycle(pre_stop=hook),
    )
    worker = await start(kubelet, pod("trio-stop", app, grace=1, policy=RestartPolicy.NEVER))
    await wait_for_file(ready)
    worker.terminate()
    await worker.wait_done()
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated)
    assert state.exit_code == 137
    assert marker.read_text() == "ran"


async def test_http_and_tcp_probes_under_trio(kubelet: Kubelet, tmp_path: Path) -> None:
    """The probe scheduler and the HTTP fast path, on real sockets, under trio."""
    health = tmp_path / "health"
    health.write_text("ok")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    app = child(
        "app",
        "--forever",
        "--http-port",
        str(port),
        "--healthy-file",
        str(health),
        readiness_probe=Probe(HTTPGetAction(port=port, path="/healthz"), period_seconds=1),
        liveness_probe=Probe(TCPSocketAction(port=port), period_seconds=1, failure_threshold=30),
    )
    worker = await start(kubelet, pod("trio-probed", app, grace=1))
    await wait_for_status(worker, lambda s: container(s, "app").ready, timeout=30)
    health.unlink()  # /healthz answers 500 from now on
    await wait_for_status(worker, lambda s: not container(s, "app").ready, timeout=30)
    messages = [e.message for e in kubelet.recorder.events(pod="trio-probed")]
    assert "Readiness probe failed: HTTP probe failed with statuscode: 500" in messages
    assert container(worker.status, "app").restart_count == 0
