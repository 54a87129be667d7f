"""What the dashboard shows, from sample JSON: rows, filters, containers, probes, events."""

from __future__ import annotations

import pytest

from minikubelet.cli.client.top import Usage
from minikubelet.ui.state import (
    PodStore,
    container_lines,
    event_lines,
    matches_filter,
    pod_lines,
    status_tone,
)
from tests.cli.samples import NOW, container_status, event, pod, running, terminated, waiting


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("we", True),
        ("WEB", True),
        ("db", False),
        ("app=web", True),
        ("app=db", False),
        ("app==web", True),
        ("app!=db", True),
        ("app!=web", False),
        ("tier", False),
        ("!tier", True),
        ("app", False),  # no "=": a name filter, and "web" does not contain "app"
        ("app=web,tier=front", False),
        ("app=web,!tier", True),
    ],
)
def test_the_filter_is_a_name_or_a_label_selector(text: str, expected: bool) -> None:
    assert matches_filter(pod("web", labels={"app": "web"}), text) is expected


def test_pod_lines_are_get_pods_rows_with_cpu_and_memory() -> None:
    crashing = pod(
        "crash",
        statuses=[
            container_status(
                "crash",
                waiting("CrashLoopBackOff"),
                restarts=5,
                last=terminated(1, "Error", started=70, finished=65),
            )
        ],
    )
    pods = [pod("web", created=7200), crashing, pod("api", namespace="team")]
    usage = {"default/web": Usage("default", "web", "", 3_200_000, 25 * 1024 * 1024)}
    lines = pod_lines(pods, usage, NOW)
    assert [line.cells for line in lines] == [
        ("web", "1/1", "Running", "0", "120m", "4m", "25Mi"),
        ("crash", "0/1", "CrashLoopBackOff", "5 (65s ago)", "5m", "-", "-"),
        ("team/api", "1/1", "Running", "0", "5m", "-", "-"),
    ]
    assert [line.key for line in pod_lines(pods, usage, NOW, "cr")] == ["default/crash"]


@pytest.mark.parametrize(
    ("status", "tone"),
    [
        ("Running", "good"),
        ("Completed", "good"),
        ("Pending", "busy"),
        ("Init:0/2", "busy"),
        ("Terminating", "busy"),
        ("CrashLoopBackOff", "bad"),
        ("Init:Error", "bad"),
        ("Error", "bad"),
        ("OOMKilled", "bad"),
    ],
)
def test_status_tones(status: str, tone: str) -> None:
    assert status_tone(status) == tone


def test_the_store_follows_list_and_watch_events() -> None:
    store = PodStore()
    store.replace({"metadata": {"resourceVersion": "10"}, "items": [pod("a"), pod("b")]})
    assert list(store.pods) == ["default/a", "default/b"]
    changed = pod("a", phase="Failed")
    changed["metadata"]["resourceVersion"] = "11"
    assert store.apply({"type": "MODIFIED", "object": changed})
    assert store.apply({"type": "DELETED", "object": pod("b")})
    assert store.apply({"type": "ADDED", "object": pod("c")})
    assert [p["metadata"]["name"] for p in store.sorted()] == ["a", "c"]
    assert store.pods["default/a"]["status"]["phase"] == "Failed"
    assert store.version == "17"  # the sample pods all carry resourceVersion 17
    assert not store.apply({"type": "ERROR", "object": {"kind": "Status", "code": 410}})


def test_containers_show_state_last_termination_and_probe_results() -> None:
    probe = {"httpGet": {"port": 8080, "path": "/healthz"}}
    sample = pod(
        "web",
        containers=[
            {"name": "app", "livenessProbe": probe, "readinessProbe": probe},
            {"name": "side", "readinessProbe": probe},
        ],
        statuses=[
            container_status(
                "app", running(30), ready=True, restarts=2, last=terminated(137, "Error")
            ),
            container_status("side", running(30)),
        ],
        init_containers=[{"name": "migrate"}],
        init_statuses=[container_status("migrate", terminated(0, "Completed"))],
    )
    trace = {
        "steps": [
            {"container": "app", "step": "Probe", "detail": "liveness probe: failure"},
            {"container": "app", "step": "Spawned", "detail": "pid 9: app"},  # a new instance
            {"container": "app", "step": "Probe", "detail": "readiness probe: success"},
        ]
    }
    lines = container_lines(sample, trace, NOW)
    assert [(line.name, line.role, line.state) for line in lines] == [
        ("migrate", "init", "Terminated Completed (0) 30s ago"),
        ("app", "container", "Running 30s"),
        ("side", "container", "Running 30s"),
    ]
    app = lines[1]
    assert app.last == "Error (137) 30s ago"
    assert app.restarts == "2"
    assert app.probes == "liveness ✓ ready ✓"  # the failure was the previous instance's
    assert lines[2].probes == "ready …"  # no verdict yet: readiness starts failed


def test_events_newest_last_with_counts() -> None:
    events = [
        event("BackOff", "Back-off restarting", kind="Warning", count=4, first=100, last=5),
        event("Started", "Started container web", first=200),
    ]
    assert event_lines(events, NOW) == [
        ("Normal", "Started", "3m20s", "Started container web"),
        ("Warning", "BackOff", "5s (x4)", "Back-off restarting"),
    ]
