"""Realistic Pod, Event and Summary JSON, shaped as minikubelet's server returns them."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "NOW",
    "ago",
    "container_status",
    "event",
    "pod",
    "running",
    "terminated",
    "waiting",
]

JSON = dict[str, Any]
NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def running(started: float = 300) -> JSON:
    return {"running": {"startedAt": ago(started)}}


def waiting(reason: str, message: str = "") -> JSON:
    state: JSON = {"reason": reason}
    if message:
        state["message"] = message
    return {"waiting": state}


def terminated(
    exit_code: int = 0,
    reason: str = "",
    started: float = 60,
    finished: float = 30,
    signal: int = 0,
) -> JSON:
    state: JSON = {"exitCode": exit_code, "startedAt": ago(started), "finishedAt": ago(finished)}
    if reason:
        state["reason"] = reason
    if signal:
        state["signal"] = signal
    return {"terminated": state}


def container_status(
    name: str,
    state: JSON,
    *,
    ready: bool = False,
    restarts: int = 0,
    last: JSON | None = None,
    started: bool | None = None,
    pid: int = 4242,
) -> JSON:
    status: JSON = {
        "name": name,
        "state": state,
        "lastState": last or {},
        "ready": ready,
        "restartCount": restarts,
        "image": "python:3.12",
        "imageID": "",
        "containerID": f"process://{pid}",
    }
    if started is None:
        started = "running" in state
    status["started"] = started
    return status


def _condition(kind: str, value: bool, reason: str = "") -> JSON:
    condition: JSON = {
        "type": kind,
        "status": "True" if value else "False",
        "lastTransitionTime": ago(300),
        "lastProbeTime": None,
    }
    if reason:
        condition["reason"] = reason
    return condition


def pod(
    name: str = "web",
    *,
    phase: str = "Running",
    containers: list[JSON] | None = None,
    statuses: list[JSON] | None = None,
    init_containers: list[JSON] | None = None,
    init_statuses: list[JSON] | None = None,
    created: float = 300,
    namespace: str = "default",
    ready: bool | None = None,
    initialized: bool = True,
    deleting: float | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> JSON:
    """A Pod as ``GET /api/v1/namespaces/{ns}/pods/{name}`` returns it."""
    containers = copy.deepcopy(containers or [{"name": name, "image": "python:3.12"}])
    for container in containers:
        container.setdefault("command", ["python", "-m", "http.server", "8080"])
    statuses = (
        statuses
        if statuses is not None
        else [container_status(c["name"], running(), ready=True) for c in containers]
    )
    all_ready = ready if ready is not None else all(s.get("ready") for s in statuses)
    metadata: JSON = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{name}",
        "resourceVersion": "17",
        "creationTimestamp": ago(created),
    }
    if labels:
        metadata["labels"] = labels
    if annotations:
        metadata["annotations"] = annotations
    if deleting is not None:
        metadata["deletionTimestamp"] = ago(deleting)
        metadata["deletionGracePeriodSeconds"] = 30
    spec: JSON = {
        "containers": containers,
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "nodeName": "localhost",
    }
    status: JSON = {
        "phase": phase,
        "conditions": [
            _condition("PodReadyToStartContainers", True),
            _condition("Initialized", initialized),
            _condition("Ready", all_ready, "" if all_ready else "ContainersNotReady"),
            _condition("ContainersReady", all_ready, "" if all_ready else "ContainersNotReady"),
            _condition("PodScheduled", True),
        ],
        "hostIP": "127.0.0.1",
        "hostIPs": [{"ip": "127.0.0.1"}],
        "podIP": "127.0.0.1",
        "podIPs": [{"ip": "127.0.0.1"}],
        "startTime": ago(created),
        "containerStatuses": statuses,
        "qosClass": "BestEffort",
    }
    if init_containers is not None:
        spec["initContainers"] = copy.deepcopy(init_containers)
        status["initContainerStatuses"] = init_statuses or []
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}


def event(
    reason: str,
    message: str,
    *,
    pod_name: str = "web",
    kind: str = "Normal",
    count: int = 1,
    first: float = 60,
    last: float | None = None,
    container: str | None = None,
    uid: str | None = None,
) -> JSON:
    """An Event as ``GET /api/v1/namespaces/{ns}/events`` lists it."""
    involved: JSON = {
        "kind": "Pod",
        "namespace": "default",
        "name": pod_name,
        "uid": uid or f"uid-{pod_name}",
        "apiVersion": "v1",
    }
    if container:
        involved["fieldPath"] = f"spec.containers{{{container}}}"
    last = first if last is None else last
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{pod_name}.{reason}", "namespace": "default"},
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "source": {"component": "minikubelet", "host": "localhost"},
        "firstTimestamp": ago(first),
        "lastTimestamp": ago(last),
        "count": count,
        "type": kind,
        "eventTime": None,
        "reportingComponent": "minikubelet",
        "reportingInstance": "localhost",
    }
