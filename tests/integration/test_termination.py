"""Stopping containers: stop signal, grace period, SIGKILL, preStop, whole process trees."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import anyio
import psutil
import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.model.spec import Lifecycle, RestartPolicy, SleepAction
from minikubelet.model.status import PodPhase, Running, Terminated
from minikubelet.model.trace import Step
from minikubelet.testing import container, wait_for_file, wait_for_status
from tests.helpers.pods import child, pod, py, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def events(path: Path) -> dict[str, float]:
    """``event -> unix time`` from a --record file (first occurrence of each)."""
    found: dict[str, float] = {}
    for line in path.read_text().splitlines():
        name, stamp, _ = line.split()
        found.setdefault(name, float(stamp))
    return found


async def test_graceful_exit_on_sigterm(kubelet: Kubelet, tmp_path: Path) -> None:
    ready, log = tmp_path / "ready", tmp_path / "record"
    app = child(
        "app",
        "--forever",
        "--sigterm-exit-code",
        "0",
        "--ready-file",
        str(ready),
        "--record",
        str(log),
    )
    worker = await start(kubelet, pod("graceful", app))
    await wait_for_file(ready)
    worker.terminate()
    await worker.wait_done()
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated)
    assert (state.exit_code, state.reason, state.signal) == (0, "Completed", None)
    assert worker.status.phase is PodPhase.SUCCEEDED  # a deleted pod ends in a terminal phase
    assert "sigterm" in events(log)


async def test_sigterm_ignored_means_sigkill_after_grace(kubelet: Kubelet, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    app = child("app", "--forever", "--ignore-sigterm", "--ready-file", str(ready))
    worker = await start(kubelet, pod("stubborn", app, grace=1))
    await wait_for_file(ready)
    began = anyio.current_time()
    worker.terminate()
    await worker.wait_done()
    elapsed = anyio.current_time() - began
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated)
    assert (state.exit_code, state.signal) == (137, 9)
    assert elapsed >= 1.0  # the grace period was given (its exact end: component tests)
    assert worker.status.phase is PodPhase.FAILED


async def test_pre_stop_runs_before_sigterm(kubelet: Kubelet, tmp_path: Path) -> None:
    ready, log = tmp_path / "ready", tmp_path / "record"
    hook = py(f"import time; open({str(log)!r}, 'a').write(f'prestop {{time.time():.6f}} 0\\n')")
    app = child(
        "app",
        "--forever",
        "--sigterm-exit-code",
        "0",
        "--ready-file",
        str(ready),
        "--record",
        str(log),
        lifecycle=Lifecycle(pre_stop=hook),
    )
    worker = await start(kubelet, pod("prestop", app, grace=5))
    await wait_for_file(ready)
    worker.terminate()
    await worker.wait_done()
    seen = events(log)
    assert seen["prestop"] < seen["sigterm"]


async def test_pre_stop_time_counts_against_the_grace_period(
    kubelet: Kubelet, tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    app = child(
        "app",
        "--forever",
        "--ignore-sigterm",
        "--ready-file",
        str(ready),
        lifecycle=Lifecycle(pre_stop=SleepAction(1)),
    )
    worker = await start(kubelet, pod("budget", app, grace=2))
    await wait_for_file(ready)
    began = anyio.current_time()
    worker.terminate()
    await worker.wait_done()
    elapsed = anyio.current_time() - began
    # 1 s preStop + (2 - 1) s left for SIGTERM, then SIGKILL: the trace says which window
    # the stop signal got (its exact times: tests/component/test_pod_worker.py).
    assert elapsed >= 2.0
    grace = [e.detail for e in worker.last_termination["app"] if e.step is Step.GRACE]
    assert grace == ["1s elapsed, process still alive"]
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated)
    assert state.exit_code == 137


async def test_stop_signal_from_lifecycle(kubelet: Kubelet, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    app = child(
        "app", "--forever", "--ready-file", str(ready), lifecycle=Lifecycle(stop_signal="SIGINT")
    )
    worker = await start(kubelet, pod("sigint", app))
    await wait_for_file(ready)
    worker.terminate()
    await worker.wait_done()
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated)
    assert state.exit_code == 130  # python dies of the unhandled SIGINT: 128 + 2


async def test_nothing_outlives_a_stopped_container(kubelet: Kubelet, tmp_path: Path) -> None:
    ready, pids_file = tmp_path / "ready", tmp_path / "pids"
    app = child(
        "app",
        "--forever",
        "--spawn",
        "grandchild",
        "--spawn",
        "setsid",
        "--spawn",
        "double-fork",
        "--pids-file",
        str(pids_file),
        "--ready-file",
        str(ready),
    )
    worker = await start(kubelet, pod("tree", app, grace=1))
    await wait_for_file(ready)
    spawned = [int(pid) for pid in pids_file.read_text().split()]
    main = container(worker.status, "app").state
    assert isinstance(main, Running)
    assert all(psutil.pid_exists(pid) for pid in spawned)
    worker.terminate()
    await worker.wait_done()
    assert not [pid for pid in spawned if _alive(pid)]


async def test_pods_stopped_together_lose_their_main_processes_first(
    kubelet: Kubelet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Grace periods that end together: every main process is SIGKILLed before any
    container is swept for what else it holds (a daemon stopping many pods kills them on
    time, not one container's sweep after another)."""
    mains: set[int] = set()
    leftovers: list[int] = []
    for name in ("first", "second"):
        ready, record, pids = (tmp_path / f"{name}.{part}" for part in ("ready", "rec", "pids"))
        app = child(
            "app",
            *("--forever", "--ignore-sigterm", "--spawn", "grandchild"),
            *("--pids-file", str(pids), "--ready-file", str(ready), "--record", str(record)),
        )
        await start(kubelet, pod(name, app, grace=1))
        await wait_for_file(ready)
        mains.add(int(record.read_text().split()[2]))  # "start <time> <pid>"
        leftovers += [int(pid) for pid in pids.read_text().split()]
    killed: list[int] = []
    real_kill = os.kill

    def kill(pid: int, signum: int) -> None:
        if signum == signal.SIGKILL:
            killed.append(pid)
        real_kill(pid, signum)

    monkeypatch.setattr(os, "kill", kill)
    await kubelet.terminate_all()
    assert set(killed[:2]) == mains
    assert set(leftovers) <= set(killed[2:])
    assert not [pid for pid in (*mains, *leftovers) if _alive(pid)]


async def test_leftovers_die_when_the_main_process_exits(kubelet: Kubelet, tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    app = child("app", "--spawn", "setsid", "--spawn", "double-fork", "--pids-file", str(pids_file))
    worker = await start(kubelet, pod("orphans", app, policy=RestartPolicy.NEVER))
    await worker.wait_done()
    spawned = [int(pid) for pid in pids_file.read_text().split()]
    assert len(spawned) == 2
    assert not [pid for pid in spawned if _alive(pid)]
    assert worker.status.phase is PodPhase.SUCCEEDED


async def test_force_kill_skips_grace(kubelet: Kubelet, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    app = child("app", "--forever", "--ignore-sigterm", "--ready-file", str(ready))
    worker = await start(kubelet, pod("forced", app, grace=30))
    await wait_for_file(ready)
    worker.terminate()
    await wait_for_status(worker, lambda s: True)
    with anyio.fail_after(5):
        worker.kill()
        await worker.wait_done()
    assert container(worker.status, "app").state.exit_code == 137  # type: ignore[union-attr]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_active_deadline_kills_and_fails_the_pod(kubelet: Kubelet, tmp_path: Path) -> None:
    from dataclasses import replace

    base = pod("deadline", child("app", "--forever"), grace=1)
    deadlined = replace(base, spec=replace(base.spec, active_deadline_seconds=1))
    began = anyio.current_time()
    worker = await start(kubelet, deadlined)
    await worker.wait_done()
    assert anyio.current_time() - began >= 1
    status = worker.status
    assert status.phase is PodPhase.FAILED
    assert status.reason == "DeadlineExceeded"
    assert status.message == "Pod was active on the node longer than the specified deadline"
    state = container(status, "app").state
    assert isinstance(state, Terminated)
    assert state.exit_code == 143
    reasons = [(e.type.value, e.reason) for e in kubelet.recorder.events(pod="deadline")]
    assert ("Warning", "DeadlineExceeded") in reasons
