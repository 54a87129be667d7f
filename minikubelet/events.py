"""The event recorder: aggregates repeats, keeps a bounded history, tells listeners.

Every event is also a structlog line (``pod.event``) so a daemon's log alone tells the
whole story. The kubelet aggregates repeats client-side (count, first/last timestamp);
we do the same here, keyed by object, field path, type, reason and message.

What is kept is bounded four ways, each as Kubernetes bounds it (client-go's
``tools/record/events_cache.go`` for the kubelet's side, the apiserver for storage):

* **similar events are combined**: once one object has had ``MAX_SIMILAR`` events of the
  same type and reason with different messages within ``SIMILAR_INTERVAL`` (an exec
  probe's output, say), the next ones become a single series whose message says
  ``(combined from similar events): ...`` (client-go's ``EventAggregator``: 10 in 10 min,
  its state in an LRU of 4096 entries);
* **a TTL**: a series not seen again for ``EVENT_TTL`` is dropped (the apiserver's
  ``--event-ttl``, 1 h, counted from the event's last update). Pruned as events are
  recorded and when they are read, so no timer runs;
* **a count per pod**: at most ``EVENTS_PER_POD`` series per pod, its oldest go first (a
  backstop: client-go's spam filter rate-limits each object instead, dropping new events);
* **a count in all**: at most ``limit`` series, the oldest go first.

Listeners hear every recorded event (``subscribe``) and every dropped one (``on_forget``),
so nothing else keeps a reference to an event this recorder no longer has.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import structlog

from minikubelet.model.events import Event, EventType

__all__ = [
    "COMBINED_PREFIX",
    "EVENTS_PER_POD",
    "EVENT_LIMIT",
    "EVENT_TTL",
    "MAX_SIMILAR",
    "SIMILAR_INTERVAL",
    "EventRecorder",
]

Listener = Callable[[Event], None]
_log = structlog.get_logger("minikubelet.events")

EVENT_TTL = timedelta(hours=1)  # the apiserver's --event-ttl default
EVENT_LIMIT = 5000  # series kept in all
EVENTS_PER_POD = 200  # series kept per pod
MAX_SIMILAR = 10  # client-go's defaultAggregateMaxEvents
SIMILAR_INTERVAL = timedelta(minutes=10)  # client-go's defaultAggregateIntervalInSeconds
_SIMILAR_ENTRIES = 4096  # client-go's maxLruCacheEntries
COMBINED_PREFIX = "(combined from similar events): "

_Key = tuple[str, ...]
_PodKey = tuple[str, str, str]  # (namespace, pod, uid)


class EventRecorder:
    def __init__(
        self,
        clock: Callable[[], datetime],
        limit: int = EVENT_LIMIT,
        *,
        ttl: timedelta = EVENT_TTL,
        per_pod: int = EVENTS_PER_POD,
    ) -> None:
        self._clock = clock
        self._limit = limit
        self._ttl = ttl
        self._per_pod = per_pod
        # Oldest last occurrence first: a repeat moves its series to the end.
        self._events: OrderedDict[_Key, Event] = OrderedDict()
        # Each pod's series, oldest first (plain dicts: a pod has few, an OrderedDict costs
        # twice as much; "move to the end" is pop and insert).
        self._by_pod: dict[_PodKey, dict[_Key, None]] = {}
        # aggregate key -> (the messages seen, when the last one came): client-go's
        # aggregateRecord, in an LRU; oldest first, and dropped once SIMILAR_INTERVAL old.
        self._similar: OrderedDict[_Key, tuple[tuple[str, ...], datetime]] = OrderedDict()
        self._listeners: list[Listener] = []
        self._forget_listeners: list[Listener] = []
        self._ids = itertools.count(1)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` for every event from now on; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def on_forget(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every series dropped from now on (expired, or over a
        bound); returns the unsubscribe function."""
        self._forget_listeners.append(listener)
        return lambda: self._forget_listeners.remove(listener)

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
        self._expire(now)
        key: _Key = (namespace, pod, pod_uid, field_path, type.value, reason, message)
        if key not in self._events:
            key, message = self._aggregate(key, message, now)
        previous = self._events.pop(key, None)
        if previous is not None:
            event = replace(previous, count=previous.count + 1, last_timestamp=now, message=message)
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
        mine = self._by_pod.setdefault((namespace, pod, pod_uid), {})
        mine.pop(key, None)
        mine[key] = None
        while len(mine) > self._per_pod:
            self._drop(next(iter(mine)))
        while len(self._events) > self._limit:
            self._drop(next(iter(self._events)))
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
        self._expire(self._clock())
        return [
            event
            for event in self._events.values()
            if (namespace is None or event.namespace == namespace)
            and (pod is None or event.pod == pod)
        ]

    def __len__(self) -> int:
        return len(self._events)

    # -- bounds ----------------------------------------------------------------------

    def _aggregate(self, key: _Key, message: str, now: datetime) -> tuple[_Key, str]:
        """A new series' key and message: itself, or the object's combined series once
        it had ``MAX_SIMILAR`` different messages for this type and reason (client-go's
        ``EventAggregator.EventAggregate``)."""
        similar = key[:3] + key[4:6]  # the object, type and reason; not the field path
        messages, last = self._similar.pop(similar, ((), now))
        if now - last > SIMILAR_INTERVAL:
            messages = ()
        if message not in messages:
            messages = (*messages, message)
        combined = len(messages) >= MAX_SIMILAR
        if combined:  # it never grows past MAX_SIMILAR (client-go pops one)
            messages = messages[: MAX_SIMILAR - 1]
        self._similar[similar] = (messages, now)
        while self._similar:  # stale records go (their messages are new again anyway)
            oldest, (_, seen) = next(iter(self._similar.items()))
            if now - seen <= SIMILAR_INTERVAL and len(self._similar) <= _SIMILAR_ENTRIES:
                break
            del self._similar[oldest]
        if not combined:
            return key, message
        return (*key[:6], COMBINED_PREFIX), COMBINED_PREFIX + message

    def _expire(self, now: datetime) -> None:
        cutoff = now - self._ttl
        while self._events:
            key, oldest = next(iter(self._events.items()))
            if oldest.last_timestamp >= cutoff:
                return
            self._drop(key)

    def _drop(self, key: _Key) -> None:
        event = self._events.pop(key)
        pod_key = (event.namespace, event.pod, event.pod_uid)
        mine = self._by_pod.get(pod_key)
        if mine is not None:
            mine.pop(key, None)
            if not mine:
                del self._by_pod[pod_key]
        # The aggregation record goes with the object's last series of that type and reason.
        similar = key[:3] + key[4:6]
        if not any(other[:3] + other[4:6] == similar for other in mine or ()):
            self._similar.pop(similar, None)
        for listener in list(self._forget_listeners):
            listener(event)
