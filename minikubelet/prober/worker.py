"""One probe worker per (container instance, probe kind): ``prober/worker.go``.

A worker lives exactly as long as its container instance: the pod worker starts it once
the instance runs (after postStart) and cancels it when the instance exits, so a restart
always begins from the kubelet's initial results. It probes on a fixed-rate schedule that
starts when the instance starts; a slow probe delays only its own next run, never the
schedule (missed ticks are skipped, not queued) and never another container.

The worker does not sleep itself: a ``ProbeScheduler`` (the manager's, shared by every
worker) calls ``tick`` when it is due and asks it when it is due next. ``run`` probes one
worker alone, on a scheduler of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import anyio
import structlog

from minikubelet.logic.probing import (
    ProbeState,
    initial_state,
    record_result,
    should_probe,
    tick_after_run,
)
from minikubelet.model.probe import ProbeKind, ProbeOutcome, ProbeResult
from minikubelet.model.spec import Container, Probe, ProbeHandler
from minikubelet.prober.scheduler import ProbeScheduler
from minikubelet.prober.stats import ProbeLabels, ProbeStats
from minikubelet.runtime.base import Launch

__all__ = ["MAX_PROBE_RETRIES", "ProbeRunner", "ProbeWorker", "WorkerHooks"]

_log = structlog.get_logger("minikubelet.prober")

MAX_PROBE_RETRIES = 3  # kubelet prober.go maxProbeRetries


class ProbeRunner(Protocol):
    """What a worker needs to run a handler once (``prober.handlers.Prober``)."""

    async def probe(
        self, handler: ProbeHandler, *, container: Container, launch: Launch, timeout: float
    ) -> ProbeOutcome: ...


@dataclass(frozen=True)
class WorkerHooks:
    """How a worker talks back to its pod worker."""

    verdict: Callable[[ProbeKind, ProbeResult], None]  # the cached result changed
    event: Callable[[str, str], None]  # (reason, message): a Warning event on the container
    is_started: Callable[[], bool]  # the container's startup probe has succeeded (or none)


class ProbeWorker:
    def __init__(
        self,
        kind: ProbeKind,
        probe: Probe,
        *,
        container: Container,
        launch: Launch,
        runner: ProbeRunner,
        hooks: WorkerHooks,
        labels: ProbeLabels,
        stats: ProbeStats,
        started_at: float,
    ) -> None:
        self.kind = kind
        self.probe = probe
        self._container = container
        self._launch = launch
        self._runner = runner
        self._hooks = hooks
        self._labels = labels
        self._stats = stats
        self._started_at = started_at  # monotonic time the instance started
        self.state: ProbeState = initial_state(kind)
        self._tick = started_at  # the tick it waits for: the first is at the start
        self._scheduler: ProbeScheduler | None = None

    def schedule(
        self, scheduler: ProbeScheduler, on_done: Callable[[], None] = lambda: None
    ) -> None:
        """Probe on ``scheduler`` from the next tick on, until on hold (then ``on_done``)
        or stopped."""
        self._scheduler = scheduler
        scheduler.add(self, self._tick, on_done=lambda: self._finished(on_done))

    def trigger(self) -> None:
        """Probe now instead of at the next tick (the kubelet's manual readiness trigger)."""
        if self._scheduler is not None:
            self._scheduler.trigger(self)

    def stop(self) -> None:
        """Probe no more; a probe in progress is cancelled."""
        if self._scheduler is not None:
            self._scheduler.remove(self)
            self._finished(lambda: None)

    def _finished(self, then: Callable[[], None]) -> None:
        self._scheduler = None
        self._stats.forget(self._labels)
        then()

    async def tick(self) -> float | None:
        """One due tick (``do_probe``); when the next one is due, or None once on hold."""
        await self.do_probe()
        if self.state.on_hold:
            return None
        self._tick = tick_after_run(self._tick, self.probe.period_seconds, anyio.current_time())
        return self._tick

    async def run(self) -> None:
        """Probe until on hold, alone on a scheduler of its own (or until cancelled)."""
        held = anyio.Event()
        try:
            async with anyio.create_task_group() as group:
                scheduler = ProbeScheduler()
                await group.start(scheduler.run)
                self.schedule(scheduler, on_done=held.set)
                await held.wait()
                group.cancel_scope.cancel()
        finally:
            self.stop()

    async def do_probe(self) -> None:
        """One iteration: decide, probe, count, report."""
        now = anyio.current_time()
        if not should_probe(
            self.state, self.kind, self.probe, now - self._started_at, self._hooks.is_started()
        ):
            return
        for _ in range(MAX_PROBE_RETRIES):  # an error (not a failure) is retried at once
            outcome = await self._runner.probe(
                self.probe.handler,
                container=self._container,
                launch=self._launch,
                timeout=float(self.probe.timeout_seconds),
            )
            if outcome.result is not ProbeResult.UNKNOWN:
                break
        self._stats.observe(self._labels, outcome.result, anyio.current_time() - now)
        self._report(outcome)
        step = record_result(self.state, self.kind, self.probe, outcome.result)
        self.state = step.state
        if step.changed:
            _log.info(
                "probe.result",
                container=self._container.name,
                probe=self.kind.value,
                result=step.state.result.value,
            )
            self._hooks.verdict(self.kind, step.state.result)

    def _report(self, outcome: ProbeOutcome) -> None:
        kind = self.kind.value
        match outcome.result:
            case ProbeResult.FAILURE:
                self._hooks.event("Unhealthy", f"{kind} probe failed: {outcome.output}")
            case ProbeResult.UNKNOWN:
                message = f"{kind} probe errored and resulted in unknown state: {outcome.output}"
                self._hooks.event("Unhealthy", message)
            case ProbeResult.WARNING:
                self._hooks.event("ProbeWarning", f"{kind} probe warning: {outcome.output}")
            case ProbeResult.SUCCESS:
                pass
