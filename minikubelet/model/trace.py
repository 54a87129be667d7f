"""The signal timeline: every lifecycle step of a container, with a monotonic timestamp.

It is what ``run --trace`` prints and what ``describe`` shows for the last termination:
which process was spawned, which hook ran, which signal went to which pids, when the
grace period ran out, how the process ended and what was decided next.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = ["Step", "TraceEntry"]


class Step(StrEnum):
    SPAWNED = "Spawned"
    HOOK = "Hook"
    PROBE = "Probe"
    KILLING = "Killing"
    SIGNAL = "Signal"
    GRACE = "Grace"
    EXITED = "Exited"
    RESTART = "Restart"

    @property
    def begins_operation(self) -> bool:
        """A start or a stop: later steps are timed from here."""
        return self in (Step.SPAWNED, Step.KILLING)


@dataclass(frozen=True, slots=True)  # a pod keeps up to 2000: no __dict__ each
class TraceEntry:
    at: float  # monotonic seconds (anyio.current_time())
    wall: datetime
    pod: str  # namespace/name
    container: str
    step: Step
    detail: str
