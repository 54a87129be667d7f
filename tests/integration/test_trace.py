"""The signal timeline of a standard termination, checked step by step."""

from __future__ import annotations

from pathlib import Path

import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.model.spec import Lifecycle, RestartPolicy, SleepAction
from minikubelet.model.trace import Step
from minikubelet.testing import wait_for_file
from tests.helpers.pods import child, pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_termination_timeline(kubelet: Kubelet, tmp_path: Path) -> None:
    ready, pids_file = tmp_path / "ready", tmp_path / "pids"
    app = child(
        "app",
        "--forever",
        "--ignore-sigterm",
        "--spawn",
        "grandchild",
        "--spawn",
        "double-fork",
        "--pids-file",
        str(pids_file),
        "--ready-file",
        str(ready),
        lifecycle=Lifecycle(pre_stop=SleepAction(1)),
    )
    worker = await start(kubelet, pod("timeline", app, grace=2, policy=RestartPolicy.NEVER))
    await wait_for_file(ready)
    main = int(ready.read_text())
    spawned = sorted(int(pid) for pid in pids_file.read_text().split())
    worker.terminate()
    await worker.wait_done()

    steps = worker.last_termination["app"]
    began = steps[0].at
    timeline = [(entry.step, entry.detail, entry.at - began) for entry in steps]
    killed = " ".join(map(str, sorted([main, *spawned])))
    assert [(step, detail) for step, detail, _ in timeline] == [
        (Step.KILLING, "preStop sleep 1s (grace period 2s)"),
        (Step.HOOK, "preStop succeeded"),
        (Step.SIGNAL, f"SIGTERM -> pid {main}"),
        (Step.GRACE, "1s elapsed, process still alive"),
        (Step.SIGNAL, f"SIGKILL -> 3 processes (pids {killed})"),
        (Step.EXITED, "code 137 (killed by SIGKILL)"),
    ]
    # The exact schedule is checked on virtual time (tests/component/test_pod_worker.py);
    # here: the steps came in order, and no sooner than the manifest says.
    at = [offset for _, _, offset in timeline]
    assert at[0] == 0
    assert at == sorted(at)
    assert at[1] >= 1.0  # the sleep hook's second
    assert at[3] >= 2.0  # grace 2 s, less the hook's whole second, then SIGKILL


async def test_crash_loop_records_restart_decisions(kubelet: Kubelet) -> None:
    worker = await start(kubelet, pod("decisions", child("app", "--exit-code", "1")))
    seen: list[str] = []
    worker.on_trace(lambda entry: seen.append(f"{entry.step} {entry.detail}"))
    from minikubelet.testing import container, wait_for_status

    await wait_for_status(worker, lambda s: container(s, "app").restart_count >= 3)
    assert any(line.startswith("Restart in ") and "back-off" in line for line in seen)
    assert any(line.startswith("Exited code 1") for line in seen)
    assert any(line.startswith("Spawned pid ") for line in seen)
