"""The engine is anyio all the way down: the same lifecycle runs under trio."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.model.spec import Lifecycle, RestartPolicy
from minikubelet.model.status import PodPhase, Terminated
from minikubelet.settings import Settings
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


async def test_containers_spawned_through_the_keeper_under_trio(settings: Settings) -> None:
    """``serve``'s runtime: the keeper spawns and reaps, exits come over its socket."""
    async with Kubelet(settings, keeper=True) as kubelet:
        worker = await start(kubelet, pod("trio-kept", child("app", "--exit-code", "3")))
        status = await wait_for_status(worker, lambda s: container(s, "app").restart_count >= 2)
        last = container(status, "app").last_state
        assert isinstance(last, Terminated)
        assert last.exit_code == 3
        keeper = kubelet.runtime.table.foster  # type: ignore[attr-defined]
    assert keeper is not None
    pidfd = os.pidfd_open(keeper)  # it is our child: a zombie until reaped, never gone
    try:
        with anyio.fail_after(10):
            await anyio.wait_readable(pidfd)  # it exits once told the pods are stopped
    finally:
        os.close(pidfd)
