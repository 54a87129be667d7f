"""/stats/summary and runtime.stats: CPU and memory of each container's whole process tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from minikubelet.model.spec import Container
from minikubelet.model.status import PodPhase
from minikubelet.testing import wait_for_file, wait_for_status
from tests.api.conftest import Server
from tests.conftest import PYTHON
from tests.helpers.pods import child, pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

BUSY = "import time\nend = time.time() + 30\nwhile time.time() < end: pass\n"


async def test_summary_per_pod_and_container(server: Server) -> None:
    busy = Container(name="busy", command=(PYTHON, "-c", BUSY))
    worker = await start(server.kubelet, pod("load", busy, child("idle", "--forever")))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    summary = await server.json("/stats/summary")
    assert summary["node"]["nodeName"] == server.kubelet.settings.node_name
    assert summary["node"]["memory"]["workingSetBytes"] > 0
    assert summary["node"]["cpu"]["usageCoreNanoSeconds"] > 0
    (entry,) = summary["pods"]
    assert entry["podRef"] == {"name": "load", "namespace": "default", "uid": worker.uid}
    containers = {c["name"]: c for c in entry["containers"]}
    assert set(containers) == {"busy", "idle"}
    for stats in containers.values():
        assert stats["memory"]["workingSetBytes"] > 1024 * 1024  # a Python interpreter
        assert stats["memory"]["rssBytes"] == stats["memory"]["workingSetBytes"]
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
