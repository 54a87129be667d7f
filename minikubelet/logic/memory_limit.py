"""``limits.memory`` without a cgroup: from sampled usage, kill or not, and when to look again.

Where the kernel cannot enforce the limit (no writable cgroup hierarchy), the runtime samples
the container's process tree and kills it when it is over its limit, reporting the death as
the kernel's OOM killer would be reported: ``OOMKilled``, exit code 137. This module is the
decision; the sampler (which reads /proc) lives in the runtime.

It is an approximation, and says so:

* **Between samples nothing is enforced.** A container can overshoot its limit by what it
  allocates in one interval, and a short spike between two samples goes unseen. The interval
  adapts to the trend: ``max_interval`` (1 s by default) while usage is far from the limit or
  falling, down to ``min_interval`` (100 ms) as the extrapolated time to reach the limit
  shrinks, so the overshoot stays bounded without waking up often for idle containers.
* **What is counted is not the cgroup charge.** The recommended figure is the sum over the tree
  of each process's anonymous and shared-memory resident pages (``RssAnon + RssShmem``, from
  ``/proc/<pid>/status``): that is roughly what cannot be reclaimed, which is what makes the
  kernel's OOM killer fire. Page cache is not counted (the kernel would reclaim it first), and
  copy-on-write pages shared by forked processes are counted once per process, so a forking
  server is over-estimated.
* **The kill is ours, not the kernel's:** a ``SIGKILL`` to every process of the container,
  after the limit was seen exceeded once (the kernel does not wait either).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "DEFAULT_MAX_INTERVAL",
    "DEFAULT_MIN_INTERVAL",
    "MemoryExceeded",
    "MemorySample",
    "MemoryWithinLimit",
    "check_memory",
]

DEFAULT_MIN_INTERVAL = 0.1
DEFAULT_MAX_INTERVAL = 1.0


@dataclass(frozen=True)
class MemorySample:
    at: float  # monotonic seconds
    usage_bytes: int


@dataclass(frozen=True)
class MemoryExceeded:
    """Kill the container and report it ``OOMKilled`` (exit code 137)."""

    usage_bytes: int
    limit_bytes: int

    @property
    def message(self) -> str:
        return (
            f"memory usage {_mebibytes(self.usage_bytes)} exceeded its limit of "
            f"{_mebibytes(self.limit_bytes)} (sampled; no cgroup enforces the limit here)"
        )


@dataclass(frozen=True)
class MemoryWithinLimit:
    """Keep it running; sample again after ``next_sample_in`` seconds."""

    next_sample_in: float


def check_memory(
    samples: Sequence[MemorySample],
    limit_bytes: int,
    *,
    min_interval: float = DEFAULT_MIN_INTERVAL,
    max_interval: float = DEFAULT_MAX_INTERVAL,
) -> MemoryExceeded | MemoryWithinLimit:
    """Kill when the newest sample is over the limit; else when to sample next.

    ``samples`` are oldest first; only the last two are used (the trend). The next interval
    is half the extrapolated time to reach the limit, kept within [min, max] interval.
    """
    if not samples:
        return MemoryWithinLimit(min_interval)
    last = samples[-1]
    if last.usage_bytes > limit_bytes:
        return MemoryExceeded(last.usage_bytes, limit_bytes)
    if len(samples) < 2:
        return MemoryWithinLimit(min_interval)
    previous = samples[-2]
    elapsed = last.at - previous.at
    growth = last.usage_bytes - previous.usage_bytes
    if elapsed <= 0 or growth <= 0:
        return MemoryWithinLimit(max_interval)
    time_to_limit = (limit_bytes - last.usage_bytes) / (growth / elapsed)
    return MemoryWithinLimit(max(min_interval, min(max_interval, time_to_limit / 2)))


def _mebibytes(value: int) -> str:
    return f"{value / 2**20:.0f}Mi"
