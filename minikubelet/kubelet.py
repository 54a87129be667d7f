"""The kubelet: owns the runtime, the status and probe managers, the ConfigMaps and Secrets
(``objects``), and one worker per pod.

Use it as an async context manager. Leaving the context (normally, by an exception or
by cancellation) terminates every pod gracefully first, under a shielded scope, so
minikubelet never exits leaving a container behind; every stop there is bounded by its
own deadline (``stop.py``), so neither does it hang.

Everything outside the engine (the API server, the pod sources, the CLI) reads pods as
immutable ``PodSnapshot``s and asks for changes through the methods here; only the
engine's own code and tests hold ``PodWorker``s.

The runtime chooses its containment when the kubelet starts (``containment``: cgroups per
container, or none and why); the default local runtime's cgroups are named after the root
dir (``runtime.containment.subtree_for``), so two daemons never share them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol

import anyio
import anyio.abc
import structlog

from minikubelet.errors import DuplicatePodError
from minikubelet.events import EventRecorder
from minikubelet.gc import ContainerGC
from minikubelet.logic.environment import referenced_objects
from minikubelet.logic.restore import restored_records, running_instances
from minikubelet.manifest.capabilities import limit_warnings
from minikubelet.model.checkpoint import PodCheckpoint
from minikubelet.model.containment import ContainmentInfo
from minikubelet.model.snapshot import PodSnapshot, WatchEventType
from minikubelet.model.spec import Pod
from minikubelet.model.status import Instance
from minikubelet.model.trace import TraceEntry
from minikubelet.objects import ObjectStore, StoredObject
from minikubelet.pod_worker import LogLineSink, PodWorker
from minikubelet.prober.handlers import Prober
from minikubelet.prober.manager import ProbeManager
from minikubelet.prober.stats import ProbeStats
from minikubelet.prober.worker import ProbeRunner
from minikubelet.runtime.base import (
    ContainerProcess,
    ContainerRuntime,
    NodeUsage,
    StreamingExec,
    Usage,
)
from minikubelet.runtime.containment import subtree_for
from minikubelet.runtime.local import LocalRuntime
from minikubelet.settings import Settings
from minikubelet.status_manager import PodListener, StatusManager, TraceListener, empty_records

__all__ = ["ContainerUsage", "Kubelet", "PodHistory", "PodListener", "StreamingExec"]

_log = structlog.get_logger("minikubelet.kubelet")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ContainerUsage:
    """One running container's usage, with the pod it belongs to."""

    pod: PodSnapshot
    container: str
    usage: Usage
    at: float  # anyio time of the sample


class PodHistory(Protocol):
    """Where the containers' past of a pod added again is kept (``checkpoints``)."""

    def load(self, uid: str, namespace: str, name: str) -> PodCheckpoint | None: ...


class Kubelet:
    def __init__(
        self,
        settings: Settings,
        *,
        runtime: ContainerRuntime | None = None,
        clock: Callable[[], datetime] = _utc_now,
        log_sink: LogLineSink | None = None,
        prober: ProbeRunner | None = None,
        objects: ObjectStore | None = None,
        history: PodHistory | None = None,
        cgroup_subtree: str | None = None,
        keeper: bool = False,
    ) -> None:
        """``cgroup_subtree``: the default runtime's cgroups (by default named after the
        root dir; ``run``, which shares the daemon's root dir, gives one per process).
        ``keeper``: the default runtime spawns through the root dir's keeper, so the
        containers survive this process (``serve``)."""
        self.settings = settings
        # Where a pod added with a known uid finds its containers' past (the daemon's
        # checkpoints); None: every pod starts with none.
        self._history = history
        self.runtime: ContainerRuntime = runtime or LocalRuntime(
            settings.log_rotation,
            cgroup_subtree=cgroup_subtree or subtree_for(settings.root_dir),
            keeper=settings.root_dir if keeper else None,
        )
        self.clock = clock
        self.recorder = EventRecorder(clock)
        self.status = StatusManager(clock)
        self.probes = ProbeManager(prober or Prober(self.runtime))
        # The ConfigMaps and Secrets containers read their environment from.
        self.objects = objects or ObjectStore(clock)
        self.objects.watch(self._object_changed)
        self._log_sink = log_sink
        self._workers: dict[tuple[str, str], PodWorker] = {}
        # What dead instances and deleted pods leave on disk goes as the kubelet's GC has it.
        self.gc = ContainerGC()
        self.gc.attach(self)
        self._group: anyio.abc.TaskGroup | None = None
        self._changed = anyio.Event()

    @property
    def probe_stats(self) -> ProbeStats:
        return self.probes.stats

    @property
    def containment(self) -> ContainmentInfo:
        """Which containment is in force, and why (chosen when the kubelet started)."""
        return self.runtime.containment

    async def __aenter__(self) -> Kubelet:
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        await self._group.start(self.runtime.run)
        await self._group.start(self.probes.run)
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

    # -- reading ---------------------------------------------------------------------

    def snapshots(self) -> list[PodSnapshot]:
        """Every pod, as it is now, in the order they were added."""
        return [worker.snapshot for worker in self._workers.values()]

    def snapshot(self, namespace: str, name: str) -> PodSnapshot | None:
        worker = self._workers.get((namespace, name))
        return worker.snapshot if worker is not None else None

    def current(self, uid: str) -> PodSnapshot | None:
        """The pod with this uid as it is now; None once it is gone."""
        keeper = self.status.keeper(uid)
        return keeper.snapshot if keeper is not None else None

    def workers(self) -> list[PodWorker]:
        return list(self._workers.values())

    def worker(self, namespace: str, name: str) -> PodWorker | None:
        return self._workers.get((namespace, name))

    def watch(self, listener: PodListener) -> Callable[[], None]:
        """Call ``listener(type, snapshot)`` for every pod ADDED, MODIFIED and DELETED."""
        return self.status.watch(listener)

    def on_change(self, uid: str, listener: Callable[[PodSnapshot], None]) -> Callable[[], None]:
        """Call ``listener`` with every new snapshot of pod ``uid``; returns the unsubscribe."""
        keeper = self.status.keeper(uid)
        if keeper is None:
            return lambda: None
        return keeper.on_change(listener)

    def trace(self, uid: str) -> tuple[TraceEntry, ...]:
        keeper = self.status.keeper(uid)
        return tuple(keeper.trace) if keeper is not None else ()

    def last_termination(self, uid: str, container: str) -> tuple[TraceEntry, ...]:
        """The steps of ``container``'s last stop, from Killing to Exited."""
        keeper = self.status.keeper(uid)
        if keeper is None:
            return ()
        return tuple(keeper.last_termination.get(container, ()))

    def on_trace(self, uid: str, listener: TraceListener) -> Callable[[], None]:
        keeper = self.status.keeper(uid)
        if keeper is None:
            return lambda: None
        return keeper.on_trace(listener)

    async def usage(self) -> list[ContainerUsage]:
        """CPU and memory of every running container, sampled in one pass."""
        live: dict[str, tuple[PodSnapshot, str, ContainerProcess]] = {}
        for worker in self._workers.values():
            for name, process in worker.processes().items():
                live[f"{worker.uid}/{name}"] = (worker.snapshot, name, process)
        samples = await self.runtime.usage({key: entry[2] for key, entry in live.items()})
        at = anyio.current_time()
        return [
            ContainerUsage(pod, name, samples[key], at)
            for key, (pod, name, _) in live.items()
            if key in samples
        ]

    async def node_usage(self) -> NodeUsage:
        return await self.runtime.node_usage()

    # -- changing --------------------------------------------------------------------

    async def add_pod(
        self,
        pod: Pod,
        *,
        is_static: bool = False,
        uid: str | None = None,
        created_at: datetime | None = None,
    ) -> PodSnapshot:
        """Start a worker for ``pod``; raises DuplicatePodError if the name is taken."""
        key = (pod.namespace, pod.name)
        if key in self._workers:
            raise DuplicatePodError(f'pod "{pod.namespace}/{pod.name}" already exists')
        assert self._group is not None, "use the Kubelet as an async context manager"
        records = empty_records(pod)
        adoptable: dict[str, Instance] = {}
        known_uid = uid is not None
        if uid is not None and self._history is not None:
            checkpoint = self._history.load(uid, pod.namespace, pod.name)
            if checkpoint is not None:
                # What was running may still be (the daemon died, its keeper did not):
                # the worker adopts it or records it lost.
                adoptable = running_instances(pod.spec, checkpoint)
                records = restored_records(pod.spec, checkpoint, self.clock(), adoptable)
                created_at = created_at or checkpoint.created_at
                _log.info(
                    "pod.history_restored",
                    pod=f"{pod.namespace}/{pod.name}",
                    uid=uid,
                    restarts={n: r.next_restart_count for n, r in records.items() if r.latest},
                )
        uid = uid or str(uuid.uuid4())
        keeper = self.status.add(
            pod,
            uid,
            is_static=is_static,
            created_at=created_at or self.clock(),
            log_dir=self.settings.pod_dir(pod.namespace, pod.name, uid),
            records=records,
        )
        worker = PodWorker(
            pod,
            uid=uid,
            runtime=self.runtime,
            recorder=self.recorder,
            settings=self.settings,
            keeper=keeper,
            clock=self.clock,
            probes=self.probes,
            log_sink=self._log_sink,
            objects=self.objects,
            adoptable=adoptable,
            known_uid=known_uid,
        )
        self._workers[key] = worker
        worker.on_status(lambda _: self._notify())
        for warning in limit_warnings(pod, self.containment):
            _log.warning(
                "pod.limit_not_enforced",
                pod=f"{pod.namespace}/{pod.name}",
                field=warning.field_path,
                detail=warning.message,
            )
        await self._group.start(self._run_worker, worker)
        return worker.snapshot

    async def _run_worker(
        self, worker: PodWorker, *, task_status: anyio.abc.TaskStatus[None]
    ) -> None:
        try:
            await worker.run(task_status=task_status)
        finally:
            key = (worker.pod.namespace, worker.pod.name)
            deleted = worker.snapshot.deletion_timestamp is not None
            if deleted and self._workers.get(key) is worker:
                self._remove(key, worker)
            self._notify()

    def delete_pod(self, namespace: str, name: str, grace: int | None = None) -> PodSnapshot | None:
        """Terminate a pod gracefully; it disappears (DELETED) once its containers are gone.

        Returns the pod, now carrying a deletion timestamp, or None if there is no such pod.
        """
        key = (namespace, name)
        worker = self._workers.get(key)
        if worker is None:
            return None
        worker.mark_deleted(grace)
        if worker.done:  # already finished: nothing to stop, it goes at once
            self._remove(key, worker)
            self._notify()
        return worker.snapshot

    def restart_container(self, namespace: str, name: str, container: str) -> bool:
        """Restart one running container gracefully (``PodWorker.restart_container``).

        False when there is no such pod or the container is not running.
        """
        worker = self._workers.get((namespace, name))
        return worker is not None and worker.restart_container(container)

    async def replace_pod(self, pod: Pod, *, is_static: bool = False) -> PodSnapshot:
        """Delete the pod of the same name (gracefully, waiting for it), then add ``pod``."""
        key = (pod.namespace, pod.name)
        old = self._workers.get(key)
        self.delete_pod(pod.namespace, pod.name)
        while old is not None and self._workers.get(key) is old:
            changed = self._changed
            await changed.wait()  # its removal (DELETED) comes with a notification
        return await self.add_pod(pod, is_static=is_static)

    def update_pod(self, pod: Pod) -> PodSnapshot:
        """Change the pod of the same namespace and name in place (same uid): its labels,
        annotations, container images, ``activeDeadlineSeconds``... (``PodWorker.update``).

        Which changes are allowed is the caller's to check (the API applies the
        apiserver's rule, ``minikubelet.api.pod_update``). Raises KeyError when there is
        no such pod. Returns the pod as it is now, a MODIFIED snapshot already published.
        """
        worker = self._workers.get((pod.namespace, pod.name))
        if worker is None:
            raise KeyError(f"{pod.namespace}/{pod.name}")
        worker.update(pod)
        return worker.snapshot

    async def exec_stream(
        self, namespace: str, name: str, container: str, argv: tuple[str, ...], *, tty: bool
    ) -> StreamingExec:
        """Run ``argv`` in ``container``'s context with its streams attached (``kubectl
        exec``): its environment, working dir and user, tagged as part of the container
        (killed with it). Raises KeyError when there is no such pod, LookupError when the
        container is not running, RuntimeStartError when the command cannot start."""
        worker = self._workers.get((namespace, name))
        if worker is None:
            raise KeyError(f"{namespace}/{name}")
        launch = worker.running_launch(container)
        if launch is None:
            raise LookupError(container)
        return await self.runtime.exec_stream(replace(launch, argv=argv), tty=tty)

    async def terminate_all(self, grace: int | None = None) -> None:
        """Stop every pod gracefully, in parallel, each with its own grace period (counted
        from this call)."""
        now = anyio.current_time()
        for worker in self.workers():
            worker.terminate(grace, since=now)
        await self.wait_all_done()

    def terminate(
        self, namespace: str, name: str, grace: int | None = None, since: float | None = None
    ) -> None:
        """Stop one pod gracefully without deleting it (``run``'s Ctrl-C, node shutdown);
        ``since`` as for ``PodWorker.terminate``."""
        worker = self._workers.get((namespace, name))
        if worker is not None:
            worker.terminate(grace, since)

    async def adoption_done(self) -> list[int]:
        """Every pod that was running before the daemon's restart is back: kill what the
        previous daemon left that none of them adopted (``ContainerRuntime.kill_unadopted``)."""
        return await self.runtime.kill_unadopted()

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

    def _object_changed(self, kind: WatchEventType, stored: StoredObject) -> None:
        """Wake the pods that read ``stored``: a start that failed for want of it is
        retried at once (running containers are left alone, as in Kubernetes)."""
        if kind is WatchEventType.DELETED:
            return
        wanted = (stored.kind, stored.name)
        for worker in self._workers.values():
            pod = worker.pod
            if pod.namespace == stored.namespace and wanted in referenced_objects(pod):
                worker.retry_held()

    def _remove(self, key: tuple[str, str], worker: PodWorker) -> None:
        del self._workers[key]
        self.status.remove(worker.uid)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()
