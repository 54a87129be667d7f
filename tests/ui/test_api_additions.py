"""The API additions the dashboard uses: the trace's ``steps``, and restarting a container."""

from __future__ import annotations

from pathlib import Path

import anyio
import psutil
import pytest

from minikubelet.model.status import Running
from minikubelet.testing import container, wait_for_file, wait_for_status
from tests.api.conftest import Server
from tests.helpers.pods import child, pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_the_trace_serves_every_kept_step(server: Server, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    app = child("app", "--forever", "--ready-file", str(ready))
    worker = await start(server.kubelet, pod("traced", app, grace=1))
    await wait_for_file(ready)
    pid = int(ready.read_text())
    worker.terminate()
    await worker.wait_done()
    trace = await server.json("/api/v1/namespaces/default/pods/traced/trace")
    steps = trace["steps"]
    assert [(s["container"], s["step"]) for s in steps] == [
        ("app", "Spawned"),
        ("app", "Killing"),
        ("app", "Signal"),
        ("app", "Exited"),
    ]
    assert steps[0]["offset"] == 0
    assert steps[2]["detail"] == f"SIGTERM -> pid {pid}"
    offsets = [s["offset"] for s in steps]
    assert offsets == sorted(offsets)
    assert all(s["time"].endswith("000Z") for s in steps)  # RFC 3339 with nanoseconds
    assert trace["observed"]["offset"] >= offsets[-1]
    assert trace["containers"][0]["lastTermination"][0]["step"] == "Killing"  # as before


async def test_restarting_a_container_stops_it_gracefully_then_the_policy_restarts_it(
    server: Server, tmp_path: Path
) -> None:
    record = tmp_path / "record"
    ready = tmp_path / "ready"
    app = child(
        "app",
        "--forever",
        "--record",
        str(record),
        "--ready-file",
        str(ready),
        "--sigterm-exit-code",
        "0",
    )
    worker = await start(server.kubelet, pod("web", app, grace=5))
    await wait_for_file(ready)
    first = int(ready.read_text())
    ready.unlink()

    response = await server.client.post(
        "/api/v1/namespaces/default/pods/web/restart", params={"container": "app"}
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["kind"] == "ContainerRestart"
    assert body["apiVersion"] == "minikubelet.io/v1"
    assert (body["container"], body["restartCount"]) == ("app", 0)

    status = await wait_for_status(
        worker,
        lambda s: (
            container(s, "app").restart_count == 1
            and isinstance(container(s, "app").state, Running)
        ),
    )
    assert container(status, "app").last_state is not None
    assert not psutil.pid_exists(first) or psutil.Process(first).status() == "zombie"
    assert "sigterm" in record.read_text()  # the stop signal first: a graceful stop
    killing = [e for e in server.kubelet.recorder.events("default") if e.reason == "Killing"]
    assert [e.message for e in killing] == ["Container app restart requested"]
    steps = [(e.step.value, e.detail) for e in worker.trace]
    assert ("Killing", "Container app restart requested (grace period 5s)") in steps
    assert ("Restart", "now (restart #1)") in steps


async def test_restart_errors(server: Server, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    two = pod(
        "two",
        child("a", "--forever", "--ready-file", str(ready)),
        child("b", "--exit-code", "0"),
        grace=1,
    )
    worker = await start(server.kubelet, two)
    await wait_for_file(ready)
    await wait_for_status(worker, lambda s: container(s, "b").restart_count >= 0)
    url = "/api/v1/namespaces/default/pods/{}/restart"

    async def post(name: str, **params: str) -> tuple[int, str]:
        response = await server.client.post(url.format(name), params=params)
        return response.status_code, response.json()["message"]

    assert await post("nope", container="a") == (404, 'pods "nope" not found')
    assert await post("two") == (
        400,
        "a container name must be specified for pod two, choose one of: [a b]",
    )
    assert await post("two", container="c") == (400, "container c is not valid for pod two")
    worker.terminate()
    with anyio.fail_after(10):
        await worker.wait_done()
    code, message = await post("two", container="a")
    assert (code, message) == (409, "container a of pod two is not running: nothing to restart")
