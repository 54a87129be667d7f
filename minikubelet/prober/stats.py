"""Per-probe counters and durations, kept for the metrics endpoint.

Label names follow the kubelet's ``prober_probe_total`` and ``prober_probe_duration_seconds``
(``pkg/kubelet/prober/prober_manager.go``, ``metrics.go``): ``probe_type``, ``result``
(``successful|failed|unknown``), ``container``,
``pod``, ``namespace``, ``pod_uid``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from minikubelet.model.probe import ProbeKind, ProbeResult

__all__ = ["ProbeLabels", "ProbeStats", "metric_result"]


@dataclass(frozen=True)
class ProbeLabels:
    probe_type: ProbeKind
    container: str
    pod: str
    namespace: str
    pod_uid: str


def metric_result(result: ProbeResult) -> str:
    """The kubelet's ``result`` label: a warning is a success, an error is unknown."""
    if result in (ProbeResult.SUCCESS, ProbeResult.WARNING):
        return "successful"
    return "failed" if result is ProbeResult.FAILURE else "unknown"


@dataclass
class ProbeStats:
    totals: Counter[tuple[ProbeLabels, str]] = field(default_factory=Counter)
    # (count, sum of seconds) of successful and unknown runs, as the kubelet observes them
    durations: dict[ProbeLabels, tuple[int, float]] = field(default_factory=dict)

    def observe(self, labels: ProbeLabels, result: ProbeResult, seconds: float) -> None:
        outcome = metric_result(result)
        self.totals[(labels, outcome)] += 1
        if outcome != "failed":
            count, total = self.durations.get(labels, (0, 0.0))
            self.durations[labels] = (count + 1, total + seconds)

    def forget(self, labels: ProbeLabels) -> None:
        """Series are deleted when their worker exits, as the kubelet does
        (``ProberResults.Delete`` in pkg/kubelet/prober/worker.go): what is kept is bounded
        by the probes running now, whatever came and went before."""
        for outcome in _OUTCOMES:  # O(1): a restart forgets, with thousands of series kept
            self.totals.pop((labels, outcome), None)
        self.durations.pop(labels, None)


_OUTCOMES = ("successful", "failed", "unknown")
