"""Probe kinds and outcomes, in the kubelet's words (``pkg/probe/probe.go``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ProbeKind", "ProbeOutcome", "ProbeResult"]


class ProbeKind(StrEnum):
    """The ``probe_type`` label values and the first word of Unhealthy events."""

    LIVENESS = "Liveness"
    READINESS = "Readiness"
    STARTUP = "Startup"

    @property
    def field(self) -> str:
        """The container field that holds this probe: ``livenessProbe``."""
        return f"{self.value.lower()}Probe"


class ProbeResult(StrEnum):
    SUCCESS = "success"
    WARNING = "warning"  # counts as success; the kubelet emits a ProbeWarning event
    FAILURE = "failure"
    UNKNOWN = "unknown"  # the probe could not run (an error): discarded by the thresholds


@dataclass(frozen=True)
class ProbeOutcome:
    result: ProbeResult
    output: str = ""  # the event message's detail, bounded
