"""The status manager: each pod's API status, its signal trace, and the snapshots others read.

Like the kubelet's ``pkg/kubelet/status/status_manager.go``, this is the one place a pod's
status leaves the engine. Pod workers report what they observed (``PodStatusKeeper``); the
keeper computes the status with the pure ``logic.pod_status`` and, when anything a client
could see changed, publishes a new immutable ``PodSnapshot`` to the listeners (the API's
change log, the API pod store, the static pod source, ``run``'s printer). Nobody outside
the engine holds a pod worker: the server serializes snapshots.

Cost: a worker reports at most once per wake-up (its ``sync_once``), so a burst of
changes within one event-loop turn costs one status computation and one notification.

Beside the status, each pod keeps its trace: every lifecycle step with its time (a bounded
ring, ``TRACE_LIMIT``), and per container the steps of its last stop, from ``Killing`` to
``Exited`` (what ``describe`` shows; at most ``STOP_TRACE_LIMIT`` steps).

Memory: what a pod keeps here is bounded whatever it does (a container restarting 10,000
times keeps its newest ``TRACE_LIMIT`` steps and one stop per container; its instances are
the newest two, in ``ContainerRecord``, as the kubelet's container GC keeps one dead
container per container: ``MaxPerPodContainer`` in ``pkg/kubelet/container/container_gc.go``),
and all of it goes with the keeper when the pod is removed. Listeners are the callers' to
unsubscribe; a snapshot holds only immutable values, never a keeper or a worker.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import anyio
import structlog

from minikubelet.logic.pod_status import Observed, pod_status
from minikubelet.model.observed import ContainerRecord
from minikubelet.model.snapshot import PodSnapshot, WatchEventType
from minikubelet.model.spec import Pod
from minikubelet.model.status import PodPhase, PodStatus
from minikubelet.model.trace import Step, TraceEntry

__all__ = [
    "STOP_TRACE_LIMIT",
    "TRACE_LIMIT",
    "PodListener",
    "PodStatusKeeper",
    "StatusManager",
    "TraceListener",
    "empty_records",
]

_log = structlog.get_logger("minikubelet.pod")

TRACE_LIMIT = 2000  # steps kept per pod
STOP_TRACE_LIMIT = 100  # steps kept of one container's last stop (a stop takes about 8)

PodListener = Callable[[WatchEventType, PodSnapshot], None]
TraceListener = Callable[[TraceEntry], None]


def empty_records(pod: Pod) -> dict[str, ContainerRecord]:
    """A new pod's records: every container, init containers first, with no instance."""
    return {c.name: ContainerRecord(c.name) for c in pod.spec.init_containers + pod.spec.containers}


class PodStatusKeeper:
    """One pod's status and trace, as its worker reports them."""

    def __init__(
        self,
        manager: StatusManager,
        pod: Pod,
        uid: str,
        *,
        is_static: bool,
        created_at: datetime,
        log_dir: Path,
        records: Mapping[str, ContainerRecord],
    ) -> None:
        self._manager = manager
        self._clock = manager.clock
        records = dict(records)
        self._observed = Observed(records, is_static=is_static)
        empty = PodStatus(phase=PodPhase.PENDING, start_time=created_at)
        status = pod_status(pod.spec, self._observed, empty, created_at)
        self._snapshot = PodSnapshot(
            pod=pod,
            uid=uid,
            is_static=is_static,
            created_at=created_at,
            status=status,
            records=records,
            log_dir=log_dir,
        )
        self._label = f"{pod.namespace}/{pod.name}"  # one string shared by every trace step
        self.trace: deque[TraceEntry] = deque(maxlen=TRACE_LIMIT)
        self.last_termination: dict[str, list[TraceEntry]] = {}
        self._recording_stop: set[str] = set()
        self._trace_listeners: list[TraceListener] = []
        self._listeners: list[Callable[[PodSnapshot], None]] = []

    @property
    def snapshot(self) -> PodSnapshot:
        return self._snapshot

    @property
    def label(self) -> str:
        return self._label

    # -- what the worker reports ---------------------------------------------------

    def update(
        self,
        records: Mapping[str, ContainerRecord],
        *,
        terminal: bool,
        has_initialized: bool,
        deadline_exceeded: bool,
    ) -> None:
        """What the worker observes now; publishes a new snapshot if a client could see it."""
        observed = Observed(
            dict(records),
            terminal=terminal,
            has_initialized=has_initialized,
            deadline_exceeded=deadline_exceeded,
            is_static=self._snapshot.is_static,
        )
        if observed == self._observed:
            return
        self._observed = observed
        previous = self._snapshot.status
        status = pod_status(self._snapshot.pod.spec, observed, previous, self._clock())
        if status.phase is not previous.phase:
            _log.info(
                "pod.phase", pod=self.label, phase=status.phase.value, previous=previous.phase.value
            )
        snapshot = replace(self._snapshot, status=status, records=observed.records)
        if status != previous:
            self._publish(snapshot)
        else:
            # Only the records moved on (a pid, a post-start flag the status hides): log
            # readers see them, watchers are not told of a change they cannot see.
            self._snapshot = snapshot

    def mark_deleted(self, grace: int, *, announce: bool = True) -> None:
        """The pod shows a deletion timestamp (set once) and the grace it was given.

        ``announce`` False: no MODIFIED for it (a finished pod is removed at once, and
        watchers see one DELETED, as the apiserver sends for a pod deleted with grace 0).
        """
        snapshot = self._snapshot
        timestamp = snapshot.deletion_timestamp or self._clock()
        if (timestamp, grace) == (snapshot.deletion_timestamp, snapshot.deletion_grace):
            return
        deleted = replace(snapshot, deletion_timestamp=timestamp, deletion_grace=grace)
        if announce:
            self._publish(deleted)
        else:
            self._snapshot = deleted

    def replace_pod(self, pod: Pod) -> None:
        """The pod's definition changed in place (``PodWorker.update``): a MODIFIED snapshot.

        The status is computed again from the same observations with the new spec (a new
        image shows in ``containerStatuses[].image``).
        """
        snapshot = self._snapshot
        status = pod_status(pod.spec, self._observed, snapshot.status, self._clock())
        self._publish(replace(snapshot, pod=pod, status=status))

    def mark_finished(self) -> None:
        """The worker is done (not an API change: nothing is published)."""
        self._snapshot = replace(self._snapshot, finished=True)

    def step(self, container: str, step: Step, detail: str) -> None:
        """One lifecycle step of ``container``, timed now."""
        entry = TraceEntry(anyio.current_time(), self._clock(), self.label, container, step, detail)
        self.trace.append(entry)
        if container in self._recording_stop:
            steps = self.last_termination[container]
            if len(steps) < STOP_TRACE_LIMIT:  # a stop that never ends keeps its first steps
                steps.append(entry)
        for listener in list(self._trace_listeners):
            listener(entry)

    def begin_stop(self, container: str) -> None:
        """Steps of ``container`` from now on are its last termination (until it exits)."""
        self.last_termination[container] = []
        self._recording_stop.add(container)

    def end_stop(self, container: str) -> None:
        self._recording_stop.discard(container)

    def on_change(self, listener: Callable[[PodSnapshot], None]) -> Callable[[], None]:
        """Call ``listener`` with every snapshot published from now on; returns the
        unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def on_trace(self, listener: TraceListener) -> Callable[[], None]:
        """Call ``listener`` for every lifecycle step from now on; returns the unsubscribe."""
        self._trace_listeners.append(listener)
        return lambda: self._trace_listeners.remove(listener)

    def _publish(self, snapshot: PodSnapshot) -> None:
        self._snapshot = snapshot
        self._manager.tell(WatchEventType.MODIFIED, snapshot)
        for listener in list(self._listeners):
            listener(snapshot)


class StatusManager:
    """Every pod's keeper, and the listeners that hear about pods coming and changing."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self._keepers: dict[str, PodStatusKeeper] = {}
        self._listeners: list[PodListener] = []

    def add(
        self,
        pod: Pod,
        uid: str,
        *,
        is_static: bool,
        created_at: datetime,
        log_dir: Path,
        records: Mapping[str, ContainerRecord],
    ) -> PodStatusKeeper:
        """Keep pod ``uid``'s status, from its containers' ``records`` (``empty_records``
        for a new pod), and tell the listeners it was ADDED."""
        keeper = PodStatusKeeper(
            self,
            pod,
            uid,
            is_static=is_static,
            created_at=created_at,
            log_dir=log_dir,
            records=records,
        )
        self._keepers[uid] = keeper
        self.tell(WatchEventType.ADDED, keeper.snapshot)
        return keeper

    def remove(self, uid: str) -> None:
        """The pod is gone: listeners hear DELETED with its final snapshot."""
        keeper = self._keepers.pop(uid, None)
        if keeper is not None:
            self.tell(WatchEventType.DELETED, keeper.snapshot)

    def keeper(self, uid: str) -> PodStatusKeeper | None:
        return self._keepers.get(uid)

    def snapshots(self) -> list[PodSnapshot]:
        return [keeper.snapshot for keeper in self._keepers.values()]

    def watch(self, listener: PodListener) -> Callable[[], None]:
        """Call ``listener(type, snapshot)`` for every pod ADDED, MODIFIED and DELETED."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def tell(self, kind: WatchEventType, snapshot: PodSnapshot) -> None:
        for listener in list(self._listeners):
            listener(kind, snapshot)
