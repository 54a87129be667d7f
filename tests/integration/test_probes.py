"""Liveness, readiness and startup probes on real processes and real sockets."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.model.spec import ExecAction, HTTPGetAction, Probe, TCPSocketAction
from minikubelet.model.status import Running
from minikubelet.testing import container, wait_for, wait_for_file, wait_for_status
from tests.conftest import PYTHON
from tests.helpers.pods import child, pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def exists(path: Path) -> ExecAction:
    return ExecAction(
        (PYTHON, "-c", f"import os, sys; sys.exit(0 if os.path.exists({str(path)!r}) else 1)")
    )


def handlers(kind: str, health: Path, port: int) -> object:
    if kind == "exec":
        return exists(health)
    if kind == "http":
        return HTTPGetAction(port=port, path="/healthz")
    return TCPSocketAction(port=port)


def server_flags(kind: str, health: Path, port: int) -> tuple[str, ...]:
    if kind == "exec":
        return ()
    return ("--http-port", str(port), "--healthy-file", str(health))


@pytest.mark.parametrize("kind", ["exec", "http"])
async def test_failing_liveness_restarts_with_increasing_count(
    kubelet: Kubelet, tmp_path: Path, kind: str
) -> None:
    health, port = tmp_path / "health", free_port()
    # One second for the server to listen: a refused connection would fail the probe too.
    delay = 1 if kind == "http" else 0
    probe = Probe(
        handler=handlers(kind, health, port),  # type: ignore[arg-type]
        period_seconds=1,
        failure_threshold=1,
        initial_delay_seconds=delay,
    )
    app = child("app", "--forever", *server_flags(kind, health, port), liveness_probe=probe)
    worker = await start(kubelet, pod("live", app, grace=1))
    counts: list[int] = []

    def grew(status: object) -> bool:
        count = container(worker.status, "app").restart_count
        if not counts or counts[-1] != count:
            counts.append(count)
        return count >= 2

    await wait_for_status(worker, grew, timeout=30)
    assert counts == sorted(counts)
    assert len(set(counts)) == len(counts)
    messages = [e.message for e in kubelet.recorder.events(pod="live")]
    assert "Container app failed liveness probe, will be restarted" in messages
    failed = [m for m in messages if m.startswith("Liveness probe failed: ")]
    assert failed
    if kind == "http":
        assert failed[0] == "Liveness probe failed: HTTP probe failed with statuscode: 500"


async def test_failing_tcp_liveness_restarts(kubelet: Kubelet, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    probe = Probe(handler=TCPSocketAction(port=port), period_seconds=1, failure_threshold=1)
    worker = await start(
        kubelet, pod("tcp", child("app", "--forever", liveness_probe=probe), grace=1)
    )
    await wait_for_status(worker, lambda s: container(s, "app").restart_count >= 1, timeout=30)


@pytest.mark.parametrize("kind", ["exec", "http", "tcp"])
async def test_passing_liveness_never_restarts(kubelet: Kubelet, tmp_path: Path, kind: str) -> None:
    health, port = tmp_path / "health", free_port()
    health.write_text("ok")
    probe = Probe(
        handler=handlers(kind, health, port),  # type: ignore[arg-type]
        period_seconds=1,
        failure_threshold=1,
        initial_delay_seconds=0 if kind == "exec" else 1,
    )
    ready = tmp_path / "ready"
    app = child(
        "app",
        "--forever",
        "--ready-file",
        str(ready),
        *server_flags(kind, health, port),
        liveness_probe=probe,
    )
    worker = await start(kubelet, pod("fine", app, grace=1))
    await wait_for_file(ready)
    # Three probe periods, each a fact: the probe counter says how many ran.
    await wait_for(lambda: _probes_run(kubelet, "fine") >= 3, timeout=30)
    assert container(worker.status, "app").restart_count == 0


def _probes_run(kubelet: Kubelet, pod_name: str) -> int:
    return sum(n for (labels, _), n in kubelet.probe_stats.totals.items() if labels.pod == pod_name)


async def test_readiness_that_never_passes(kubelet: Kubelet, tmp_path: Path) -> None:
    probe = Probe(handler=exists(tmp_path / "never"), period_seconds=1, failure_threshold=1)
    worker = await start(
        kubelet, pod("unready", child("app", "--forever", readiness_probe=probe), grace=1)
    )
    await wait_for(lambda: _probes_run(kubelet, "unready") >= 2, timeout=30)
    status = worker.status
    app = container(status, "app")
    assert isinstance(app.state, Running)
    assert app.ready is False
    assert app.restart_count == 0
    ready = {c.type.value: (c.status, c.reason) for c in status.conditions}
    assert ready["Ready"] == (False, "ContainersNotReady")
    assert ready["ContainersReady"] == (False, "ContainersNotReady")


async def test_readiness_not_ready_before_initial_delay(kubelet: Kubelet, tmp_path: Path) -> None:
    health = tmp_path / "health"
    health.write_text("ok")
    probe = Probe(handler=exists(health), period_seconds=1, initial_delay_seconds=2)
    worker = await start(
        kubelet, pod("delayed", child("app", "--forever", readiness_probe=probe), grace=1)
    )
    running = await wait_for_status(
        worker, lambda s: isinstance(container(s, "app").state, Running)
    )
    state = container(running, "app").state
    assert isinstance(state, Running)
    started_at = state.started_at
    assert not container(running, "app").ready
    await wait_for_status(worker, lambda s: container(s, "app").ready, timeout=30)
    ready_at = next(
        c for c in worker.status.conditions if c.type.value == "Ready"
    ).last_transition_time
    assert ready_at is not None
    assert (ready_at - started_at).total_seconds() >= 2


async def test_startup_probe_holds_back_liveness(kubelet: Kubelet, tmp_path: Path) -> None:
    started = tmp_path / "started"
    startup = Probe(handler=exists(started), period_seconds=1, failure_threshold=60)
    liveness = Probe(handler=exists(tmp_path / "never"), period_seconds=1, failure_threshold=1)
    app = child("app", "--forever", startup_probe=startup, liveness_probe=liveness)
    worker = await start(kubelet, pod("slow", app, grace=1))
    await wait_for(lambda: _probes_run(kubelet, "slow") >= 3, timeout=30)
    status = worker.status
    assert container(status, "app").restart_count == 0  # liveness never ran
    assert container(status, "app").started is False
    started.write_text("yes")
    await wait_for_status(worker, lambda s: container(s, "app").restart_count >= 1, timeout=30)


async def test_startup_probe_that_never_succeeds_restarts(kubelet: Kubelet, tmp_path: Path) -> None:
    startup = Probe(handler=exists(tmp_path / "never"), period_seconds=1, failure_threshold=2)
    worker = await start(
        kubelet, pod("nostart", child("app", "--forever", startup_probe=startup), grace=1)
    )
    await wait_for_status(worker, lambda s: container(s, "app").restart_count >= 1, timeout=30)
    messages = [e.message for e in kubelet.recorder.events(pod="nostart")]
    assert "Container app failed startup probe, will be restarted" in messages
