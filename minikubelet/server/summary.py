"""``/stats/summary``: the kubelet's Summary API (``stats/v1alpha1``), CPU and memory only.

Per pod and per container: ``cpu`` (``usageCoreNanoSeconds`` cumulative,
``usageNanoCores`` the rate since the previous sample) and ``memory`` (``usageBytes``,
``workingSetBytes`` and ``rssBytes``, all the resident set of the container's whole
process tree; see ``runtime/stats.py``). A rate needs two samples: the first request that
sees a container samples it twice, ``WINDOW`` seconds apart (so it takes that much
longer); later requests use the previous request's sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio

from minikubelet.api.serialize import time_json
from minikubelet.kubelet import Kubelet
from minikubelet.runtime.stats import NodeUsage, TreeUsage, sample_many, sample_node

__all__ = ["WINDOW", "ContainerUsage", "UsageSampler"]

JSON = dict[str, Any]
WINDOW = 0.25  # seconds between the two samples of a container seen for the first time


@dataclass(frozen=True)
class _Target:
    namespace: str
    pod: str
    uid: str
    container: str
    pid: int

    @property
    def tag(self) -> str:
        return f"{self.uid}/{self.container}"


@dataclass(frozen=True)
class ContainerUsage:
    target: _Target
    cpu_seconds: float
    nano_cores: int | None
    memory_bytes: int
    time: datetime


class UsageSampler:
    """Samples containers' process trees; remembers the last sample for rates."""

    def __init__(self, kubelet: Kubelet) -> None:
        self._kubelet = kubelet
        self._last: dict[str, tuple[float, float]] = {}  # tag -> (monotonic, cpu seconds)
        self._node_last: tuple[float, float] | None = None

    def _targets(self) -> list[_Target]:
        targets = []
        for worker in self._kubelet.workers():
            for name, record in worker.records().items():
                latest = record.latest
                if latest is None or latest.pid is None or latest.exit is not None:
                    continue
                targets.append(
                    _Target(worker.pod.namespace, worker.pod.name, worker.uid, name, latest.pid)
                )
        return targets

    async def containers(self) -> list[ContainerUsage]:
        """One usage per running container, with a CPU rate."""
        targets = self._targets()
        table = self._kubelet.runtime.table

        def take() -> dict[str, TreeUsage]:
            return sample_many({t.tag: [t.pid] for t in targets}, table)

        samples = await anyio.to_thread.run_sync(take)
        taken_at = anyio.current_time()
        if any(t.tag not in self._last for t in targets):
            for tag, usage in samples.items():
                self._last.setdefault(tag, (taken_at, usage.cpu_seconds))
            await anyio.sleep(WINDOW)
            samples = await anyio.to_thread.run_sync(take)
            taken_at = anyio.current_time()
        now = self._kubelet.clock()
        usages = []
        for target in targets:
            usage = samples[target.tag]
            rate = None
            previous = self._last.get(target.tag)
            if previous is not None and taken_at > previous[0]:
                spent = max(usage.cpu_seconds - previous[1], 0.0)
                rate = int(spent / (taken_at - previous[0]) * 1e9)
            self._last[target.tag] = (taken_at, usage.cpu_seconds)
            usages.append(ContainerUsage(target, usage.cpu_seconds, rate, usage.rss_bytes, now))
        alive = {t.tag for t in targets}
        self._last = {tag: value for tag, value in self._last.items() if tag in alive}
        return usages

    async def node(self) -> tuple[NodeUsage, int | None]:
        usage = await anyio.to_thread.run_sync(sample_node)
        taken_at = anyio.current_time()
        rate = None
        if self._node_last is not None and taken_at > self._node_last[0]:
            spent = max(usage.cpu_seconds - self._node_last[1], 0.0)
            rate = int(spent / (taken_at - self._node_last[0]) * 1e9)
        self._node_last = (taken_at, usage.cpu_seconds)
        return usage, rate

    async def summary(self) -> JSON:
        if self._node_last is None:
            await self.node()  # the first sample: the rate is measured over what follows
            if all(t.tag in self._last for t in self._targets()):
                await anyio.sleep(WINDOW)  # no container sampling will wait: wait here
        usages = await self.containers()
        node, node_rate = await self.node()
        now = self._kubelet.clock()
        by_pod: dict[str, list[ContainerUsage]] = {}
        for usage in usages:
            by_pod.setdefault(usage.target.uid, []).append(usage)
        pods = []
        for worker in self._kubelet.workers():
            mine = by_pod.get(worker.uid, [])
            containers = []
            for usage in mine:
                record = worker.records()[usage.target.container]
                started = record.latest.started_at if record.latest else None
                containers.append(
                    {
                        "name": usage.target.container,
                        "startTime": time_json(started),
                        "cpu": _cpu(now, usage.cpu_seconds, usage.nano_cores),
                        "memory": _memory(now, usage.memory_bytes),
                    }
                )
            rates = [u.nano_cores for u in mine]
            pods.append(
                {
                    "podRef": {
                        "name": worker.pod.name,
                        "namespace": worker.pod.namespace,
                        "uid": worker.uid,
                    },
                    "startTime": time_json(worker.start_time),
                    "containers": containers,
                    "cpu": _cpu(
                        now,
                        sum(u.cpu_seconds for u in mine),
                        None if None in rates else sum(r for r in rates if r is not None),
                    ),
                    "memory": _memory(now, sum(u.memory_bytes for u in mine)),
                }
            )
        return {
            "node": {
                "nodeName": self._kubelet.settings.node_name,
                "startTime": time_json(datetime.fromtimestamp(node.boot_time, UTC)),
                "cpu": _cpu(now, node.cpu_seconds, node_rate),
                "memory": {
                    **_memory(now, node.memory_used_bytes),
                    "availableBytes": node.memory_total_bytes - node.memory_used_bytes,
                },
                "systemContainers": [],
            },
            "pods": pods,
        }


def _cpu(now: datetime, seconds: float, nano_cores: int | None) -> JSON:
    data: JSON = {"time": time_json(now), "usageCoreNanoSeconds": int(seconds * 1e9)}
    if nano_cores is not None:
        data["usageNanoCores"] = nano_cores
    return data


def _memory(now: datetime, rss: int) -> JSON:
    return {"time": time_json(now), "usageBytes": rss, "workingSetBytes": rss, "rssBytes": rss}
