"""Probe threshold counting and scheduling decisions (``prober/worker.go doProbe``).

A worker keeps one ``ProbeState`` per (container instance, probe kind). Raw results are
counted in runs of identical values; only when a run reaches ``failureThreshold`` (for a
failure) or ``successThreshold`` (for a success) does the cached result change. After a
liveness failure or any startup verdict the worker goes on hold: the container is about
to be killed, or has started, and there is nothing left to probe (kubernetes#117153).
An errored probe (``UNKNOWN``) is discarded: it changes no counter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from minikubelet.model.observed import ContainerRecord
from minikubelet.model.probe import ProbeKind, ProbeResult
from minikubelet.model.spec import Container, Probe

__all__ = [
    "ProbeState",
    "ProbeStep",
    "apply_verdict",
    "initial_state",
    "is_started",
    "next_tick",
    "record_result",
    "should_probe",
    "tick_after_run",
]


@dataclass(frozen=True)
class ProbeState:
    result: ProbeResult  # the cached verdict the rest of the kubelet sees
    last: ProbeResult | None = None  # the last raw result, for run counting
    run: int = 0
    on_hold: bool = False


@dataclass(frozen=True)
class ProbeStep:
    state: ProbeState
    changed: bool  # the cached verdict changed with this result


def initial_state(kind: ProbeKind) -> ProbeState:
    """Readiness starts failed, liveness succeeded, startup unknown (``worker.go newWorker``)."""
    match kind:
        case ProbeKind.READINESS:
            return ProbeState(ProbeResult.FAILURE)
        case ProbeKind.LIVENESS:
            return ProbeState(ProbeResult.SUCCESS)
        case ProbeKind.STARTUP:
            return ProbeState(ProbeResult.UNKNOWN)


def should_probe(
    state: ProbeState, kind: ProbeKind, probe: Probe, running_for: float, started: bool
) -> bool:
    """Whether this tick runs the probe: not on hold, past the initial delay, gated by startup."""
    if state.on_hold:
        return False
    if math.floor(running_for) < probe.initial_delay_seconds:
        return False
    if kind is ProbeKind.STARTUP:
        return not started
    return started


def record_result(state: ProbeState, kind: ProbeKind, probe: Probe, raw: ProbeResult) -> ProbeStep:
    """Fold one probe run into the state; a warning counts as a success."""
    if raw is ProbeResult.UNKNOWN:
        return ProbeStep(state, changed=False)
    result = ProbeResult.FAILURE if raw is ProbeResult.FAILURE else ProbeResult.SUCCESS
    run = state.run + 1 if state.last is result else 1
    threshold = (
        probe.failure_threshold if result is ProbeResult.FAILURE else probe.success_threshold
    )
    if run < threshold:
        return ProbeStep(replace(state, last=result, run=run), changed=False)
    new = ProbeState(result=result, last=result, run=run)
    if kind is ProbeKind.STARTUP or (kind is ProbeKind.LIVENESS and result is ProbeResult.FAILURE):
        new = ProbeState(result=result, on_hold=True)
    return ProbeStep(new, changed=result is not state.result)


def next_tick(previous: float, period: float, now: float) -> float:
    """The next tick of a fixed-rate schedule strictly after ``now``: late runs never drift it."""
    missed = max(math.floor((now - previous) / period), 0)
    return previous + (missed + 1) * period


def tick_after_run(tick: float, period: float, now: float) -> float:
    """The tick a worker waits for once a run ends at ``now``, ``tick`` being the one it
    waited for before. A run on schedule (``tick <= now``) moves to the next tick after
    ``now``; a run out of schedule (a manual trigger) keeps the tick still ahead, as the
    kubelet's ticker keeps ticking whatever ``manualTriggerCh`` does (``worker.go run``)."""
    return tick if tick > now else next_tick(tick, period, now)


def apply_verdict(record: ContainerRecord, kind: ProbeKind, result: ProbeResult) -> ContainerRecord:
    """A container's record once a probe's cached result changed to ``result``.

    A startup or liveness failure marks the instance ``unhealthy`` (to be killed, by
    ``compute_pod_actions``); a startup success lets liveness and readiness begin.
    """
    ok = result is ProbeResult.SUCCESS
    match kind:
        case ProbeKind.STARTUP:
            return replace(record, startup_succeeded=ok, unhealthy=None if ok else "startup")
        case ProbeKind.LIVENESS:
            return replace(record, unhealthy=None if ok else "liveness")
        case ProbeKind.READINESS:
            return replace(record, readiness_succeeded=ok)


def is_started(container: Container, record: ContainerRecord) -> bool:
    """Whether liveness and readiness may run: the startup probe succeeded, or there is none."""
    return container.startup_probe is None or record.startup_succeeded
