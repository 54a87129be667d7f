"""``Kubelet.update_pod`` on the fake runtime, on virtual time (trio's MockClock).

As the kubelet's ``computePodActions`` does when a running container's hash changes: the
container is killed with ``Container <n> definition changed, will be restarted`` and
started again from the new definition at once, whatever the restart policy; metadata
changes are a new snapshot and nothing more; a lowered ``activeDeadlineSeconds`` ends the
pod at its new deadline.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest
from trio.testing import MockClock

from minikubelet.kubelet import Kubelet
from minikubelet.model.snapshot import PodSnapshot, WatchEventType
from minikubelet.model.spec import Container, ObjectMeta, Pod, PodSpec, RestartPolicy
from minikubelet.model.status import PodPhase, Running
from minikubelet.settings import Settings
from minikubelet.testing import FakeRuntime, Script, wait_for_status
from tests.helpers.pods import start

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    # The clock jumps only after 0.1 s of real idleness: a container's start reads files
    # in a worker thread, which a jump at once would overtake.
    return ("trio", {"clock": MockClock(autojump_threshold=0.1)})


@pytest.fixture
def runtime() -> FakeRuntime:
    return FakeRuntime(default=Script(runs_for=None))


@pytest.fixture
async def kubelet(tmp_path: Path, runtime: FakeRuntime) -> AsyncIterator[Kubelet]:
    async with Kubelet(Settings(root_dir=tmp_path), runtime=runtime) as running:
        yield running


def web(image: str = "v1", policy: RestartPolicy = RestartPolicy.ALWAYS, **spec: Any) -> Pod:
    return Pod(
        metadata=ObjectMeta(name="web", labels={"app": "web"}),
        spec=PodSpec(
            containers=(
                Container(name="app", command=("app",), image=image),
                Container(name="side", command=("side",), image="s1"),
            ),
            restart_policy=policy,
            termination_grace_period_seconds=5,
            **spec,
        ),
    )


def running(snapshot: PodSnapshot) -> bool:
    return all(isinstance(s.state, Running) for s in snapshot.status.container_statuses)


@pytest.mark.parametrize("policy", [RestartPolicy.ALWAYS, RestartPolicy.NEVER])
async def test_a_new_image_restarts_that_container_at_once(
    kubelet: Kubelet, runtime: FakeRuntime, policy: RestartPolicy
) -> None:
    worker = await start(kubelet, web(policy=policy))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    first = runtime.started("app")[0]
    updated = kubelet.update_pod(web("v2", policy=policy))
    assert updated.uid == worker.uid
    assert updated.pod.spec.containers[0].image == "v2"
    status = await wait_for_status(
        worker,
        lambda s: (
            s.container_statuses[0].restart_count == 1
            and isinstance(s.container_statuses[0].state, Running)
        ),
    )
    assert status.container_statuses[0].image == "v2"
    assert status.container_statuses[1].restart_count == 0  # the other one is untouched
    assert len(runtime.started("side")) == 1
    (killed,) = [s for s in runtime.signals if s.pid == first.pid]
    restarted = runtime.started("app")[1]
    assert restarted.started_at == killed.at  # no back-off: its key is the new definition
    messages = [(e.reason, e.message) for e in kubelet.recorder.events(pod="web")]
    assert ("Killing", "Container app definition changed, will be restarted") in messages


async def test_metadata_changes_are_one_snapshot_and_nothing_else(
    kubelet: Kubelet, runtime: FakeRuntime
) -> None:
    worker = await start(kubelet, web())
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    seen: list[tuple[WatchEventType, PodSnapshot]] = []
    unwatch = kubelet.watch(lambda kind, snapshot: seen.append((kind, snapshot)))
    labelled = web()
    labelled = replace(
        labelled, metadata=replace(labelled.metadata, labels={"app": "web", "tier": "x"})
    )
    kubelet.update_pod(labelled)
    await anyio.sleep(1)
    unwatch()
    assert [kind for kind, _ in seen] == [WatchEventType.MODIFIED]
    assert dict(seen[0][1].pod.metadata.labels) == {"app": "web", "tier": "x"}
    assert len(runtime.starts) == 2
    assert runtime.signals == []


async def test_a_lowered_deadline_ends_the_pod_then(kubelet: Kubelet) -> None:
    worker = await start(kubelet, web(active_deadline_seconds=1000))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    began = anyio.current_time()
    kubelet.update_pod(web(active_deadline_seconds=30))
    status = await wait_for_status(worker, lambda s: s.phase is PodPhase.FAILED, timeout=100)
    assert status.reason == "DeadlineExceeded"
    assert 29 <= anyio.current_time() - began <= 40  # 30 s after the pod's start, plus grace


async def test_an_unknown_pod_is_a_key_error(kubelet: Kubelet) -> None:
    with pytest.raises(KeyError):
        kubelet.update_pod(web())
