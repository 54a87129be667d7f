"""The dashboard over a stub API: its snapshot at 80x24, and a daemon that does not answer.

The snapshot is taken over fixed data (a stub API and a fixed clock).

The picture is Textual's own SVG screenshot (pytest-textual-snapshot); Textual is pinned in
the ``test`` extra so that a new Textual release is a deliberate snapshot update
(``pytest tests/ui --snapshot-update``), not a surprise.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
from textual.pilot import Pilot
from textual.widgets import RichLog, Static

from minikubelet.cli.client.connection import Server
from minikubelet.ui.app import Dashboard
from minikubelet.ui.client import REQUEST_TIMEOUT
from minikubelet.ui.screens import TextScreen
from tests.cli.samples import (
    NOW,
    container_status,
    event,
    pod,
    running,
    terminated,
    waiting,
)
from tests.cli.stub import Reply, Request, StubServer
from tests.ui.dashboard import until
from tests.ui.samples import TRACE

PODS = [
    pod("web", created=3600, labels={"app": "web"}),
    pod(
        "crash",
        created=600,
        statuses=[
            container_status(
                "crash",
                waiting("CrashLoopBackOff"),
                restarts=4,
                last=terminated(1, "Error", started=50, finished=42),
            )
        ],
    ),
    pod(
        "job",
        phase="Succeeded",
        created=120,
        statuses=[container_status("job", terminated(0, "Completed"))],
    ),
    pod(
        "demo",
        created=90,
        containers=[{"name": "app", "readinessProbe": {"tcpSocket": {"port": 80}}}],
        statuses=[container_status("app", running(60), ready=True, restarts=2)],
        init_containers=[{"name": "migrate"}, {"name": "shipper", "restartPolicy": "Always"}],
        init_statuses=[
            container_status("migrate", terminated(0, "Completed", started=90, finished=89)),
            container_status("shipper", running(88), ready=True, started=True),
        ],
    ),
]
SUMMARY = {
    "pods": [
        {
            "podRef": {"name": "web", "namespace": "default"},
            "containers": [
                {
                    "name": "web",
                    "cpu": {"usageNanoCores": 2_100_000},
                    "memory": {"workingSetBytes": 21 << 20},
                }
            ],
        }
    ]
}


@pytest.fixture
def fixed_api(stub: StubServer) -> Iterator[StubServer]:
    streams: list[queue.Queue[bytes | None]] = []

    def pods(request: Request) -> Reply:
        if request.query.get("watch") == "true":
            stream: queue.Queue[bytes | None] = queue.Queue()
            streams.append(stream)
            return Reply(stream=stream)
        return Reply(body={"kind": "PodList", "metadata": {"resourceVersion": "17"}, "items": PODS})

    def reply(body: Any) -> Callable[[Request], Reply]:
        return lambda request: Reply(body=body)

    stub.route("GET", "/api/v1/pods", pods)
    stub.route("GET", "/stats/summary", reply(SUMMARY))
    for item in PODS:
        name = item["metadata"]["name"]
        stub.route("GET", f"/api/v1/namespaces/default/pods/{name}/trace", reply(TRACE))
        stub.route(
            "GET",
            f"/api/v1/namespaces/default/pods/{name}/log",
            lambda request: Reply(body="serving on :8080\nGET / 200\n", content_type="text/plain"),
        )
    stub.route(
        "GET",
        "/api/v1/namespaces/default/events",
        reply(
            {
                "kind": "EventList",
                "items": [
                    event("Started", "Started container crash", pod_name="crash", first=600),
                    event(
                        "BackOff",
                        "Back-off restarting failed container crash",
                        pod_name="crash",
                        kind="Warning",
                        count=4,
                        first=500,
                        last=40,
                    ),
                ],
            }
        ),
    )
    yield stub
    for stream in streams:
        stream.put(None)


def test_the_pods_table_at_80x24(fixed_api: StubServer, snap_compare: Any) -> None:
    app = Dashboard(Server(socket=fixed_api.path), clock=lambda: NOW, title="minikubelet ui")

    async def loaded(pilot: Pilot[Any]) -> None:
        # The first row, the crash-looping pod, is selected: its containers show below.
        for _ in range(200):  # at most 10 s: the stub answers in milliseconds
            loaded = len(app._row_keys) == 4 and app.usage and app.events and app.trace
            if loaded and app.selected == "default/crash":
                break
            await pilot.pause(0.05)
        else:
            raise AssertionError("the dashboard did not load the stub's data")

    assert snap_compare(app, terminal_size=(80, 24), run_before=loaded)


@pytest.mark.anyio
async def test_a_daemon_that_does_not_answer_never_blocks_the_keys(stub: StubServer) -> None:
    release = threading.Event()

    def hang(request: Request) -> Reply:
        release.wait(30)  # a daemon that accepted the connection and says nothing
        return Reply(body={"kind": "PodList", "metadata": {}, "items": []})

    stub.route("GET", "/api/v1/pods", hang)
    app = Dashboard(Server(socket=stub.path), title="minikubelet ui")
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            started = anyio.current_time()
            await pilot.press("question_mark")  # the keys answer while the request waits
            await until(pilot, lambda: isinstance(app.screen, TextScreen), "the help", 2)
            assert anyio.current_time() - started < 2
            await pilot.press("escape")
            note = await until(
                pilot,
                lambda: "timed out" in app.connection_note and app.connection_note,
                "the timeout",
                timeout=REQUEST_TIMEOUT + 5,
            )
            assert isinstance(note, str)
            assert "reconnecting" in note
            await pilot.press("q")
    finally:
        release.set()


@pytest.mark.anyio
async def test_the_logs_pane_searches_wraps_and_shows_the_previous_instance(
    fixed_api: StubServer,
) -> None:
    app = Dashboard(Server(socket=fixed_api.path), clock=lambda: NOW, title="minikubelet ui")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.selected == "default/crash", "the first pod selected")
        await pilot.press("2")
        await until(pilot, lambda: "GET / 200" in app.log_lines, "the log")
        log = app.query_one("#log", RichLog)
        await until(pilot, lambda: len(log.lines) == 2, "both lines shown")

        await pilot.press("tab", "tab")  # the pods table, the tabs, then the log itself
        await until(pilot, lambda: app.focused is log, "the log focused")
        await pilot.press("slash", "G", "E", "T", "enter")  # search: only matching lines
        await until(pilot, lambda: len(log.lines) == 1, "one line shown")
        assert app.search_text == "GET"
        assert "search: GET" in str(app.query_one("#log-status", Static).render())

        await pilot.press("w")
        assert log.wrap is True

        await pilot.press("p")  # the previous instance, asked as kubectl logs --previous
        await until(
            pilot,
            lambda: any(
                r.query.get("previous") == "true"
                for r in fixed_api.requests_to("GET", "/api/v1/namespaces/default/pods/crash/log")
            ),
            "a previous=true request",
        )
        follows = fixed_api.requests_to("GET", "/api/v1/namespaces/default/pods/crash/log")
        assert follows[0].query == {"container": "crash", "tailLines": "500", "follow": "true"}
