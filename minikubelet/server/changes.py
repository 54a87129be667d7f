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

The counter starts at the daemon's start time in milliseconds, so versions a client
kept from an earlier daemon are older than this one's history (410, relist) rather than
mistaken for versions of this run.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from minikubelet.api.defaults import pod_with_defaults
from minikubelet.api.objects import object_json
from minikubelet.api.serialize import event_json, pod_json
from minikubelet.api.types import JSON
from minikubelet.kubelet import Kubelet
from minikubelet.model.events import Event
from minikubelet.model.snapshot import PodSnapshot, WatchEventType
from minikubelet.objects import StoredObject

__all__ = ["Change", "ChangeLog", "Snapshot", "encode"]


def encode(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


class Snapshot:
    """An object at one version: rendered on first use, then kept (dict and bytes)."""

    __slots__ = ("_data", "_obj", "_render", "version")

    def __init__(self, version: int, render: Callable[[], JSON]) -> None:
        self.version = version
        self._render: Callable[[], JSON] | None = render
        self._obj: JSON | None = None
        self._data: bytes | None = None

    @property
    def obj(self) -> JSON:
        """The object's JSON. Shared: read it, never change it."""
        if self._obj is None:
            assert self._render is not None
            self._obj = self._render()
            self._obj["metadata"]["resourceVersion"] = str(self.version)
            self._render = None
        return self._obj

    @property
    def data(self) -> bytes:
        if self._data is None:
            self._data = encode(self.obj)
        return self._data


@dataclass(frozen=True)
class Change:
    type: WatchEventType
    resource: str  # pods, events, configmaps, secrets, or any resource ``publish``es
    snapshot: Snapshot

    @property
    def version(self) -> int:
        return self.snapshot.version


class ChangeLog:
    """The kubelet's pods and events as versioned objects; wakes watchers on change."""

    def __init__(self, kubelet: Kubelet, history: int = 4096) -> None:
        self._kubelet = kubelet
        self._node = kubelet.settings.node_name
        self._limit = history
        self._version = int(kubelet.clock().timestamp() * 1000)
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

        def detach() -> None:
            stop_pods()
            stop_events()
            stop_objects()

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
        return Snapshot(version, lambda: event_json(event, self._node))

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
            self._pods.pop(pod.uid, None)
        else:
            self._pods[pod.uid] = snapshot
        self._append(Change(type, "pods", snapshot))

    def publish_event(self, event: Event) -> None:
        type = WatchEventType.MODIFIED if event.name in self._events else WatchEventType.ADDED
        snapshot = self._event_snapshot(event, self._next())
        self._events[event.name] = snapshot
        if len(self._events) > 4 * self._limit:
            alive = {e.name for e in self._kubelet.recorder.events()}
            self._events = {name: s for name, s in self._events.items() if name in alive}
        self._append(Change(type, "events", snapshot))

    def publish_object(self, type: WatchEventType, stored: StoredObject) -> None:
        """Record a ConfigMap or Secret change (an ``ObjectStore.watch`` listener)."""
        snapshot = self._object_snapshot(stored, self._next())
        if type is WatchEventType.DELETED:
            self._objects.pop(stored.uid, None)
        else:
            self._objects[stored.uid] = snapshot
        self._append(Change(type, stored.kind.resource, snapshot))

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
        return self._version

    def _append(self, change: Change) -> None:
        self._history.append(change)
        if len(self._history) > 2 * self._limit:
            dropped = len(self._history) - self._limit
            self._floor = self._history[dropped - 1].version
            del self._history[:dropped]
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()
