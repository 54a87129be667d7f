"""The ProbeManager's one scheduler, on virtual time (trio's MockClock): no processes.

Each probe is scripted by the command of its exec handler ("fast", "slow", "fail"); the
runner notes when each was asked, so the tests assert exact virtual times.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from trio.testing import MockClock

from minikubelet.model.probe import ProbeKind, ProbeOutcome, ProbeResult
from minikubelet.model.spec import Container, ExecAction, Probe, ProbeHandler
from minikubelet.prober.manager import ProbeListener, ProbeManager, ProbeTarget
from minikubelet.prober.scheduler import ProbeScheduler
from minikubelet.runtime.base import Launch

pytestmark = pytest.mark.anyio

LAUNCH = Launch(tag="uid/app", argv=(), cwd="/")
SLOW_S = 5.0


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return ("trio", {"clock": MockClock(autojump_threshold=0)})


class Runner:
    """Answers "fast" and "fail" at once and "slow" after SLOW_S; notes every ask."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, float]] = []  # (container, command, time)
        self.cancelled: list[tuple[str, float]] = []

    async def probe(
        self, handler: ProbeHandler, *, container: Container, launch: Launch, timeout: float
    ) -> ProbeOutcome:
        assert isinstance(handler, ExecAction)
        what = handler.command[0]
        self.asked.append((container.name, what, anyio.current_time()))
        if what == "slow":
            try:
                await anyio.sleep(SLOW_S)
            except anyio.get_cancelled_exc_class():
                self.cancelled.append((container.name, anyio.current_time()))
                raise
        if what == "fail":
            return ProbeOutcome(ProbeResult.FAILURE, "scripted")
        return ProbeOutcome(ProbeResult.SUCCESS)

    def times(self, name: str, what: str) -> list[float]:
        return [t for c, w, t in self.asked if (c, w) == (name, what)]


def probe(what: str, period: int, **fields: int) -> Probe:
    return Probe(handler=ExecAction((what,)), period_seconds=period, timeout_seconds=60, **fields)


def target(uid: str, container: Container, started_at: float) -> ProbeTarget:
    return ProbeTarget(uid, "default", uid, container, LAUNCH, started_at)


LISTENER = ProbeListener(
    verdict=lambda k, r: None, event=lambda r, m: None, is_started=lambda: True
)


@pytest.fixture
async def manager() -> AsyncIterator[ProbeManager]:
    async with anyio.create_task_group() as group:
        running = ProbeManager(Runner())
        await group.start(running.run)
        yield running
        group.cancel_scope.cancel()


def runner_of(manager: ProbeManager) -> Runner:
    assert isinstance(manager.runner, Runner)
    return manager.runner


async def test_workers_with_different_periods_fire_at_exact_times(manager: ProbeManager) -> None:
    start = anyio.current_time()
    app = Container(
        name="app",
        command=("app",),
        readiness_probe=probe("fast", 2),
        liveness_probe=probe("fast", 3),
    )
    other = Container(name="other", command=("o",), readiness_probe=probe("fast", 5))
    manager.add(target("a", app, start), LISTENER)
    manager.add(target("b", other, start + 0.25), LISTENER)
    await anyio.sleep(10.5)
    runner = runner_of(manager)
    asked = [(c, t - start) for c, _, t in runner.asked]
    assert [t for c, t in asked if c == "app"] == [0, 0, 2, 3, 4, 6, 6, 8, 9, 10]
    assert [t for c, t in asked if c == "other"] == [0.25, 5.25, 10.25]
    assert manager.scheduler.timers == 3


async def test_a_slow_probe_delays_no_other_and_skips_its_missed_ticks(
    manager: ProbeManager,
) -> None:
    start = anyio.current_time()
    slow = Container(name="slow", command=("s",), readiness_probe=probe("slow", 2))
    fast = Container(name="fast", command=("f",), readiness_probe=probe("fast", 1))
    manager.add(target("a", slow, start), LISTENER)
    manager.add(target("b", fast, start), LISTENER)
    await anyio.sleep(7.5)
    runner = runner_of(manager)
    # The run at 0 ends at 5: the ticks at 2 and 4 are skipped, not queued.
    assert [t - start for t in runner.times("slow", "slow")] == [0, 6]
    assert [t - start for t in runner.times("fast", "fast")] == [0, 1, 2, 3, 4, 5, 6, 7]


async def test_stopping_an_instance_removes_its_timers_and_cancels_its_probe(
    manager: ProbeManager,
) -> None:
    start = anyio.current_time()
    app = Container(
        name="app",
        command=("a",),
        readiness_probe=probe("fast", 1),
        liveness_probe=probe("slow", 10),
    )
    keep = Container(name="keep", command=("k",), readiness_probe=probe("fast", 1))
    manager.add(target("gone", app, start), LISTENER)
    manager.add(target("kept", keep, start), LISTENER)
    await anyio.sleep(2.5)
    assert (len(manager.scheduler), manager.scheduler.timers) == (3, 2)  # the slow one runs
    manager.remove("gone", "app")
    assert (len(manager.scheduler), manager.scheduler.timers) == (1, 1)
    await anyio.sleep(3)
    runner = runner_of(manager)
    assert runner.cancelled == [("app", start + 2.5)]
    assert [t - start for t in runner.times("app", "fast")] == [0, 1, 2]
    assert [t - start for t in runner.times("keep", "fast")] == [0, 1, 2, 3, 4, 5]
    assert manager.result("gone", "app", ProbeKind.READINESS) is None


async def test_a_manual_trigger_probes_at_once_and_keeps_the_schedule(
    manager: ProbeManager,
) -> None:
    start = anyio.current_time()
    app = Container(name="app", command=("a",), readiness_probe=probe("fast", 10))
    manager.add(target("a", app, start), LISTENER)
    await anyio.sleep(3)
    readiness = manager._workers[("a", "app", ProbeKind.READINESS)]
    readiness.trigger()
    await anyio.sleep(8)
    # worker.go: the ticker ticks on whatever the trigger did.
    assert [t - start for t in runner_of(manager).times("app", "fast")] == [0, 3, 10]


async def test_a_trigger_during_a_run_runs_again_right_after_it(manager: ProbeManager) -> None:
    start = anyio.current_time()
    app = Container(name="app", command=("a",), readiness_probe=probe("slow", 60))
    manager.add(target("a", app, start), LISTENER)
    await anyio.sleep(1)
    manager._workers[("a", "app", ProbeKind.READINESS)].trigger()
    manager._workers[("a", "app", ProbeKind.READINESS)].trigger()  # one is enough
    await anyio.sleep(20)
    assert [t - start for t in runner_of(manager).times("app", "slow")] == [0, SLOW_S]


async def test_idle_means_no_wake_ups(
    manager: ProbeManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    wakes: list[float] = []
    original = ProbeScheduler._start_due

    def counted(self: ProbeScheduler, group: Any, now: float) -> None:
        wakes.append(now)
        original(self, group, now)

    monkeypatch.setattr(ProbeScheduler, "_start_due", counted)
    start = anyio.current_time()
    await anyio.sleep(1000)  # no probes: the scheduler sleeps without a deadline
    assert wakes == []
    # A liveness probe that fails once goes on hold: nothing is due after that.
    held = Container(
        name="held", command=("h",), liveness_probe=probe("fail", 1, failure_threshold=1)
    )
    manager.add(target("h", held, anyio.current_time()), LISTENER)
    # A worker stopped before its first tick leaves no timer behind to wake up for.
    later = Container(name="later", command=("l",), readiness_probe=probe("fast", 1))
    manager.add(target("l", later, anyio.current_time() + 50), LISTENER)
    await anyio.sleep(10)
    manager.remove("l", "later")
    await anyio.sleep(1000)
    # Woken by events only: the adds at 1000 (the held probe was due then) and the removal
    # at 1010 (the earliest timer went); not at 1050, nor ever after.
    assert [t - start for t in wakes] == [1000, 1010]
    assert (len(manager.scheduler), manager.scheduler.timers) == (0, 0)
    assert [c for c, _, _ in runner_of(manager).asked] == ["held"]
