"""Grace periods and stop order.

Follows ``pod_workers.go calculateEffectiveGracePeriod`` and ``kuberuntime_termination_order.go``.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from minikubelet.logic.termination import (
    MINIMUM_GRACE_PERIOD,
    container_kill_grace,
    pod_grace,
    stop_window,
    termination_order,
)
from minikubelet.model.spec import Container, ExecAction, PodSpec, Probe, RestartPolicy

# --- builders -------------------------------------------------------------------------


def probe(grace: int | None = None) -> Probe:
    return Probe(handler=ExecAction(("true",)), termination_grace_period_seconds=grace)


def regular(
    name: str = "app", *, liveness: Probe | None = None, startup: Probe | None = None
) -> Container:
    return Container(name=name, command=("true",), liveness_probe=liveness, startup_probe=startup)


def sidecar(name: str) -> Container:
    return Container(name=name, command=("true",), restart_policy=RestartPolicy.ALWAYS)


def spec(*containers: Container, init: tuple[Container, ...] = (), grace: int = 30) -> PodSpec:
    return PodSpec(
        containers=containers or (regular(),),
        init_containers=init,
        termination_grace_period_seconds=grace,
    )


def stop_sequence(order: Mapping[str, tuple[str, ...]]) -> list[set[str]]:
    """Waves of containers that may be signalled together, given who waits for whom."""
    waves, done = [], set[str]()
    while len(done) < len(order):
        wave = {name for name, after in order.items() if name not in done and set(after) <= done}
        assert wave, f"cycle in {order}"
        waves.append(wave)
        done |= wave
    return waves


# --- pod_grace --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec_grace", "requested", "expected"),
    [
        pytest.param(30, None, 30, id="spec"),
        pytest.param(30, 10, 10, id="requested-shorter"),
        pytest.param(30, 60, 60, id="requested-longer"),
        pytest.param(30, 0, 1, id="requested-zero-floored"),
        pytest.param(0, None, 1, id="spec-zero-floored"),
        pytest.param(5, 1, 1, id="one"),
    ],
)
def test_pod_grace(spec_grace: int, requested: int | None, expected: int) -> None:
    assert pod_grace(spec(grace=spec_grace), requested) == expected


# --- container_kill_grace ------------------------------------------------------------

LIVE_5 = regular(liveness=probe(5))
LIVE_60 = regular(liveness=probe(60))
START_7 = regular(startup=probe(7), liveness=probe(None))
PLAIN_PROBES = regular(liveness=probe(None), startup=probe(None))


@pytest.mark.parametrize(
    ("container", "verdict", "requested", "expected"),
    [
        pytest.param(regular(), None, None, 30, id="pod-value"),
        pytest.param(LIVE_5, None, None, 30, id="not-a-probe-kill"),
        pytest.param(LIVE_5, "liveness", None, 5, id="liveness-probe-value"),
        pytest.param(LIVE_60, "liveness", None, 60, id="probe-value-even-if-larger"),
        pytest.param(START_7, "startup", None, 7, id="startup-probe-value"),
        pytest.param(START_7, "liveness", None, 30, id="other-probe-value-ignored"),
        pytest.param(LIVE_5, "startup", None, 30, id="no-startup-probe"),
        pytest.param(PLAIN_PROBES, "liveness", None, 30, id="probe-without-grace"),
        pytest.param(LIVE_5, "readiness", None, 30, id="readiness-never-kills"),
        pytest.param(LIVE_5, "liveness", 3, 3, id="deletion-grace-wins"),
        pytest.param(regular(), None, 0, 0, id="deletion-grace-zero"),
    ],
)
def test_container_kill_grace(
    container: Container, verdict: str | None, requested: int | None, expected: int
) -> None:
    assert container_kill_grace(spec(container), container, verdict, requested) == expected


# --- stop_window --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grace", "pre_stop_elapsed", "expected"),
    [
        pytest.param(30, 0.0, 30, id="no-pre-stop"),
        pytest.param(30, 2.9, 28, id="elapsed-truncated"),
        pytest.param(30, 0.999, 30, id="under-a-second-is-free"),
        pytest.param(30, 27.0, 3, id="three-left"),
        pytest.param(30, 28.5, 2, id="two-left"),
        pytest.param(30, 29.5, 2, id="minimum-two"),
        pytest.param(30, 30.0, 2, id="hung-pre-stop"),
        pytest.param(30, 45.0, 2, id="overran"),
        pytest.param(1, 0.0, 2, id="grace-below-minimum"),
    ],
)
def test_stop_window(grace: float, pre_stop_elapsed: float, expected: float) -> None:
    assert stop_window(grace, pre_stop_elapsed) == expected


def test_stop_window_minimum_is_the_kubelets() -> None:
    assert MINIMUM_GRACE_PERIOD == 2.0


@pytest.mark.parametrize(
    ("grace", "pre_stop_elapsed", "minimum", "expected"),
    [
        pytest.param(0.5, 0.3, 0.2, 0.5, id="sub-second-elapsed-truncated"),
        pytest.param(0.5, 1.2, 0.2, 0.2, id="custom-minimum"),
    ],
)
def test_stop_window_custom_minimum(
    grace: float, pre_stop_elapsed: float, minimum: float, expected: float
) -> None:
    assert stop_window(grace, pre_stop_elapsed, minimum) == pytest.approx(expected)


# --- termination_order --------------------------------------------------------------------


def test_regular_containers_wait_for_nobody() -> None:
    order = termination_order(spec(regular("a"), regular("b"), init=(regular("setup"),)))
    assert order == {"a": (), "b": (), "setup": ()}
    assert stop_sequence(order) == [{"a", "b", "setup"}]


def test_sidecars_wait_for_regular_containers_and_the_next_sidecar() -> None:
    pod = spec(
        regular("a"),
        regular("b"),
        init=(sidecar("s1"), regular("setup"), sidecar("s2"), sidecar("s3")),
    )
    order = termination_order(pod)
    assert order == {
        "a": (),
        "b": (),
        "setup": (),
        "s1": ("a", "b", "s2"),
        "s2": ("a", "b", "s3"),
        "s3": ("a", "b"),
    }
    assert stop_sequence(order) == [{"a", "b", "setup"}, {"s3"}, {"s2"}, {"s1"}]


def test_single_sidecar() -> None:
    order = termination_order(spec(regular("app"), init=(sidecar("proxy"),)))
    assert order == {"app": (), "proxy": ("app",)}
