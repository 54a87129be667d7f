"""Crash-loop back-off (``kuberuntime_manager.go doBackOff``): an injected clock, no sleeping.

The walk simulates a container that crashes ``run_time`` seconds after every start, and a
caller that restarts it exactly at ``Wait.until`` (minikubelet does not copy the kubelet's
10-15 s sync quantisation).
"""

from __future__ import annotations

import pytest

from minikubelet.logic.backoff import BackoffEntry, BackoffPolicy, StartNow, Wait, decide_restart

DEFAULT = BackoffPolicy()


def crash_loop(policy: BackoffPolicy, crashes: int, run_time: float = 0.0) -> list[float]:
    """The delay between each crash and the restart that followed it."""
    entry: BackoffEntry | None = None
    now = 1000.0  # an arbitrary monotonic origin
    delays = []
    for _ in range(crashes):
        exited_at = now + run_time
        decision = decide_restart(policy, entry, exited_at, exited_at)
        if isinstance(decision, Wait):
            assert decision.until == exited_at + decision.delay
            # Nothing changes while waiting, up to the last instant before `until`...
            before = decide_restart(policy, entry, exited_at, decision.until - 1e-6)
            assert before == decision
            # ...and asking exactly at `until` is let through.
            now = decision.until
            decision = decide_restart(policy, entry, exited_at, now)
        else:
            now = exited_at
        assert isinstance(decision, StartNow), f"refused at Wait.until: {decision}"
        assert decision.entry.last_update == now
        delays.append(now - exited_at)
        entry = decision.entry
    return delays


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param(DEFAULT, [0, 10, 20, 40, 80, 160, 300, 300, 300], id="defaults-10s-300s"),
        pytest.param(BackoffPolicy(initial=10, maximum=2), [0, 2, 2, 2], id="max-below-initial"),
        pytest.param(
            BackoffPolicy(initial=1, maximum=60), [0, 1, 2, 4, 8, 16, 32, 60, 60], id="1s-60s"
        ),
        pytest.param(
            BackoffPolicy(initial=0.1, maximum=0.4),
            [0, 0.1, 0.2, 0.4, 0.4, 0.4, 0.4, 0.4],
            id="sub-second",
        ),
        pytest.param(BackoffPolicy(initial=0, maximum=0), [0, 0, 0, 0], id="zero-back-off"),
    ],
)
@pytest.mark.parametrize("run_time", [0.0, 0.5], ids=["instant-crash", "half-second-run"])
def test_crash_loop_delays(policy: BackoffPolicy, expected: list[float], run_time: float) -> None:
    assert crash_loop(policy, len(expected), run_time) == pytest.approx(expected)


def test_defaults_are_the_kubelets() -> None:
    assert (DEFAULT.initial, DEFAULT.maximum, DEFAULT.reset_after) == (10.0, 300.0, 600.0)
    assert DEFAULT.first_delay == 10.0


@pytest.mark.parametrize(
    ("policy", "first"),
    [
        pytest.param(BackoffPolicy(initial=10, maximum=300), 10, id="initial"),
        pytest.param(BackoffPolicy(initial=10, maximum=2), 2, id="lowered-to-max"),
        pytest.param(BackoffPolicy(initial=0.1, maximum=0.4), 0.1, id="sub-second"),
    ],
)
def test_first_restart_is_immediate_and_records_the_first_delay(
    policy: BackoffPolicy, first: float
) -> None:
    decision = decide_restart(policy, None, exited_at=50.0, now=50.0)
    assert decision == StartNow(BackoffEntry(delay=first, last_update=50.0))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        pytest.param(105.0, Wait(until=125.0, delay=20.0), id="right-after-exit"),
        pytest.param(124.999, Wait(until=125.0, delay=20.0), id="just-before-until"),
        pytest.param(125.0, StartNow(BackoffEntry(40.0, 125.0)), id="exactly-at-until"),
        pytest.param(200.0, StartNow(BackoffEntry(40.0, 200.0)), id="late"),
    ],
)
def test_wait_until_is_exact(now: float, expected: StartNow | Wait) -> None:
    entry = BackoffEntry(delay=20.0, last_update=100.0)
    assert decide_restart(DEFAULT, entry, exited_at=105.0, now=now) == expected


def test_wait_until_is_exact_despite_float_rounding() -> None:
    # 1.1 + 0.4 - 1.1 < 0.4 in binary floating point; the restart must still be allowed.
    policy = BackoffPolicy(initial=0.1, maximum=0.4)
    entry = BackoffEntry(delay=0.4, last_update=1.1)
    wait = decide_restart(policy, entry, exited_at=1.1, now=1.1)
    assert isinstance(wait, Wait)
    assert isinstance(decide_restart(policy, entry, exited_at=1.1, now=wait.until), StartNow)


def test_delay_is_capped_at_maximum() -> None:
    entry = BackoffEntry(delay=160.0, last_update=0.0)
    decision = decide_restart(DEFAULT, entry, exited_at=1.0, now=161.0)
    assert decision == StartNow(BackoffEntry(delay=300.0, last_update=161.0))


@pytest.mark.parametrize(
    ("ran_for", "expected"),
    [
        pytest.param(601.0, StartNow(BackoffEntry(10.0, 601.0)), id="ran-over-10-min-resets"),
        pytest.param(600.0, Wait(until=760.0, delay=160.0), id="exactly-10-min-keeps"),
        pytest.param(30.0, Wait(until=190.0, delay=160.0), id="short-run-keeps"),
    ],
)
def test_reset_after_a_long_run(ran_for: float, expected: StartNow | Wait) -> None:
    # Restarted at t=0 with a 160 s delay pending, then it ran for `ran_for` seconds.
    entry = BackoffEntry(delay=160.0, last_update=0.0)
    assert decide_restart(DEFAULT, entry, exited_at=ran_for, now=ran_for) == expected


def test_after_a_reset_the_next_crash_waits_the_initial_delay_again() -> None:
    entry = BackoffEntry(delay=300.0, last_update=0.0)
    restart = decide_restart(DEFAULT, entry, exited_at=700.0, now=700.0)
    assert restart == StartNow(BackoffEntry(10.0, 700.0))
    # It crashes at once: 10 s, then 20 s.
    assert decide_restart(DEFAULT, restart.entry, 700.5, 700.5) == Wait(until=710.5, delay=10.0)
    second = decide_restart(DEFAULT, restart.entry, 700.5, 710.5)
    assert second == StartNow(BackoffEntry(20.0, 710.5))


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(None, id="no-entry"),
        pytest.param(BackoffEntry(0.0, 5.0), id="with-entry"),
    ],
)
def test_zero_back_off_always_starts_now(entry: BackoffEntry | None) -> None:
    policy = BackoffPolicy(initial=0, maximum=0)
    for now in (5.0, 5.0, 6.0):
        decision = decide_restart(policy, entry, exited_at=5.0, now=now)
        assert decision == StartNow(BackoffEntry(0.0, now))
