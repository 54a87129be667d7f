"""CPU and memory of a container: its cgroup's counters, or the sum over its process tree.

With a cgroup, ``cgroup_usage`` reads the kernel's counters for it (cumulative CPU, the
working set as cAdvisor computes it, the OOM kills; see ``cgroups/``): a few small reads,
and every process of the container counted, whatever it did to escape.

Without one, a container is every process ``tagged_pids`` finds for it (its main process,
their descendants, and orphans or exec probes carrying its tag), so a shell wrapper's worker
or a double-forked daemon is counted with the container that started it. CPU time is
cumulative (user + system, plus what each process collected from children it reaped);
the rate (``usageNanoCores``) is computed by the caller between two samples, as cAdvisor
does. Memory is the resident set size, which stands in for the working set (the cgroup
figure the kubelet reports). ``sample_memory`` is the sampled memory limit's figure:
anonymous and shared resident pages (``RssAnon + RssShmem``), what the kernel could not
reclaim (``logic/memory_limit.py``).

Reading /proc or cgroupfs for many processes blocks: call these from a worker thread.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

import psutil

from minikubelet.runtime.base import NodeUsage, Usage
from minikubelet.runtime.cgroups import ContainerCgroup
from minikubelet.runtime.process import ProcessTable, tagged_pids, tagged_pids_many

__all__ = ["cgroup_usage", "sample_many", "sample_memory", "sample_memory_many", "sample_node"]

K = TypeVar("K")

_STATUS_KEYS = (b"\nRssAnon:", b"\nRssShmem:")


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


def cgroup_usage(
    cgroup: ContainerCgroup, tag: str, roots: Sequence[int], table: ProcessTable
) -> Usage:
    """The kernel's counters of a container's cgroup; where a controller is missing (cgroup
    v2 without the memory controller), that figure from the process tree instead."""
    counters = cgroup.usage()
    pids = cgroup.pids()
    cpu_ns, working_set = counters.cpu_ns, counters.working_set_bytes
    if cpu_ns is None or working_set is None:
        tree = _usage(pids or tagged_pids(tag, roots, table))
        cpu = tree.cpu_seconds if cpu_ns is None else cpu_ns / 1e9
        memory = tree.memory_bytes if working_set is None else working_set
        return Usage(cpu, memory, len(pids), source="cgroup")
    return Usage(
        cpu_seconds=cpu_ns / 1e9,
        memory_bytes=working_set,
        processes=len(pids),
        usage_bytes=counters.memory_bytes,
        rss_bytes=counters.rss_bytes,
        oom_events=counters.oom_kills or 0,
        source="cgroup",
    )


def sample_memory(tag: str, roots: Sequence[int], table: ProcessTable) -> int | None:
    """``RssAnon + RssShmem`` summed over one container's processes; None if none is left."""
    return sample_memory_many({0: (tag, roots)}, table).get(0)


def sample_memory_many(
    containers: Mapping[K, tuple[str, Sequence[int]]], table: ProcessTable
) -> dict[K, int]:
    """``RssAnon + RssShmem`` of each container's process tree (absent: nothing is left).

    Each tree is walked from its roots (the live main process, and our orphaned children
    carrying the container's tag) through ``/proc/<pid>/task/<tid>/children``: the cost
    follows the processes watched, not every process of the machine.
    """
    owners = [(pid, table.tag_of(pid)) for pid in table.children()]
    found: dict[K, int] = {}
    for key, (tag, roots) in containers.items():
        starts = list(roots)
        starts += [
            pid for pid, owner in owners if owner == tag or (owner or "").startswith(tag + "/")
        ]
        pids = _tree(starts)
        if not pids:
            continue
        found[key] = sum(_unreclaimable(pid) for pid in pids)
    return found


def _belongs(owner: str, tag: str) -> bool:
    """Tags nest (``<container>/exec/3``): a container owns its hooks' and probes' processes."""
    return owner == tag or owner.startswith(tag + "/")


def _tree(roots: Iterable[int]) -> set[int]:
    seen: set[int] = set()
    pending = list(roots)
    while pending:
        pid = pending.pop()
        if pid in seen:
            continue
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue  # gone
        seen.add(pid)
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/children", "rb") as children:
                    pending.extend(map(int, children.read().split()))
            except OSError:
                continue
    return seen


def _unreclaimable(pid: int) -> int:
    """RssAnon + RssShmem of one process, in bytes (0 for a zombie, or one that is gone)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            text = status.read()
    except OSError:
        return 0
    total = 0
    for key in _STATUS_KEYS:
        at = text.find(key)
        if at >= 0:  # "RssAnon:\t   1234 kB"
            total += int(text[at + len(key) : text.index(b"k", at)]) * 1024
    return total
