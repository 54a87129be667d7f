"""Which containment is in force, and why: plain data for the logs, the API and ``describe``.

The runtime chooses it once, at start-up (``runtime/cgroups/detect.py`` for real processes):
a cgroup per container (v1 or v2), or none (process-tree tracking, memory limits by
sampling), or the fake runtime's scripted processes. Everything outside the runtime reads
this record, never the driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ContainmentInfo", "ContainmentMode"]


class ContainmentMode(StrEnum):
    CGROUP_V1 = "cgroup-v1"
    CGROUP_V2 = "cgroup-v2"
    NONE = "none"  # process-tree tracking; limits.memory sampled, limits.cpu not enforced
    FAKE = "fake"  # the scripted runtime of tests: nothing is contained


@dataclass(frozen=True)
class ContainmentInfo:
    """The containment mode, its one-sentence reason, and what it enforces.

    ``enforces_memory``: the kernel enforces ``limits.memory`` (else it is sampled, where
    the runtime runs real processes); ``enforces_cpu``: the kernel enforces ``limits.cpu``
    (else it is not enforced at all). ``location``: where the runtime's cgroups are, if any.
    """

    mode: ContainmentMode
    reason: str
    enforces_memory: bool = False
    enforces_cpu: bool = False
    location: str | None = None

    @property
    def samples_memory(self) -> bool:
        """``limits.memory`` is enforced by sampling the process tree's memory."""
        return not self.enforces_memory and self.mode is not ContainmentMode.FAKE

    def json(self) -> dict[str, object]:
        """As the API shows it (``/stats/summary``'s node section, the pod trace)."""
        data: dict[str, object] = {
            "mode": self.mode.value,
            "reason": self.reason,
            "enforcesMemoryLimits": self.enforces_memory,
            "enforcesCpuLimits": self.enforces_cpu,
        }
        if self.location is not None:
            data["location"] = self.location
        return data
