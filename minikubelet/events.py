"""The event recorder: aggregates repeats, keeps a bounded history, tells listeners.

Every event is also a structlog line (``pod.event``) so a daemon's log alone tells the
whole story. The kubelet aggregates repeats client-side (count, first/last timestamp);
we do the same here, keyed by object, field path, type, reason and message.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import structlog

from minikubelet.model.events import Event, EventType

__all__ = ["EventRecorder"]

Listener = Callable[[Event], None]
_log = structlog.get_logger("minikubelet.events")


class EventRecorder:
    def __init__(self, clock: Callable[[], datetime], limit: int = 5000) -> None:
        self._clock = clock
        self._limit = limit
        self._events: OrderedDict[tuple[str, ...], Event] = OrderedDict()
        self._listeners: list[Listener] = []
        self._ids = itertools.count(1)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` for every event from now on; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def record(
        self,
        *,
        namespace: str,
        pod: str,
        pod_uid: str,
        type: EventType,
        reason: str,
        message: str,
        field_path: str = "",
    ) -> Event:
        now = self._clock()
        key = (namespace, pod, pod_uid, field_path, type.value, reason, message)
        previous = self._events.pop(key, None)
        if previous is not None:
            event = replace(previous, count=previous.count + 1, last_timestamp=now)
        else:
            suffix = f"{int(now.timestamp() * 1e9):x}{next(self._ids):04x}"
            event = Event(
                name=f"{pod}.{suffix}",
                namespace=namespace,
                pod=pod,
                pod_uid=pod_uid,
                field_path=field_path,
                type=type,
                reason=reason,
                message=message,
                first_timestamp=now,
                last_timestamp=now,
            )
        self._events[key] = event
        while len(self._events) > self._limit:
            self._events.popitem(last=False)
        _log.info(
            "pod.event",
            pod=f"{namespace}/{pod}",
            object=field_path or None,
            type=type.value,
            reason=reason,
            message=message,
            count=event.count,
        )
        for listener in list(self._listeners):
            listener(event)
        return event

    def events(self, namespace: str | None = None, pod: str | None = None) -> list[Event]:
        """Recorded events, oldest first by last occurrence, optionally for one pod."""
        return [
            event
            for event in self._events.values()
            if (namespace is None or event.namespace == namespace)
            and (pod is None or event.pod == pod)
        ]
