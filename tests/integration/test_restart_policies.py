"""Restart policies on real processes: phase, reason, exit code, restart count, lastState."""

from __future__ import annotations

from pathlib import Path

import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.model.spec import RestartPolicy
from minikubelet.model.status import PodPhase, PodStatus, Running, Terminated, Waiting
from minikubelet.testing import container, wait_for_status
from tests.helpers.pods import child, pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.mark.parametrize("code", [0, 1])
async def test_always_restarts_after_any_exit(kubelet: Kubelet, code: int) -> None:
    worker = await start(kubelet, pod("always", child("app", "--exit-code", str(code))))
    status = await wait_for_status(worker, lambda s: container(s, "app").restart_count >= 2)
    app = container(status, "app")
    assert status.phase is PodPhase.RUNNING
    assert app.last_state is not None
    assert app.last_state.exit_code == code
    assert app.last_state.reason == ("Completed" if code == 0 else "Error")


async def test_always_shows_crash_loop_back_off(kubelet: Kubelet) -> None:
    worker = await start(kubelet, pod("loop", child("app", "--exit-code", "2")))

    def backing_off(status: PodStatus) -> bool:
        state = container(status, "app").state
        return isinstance(state, Waiting) and state.reason == "CrashLoopBackOff"

    status = await wait_for_status(worker, backing_off)
    app = container(status, "app")
    assert isinstance(app.state, Waiting)
    assert app.state.message.startswith("back-off ")
    assert f"restarting failed container=app pod=loop_default({worker.uid})" in app.state.message
    assert app.last_state is not None
    assert app.last_state.exit_code == 2
    assert status.phase is PodPhase.RUNNING  # CrashLoopBackOff pods are Running, never Pending
    reasons = [e.reason for e in kubelet.recorder.events(pod="loop")]
    assert "BackOff" in reasons


async def test_on_failure_succeeds_on_exit_zero(kubelet: Kubelet) -> None:
    worker = await start(
        kubelet, pod("onfail0", child("app", "--exit-code", "0"), policy=RestartPolicy.ON_FAILURE)
    )
    status = await wait_for_status(worker, lambda s: s.phase.is_final)
    app = container(status, "app")
    assert status.phase is PodPhase.SUCCEEDED
    assert app.restart_count == 0
    assert isinstance(app.state, Terminated)
    assert (app.state.exit_code, app.state.reason) == (0, "Completed")
    await worker.wait_done()


async def test_on_failure_restarts_on_error(kubelet: Kubelet) -> None:
    worker = await start(
        kubelet, pod("onfail1", child("app", "--exit-code", "1"), policy=RestartPolicy.ON_FAILURE)
    )
    status = await wait_for_status(worker, lambda s: container(s, "app").restart_count >= 2)
    assert status.phase is PodPhase.RUNNING
    assert container(status, "app").last_state.reason == "Error"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("code", "phase", "reason"),
    [(0, PodPhase.SUCCEEDED, "Completed"), (1, PodPhase.FAILED, "Error")],
)
async def test_never_keeps_the_exit(
    kubelet: Kubelet, code: int, phase: PodPhase, reason: str
) -> None:
    worker = await start(
        kubelet, pod("never", child("app", "--exit-code", str(code)), policy=RestartPolicy.NEVER)
    )
    await worker.wait_done()
    status = worker.status
    app = container(status, "app")
    assert status.phase is phase
    assert app.restart_count == 0
    assert app.last_state is None
    assert isinstance(app.state, Terminated)
    assert (app.state.exit_code, app.state.reason) == (code, reason)
    assert app.state.container_id.startswith("process://")


async def test_death_by_signal_is_128_plus_n(kubelet: Kubelet) -> None:
    worker = await start(
        kubelet, pod("signal", child("app", "--kill-self", "6"), policy=RestartPolicy.NEVER)
    )
    await worker.wait_done()
    app = container(worker.status, "app")
    assert isinstance(app.state, Terminated)
    assert (app.state.exit_code, app.state.signal, app.state.reason) == (134, 6, "Error")


async def test_missing_executable_is_a_start_error(kubelet: Kubelet, tmp_path: Path) -> None:
    from minikubelet.model.spec import Container

    missing = Container(name="app", command=("no-such-program-here",))
    worker = await start(kubelet, pod("missing", missing, policy=RestartPolicy.NEVER))
    await worker.wait_done()
    app = container(worker.status, "app")
    assert isinstance(app.state, Terminated)
    assert (app.state.exit_code, app.state.reason) == (128, "StartError")
    assert "executable file not found" in app.state.message
    assert worker.status.phase is PodPhase.FAILED
    failed = [e for e in kubelet.recorder.events(pod="missing") if e.reason == "Failed"]
    assert failed
    assert failed[0].message.startswith("Error: exec: ")


async def test_running_container_reports_running(kubelet: Kubelet, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    worker = await start(kubelet, pod("up", child("app", "--forever", "--ready-file", str(ready))))
    status = await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    app = container(status, "app")
    assert isinstance(app.state, Running)
    assert app.ready
    assert app.started
    conditions = {c.type.value: c.status for c in status.conditions}
    assert conditions == {
        "PodReadyToStartContainers": True,
        "Initialized": True,
        "Ready": True,
        "ContainersReady": True,
        "PodScheduled": True,
    }
