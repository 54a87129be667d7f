"""ProbeWorker on virtual time (trio's MockClock) with a scripted prober: no processes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from trio.testing import MockClock

from minikubelet.model.probe import ProbeKind, ProbeOutcome, ProbeResult
from minikubelet.model.spec import Container, ExecAction, Probe, ProbeHandler
from minikubelet.prober.stats import ProbeLabels, ProbeStats
from minikubelet.prober.worker import ProbeWorker, WorkerHooks
from minikubelet.runtime.base import Launch

pytestmark = pytest.mark.anyio

APP = Container(name="app", command=("app",))
LAUNCH = Launch(tag="uid/app", argv=(), cwd="/")


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return ("trio", {"clock": MockClock(autojump_threshold=0)})


class Scripted:
    """Answers each probe with the next scripted result, and notes when it was asked."""

    def __init__(self, results: list[ProbeResult]) -> None:
        self._results: Iterator[ProbeResult] = iter(results)
        self.asked: list[float] = []

    async def probe(
        self, handler: ProbeHandler, *, container: Container, launch: Launch, timeout: float
    ) -> ProbeOutcome:
        self.asked.append(anyio.current_time())
        result = next(self._results, ProbeResult.SUCCESS)
        return ProbeOutcome(
            result,
            "HTTP probe failed with statuscode: 500" if result is ProbeResult.FAILURE else "",
        )


def make(
    kind: ProbeKind, spec: Probe, runner: Scripted, started: bool = True
) -> tuple[ProbeWorker, list[Any]]:
    seen: list[Any] = []
    hooks = WorkerHooks(
        verdict=lambda k, r: seen.append(("verdict", anyio.current_time(), r)),
        event=lambda reason, message: seen.append(("event", reason, message)),
        is_started=lambda: started,
    )
    labels = ProbeLabels(kind, "app", "web", "default", "uid")
    worker = ProbeWorker(
        kind,
        spec,
        container=APP,
        launch=LAUNCH,
        runner=runner,
        hooks=hooks,
        labels=labels,
        stats=ProbeStats(),
        started_at=anyio.current_time(),
    )
    return worker, seen


async def test_liveness_fails_after_threshold_and_stops() -> None:
    F, S = ProbeResult.FAILURE, ProbeResult.SUCCESS
    runner = Scripted([S, F, F, F])
    spec = Probe(handler=ExecAction(("x",)), period_seconds=2, failure_threshold=3)
    worker, seen = make(ProbeKind.LIVENESS, spec, runner)
    start = anyio.current_time()
    with anyio.fail_after(100):
        await worker.run()  # returns once on hold
    assert [t - start for t in runner.asked] == [0, 2, 4, 6]
    verdicts = [s for s in seen if s[0] == "verdict"]
    assert verdicts == [("verdict", start + 6, F)]
    events = [s for s in seen if s[0] == "event"]
    assert (
        events
        == [("event", "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500")]
        * 3
    )


async def test_initial_delay_skips_early_ticks() -> None:
    runner = Scripted([ProbeResult.SUCCESS] * 10)
    spec = Probe(handler=ExecAction(("x",)), period_seconds=1, initial_delay_seconds=3)
    worker, _ = make(ProbeKind.READINESS, spec, runner)
    start = anyio.current_time()
    with anyio.move_on_after(5.5):
        await worker.run()
    assert [t - start for t in runner.asked] == [3, 4, 5]


async def test_not_started_means_no_liveness_probing() -> None:
    runner = Scripted([])
    spec = Probe(handler=ExecAction(("x",)), period_seconds=1)
    worker, _ = make(ProbeKind.LIVENESS, spec, runner, started=False)
    with anyio.move_on_after(10):
        await worker.run()
    assert runner.asked == []


async def test_trigger_probes_at_once() -> None:
    runner = Scripted([ProbeResult.FAILURE, ProbeResult.SUCCESS])
    spec = Probe(handler=ExecAction(("x",)), period_seconds=30, failure_threshold=1)
    worker, seen = make(ProbeKind.READINESS, spec, runner)
    start = anyio.current_time()
    async with anyio.create_task_group() as group:
        group.start_soon(worker.run)
        await anyio.sleep(5)
        worker.trigger()
        await anyio.sleep(1)
        group.cancel_scope.cancel()
    assert [t - start for t in runner.asked] == [0, 5]
    assert ("verdict", start + 5, ProbeResult.SUCCESS) in seen
