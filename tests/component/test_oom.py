"""OOMKilled on virtual time: the reason, the event, restarts with back-off, init containers,
and the pod's admission and removal at the runtime seam (the fake runtime's OOM scripts)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from trio.testing import MockClock

from minikubelet.kubelet import Kubelet
from minikubelet.logic.backoff import BackoffPolicy
from minikubelet.logic.qos import CgroupResources
from minikubelet.manifest.quantity import parse_quantity
from minikubelet.model.containment import ContainmentMode
from minikubelet.model.events import EventType
from minikubelet.model.spec import (
    Container,
    ObjectMeta,
    Pod,
    PodSpec,
    ResourceRequirements,
    RestartPolicy,
)
from minikubelet.model.status import PodPhase, Terminated, Waiting
from minikubelet.pod_worker import PodWorker
from minikubelet.settings import Settings
from minikubelet.testing import FakeRuntime, Script, container, wait_for_status

pytestmark = pytest.mark.anyio

OOM = Script(exit_code=137, runs_for=2, oom_killed=True)


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return ("trio", {"clock": MockClock(autojump_threshold=0)})


@pytest.fixture
def runtime() -> FakeRuntime:
    return FakeRuntime()


@pytest.fixture
async def kubelet(runtime: FakeRuntime, tmp_path: Path) -> AsyncIterator[Kubelet]:
    settings = Settings(root_dir=tmp_path, backoff=BackoffPolicy(initial=10, maximum=300))
    async with Kubelet(settings, runtime=runtime) as running:
        yield running


def app(name: str = "app", memory: str | None = "64Mi") -> Container:
    limits = {"memory": parse_quantity(memory)} if memory else {}
    return Container(name=name, command=(name,), resources=ResourceRequirements(limits=limits))


def pod(
    *containers: Container,
    init: tuple[Container, ...] = (),
    policy: RestartPolicy = RestartPolicy.ALWAYS,
) -> Pod:
    spec = PodSpec(containers=containers, init_containers=init, restart_policy=policy)
    return Pod(metadata=ObjectMeta(name="web"), spec=spec)


async def run(kubelet: Kubelet, spec: Pod) -> tuple[PodWorker, float]:
    added = anyio.current_time()
    snapshot = await kubelet.add_pod(spec)
    worker = kubelet.worker(*snapshot.key)
    assert worker is not None
    return worker, added


def oom_events(kubelet: Kubelet) -> list[tuple[str, str]]:
    return [
        (e.field_path, e.message)
        for e in kubelet.recorder.events(pod="web")
        if e.reason == "OOMKilled" and e.type is EventType.WARNING
    ]


async def test_an_oom_killed_container_restarts_with_the_back_off(
    kubelet: Kubelet, runtime: FakeRuntime
) -> None:
    runtime.script("app", OOM)
    worker, t0 = await run(kubelet, pod(app()))
    status = await wait_for_status(
        worker, lambda s: container(s, "app").restart_count >= 3, timeout=1000
    )
    last = container(status, "app").last_state
    assert isinstance(last, Terminated)
    assert (last.reason, last.exit_code) == ("OOMKilled", 137)
    # OOMKilled is a failure like any other: 2 s runs, then 0, 10, 20 s of back-off
    assert [round(p.started_at - t0, 6) for p in runtime.started("app")][:4] == [0, 2, 14, 36]
    # one Warning event per OOM kill (the recorder counts repeats, as the kubelet's does)
    (event,) = [e for e in kubelet.recorder.events(pod="web") if e.reason == "OOMKilled"]
    assert (event.type, event.field_path) == (EventType.WARNING, "spec.containers{app}")
    assert event.message == "scripted OOM kill of container app"
    assert event.count >= 3


async def test_restart_policy_never_ends_the_pod_failed(
    kubelet: Kubelet, runtime: FakeRuntime
) -> None:
    runtime.script("app", OOM)
    worker, _ = await run(kubelet, pod(app(), policy=RestartPolicy.NEVER))
    await worker.wait_done()
    assert worker.status.phase is PodPhase.FAILED
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated)
    assert state.reason == "OOMKilled"
    assert len(runtime.started("app")) == 1


async def test_an_init_container_oom_killed_with_exit_0_runs_again(
    kubelet: Kubelet, runtime: FakeRuntime
) -> None:
    """The kernel killed a child and the wrapper exited 0: still a failed init container."""
    runtime.script("setup", Script(exit_code=0, runs_for=1, oom_killed=True), Script(runs_for=1))
    worker, t0 = await run(kubelet, pod(app(memory=None), init=(app("setup"),)))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING, timeout=100)
    # the first run "succeeded" with its OOM kill: it is retried (back-off 0), then app
    assert [round(p.started_at - t0, 6) for p in runtime.started("setup")] == [0, 1]
    assert [round(p.started_at - t0, 6) for p in runtime.started("app")] == [2]
    last = container(worker.status, "setup").last_state
    assert isinstance(last, Terminated)
    assert (last.reason, last.exit_code) == ("OOMKilled", 0)


async def test_a_failed_init_container_blocks_the_app_while_it_is_oom_killed(
    kubelet: Kubelet, runtime: FakeRuntime
) -> None:
    runtime.script("setup", OOM)
    worker, _ = await run(kubelet, pod(app(), init=(app("setup"),)))
    await wait_for_status(worker, lambda s: container(s, "setup").restart_count >= 2, timeout=100)
    assert worker.status.phase is PodPhase.PENDING
    assert isinstance(container(worker.status, "app").state, Waiting)
    assert runtime.started("app") == []


async def test_a_signal_is_not_an_oom_kill(kubelet: Kubelet, runtime: FakeRuntime) -> None:
    runtime.script("app", Script(runs_for=None, oom_killed=True))
    worker, _ = await run(kubelet, pod(app()))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    kubelet.delete_pod("default", "web")
    await worker.wait_done()
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated)
    assert state.reason != "OOMKilled"
    assert oom_events(kubelet) == []


async def test_the_pod_is_prepared_at_admission_and_removed_after_its_last_instance(
    kubelet: Kubelet, runtime: FakeRuntime
) -> None:
    runtime.script("setup", Script(exit_code=0, runs_for=1))
    worker, _ = await run(kubelet, pod(app(), init=(app("setup", memory=None),)))
    assert kubelet.containment.mode is ContainmentMode.FAKE
    uid = worker.uid
    assert runtime.prepared[uid] == {
        "setup": CgroupResources(),
        "app": CgroupResources(memory_limit_bytes=64 * 2**20),
    }
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    assert runtime.removed == []
    kubelet.delete_pod("default", "web")
    await worker.wait_done()
    assert [who for _, who in runtime.removed] == [uid]
    (app_instance,) = runtime.started("app")
    assert app_instance.status is not None  # removed only once the last instance ended


async def test_oom_events_are_counted_in_usage(kubelet: Kubelet, runtime: FakeRuntime) -> None:
    runtime.script("app", OOM, Script(runs_for=None))
    worker, _ = await run(kubelet, pod(app()))
    await wait_for_status(worker, lambda s: container(s, "app").restart_count == 1, timeout=100)
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    (usage,) = await kubelet.usage()
    assert usage.usage.oom_events == 1
