"""CPU and memory of a container: the sum over its whole process tree, through psutil.

A container is every process ``tagged_pids`` finds for it (its main process, their
descendants, and orphans or exec probes carrying its tag), so a shell wrapper's worker
or a double-forked daemon is counted with the container that started it. CPU time is
cumulative (user + system, plus what each process collected from children it reaped);
the rate (``usageNanoCores``) is computed by the caller between two samples, as cAdvisor
does. Memory is the resident set size, which stands in for the working set (the cgroup
figure the kubelet reports) where there is no per-container cgroup.

Reading /proc for many processes blocks: call ``sample`` from a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import psutil

from minikubelet.runtime.process import ProcessTable, tagged_pids, tagged_pids_many

__all__ = ["NodeUsage", "TreeUsage", "sample", "sample_many", "sample_node"]


@dataclass(frozen=True)
class TreeUsage:
    """One sample of a container's processes."""

    cpu_seconds: float  # cumulative CPU time of the live processes (and their reaped children)
    rss_bytes: int
    processes: int


def sample(tag: str, roots: Iterable[int], table: ProcessTable) -> TreeUsage:
    """CPU and memory of every live process of the container tagged ``tag``."""
    return _usage(tagged_pids(tag, roots, table))


def sample_many(
    containers: Mapping[str, Iterable[int]], table: ProcessTable
) -> dict[str, TreeUsage]:
    """``sample`` for many containers, with one pass over /proc for all of them."""
    return {tag: _usage(pids) for tag, pids in tagged_pids_many(containers, table).items()}


def _usage(pids: Iterable[int]) -> TreeUsage:
    cpu, rss, count = 0.0, 0, 0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            with process.oneshot():
                times = process.cpu_times()
                memory = process.memory_info()
        except psutil.Error:
            continue  # it exited between the search and the sample
        cpu += times.user + times.system + times.children_user + times.children_system
        rss += memory.rss
        count += 1
    return TreeUsage(cpu_seconds=cpu, rss_bytes=rss, processes=count)


@dataclass(frozen=True)
class NodeUsage:
    """One sample of the whole machine."""

    cpu_seconds: float  # busy CPU time since boot, summed over every CPU
    memory_used_bytes: int  # total minus available
    memory_total_bytes: int
    boot_time: float  # unix time


def sample_node() -> NodeUsage:
    times = psutil.cpu_times()
    busy = sum(times) - times.idle - getattr(times, "iowait", 0.0)
    memory = psutil.virtual_memory()
    return NodeUsage(
        cpu_seconds=busy,
        memory_used_bytes=memory.total - memory.available,
        memory_total_bytes=memory.total,
        boot_time=psutil.boot_time(),
    )
