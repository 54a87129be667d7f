"""One global resourceVersion for pods, events, ConfigMaps and Secrets, and the history that
watches replay.

kubectl lists, then watches from the list's ``resourceVersion`` about 40 ms later
(client-go's reflector); a change in between must not be lost (a pod that vanished in
that window made ``kubectl delete pods --all`` hang). So every change the kubelet
reports (a pod ADDED, MODIFIED, DELETED; an event recorded or counted again) takes the
next version of one monotonic counter and is kept, as the object at that moment, in a
bounded history. A watch from version N replays every kept change after N; a watch from
a version older than the history gets a 410 ``Expired`` and relists.

Cost: the kubelet reports changes from inside its pod workers, so recording one must be
cheap. A change keeps only the immutable object of that moment (a ``PodSnapshot``, an
``Event``); its JSON is rendered when first asked for — by a watcher or a list — and kept,
encoded, so a list of 500 pods joins ready-made bytes instead of serializing 500 pods.

The counter starts at the daemon's start time in milliseconds, and above every version an
earlier daemon on the same root dir handed out (``VersionReservation``), so versions only
ever grow: a client's version from an earlier daemon is older than this one's history
(410, relist), never mistaken for a version of this run.

Memory is bounded like the apiserver's watch cache (``storage/cacher/watch_cache.go``: a
fixed-capacity ring of recent changes; an older version gets 410 Expired):

* the history keeps the newest ``history`` changes (trimmed in small steps, so it never
  holds much more);
* a change superseded by a newer one of the same object keeps only its encoded bytes
  (``Snapshot.compact``): the decoded JSON, several times larger, is rebuilt on the rare
  replay that needs it. Events are kept compact from the start (there can be thousands);
* the current objects are those the kubelet still has: a pod leaves on ``DELETED``, an
  event when the recorder drops it (expired, or over its bounds: ``EventRecorder.on_forget``).
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import structlog

from minikubelet.api.defaults import pod_with_defaults
from minikubelet.api.objects import object_json
from minikubelet.api.serialize import event_json, pod_json
from minikubelet.api.types import JSON
from minikubelet.kubelet import Kubelet
from minikubelet.model.events import Event
from minikubelet.model.snapshot import PodSnapshot, WatchEventType
from minikubelet.objects import StoredObject
from minikubelet.rootdir import write_private

__all__ = ["HISTORY", "Change", "ChangeLog", "Snapshot", "VersionReservation", "encode"]

_log = structlog.get_logger("minikubelet.server.changes")

# Changes kept for watches that resume from a version. kubectl resumes ~40 ms after its
# list; a client further behind than this many changes relists (410), as it would from
# an apiserver whose watch cache has moved on.
HISTORY = 4096


def encode(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


class Snapshot:
    """An object at one version: rendered on first use, then kept (dict and bytes)."""

    __slots__ = ("_compact", "_data", "_obj", "_render", "version")

    def __init__(self, version: int, render: Callable[[], JSON]) -> None:
        self.version = version
        self._render: Callable[[], JSON] | None = render
        self._obj: JSON | None = None
        self._data: bytes | None = None
        self._compact = False

    @property
    def obj(self) -> JSON:
        """The object's JSON. Shared: read it, never change it."""
        if self._obj is not None:
            return self._obj
        if self._compact and self._data is not None:
            obj: JSON = json.loads(self._data)  # superseded: decoded again, not kept
            return obj
        assert self._render is not None
        obj = self._render()
        obj["metadata"]["resourceVersion"] = str(self.version)
        self._render = None
        if self._compact:
            self._data = encode(obj)
        else:
            self._obj = obj
        return obj

    def compact(self) -> None:
        """A newer version of the object exists: keep the bytes only (a few times smaller
        than the decoded dict), or the renderer if nobody asked for either yet."""
        self._compact = True
        if self._obj is not None:
            if self._data is None:
                self._data = encode(self._obj)
            self._obj = None

    @property
    def data(self) -> bytes:
        if self._data is None:
            obj = self.obj  # a compact snapshot sets _data while rendering
            if self._data is None:
                self._data = encode(obj)
        return self._data


@dataclass(frozen=True)
class Change:
    type: WatchEventType
    resource: str  # pods, events, configmaps, secrets, or any resource ``publish``es
    snapshot: Snapshot

    @property
    def version(self) -> int:
        return self.snapshot.version


class VersionReservation:
    """The resourceVersions reserved on disk, so a daemon restarted on the same root dir,
    even after ``kill -9``, starts above every version its predecessor handed out.

    The file holds the top of the reserved block; a version past it reserves the next
    ``BLOCK`` with one small atomic write (``rootdir.write_private``), so writing costs
    one write per ``BLOCK`` changes, and reading it back gives a floor that is never
    below a version already seen by a client. A file that cannot be read or written is
    logged: versions then start at the wall clock, as without a reservation.
    """

    BLOCK = 10_000

    def __init__(self, path: Path) -> None:
        self.path = path
        self.floor = 0
        self._reserved = 0
        try:
            self.floor = int(path.read_text().strip() or 0) + 1
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as error:
            _log.warning("resource_version.unreadable", file=str(path), error=str(error))

    def cover(self, version: int) -> None:
        """Make sure ``version`` is within the reserved block."""
        if version <= self._reserved:
            return
        reserved = version + self.BLOCK
        try:
            write_private(self.path, f"{reserved}\n".encode())
        except OSError as error:
            _log.warning("resource_version.not_saved", file=str(self.path), error=str(error))
        self._reserved = reserved


class ChangeLog:
    """The kubelet's pods and events as versioned objects; wakes watchers on change."""

    def __init__(
        self,
        kubelet: Kubelet,
        history: int = HISTORY,
        reservation: VersionReservation | None = None,
    ) -> None:
        self._kubelet = kubelet
        self._node = kubelet.settings.node_name
        self._limit = history
        self._reservation = reservation
        self._version = int(kubelet.clock().timestamp() * 1000)
        if reservation is not None:
            self._version = max(self._version, reservation.floor)
            reservation.cover(self._version)
        self._floor = self._version  # changes at or below this are no longer kept
        self._history: list[Change] = []
        self._pods: dict[str, Snapshot] = {}  # by pod uid
        self._events: dict[str, Snapshot] = {}
        self._objects: dict[str, Snapshot] = {}  # ConfigMaps and Secrets, by uid
        self._changed = anyio.Event()
        self.closing = anyio.Event()  # set when the server stops: streams end
        self.watchers = 0  # open watch streams (the watch module counts them)

    def attach(self) -> Callable[[], None]:
        """Start following the kubelet; returns the function that stops it."""
        for pod in self._kubelet.snapshots():
            self._pods[pod.uid] = self._pod_snapshot(pod, self._version)
        for event in self._kubelet.recorder.events():
            self._events[event.name] = self._event_snapshot(event, self._version)
        for stored in self._kubelet.objects.all():
            self._objects[stored.uid] = self._object_snapshot(stored, self._version)
        stop_pods = self._kubelet.watch(self.publish_pod)
        stop_events = self._kubelet.recorder.subscribe(self.publish_event)
        stop_objects = self._kubelet.objects.watch(self.publish_object)
        stop_forgetting = self._kubelet.recorder.on_forget(self.forget_event)

        def detach() -> None:
            stop_pods()
            stop_events()
            stop_objects()
            stop_forgetting()

        return detach

    @property
    def version(self) -> int:
        return self._version

    @property
    def oldest(self) -> int:
        """The oldest version a watch may still start from (older ones are Expired)."""
        return self._floor

    # -- objects ---------------------------------------------------------------------

    def pod(self, pod: PodSnapshot) -> Snapshot:
        """The pod as of its last change (every change of a pod is published here)."""
        snapshot = self._pods.get(pod.uid)
        if snapshot is None:  # already gone (DELETED): as it was last seen
            snapshot = self._pod_snapshot(pod, self._version)
        return snapshot

    def event(self, event: Event) -> Snapshot:
        snapshot = self._events.get(event.name)
        if snapshot is None:
            snapshot = self._event_snapshot(event, self._version)
        return snapshot

    def object(self, stored: StoredObject) -> Snapshot:
        """A ConfigMap or Secret as of its last change."""
        snapshot = self._objects.get(stored.uid)
        if snapshot is None:  # already gone (DELETED): as it was last seen
            snapshot = self._object_snapshot(stored, self._version)
        return snapshot

    def _object_snapshot(self, stored: StoredObject, version: int) -> Snapshot:
        return Snapshot(version, lambda: object_json(stored))

    def _pod_snapshot(self, pod: PodSnapshot, version: int) -> Snapshot:
        # Served as the apiserver stores it: defaulted (``ports[].protocol: TCP``, ...).
        return Snapshot(version, lambda: pod_with_defaults(pod_json(pod, self._node)))

    def _event_snapshot(self, event: Event, version: int) -> Snapshot:
        # Compact from the start: up to 5000 events are current at once, and their bytes
        # are a third of their decoded JSON; a list decodes them again (a few µs each).
        snapshot = Snapshot(version, lambda: event_json(event, self._node))
        snapshot.compact()
        return snapshot

    # -- changes ---------------------------------------------------------------------

    def publish(self, resource: str, type: WatchEventType, render: Callable[[], JSON]) -> Snapshot:
        """Record a change of any other resource (its object rendered on first use) and
        return the object at its new version; list and get it from there."""
        snapshot = Snapshot(self._next(), render)
        self._append(Change(type, resource, snapshot))
        return snapshot

    def publish_pod(self, type: WatchEventType, pod: PodSnapshot) -> None:
        """Record a pod change (a ``Kubelet.watch`` listener)."""
        snapshot = self._pod_snapshot(pod, self._next())
        if type is WatchEventType.DELETED:
            previous = self._pods.pop(pod.uid, None)
            snapshot.compact()  # nothing newer will come, and nobody lists a gone pod
        else:
            previous = self._pods.get(pod.uid)
            self._pods[pod.uid] = snapshot
        if previous is not None:
            previous.compact()
        self._append(Change(type, "pods", snapshot))

    def publish_event(self, event: Event) -> None:
        previous = self._events.get(event.name)
        type = WatchEventType.ADDED if previous is None else WatchEventType.MODIFIED
        snapshot = self._event_snapshot(event, self._next())
        self._events[event.name] = snapshot
        if previous is not None:
            previous.compact()
        self._append(Change(type, "events", snapshot))

    def publish_object(self, type: WatchEventType, stored: StoredObject) -> None:
        """Record a ConfigMap or Secret change (an ``ObjectStore.watch`` listener)."""
        snapshot = self._object_snapshot(stored, self._next())
        if type is WatchEventType.DELETED:
            self._objects.pop(stored.uid, None)
        else:
            self._objects[stored.uid] = snapshot
        self._append(Change(type, stored.kind.resource, snapshot))

    def forget_event(self, event: Event) -> None:
        """The recorder dropped ``event`` (an ``EventRecorder.on_forget`` listener)."""
        snapshot = self._events.pop(event.name, None)
        if snapshot is not None:
            snapshot.compact()

    def since(self, version: int) -> list[Change] | None:
        """Every kept change after ``version``; None when that version is no longer kept."""
        if version < self._floor or version > self._version:
            return None
        start = bisect.bisect_right(self._history, version, key=lambda change: change.version)
        return self._history[start:]

    async def wait(self, version: int) -> None:
        """Return once there is a change after ``version``, or the server is closing."""
        while self._version <= version and not self.closing.is_set():
            await self._changed.wait()

    def close(self) -> None:
        self.closing.set()
        self._wake()

    def _next(self) -> int:
        self._version += 1
        if self._reservation is not None:
            self._reservation.cover(self._version)
        return self._version

    def _append(self, change: Change) -> None:
        self._history.append(change)
        # Trimmed by an eighth at a time: amortized O(1), never more than 9/8 of the bound.
        if len(self._history) > self._limit + max(self._limit // 8, 1):
            dropped = len(self._history) - self._limit
            self._floor = self._history[dropped - 1].version
            del self._history[:dropped]
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()
