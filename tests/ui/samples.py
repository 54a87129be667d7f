"""A fixed trace and its pod, as the API serves them: the snapshot tests draw these."""

from __future__ import annotations

from typing import Any

__all__ = ["POD", "TRACE"]


def _step(container: str, step: str, detail: str, offset: float) -> dict[str, Any]:
    whole = int(offset)
    micros = round((offset - whole) * 1_000_000)
    return {
        "container": container,
        "step": step,
        "detail": detail,
        "time": f"2026-01-02T03:04:{5 + whole:02d}.{micros:06d}000Z",
        "offset": offset,
    }


TRACE: dict[str, Any] = {
    "kind": "PodTrace",
    "apiVersion": "minikubelet.io/v1",
    "containers": [],
    "steps": [
        _step("migrate", "Spawned", "pid 100: python3 ordering.py init", 0.0),
        _step("migrate", "Exited", "code 0", 0.9),
        _step("shipper", "Spawned", "pid 110: python3 ordering.py sidecar", 0.91),
        _step("app", "Spawned", "pid 120: python3 app.py", 0.92),
        _step("app", "Hook", "postStart exec true started", 0.92),
        _step("app", "Hook", "postStart succeeded", 1.1),
        _step("app", "Probe", "readiness probe: success", 2.0),
        _step("app", "Probe", "liveness probe: failure", 4.0),
        _step("app", "Killing", "preStop sleep 1s (grace period 3s)", 4.0),
        _step("app", "Hook", "preStop succeeded", 5.0),
        _step("app", "Signal", "SIGTERM -> pid 120", 5.0),
        _step("app", "Grace", "2s elapsed, process still alive", 7.0),
        _step("app", "Signal", "SIGKILL -> 3 processes (pids 120 121 122)", 7.02),
        _step("app", "Exited", "code 137 (killed by SIGKILL)", 7.03),
        _step("app", "Restart", "now (restart #1)", 7.04),
        _step("app", "Spawned", "pid 130: python3 app.py", 7.05),
        _step("app", "Exited", "code 1", 7.4),
        _step("app", "Restart", "in 2s (crash-loop back-off)", 7.41),
        _step("app", "Restart", "now (restart #2)", 9.41),
        _step("app", "Spawned", "pid 140: python3 app.py", 9.42),
        _step("shipper", "Killing", "Stopping container shipper (grace period 2s)", 11.0),
        _step("app", "Killing", "Stopping container app (grace period 3s)", 11.0),
        _step("app", "Signal", "SIGTERM -> pid 140", 11.0),
        _step("app", "Exited", "code 143 (killed by SIGTERM)", 11.2),
        _step("shipper", "Signal", "SIGTERM -> pid 110", 11.21),
        _step("shipper", "Exited", "code 0", 11.3),
        _step("shipper", "Signal", "SIGKILL -> 1 process left behind (pids 111)", 11.31),
    ],
    "observed": {"time": "2026-01-02T03:04:20.000000000Z", "offset": 15.0},
}

POD: dict[str, Any] = {
    "kind": "Pod",
    "apiVersion": "v1",
    "metadata": {"name": "demo", "namespace": "default"},
    "spec": {
        "initContainers": [
            {"name": "migrate", "command": ["true"]},
            {"name": "shipper", "command": ["true"], "restartPolicy": "Always"},
        ],
        "containers": [{"name": "app", "command": ["true"]}],
    },
    "status": {
        "phase": "Failed",
        "initContainerStatuses": [
            {
                "name": "migrate",
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                "restartCount": 0,
            },
            {
                "name": "shipper",
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                "restartCount": 0,
            },
        ],
        "containerStatuses": [
            {
                "name": "app",
                "state": {"terminated": {"exitCode": 143, "reason": "Error"}},
                "restartCount": 2,
            }
        ],
    },
}
