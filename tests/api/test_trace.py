"""``GET .../pods/{name}/trace``: each container's last termination, for ``describe``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from minikubelet.cli.client.describe import describe_pod, describe_trace
from minikubelet.model.spec import Probe, TCPSocketAction
from minikubelet.testing import container, wait_for_file, wait_for_status
from tests.api.conftest import Server
from tests.helpers.pods import child, pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_trace_of_a_liveness_kill(server: Server, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    probe = Probe(
        handler=TCPSocketAction(port=1),
        period_seconds=1,
        failure_threshold=1,
        initial_delay_seconds=1,
    )
    app = child("app", "--forever", "--ready-file", str(ready), liveness_probe=probe)
    worker = await start(server.kubelet, pod("traced", app, grace=1))
    await wait_for_file(ready)
    await wait_for_status(worker, lambda s: container(s, "app").restart_count >= 1, timeout=20)
    trace = await server.json("/api/v1/namespaces/default/pods/traced/trace")
    assert trace["kind"] == "PodTrace"
    [entry] = trace["containers"]
    steps = [(step["step"], step["detail"]) for step in entry["lastTermination"]]
    pid = int(ready.read_text())
    assert steps[:3] == [
        ("Killing", "Container app failed liveness probe, will be restarted (grace period 1s)"),
        ("Signal", f"SIGTERM -> pid {pid}"),
        ("Exited", "code 143 (killed by SIGTERM)"),
    ]
    assert entry["lastTermination"][0]["offset"] == 0


async def test_trace_of_an_unknown_pod_is_404(server: Server) -> None:
    response = await server.client.get("/api/v1/namespaces/default/pods/nope/trace")
    assert response.status_code == 404
    assert response.json()["reason"] == "NotFound"


def test_describe_prints_the_last_termination() -> None:
    trace = {
        "containers": [
            {
                "name": "app",
                "lastTermination": [
                    {
                        "offset": 0.0,
                        "step": "Killing",
                        "detail": "preStop sleep 1s (grace period 3s)",
                    },
                    {"offset": 1.002, "step": "Signal", "detail": "SIGTERM -> pid 4242"},
                    {"offset": 3.01, "step": "Exited", "detail": "code 137 (killed by SIGKILL)"},
                ],
            },
            {"name": "idle", "lastTermination": []},
        ]
    }
    assert describe_trace(trace) == (
        "Last Termination (app):\n"
        "  +0.000s  Killing    preStop sleep 1s (grace period 3s)\n"
        "  +1.002s  Signal     SIGTERM -> pid 4242\n"
        "  +3.010s  Exited     code 137 (killed by SIGKILL)\n"
    )
    pod = {"metadata": {"name": "web", "namespace": "default"}, "spec": {}, "status": {}}
    text = describe_pod(pod, None, datetime.now(UTC), trace)
    assert "Last Termination (app):\n" in text
