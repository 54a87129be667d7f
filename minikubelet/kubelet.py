"""The kubelet: owns the runtime, the event recorder and one worker per pod.

Use it as an async context manager. Leaving the context (normally, by an exception or
by cancellation) terminates every pod gracefully first, under a shielded scope, so
minikubelet never exits leaving a container behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType

import anyio
import anyio.abc
import structlog

from minikubelet.errors import DuplicatePodError
from minikubelet.events import EventRecorder
from minikubelet.model.spec import Pod
from minikubelet.pod_worker import LogLineSink, PodWorker, Settings
from minikubelet.prober.handlers import Prober
from minikubelet.prober.stats import ProbeStats
from minikubelet.prober.worker import ProbeRunner
from minikubelet.runtime.local import LocalRuntime

__all__ = ["Kubelet", "PodListener"]

_log = structlog.get_logger("minikubelet.kubelet")

PodListener = Callable[[str, PodWorker], None]  # ("ADDED" | "MODIFIED" | "DELETED", worker)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Kubelet:
    def __init__(
        self,
        settings: Settings,
        *,
        runtime: LocalRuntime | None = None,
        clock: Callable[[], datetime] = _utc_now,
        log_sink: LogLineSink | None = None,
        prober: ProbeRunner | None = None,
    ) -> None:
        self.settings = settings
        self.runtime = runtime or LocalRuntime(settings.log_rotation)
        self.clock = clock
        self.recorder = EventRecorder(clock)
        self.probe_stats = ProbeStats()
        self.prober: ProbeRunner = prober or Prober(self.runtime)
        self._log_sink = log_sink
        self._workers: dict[tuple[str, str], PodWorker] = {}
        self._group: anyio.abc.TaskGroup | None = None
        self._changed = anyio.Event()
        self._listeners: list[PodListener] = []

    async def __aenter__(self) -> Kubelet:
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        await self._group.start(self.runtime.reap_on_sigchld)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        assert self._group is not None
        with anyio.CancelScope(shield=True):
            await self.terminate_all()
        self._group.cancel_scope.cancel()
        return await self._group.__aexit__(exc_type, exc, traceback)

    # -- pods ------------------------------------------------------------------------

    def workers(self) -> list[PodWorker]:
        return list(self._workers.values())

    def worker(self, namespace: str, name: str) -> PodWorker | None:
        return self._workers.get((namespace, name))

    async def add_pod(self, pod: Pod, *, is_static: bool = False) -> PodWorker:
        """Start a worker for ``pod``; raises DuplicatePodError if the name is taken."""
        key = (pod.namespace, pod.name)
        if key in self._workers:
            raise DuplicatePodError(f'pod "{pod.namespace}/{pod.name}" already exists')
        assert self._group is not None, "use the Kubelet as an async context manager"
        worker = PodWorker(
            pod,
            uid=str(uuid.uuid4()),
            runtime=self.runtime,
            recorder=self.recorder,
            settings=self.settings,
            clock=self.clock,
            log_sink=self._log_sink,
            is_static=is_static,
            prober=self.prober,
            probe_stats=self.probe_stats,
        )
        self._workers[key] = worker
        worker.on_status(self._on_status)
        self._tell("ADDED", worker)
        await self._group.start(self._run_worker, worker)
        return worker

    async def _run_worker(
        self, worker: PodWorker, *, task_status: anyio.abc.TaskStatus[None]
    ) -> None:
        try:
            await worker.run(task_status=task_status)
        finally:
            key = (worker.pod.namespace, worker.pod.name)
            if worker.deletion_timestamp is not None and self._workers.get(key) is worker:
                del self._workers[key]
                self._tell("DELETED", worker)
            self._notify()

    def watch(self, listener: PodListener) -> Callable[[], None]:
        """Call ``listener(type, worker)`` for every ADDED, MODIFIED and DELETED pod."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def delete_pod(self, namespace: str, name: str, grace: int | None = None) -> PodWorker | None:
        """Terminate a pod gracefully; it disappears (DELETED) once its containers are gone.

        Returns the worker, now carrying a deletion timestamp, or None if there is no such pod.
        """
        key = (namespace, name)
        worker = self._workers.get(key)
        if worker is None:
            return None
        worker.mark_deleted(grace)
        if worker.done:  # already finished: nothing to stop, it goes at once
            del self._workers[key]
            self._tell("DELETED", worker)
            self._notify()
        return worker

    def restart_container(self, namespace: str, name: str, container: str) -> bool:
        """Restart one running container gracefully (``PodWorker.restart_container``).

        False when there is no such pod or the container is not running.
        """
        worker = self._workers.get((namespace, name))
        return worker is not None and worker.restart_container(container)

    async def replace_pod(self, pod: Pod, *, is_static: bool = False) -> PodWorker:
        """Delete the pod of the same name (gracefully, waiting for it), then add ``pod``."""
        old = self.delete_pod(pod.namespace, pod.name)
        while old is not None and self._workers.get((pod.namespace, pod.name)) is old:
            await self._changed.wait()  # its removal (DELETED) comes with a notification
        return await self.add_pod(pod, is_static=is_static)

    async def terminate_all(self, grace: int | None = None) -> None:
        """Stop every pod gracefully, in parallel, each with its own grace period."""
        for worker in self.workers():
            worker.terminate(grace)
        await self.wait_all_done()

    def kill_all(self) -> None:
        """SIGKILL every container of every pod at once."""
        for worker in self.workers():
            worker.kill()

    async def wait_all_done(self) -> None:
        """Return once every pod worker has finished (final phase, nothing to restart)."""
        while True:
            changed = self._changed
            if all(worker.done for worker in self.workers()):
                return
            await changed.wait()

    def _on_status(self, worker: PodWorker) -> None:
        self._tell("MODIFIED", worker)
        self._notify()

    def _tell(self, kind: str, worker: PodWorker) -> None:
        for listener in list(self._listeners):
            listener(kind, worker)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()
