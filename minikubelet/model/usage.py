"""How much a container, or the whole machine, uses: plain samples from the runtime."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NodeUsage", "Usage"]


@dataclass(frozen=True)
class Usage:
    """One sample of a container's processes: cumulative CPU and resident memory."""

    cpu_seconds: float
    memory_bytes: int
    processes: int


@dataclass(frozen=True)
class NodeUsage:
    """One sample of the whole machine."""

    cpu_seconds: float  # busy CPU time since boot, summed over every CPU
    memory_used_bytes: int  # total minus available
    memory_total_bytes: int
    boot_time: float  # unix time
