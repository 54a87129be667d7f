"""Every in-memory history has a bound: events, the API's change log, traces, probe series.

Each bound is checked by going past it, on the structure itself (no processes), with an
injected clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from minikubelet.events import (
    COMBINED_PREFIX,
    EVENT_TTL,
    MAX_SIMILAR,
    SIMILAR_INTERVAL,
    EventRecorder,
)
from minikubelet.manifest import load_text
from minikubelet.model.events import Event, EventType
from minikubelet.model.probe import ProbeKind, ProbeResult
from minikubelet.model.trace import Step
from minikubelet.prober.stats import ProbeLabels, ProbeStats
from minikubelet.server.changes import Snapshot
from minikubelet.status_manager import STOP_TRACE_LIMIT, TRACE_LIMIT, StatusManager, empty_records


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def record(
    recorder: EventRecorder, pod: str = "p", reason: str = "Started", message: str = "m"
) -> Event:
    return recorder.record(
        namespace="default",
        pod=pod,
        pod_uid=f"uid-{pod}",
        type=EventType.NORMAL,
        reason=reason,
        message=message,
        field_path="spec.containers{c}",
    )


# -- events --------------------------------------------------------------------------------


def test_repeats_are_counted_not_kept() -> None:
    recorder = EventRecorder(Clock())
    for _ in range(10_000):
        event = record(recorder)
    assert len(recorder) == 1
    assert event.count == 10_000


def test_events_expire_after_the_ttl_counted_from_their_last_update() -> None:
    clock = Clock()
    recorder = EventRecorder(clock)
    forgotten: list[Event] = []
    recorder.on_forget(forgotten.append)
    record(recorder, message="old")
    record(recorder, message="refreshed")
    clock.advance(EVENT_TTL / 2)
    record(recorder, message="refreshed")  # an update restarts its TTL
    clock.advance(EVENT_TTL / 2 + timedelta(seconds=1))
    # Pruned lazily on read: no timer.
    assert [e.message for e in recorder.events()] == ["refreshed"]
    assert [e.message for e in forgotten] == ["old"]
    clock.advance(EVENT_TTL)
    record(recorder, pod="other")  # and on insert
    assert [e.pod for e in recorder.events()] == ["other"]
    assert len(forgotten) == 2


def test_the_total_count_is_bounded_oldest_first() -> None:
    recorder = EventRecorder(Clock(), limit=100, per_pod=10)
    forgotten: list[Event] = []
    recorder.on_forget(forgotten.append)
    for i in range(1000):
        record(recorder, pod=f"p{i}")
    assert len(recorder) == 100
    assert recorder.events()[0].pod == "p900"
    assert len(forgotten) == 900


def test_one_pod_keeps_at_most_its_bound_and_leaves_the_others_alone() -> None:
    recorder = EventRecorder(Clock(), per_pod=20)
    record(recorder, pod="quiet")
    for i in range(500):
        record(recorder, pod="noisy", reason=f"R{i}")  # distinct reasons: never combined
    assert len(recorder.events(pod="noisy")) == 20
    assert recorder.events(pod="noisy")[-1].reason == "R499"
    assert len(recorder.events(pod="quiet")) == 1


def test_similar_events_are_combined_as_client_go_does() -> None:
    clock = Clock()
    recorder = EventRecorder(clock)
    for i in range(100):
        record(recorder, reason="Unhealthy", message=f"Liveness probe failed: output {i}")
    events = recorder.events()
    assert len(events) == MAX_SIMILAR
    combined = events[-1]
    assert combined.message == COMBINED_PREFIX + "Liveness probe failed: output 99"
    assert combined.count == 100 - (MAX_SIMILAR - 1)
    # After the interval, messages are new again.
    clock.advance(SIMILAR_INTERVAL + timedelta(seconds=1))
    record(recorder, reason="Unhealthy", message="Liveness probe failed: later")
    assert recorder.events()[-1].message == "Liveness probe failed: later"


# -- the API's change log --------------------------------------------------------------------


def test_a_compact_snapshot_keeps_bytes_and_decodes_on_demand() -> None:
    renders = []

    def render() -> dict[str, object]:
        renders.append(1)
        return {"metadata": {"name": "x"}, "big": list(range(100))}

    snapshot = Snapshot(7, render)
    first = snapshot.obj
    assert first["metadata"] == {"name": "x", "resourceVersion": "7"}
    snapshot.compact()
    assert snapshot.obj == first
    assert snapshot.obj is not first  # rebuilt, not kept
    assert snapshot.data == b'{"metadata":{"name":"x","resourceVersion":"7"},"big":' + (
        str(list(range(100))).replace(" ", "").encode() + b"}"
    )
    assert len(renders) == 1
    never = Snapshot(8, render)
    never.compact()
    assert never.data.startswith(b'{"metadata":{"name":"x","resourceVersion":"8"}')
    assert never.obj["metadata"]["resourceVersion"] == "8"
    assert len(renders) == 2


# -- probe series ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(ProbeKind))
def test_probe_series_of_a_gone_container_are_forgotten(kind: ProbeKind) -> None:
    stats = ProbeStats()
    labels = ProbeLabels(kind, "c", "p", "default", "uid")
    other = ProbeLabels(kind, "c", "q", "default", "uid2")
    for result in (ProbeResult.SUCCESS, ProbeResult.FAILURE, ProbeResult.UNKNOWN):
        stats.observe(labels, result, 0.01)
        stats.observe(other, result, 0.01)
    stats.forget(labels)
    assert all(key[0] == other for key in stats.totals)
    assert set(stats.durations) == {other}


# -- a pod's trace ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_pods_trace_and_last_stop_are_rings(tmp_path: Path) -> None:
    (pod,) = load_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
        "spec: {containers: [{name: c, image: i, command: [x]}]}\n",
        None,
    ).pods
    keeper = StatusManager(Clock()).add(
        pod,
        "uid",
        is_static=False,
        created_at=Clock()(),
        log_dir=tmp_path,
        records=empty_records(pod),
    )
    for i in range(TRACE_LIMIT * 3):
        keeper.step("c", Step.RESTART, f"#{i}")
    assert len(keeper.trace) == TRACE_LIMIT
    assert keeper.trace[-1].detail == f"#{TRACE_LIMIT * 3 - 1}"
    keeper.begin_stop("c")
    for i in range(STOP_TRACE_LIMIT * 5):  # a stop that never ends
        keeper.step("c", Step.SIGNAL, f"#{i}")
    assert len(keeper.last_termination["c"]) == STOP_TRACE_LIMIT
    assert len({id(entry.pod) for entry in keeper.trace}) == 1  # one label string, shared
