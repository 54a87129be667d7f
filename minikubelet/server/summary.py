"""``/stats/summary``: the kubelet's Summary API (``stats/v1alpha1``), CPU and memory only.

Per pod and per container: ``cpu`` (``usageCoreNanoSeconds`` cumulative,
``usageNanoCores`` the rate since the previous sample) and ``memory`` (``usageBytes``,
``workingSetBytes``, ``rssBytes``). With a cgroup per container they are the kernel's
counters, as cAdvisor reads them: the cgroup's charge, its working set (the charge minus
inactive file pages) and its anonymous memory; without one, each is the resident set of
the container's whole process tree (``runtime/stats.py``). A rate needs two samples: the
first request that sees a container samples it twice, ``WINDOW`` seconds apart (so it
takes that much longer); later requests use the previous request's sample. Nothing is
sampled between requests.

The node section also says which containment is in force, and why (``containment``:
``mode``, ``reason``, what it enforces): minikubelet's addition, as the kubelet's node has
no such field.
"""

from __future__ import annotations

from datetime import UTC, datetime

import anyio

from minikubelet.api.serialize import time_json
from minikubelet.api.types import JSON
from minikubelet.kubelet import ContainerUsage, Kubelet
from minikubelet.model.snapshot import PodSnapshot
from minikubelet.model.usage import NodeUsage, Usage

__all__ = ["WINDOW", "UsageSampler"]

WINDOW = 0.25  # seconds between the two samples of a container seen for the first time


class UsageSampler:
    """Samples containers' usage through the kubelet; remembers the last sample for rates."""

    def __init__(self, kubelet: Kubelet) -> None:
        self._kubelet = kubelet
        # (pod uid, container) -> (time, cpu seconds, the rate measured then)
        self._last: dict[tuple[str, str], tuple[float, float, int | None]] = {}
        self._node_last: tuple[float, float, int | None] | None = None
        self.window = WINDOW  # seconds the latest container rate was measured over

    async def containers(self) -> list[tuple[ContainerUsage, int | None]]:
        """Each running container's usage, with its CPU rate in nanocores.

        A rate is measured over at least ``WINDOW``: CPU times tick in 10 ms steps, so two
        samples a few milliseconds apart would say 0. A request that comes sooner gets the
        rate measured last time, and the baseline stays where it was.
        """
        usages = await self._kubelet.usage()
        if any(_key(u) not in self._last for u in usages):
            for usage in usages:
                self._last.setdefault(_key(usage), (usage.at, usage.usage.cpu_seconds, None))
            await anyio.sleep(WINDOW)
            usages = await self._kubelet.usage()
        rated = []
        for usage in usages:
            key = _key(usage)
            at, cpu, rate = self._last.get(key, (usage.at, usage.usage.cpu_seconds, None))
            if usage.at - at >= WINDOW:
                spent = max(usage.usage.cpu_seconds - cpu, 0.0)
                rate = int(spent / (usage.at - at) * 1e9)
                self._last[key] = (usage.at, usage.usage.cpu_seconds, rate)
                self.window = usage.at - at
            rated.append((usage, rate))
        # Only the containers running now are remembered: a container that is gone (or a
        # pod deleted) is dropped at the next sample, so this holds at most one entry per
        # running container, as cAdvisor forgets a container once it is gone.
        alive = {_key(u) for u in usages}
        self._last = {key: value for key, value in self._last.items() if key in alive}
        return rated

    async def node(self, *, rated: bool = False) -> tuple[NodeUsage, int | None]:
        """The machine's usage, with its CPU rate measured as the containers' is.

        ``rated``: the first call samples twice, ``WINDOW`` apart, so there is a rate.
        """
        if rated and self._node_last is None:
            await self.node()
            await anyio.sleep(WINDOW)
        usage = await self._kubelet.node_usage()
        taken_at = anyio.current_time()
        if self._node_last is None:
            self._node_last = (taken_at, usage.cpu_seconds, None)
        at, cpu, rate = self._node_last
        if taken_at - at >= WINDOW:
            rate = int(max(usage.cpu_seconds - cpu, 0.0) / (taken_at - at) * 1e9)
            self._node_last = (taken_at, usage.cpu_seconds, rate)
        return usage, rate

    async def summary(self) -> JSON:
        if self._node_last is None:
            await self.node()  # the first sample: the rate is measured over what follows
            running = {(pod.uid, name) for pod, name in _running(self._kubelet)}
            if running <= set(self._last):
                await anyio.sleep(WINDOW)  # no container sampling will wait: wait here
        usages = await self.containers()
        node, node_rate = await self.node()
        now = self._kubelet.clock()
        by_pod: dict[str, list[tuple[ContainerUsage, int | None]]] = {}
        for usage, rate in usages:
            by_pod.setdefault(usage.pod.uid, []).append((usage, rate))
        pods = []
        for snapshot in self._kubelet.snapshots():
            mine = by_pod.get(snapshot.uid, [])
            containers = []
            for usage, rate in mine:
                record = snapshot.records.get(usage.container)
                latest = record.latest if record is not None else None
                containers.append(
                    {
                        "name": usage.container,
                        "startTime": time_json(latest.started_at if latest else None),
                        "cpu": _cpu(now, usage.usage.cpu_seconds, rate),
                        "memory": _memory(now, usage.usage),
                    }
                )
            rates = [rate for _, rate in mine]
            pods.append(
                {
                    "podRef": {
                        "name": snapshot.pod.name,
                        "namespace": snapshot.pod.namespace,
                        "uid": snapshot.uid,
                    },
                    "startTime": time_json(snapshot.status.start_time),
                    "containers": containers,
                    "cpu": _cpu(
                        now,
                        sum(u.usage.cpu_seconds for u, _ in mine),
                        None if None in rates else sum(r for r in rates if r is not None),
                    ),
                    "memory": _memory(now, _total([u.usage for u, _ in mine])),
                }
            )
        return {
            "node": {
                "nodeName": self._kubelet.settings.node_name,
                "startTime": time_json(datetime.fromtimestamp(node.boot_time, UTC)),
                "cpu": _cpu(now, node.cpu_seconds, node_rate),
                "memory": {
                    **_memory(now, Usage(0.0, node.memory_used_bytes, 0)),
                    "availableBytes": node.memory_total_bytes - node.memory_used_bytes,
                },
                "systemContainers": [],
                "containment": self._kubelet.containment.json(),
            },
            "pods": pods,
        }


def _key(usage: ContainerUsage) -> tuple[str, str]:
    return (usage.pod.uid, usage.container)


def _running(kubelet: Kubelet) -> list[tuple[PodSnapshot, str]]:
    """Every container whose newest instance runs, with its pod."""
    return [
        (pod, name)
        for pod in kubelet.snapshots()
        for name, record in pod.records.items()
        if record.latest is not None and record.latest.pid is not None and record.is_running
    ]


def _cpu(now: datetime, seconds: float, nano_cores: int | None) -> JSON:
    data: JSON = {"time": time_json(now), "usageCoreNanoSeconds": int(seconds * 1e9)}
    if nano_cores is not None:
        data["usageNanoCores"] = nano_cores
    return data


def _memory(now: datetime, usage: Usage) -> JSON:
    working_set = usage.memory_bytes
    return {
        "time": time_json(now),
        "usageBytes": working_set if usage.usage_bytes is None else usage.usage_bytes,
        "workingSetBytes": working_set,
        "rssBytes": working_set if usage.rss_bytes is None else usage.rss_bytes,
    }


def _total(usages: list[Usage]) -> Usage:
    """A pod's memory: the sum of its containers' (as the kubelet sums them without a pod
    cgroup of its own to read)."""
    return Usage(
        cpu_seconds=sum(u.cpu_seconds for u in usages),
        memory_bytes=sum(u.memory_bytes for u in usages),
        processes=sum(u.processes for u in usages),
        usage_bytes=sum(u.memory_bytes if u.usage_bytes is None else u.usage_bytes for u in usages),
        rss_bytes=sum(u.memory_bytes if u.rss_bytes is None else u.rss_bytes for u in usages),
    )
