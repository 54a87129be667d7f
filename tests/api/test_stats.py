"""/stats/summary and runtime.stats: CPU and memory of each container, from its cgroup's
counters or (containment none) its whole process tree; both modes run every test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.model.containment import ContainmentMode
from minikubelet.model.spec import Container
from minikubelet.model.status import PodPhase
from minikubelet.runtime.containment import subtree_for
from minikubelet.runtime.local import LocalRuntime
from minikubelet.settings import Settings
from minikubelet.testing import wait_for_file, wait_for_status
from tests.api.conftest import Server
from tests.conftest import PYTHON
from tests.helpers.pods import child, pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture(params=["auto", "none"])
async def kubelet(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Kubelet]:
    runtime = LocalRuntime(
        settings.log_rotation,
        containment=request.param,
        cgroup_subtree=subtree_for(settings.root_dir),
    )
    async with Kubelet(settings, runtime=runtime) as running:
        yield running


BUSY = "import time\nend = time.time() + 30\nwhile time.time() < end: pass\n"


async def test_summary_per_pod_and_container(server: Server, tmp_path: Path) -> None:
    busy = Container(name="busy", command=(PYTHON, "-c", BUSY))
    ready = tmp_path / "ready"
    idle = child("idle", "--forever", "--ready-file", str(ready))
    worker = await start(server.kubelet, pod("load", busy, idle))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    await wait_for_file(ready)  # its interpreter's start-up is not idle
    summary = await server.json("/stats/summary")
    assert summary["node"]["nodeName"] == server.kubelet.settings.node_name
    assert summary["node"]["memory"]["workingSetBytes"] > 0
    assert summary["node"]["cpu"]["usageCoreNanoSeconds"] > 0
    (entry,) = summary["pods"]
    assert entry["podRef"] == {"name": "load", "namespace": "default", "uid": worker.uid}
    containers = {c["name"]: c for c in entry["containers"]}
    assert set(containers) == {"busy", "idle"}
    containment = server.kubelet.containment
    assert summary["node"]["containment"]["mode"] == containment.mode.value
    assert summary["node"]["containment"]["reason"] == containment.reason
    for stats in containers.values():
        memory = stats["memory"]
        assert memory["workingSetBytes"] > 1024 * 1024  # a Python interpreter
        if containment.mode is ContainmentMode.NONE:
            assert memory["rssBytes"] == memory["workingSetBytes"] == memory["usageBytes"]
        else:  # the cgroup's charge, of which the working set and the anonymous memory
            assert memory["rssBytes"] <= memory["usageBytes"]
            assert memory["workingSetBytes"] <= memory["usageBytes"]
        # A rate, not a total: never more than every core of the machine busy.
        assert stats["cpu"]["usageNanoCores"] <= (os.cpu_count() or 1) * 1_100_000_000
        assert stats["startTime"]
    # A spinning process uses about one core; an idle one next to nothing.
    assert containers["busy"]["cpu"]["usageNanoCores"] > 200_000_000
    assert containers["idle"]["cpu"]["usageNanoCores"] < containers["busy"]["cpu"]["usageNanoCores"]
    assert containers["idle"]["cpu"]["usageNanoCores"] < 100_000_000  # a sleeping child
    pod_memory = entry["memory"]["workingSetBytes"]
    assert pod_memory == sum(c["memory"]["workingSetBytes"] for c in containers.values())
    # A second request reuses the first one's samples for the rate.
    again = await server.json("/stats/summary")
    assert again["pods"][0]["cpu"]["usageNanoCores"] > 0


async def test_a_container_is_its_whole_process_tree(server: Server, tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    app = child(
        "app",
        "--spawn",
        "grandchild",
        "--spawn",
        "double-fork",
        "--pids-file",
        str(pids_file),
        "--forever",
    )
    worker = await start(server.kubelet, pod("tree", app))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    await wait_for_file(pids_file)
    (sampled,) = [u for u in await server.kubelet.usage() if u.pod.uid == worker.uid]
    usage = sampled.usage
    assert usage.processes == 3  # the child, its grandchild, the re-parented daemon
    assert usage.memory_bytes > 3 * 1024 * 1024
    assert usage.cpu_seconds > 0
