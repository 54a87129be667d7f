"""CPU and memory of a container: the sum over its whole process tree, through psutil.

A container is every process ``tagged_pids`` finds for it (its main process, their
descendants, and orphans or exec probes carrying its tag), so a shell wrapper's worker
or a double-forked daemon is counted with the container that started it. CPU time is
cumulative (user + system, plus what each process collected from children it reaped);
the rate (``usageNanoCores``) is computed by the caller between two samples, as cAdvisor
does. Memory is the resident set size, which stands in for the working set (the cgroup
figure the kubelet reports) where there is no per-container cgroup.

Reading /proc for many processes blocks: call ``sample_many`` from a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import psutil

from minikubelet.runtime.base import NodeUsage, Usage
from minikubelet.runtime.process import ProcessTable, tagged_pids_many

__all__ = ["sample_many", "sample_node"]


def sample_many(
    containers: Mapping[str, tuple[str, Sequence[int]]], table: ProcessTable
) -> dict[str, Usage]:
    """Usage of many containers with one pass over /proc.

    ``containers`` maps the caller's key to the container's tag and its root pids (the
    live main process); the result has the same keys.
    """
    by_tag = tagged_pids_many(dict(containers.values()), table)
    return {key: _usage(by_tag[tag]) for key, (tag, _) in containers.items()}


def _usage(pids: Iterable[int]) -> Usage:
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
    return Usage(cpu_seconds=cpu, memory_bytes=rss, processes=count)


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
