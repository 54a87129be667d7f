"""The probe manager: every probe worker, keyed by (pod uid, container, probe kind).

Like the kubelet's ``pkg/kubelet/prober/prober_manager.go``, it owns the workers and the
results cache, and tells the pod worker when a cached result changes (the kubelet's
results managers feed ``syncPod`` the same way). The pod worker says when an instance
starts being probed (after its postStart hook: the kubelet sees the container only then)
and when it stops (it exited, or termination began for liveness and startup); a new
instance always starts from the kubelet's initial results.

Every worker runs on the manager's one ``ProbeScheduler`` (``run``, a long-lived service
of the kubelet): one timer for all of them, each probe in its own task of the scheduler's
task group, so a slow probe never delays another probe nor a pod worker, and cancelling
the manager stops every probe at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import anyio.abc

from minikubelet.model.launch import Launch
from minikubelet.model.probe import ProbeKind, ProbeResult
from minikubelet.model.spec import Container
from minikubelet.prober.scheduler import ProbeScheduler
from minikubelet.prober.stats import ProbeLabels, ProbeStats
from minikubelet.prober.worker import ProbeRunner, ProbeWorker, WorkerHooks

__all__ = ["ProbeKey", "ProbeListener", "ProbeManager", "ProbeTarget"]

ProbeKey = tuple[str, str, ProbeKind]  # (pod uid, container, kind)


@dataclass(frozen=True)
class ProbeListener:
    """How the manager talks back to a pod worker about one container instance."""

    verdict: Callable[[ProbeKind, ProbeResult], None]  # a cached result changed
    event: Callable[[str, str], None]  # (reason, message): a Warning event on the container
    is_started: Callable[[], bool]  # the startup probe has succeeded (or there is none)


@dataclass(frozen=True)
class ProbeTarget:
    """One running instance to probe."""

    uid: str
    namespace: str
    pod: str
    container: Container
    launch: Launch  # the container's own: exec probes run as part of it
    started_at: float  # anyio time the process started: the schedule's origin


class ProbeManager:
    def __init__(self, runner: ProbeRunner, stats: ProbeStats | None = None) -> None:
        self.runner = runner
        self.stats = stats or ProbeStats()
        self._workers: dict[ProbeKey, ProbeWorker] = {}
        self.scheduler = ProbeScheduler()

    async def run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """Run the probe workers until cancelled."""
        await self.scheduler.run(task_status=task_status)

    def add(self, target: ProbeTarget, listener: ProbeListener) -> None:
        """Start probing an instance that now runs; replaces any workers of an older one."""
        container = target.container
        self.remove(target.uid, container.name)
        probes = {
            ProbeKind.STARTUP: container.startup_probe,
            ProbeKind.LIVENESS: container.liveness_probe,
            ProbeKind.READINESS: container.readiness_probe,
        }
        for kind, probe in probes.items():
            if probe is None:
                continue
            key = (target.uid, container.name, kind)
            hooks = WorkerHooks(
                verdict=self._verdict_for(key, listener),
                event=listener.event,
                is_started=listener.is_started,
            )
            labels = ProbeLabels(kind, container.name, target.pod, target.namespace, target.uid)
            worker = ProbeWorker(
                kind,
                probe,
                container=container,
                launch=target.launch,
                runner=self.runner,
                hooks=hooks,
                labels=labels,
                stats=self.stats,
                started_at=target.started_at,
            )
            self._workers[key] = worker
            worker.schedule(self.scheduler)

    def _verdict_for(
        self, key: ProbeKey, listener: ProbeListener
    ) -> Callable[[ProbeKind, ProbeResult], None]:
        uid, container, _ = key

        def verdict(kind: ProbeKind, result: ProbeResult) -> None:
            if key not in self._workers:
                return  # the instance is gone: its verdict no longer matters
            listener.verdict(kind, result)
            readiness = self._workers.get((uid, container, ProbeKind.READINESS))
            if kind is ProbeKind.STARTUP and result is ProbeResult.SUCCESS and readiness:
                # prober_manager.go UpdatePodStatus: ready right after startup, not a whole
                # period later.
                readiness.trigger()

        return verdict

    def result(self, uid: str, container: str, kind: ProbeKind) -> ProbeResult | None:
        """The cached result of a running worker; None when there is no such worker."""
        worker = self._workers.get((uid, container, kind))
        return worker.state.result if worker is not None else None

    def stop(self, uid: str, container: str, kinds: Iterable[ProbeKind] = tuple(ProbeKind)) -> None:
        """Stop probing ``container`` for ``kinds``; their results are forgotten."""
        for kind in kinds:
            worker = self._workers.pop((uid, container, kind), None)
            if worker is not None:
                worker.stop()

    def remove(self, uid: str, container: str) -> None:
        self.stop(uid, container)

    def stop_liveness_and_startup(self, uid: str) -> None:
        """Termination began: liveness and startup stop, readiness goes on
        (``StopLivenessAndStartup``)."""
        for key in [k for k in self._workers if k[0] == uid]:
            if key[2] is not ProbeKind.READINESS:
                self.stop(key[0], key[1], (key[2],))
