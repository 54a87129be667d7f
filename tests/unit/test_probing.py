"""Probe thresholds and scheduling (``prober/worker.go doProbe``), without a clock."""

from __future__ import annotations

import pytest

from minikubelet.logic.probing import initial_state, next_tick, record_result, should_probe
from minikubelet.model.probe import ProbeKind, ProbeResult
from minikubelet.model.spec import ExecAction, Probe

S, F, W, U = ProbeResult.SUCCESS, ProbeResult.FAILURE, ProbeResult.WARNING, ProbeResult.UNKNOWN


def probe(**fields: int) -> Probe:
    return Probe(handler=ExecAction(("true",)), **fields)


def fold(kind: ProbeKind, spec: Probe, results: list[ProbeResult]) -> list[ProbeResult]:
    """The cached verdict after each raw result."""
    state = initial_state(kind)
    seen = []
    for raw in results:
        state = record_result(state, kind, spec, raw).state
        seen.append(state.result)
    return seen


@pytest.mark.parametrize(
    ("kind", "initial"),
    [
        (ProbeKind.READINESS, ProbeResult.FAILURE),
        (ProbeKind.LIVENESS, ProbeResult.SUCCESS),
        (ProbeKind.STARTUP, ProbeResult.UNKNOWN),
    ],
)
def test_initial_results(kind: ProbeKind, initial: ProbeResult) -> None:
    assert initial_state(kind).result is initial


def test_failure_threshold_needs_consecutive_failures() -> None:
    spec = probe(failure_threshold=3)
    assert fold(ProbeKind.READINESS, spec, [S, F, F, S, F, F, F]) == [S, S, S, S, S, S, F]


def test_success_threshold_for_readiness() -> None:
    spec = probe(success_threshold=2)
    assert fold(ProbeKind.READINESS, spec, [S, F, S, S]) == [F, F, F, S]


def test_errors_are_discarded() -> None:
    spec = probe(failure_threshold=2)
    assert fold(ProbeKind.READINESS, spec, [S, F, U, F]) == [S, S, S, F]


def test_warning_counts_as_success() -> None:
    assert fold(ProbeKind.READINESS, probe(), [W]) == [S]


def test_liveness_failure_puts_the_worker_on_hold() -> None:
    spec = probe(failure_threshold=2)
    state = initial_state(ProbeKind.LIVENESS)
    for raw in (F, F):
        step = record_result(state, ProbeKind.LIVENESS, spec, raw)
        state = step.state
    assert step.changed
    assert state.on_hold
    assert state.result is F
    assert not should_probe(state, ProbeKind.LIVENESS, spec, 100.0, started=True)


@pytest.mark.parametrize("raw", [S, F])
def test_any_startup_verdict_puts_the_worker_on_hold(raw: ProbeResult) -> None:
    step = record_result(
        initial_state(ProbeKind.STARTUP), ProbeKind.STARTUP, probe(failure_threshold=1), raw
    )
    assert step.changed
    assert step.state.on_hold


def test_repeated_verdict_is_not_a_change() -> None:
    state = initial_state(ProbeKind.READINESS)
    assert not record_result(state, ProbeKind.READINESS, probe(failure_threshold=1), F).changed


@pytest.mark.parametrize(
    ("kind", "running_for", "started", "delay", "expected"),
    [
        (ProbeKind.LIVENESS, 0.0, True, 0, True),
        (ProbeKind.LIVENESS, 4.9, True, 5, False),  # whole seconds, as the kubelet
        (ProbeKind.LIVENESS, 5.0, True, 5, True),
        (ProbeKind.LIVENESS, 9.0, False, 0, False),  # gated by the startup probe
        (ProbeKind.READINESS, 9.0, False, 0, False),
        (ProbeKind.STARTUP, 0.0, False, 0, True),
        (ProbeKind.STARTUP, 0.0, True, 0, False),
    ],
)
def test_should_probe(
    kind: ProbeKind, running_for: float, started: bool, delay: int, expected: bool
) -> None:
    spec = probe(initial_delay_seconds=delay)
    assert should_probe(initial_state(kind), kind, spec, running_for, started) is expected


@pytest.mark.parametrize(
    ("previous", "now", "expected"),
    [(0.0, 0.3, 1.0), (0.0, 1.0, 2.0), (0.0, 3.5, 4.0), (10.0, 10.0, 11.0)],
)
def test_next_tick_keeps_a_fixed_rate(previous: float, now: float, expected: float) -> None:
    assert next_tick(previous, 1.0, now) == expected
