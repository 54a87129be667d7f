"""A restarted daemon's pod worker takes back what the previous one left running, on the
fake runtime under virtual time (trio's ``MockClock``): the instance is supervised again
unchanged, its exit applies the restart policy, a refused one is lost with its reason,
and what nobody claims is killed before anything starts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from trio.testing import MockClock

from minikubelet.kubelet import Kubelet
from minikubelet.logic.backoff import BackoffPolicy
from minikubelet.model.checkpoint import PodCheckpoint
from minikubelet.model.launch import Launch
from minikubelet.model.spec import Container, ObjectMeta, Pod, PodSpec, RestartPolicy
from minikubelet.model.status import Instance, Running, Terminated
from minikubelet.runtime.fake import FakeProcess
from minikubelet.settings import Settings
from minikubelet.testing import FakeRuntime, Script, container, wait_for_status

pytestmark = [pytest.mark.anyio]

UID = "4f3c2d1e"
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=10)


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return ("trio", {"clock": MockClock(autojump_threshold=0)})


class History:
    def __init__(self, checkpoint: PodCheckpoint) -> None:
        self.checkpoint = checkpoint

    def load(self, uid: str, namespace: str, name: str) -> PodCheckpoint | None:
        return self.checkpoint if uid == self.checkpoint.uid else None


def web(policy: RestartPolicy = RestartPolicy.ALWAYS) -> Pod:
    spec = PodSpec(containers=(Container(name="app", command=("app",)),), restart_policy=policy)
    return Pod(metadata=ObjectMeta(name="web"), spec=spec)


async def left_running(script: Script) -> tuple[FakeRuntime, FakeProcess]:
    """A process an earlier runtime started for container app of pod ``UID``, and the
    runtime of the next daemon, whose keeper holds it."""
    earlier = FakeRuntime()
    earlier.script("app", script)
    process = await earlier.start(Launch(tag=f"{UID}/app", argv=("app",), cwd="/"))
    later = FakeRuntime(kept=[process])
    later._pids = earlier._pids
    return later, process


def checkpoint_of(process: FakeProcess, ticks: int | None = None) -> PodCheckpoint:
    instance = Instance(
        "app",
        0,
        f"process://{process.pid}",
        T0,
        pid=process.pid,
        started_at=T0,
        start_ticks=process.start_ticks if ticks is None else ticks,
    )
    return PodCheckpoint(UID, "default", "web", T0, {"app": (instance,)})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(root_dir=tmp_path, backoff=BackoffPolicy(initial=10, maximum=300))


@contextlib.asynccontextmanager
async def kubelet_with(
    settings: Settings, runtime: FakeRuntime, checkpoint: PodCheckpoint
) -> AsyncIterator[Kubelet]:
    async with Kubelet(
        settings, runtime=runtime, history=History(checkpoint), clock=lambda: NOW
    ) as kubelet:
        yield kubelet


async def test_a_left_running_instance_is_adopted_and_its_exit_restarts_it(
    settings: Settings,
) -> None:
    runtime, process = await left_running(Script(exit_code=7, runs_for=30))
    async with kubelet_with(settings, runtime, checkpoint_of(process)) as kubelet:
        snapshot = await kubelet.add_pod(web(), uid=UID)
        worker = kubelet.worker(*snapshot.key)
        assert worker is not None
        status = container(worker.status, "app")
        assert isinstance(status.state, Running)
        assert status.state.started_at == T0  # as the previous daemon reported it
        assert status.restart_count == 0
        assert status.container_id == f"process://{process.pid}"
        assert runtime.adopted == [process]
        assert runtime.starts == []  # nothing started: never two instances
        await wait_for_status(worker, lambda s: container(s, "app").restart_count == 1, 100)
        again = container(worker.status, "app")
        assert isinstance(again.last_state, Terminated)
        assert again.last_state.exit_code == 7
        assert len(runtime.starts) == 1
        assert await kubelet.adoption_done() == []


async def test_an_exit_while_no_daemon_ran_is_reported_with_its_code(
    settings: Settings,
) -> None:
    runtime, process = await left_running(Script(exit_code=3, runs_for=1))
    await process.wait()
    async with kubelet_with(settings, runtime, checkpoint_of(process)) as kubelet:
        snapshot = await kubelet.add_pod(web(RestartPolicy.NEVER), uid=UID)
        worker = kubelet.worker(*snapshot.key)
        assert worker is not None
        with anyio.fail_after(10):
            await worker.wait_done()
        state = container(worker.status, "app").state
        assert isinstance(state, Terminated)
        assert state.exit_code == 3
        assert runtime.starts == []


async def test_a_reused_pid_is_refused_killed_and_the_container_starts_again(
    settings: Settings,
) -> None:
    runtime, process = await left_running(Script())
    reused = checkpoint_of(process, ticks=process.start_ticks + 1)
    async with kubelet_with(settings, runtime, reused) as kubelet:
        snapshot = await kubelet.add_pod(web(), uid=UID)
        worker = kubelet.worker(*snapshot.key)
        assert worker is not None
        assert process.status is not None  # the old one killed before the new one
        await wait_for_status(worker, lambda s: isinstance(container(s, "app").state, Running))
        status = container(worker.status, "app")
        assert status.restart_count == 1
        assert isinstance(status.last_state, Terminated)
        assert status.last_state.reason == "ContainerStatusUnknown"
        assert "another process" in status.last_state.message
        assert len(runtime.starts) == 1
