"""How much a container, or the whole machine, uses: plain samples from the runtime."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NodeUsage", "Usage"]


@dataclass(frozen=True)
class Usage:
    """One sample of a container: cumulative CPU and memory.

    With a cgroup (``source`` "cgroup") they are the kernel's counters for the container's
    cgroup, which spans its restarts: ``cpu_seconds`` every process that ever ran in it,
    ``memory_bytes`` the working set as cAdvisor computes it (usage minus inactive file
    pages), ``usage_bytes`` the whole charge (page cache included), ``rss_bytes`` the
    anonymous memory, ``oom_events`` the kernel's OOM kills in it. Without one
    ("process-tree") they are sums over the instance's process tree: CPU of its live
    processes (and what they reaped), the resident set for every memory figure, and
    ``oom_events`` the sampled limit's kills of this container so far.
    """

    cpu_seconds: float
    memory_bytes: int
    processes: int
    usage_bytes: int | None = None  # None: the same as memory_bytes
    rss_bytes: int | None = None  # None: the same as memory_bytes
    oom_events: int = 0
    source: str = "process-tree"


@dataclass(frozen=True)
class NodeUsage:
    """One sample of the whole machine."""

    cpu_seconds: float  # busy CPU time since boot, summed over every CPU
    memory_used_bytes: int  # total minus available
    memory_total_bytes: int
    boot_time: float  # unix time
