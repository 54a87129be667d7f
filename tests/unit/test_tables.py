"""Server-side Tables: the apiserver printers' cells, from the cases of printers_test.go.

Each pod case is a ``TestPrintPod`` / ``TestPrintPodWithRestartableInitContainer`` /
``TestPrintPodwide`` case of ``pkg/printers/internalversion/printers_test.go`` rewritten as
Kubernetes JSON, plus the kubelet reasons minikubelet produces (CrashLoopBackOff, OOMKilled,
Init:Error, signals, Terminating).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from minikubelet.api.tables import (
    NODE_COLUMNS,
    IncludeObject,
    TableOptions,
    column_definitions,
    configmap_row,
    event_row,
    negotiate_table,
    node_row,
    pod_row,
    row_object,
    secret_row,
    table,
    table_options,
)
from minikubelet.errors import RequestError

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
JSON = dict[str, Any]


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def running(ready: bool = True, restarts: int = 0, last: float | None = None, **extra: Any) -> JSON:
    status: JSON = {"ready": ready, "restartCount": restarts, "state": {"running": {}}}
    if last is not None:
        status["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": ago(last)}}
    return status | extra


def waiting(reason: str = "", restarts: int = 0, last: float | None = None, **extra: Any) -> JSON:
    state = {"waiting": {"reason": reason}} if reason else {"waiting": {}}
    status: JSON = {"ready": False, "restartCount": restarts, "state": state}
    if last is not None:
        status["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": ago(last)}}
    return status | extra


def terminated(
    reason: str = "", exit_code: int = 0, signal: int = 0, restarts: int = 0, **extra: Any
) -> JSON:
    term: JSON = {"exitCode": exit_code}
    if reason:
        term["reason"] = reason
    if signal:
        term["signal"] = signal
    return {"ready": False, "restartCount": restarts, "state": {"terminated": term}} | extra


def no_state(restarts: int = 0, ready: bool = False) -> JSON:
    return {"ready": ready, "restartCount": restarts, "state": {}}


def pod(
    containers: int,
    statuses: list[JSON],
    *,
    phase: str = "podPhase",
    reason: str = "",
    init: list[JSON] | None = None,
    init_statuses: list[JSON] | None = None,
    conditions: list[JSON] | None = None,
    deleted: bool = False,
    created: str | None = None,
) -> JSON:
    metadata: JSON = {"name": "test"}
    if deleted:
        metadata["deletionTimestamp"] = ago(10)
    if created:
        metadata["creationTimestamp"] = created
    spec: JSON = {"containers": [{"name": f"c{i}"} for i in range(containers)]}
    status: JSON = {"phase": phase, "containerStatuses": statuses}
    if reason:
        status["reason"] = reason
    if init is not None:
        spec["initContainers"] = init
    if init_statuses is not None:
        status["initContainerStatuses"] = init_statuses
    if conditions is not None:
        status["conditions"] = conditions
    return {"metadata": metadata, "spec": spec, "status": status}


SIDECAR = {"restartPolicy": "Always"}


def sidecars(*names: str) -> list[JSON]:
    return [{"name": name} | SIDECAR for name in names]


POD_CASES = [
    # --- TestPrintPod ---
    pytest.param(
        pod(2, [running(restarts=3), no_state(restarts=3)]),
        ("1/2", "podPhase", "6"),
        id="test1-ready-and-restarts",
    ),
    pytest.param(
        pod(2, [running(restarts=3), waiting("ContainerWaitingReason", restarts=3)]),
        ("1/2", "ContainerWaitingReason", "6"),
        id="test2-waiting-reason-overrides-phase",
    ),
    pytest.param(
        pod(
            2,
            [
                waiting("ContainerWaitingReason", restarts=3),
                terminated("ContainerTerminatedReason", restarts=3),
            ],
        ),
        ("0/2", "ContainerWaitingReason", "6"),
        id="test3-first-container-wins",
    ),
    pytest.param(
        pod(2, [running(restarts=3), no_state(restarts=3, ready=True)]),
        ("1/2", "podPhase", "6"),
        id="test4-ready-is-not-running",
    ),
    pytest.param(
        pod(2, [running(restarts=3), no_state(restarts=3, ready=True)], reason="podReason"),
        ("1/2", "podReason", "6"),
        id="test5-pod-reason",
    ),
    pytest.param(
        pod(
            2,
            [terminated("Completed", restarts=3, ready=True), running(restarts=3)],
            phase="Running",
        ),
        ("1/2", "NotReady", "6"),
        id="test6-completed-and-running-not-ready",
    ),
    pytest.param(
        pod(
            2,
            [terminated("Completed", restarts=3, ready=True), running(restarts=3)],
            phase="Running",
            conditions=[{"type": "Ready", "status": "True"}],
        ),
        ("1/2", "Running", "6"),
        id="test6-completed-and-running-ready",
    ),
    pytest.param(
        pod(
            1,
            [waiting()],
            init=[{"name": "i0"}],
            init_statuses=[running(ready=False, restarts=3, last=10)],
        ),
        ("0/1", "Init:0/1", "3 (10s ago)"),
        id="test7-init-restarting",
    ),
    pytest.param(
        pod(
            1,
            [waiting()],
            init=[{"name": "i0"}, {"name": "i1"}],
            init_statuses=[running(ready=False, restarts=3, last=10), waiting()],
        ),
        ("0/1", "Init:0/2", "3 (10s ago)"),
        id="test8-two-inits-first-restarting",
    ),
    pytest.param(
        pod(
            1,
            [waiting()],
            init=[{"name": "i0"}, {"name": "i1"}],
            init_statuses=[terminated(), running(ready=False, restarts=3, last=10)],
        ),
        ("0/1", "Init:1/2", "3 (10s ago)"),
        id="test9-first-init-done",
    ),
    pytest.param(
        pod(
            1,
            [waiting()],
            init=[{"name": "i0"}, {"name": "i1"}],
            init_statuses=[
                terminated(restarts=2)
                | {"lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(120)}}},
                running(ready=False, restarts=3, last=10),
            ],
        ),
        ("0/1", "Init:1/2", "5 (10s ago)"),
        id="test10-restarts-of-every-init",
    ),
    pytest.param(
        pod(
            1,
            [running(ready=False, restarts=4, last=20)],
            phase="Running",
            init=[{"name": "i0"}],
            init_statuses=[
                terminated(restarts=2)
                | {"lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(120)}}}
            ],
        ),
        ("0/1", "Running", "4 (20s ago)"),
        id="test11-initialised-counts-only-regular-containers",
    ),
    pytest.param(
        pod(1, [running(restarts=3, last=5 * 86400)], phase="Running"),
        ("1/1", "Running", "3 (5d ago)"),
        id="test12-restart-days-ago",
    ),
    pytest.param(
        pod(2, [running(), running(restarts=3, last=10 * 86400)], phase="Running"),
        ("2/2", "Running", "3 (10d ago)"),
        id="test13",
    ),
    pytest.param(
        pod(
            2,
            [running(restarts=6, last=5 * 86400), running(restarts=3, last=20 * 86400)],
            phase="Running",
        ),
        ("2/2", "Running", "9 (5d ago)"),
        id="test14-latest-termination-wins",
    ),
    pytest.param(
        pod(
            2,
            [],
            conditions=[{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
        ),
        ("0/2", "SchedulingGated", "0"),
        id="test15-scheduling-gated",
    ),
    pytest.param(
        pod(1, [terminated("Completed")], phase="Succeeded"),
        ("0/1", "Completed", "0"),
        id="test16-succeeded",
    ),
    pytest.param(
        pod(1, [terminated("Error", exit_code=1)], phase="Failed"),
        ("0/1", "Error", "0"),
        id="test17-failed",
    ),
    pytest.param(
        pod(1, [terminated("Completed")], phase="Succeeded", deleted=True),
        ("0/1", "Completed", "0"),
        id="test18-final-phase-is-not-terminating",
    ),
    pytest.param(
        pod(1, [running(ready=False)], phase="Running", deleted=True),
        ("0/1", "Terminating", "0"),
        id="test19-terminating",
    ),
    pytest.param(
        pod(1, [], phase="Pending", deleted=True),
        ("0/1", "Terminating", "0"),
        id="test20-pending-terminating",
    ),
    # --- TestPrintPodWithRestartableInitContainer ---
    pytest.param(
        pod(
            1,
            [waiting()],
            phase="Pending",
            init=sidecars("s1", "s2"),
            init_statuses=[
                running(ready=False, restarts=3, last=10, name="s1", started=False),
                waiting(name="s2", started=False),
            ],
            conditions=[{"type": "Initialized", "status": "False"}],
        ),
        ("0/3", "Init:0/2", "3 (10s ago)"),
        id="sidecar-not-started",
    ),
    pytest.param(
        pod(
            1,
            [waiting()],
            phase="Pending",
            init=sidecars("s1", "s2"),
            init_statuses=[
                running(ready=False, restarts=3, last=10, name="s1", started=True),
                running(ready=False, name="s2", started=False),
            ],
            conditions=[{"type": "Initialized", "status": "False"}],
        ),
        ("0/3", "Init:1/2", "3 (10s ago)"),
        id="sidecar-first-started",
    ),
    pytest.param(
        pod(
            1,
            [running(restarts=4, last=20)],
            phase="Running",
            init=sidecars("s1", "s2"),
            init_statuses=[
                running(ready=False, restarts=3, last=10, name="s1", started=True),
                running(ready=False, name="s2", started=True),
            ],
            conditions=[{"type": "Initialized", "status": "True"}],
        ),
        ("1/3", "Running", "7 (10s ago)"),
        id="sidecars-started-and-running",
    ),
    pytest.param(
        pod(
            1,
            [
                terminated("Completed", restarts=4)
                | {"lastState": {"terminated": {"exitCode": 0, "finishedAt": ago(20)}}}
            ],
            phase="Succeeded",
            init=sidecars("s1", "s2"),
            init_statuses=[
                terminated("Error", exit_code=137, restarts=3, name="s1", started=False)
                | {"lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(10)}}},
                terminated("Error", exit_code=137, name="s2", started=False),
            ],
            conditions=[{"type": "Initialized", "status": "True"}],
        ),
        ("0/3", "Completed", "7 (10s ago)"),
        id="sidecars-killed-after-completion",
    ),
    pytest.param(
        {
            "metadata": {"name": "test"},
            "spec": {
                "initContainers": [{"name": "init1"}, {"name": "sidecar1"} | SIDECAR],
                "containers": [{"name": "container1"}],
            },
            "status": {
                "phase": "Running",
                "initContainerStatuses": [
                    {"name": "initinvalid"},
                    {"name": "init1"},
                    {"name": "sidecar1"},
                ],
                "containerStatuses": [{"name": "containerinvalid"}, {"name": "container1"}],
            },
        },
        ("0/2", "Init:0/2", "0"),
        id="statuses-of-unknown-containers",
    ),
    # --- the kubelet's own reasons, as minikubelet reports them ---
    pytest.param(
        pod(1, [waiting("CrashLoopBackOff", restarts=5, last=300)], phase="Running"),
        ("0/1", "CrashLoopBackOff", "5 (5m ago)"),
        id="crash-loop-back-off",
    ),
    pytest.param(
        pod(1, [terminated("OOMKilled", exit_code=137)], phase="Failed"),
        ("0/1", "OOMKilled", "0"),
        id="oom-killed",
    ),
    pytest.param(
        pod(1, [terminated(exit_code=0, signal=15)], phase="Failed"),
        ("0/1", "Signal:15", "0"),
        id="signal-without-reason",
    ),
    pytest.param(
        pod(1, [terminated(exit_code=3)], phase="Failed"),
        ("0/1", "ExitCode:3", "0"),
        id="exit-code-without-reason",
    ),
    pytest.param(
        pod(
            1,
            [waiting("PodInitializing")],
            phase="Pending",
            init=[{"name": "i0"}],
            init_statuses=[terminated("Error", exit_code=1, restarts=1)],
        ),
        ("0/1", "Init:Error", "1"),
        id="init-error",
    ),
    pytest.param(
        pod(
            1,
            [waiting("PodInitializing")],
            phase="Pending",
            init=[{"name": "i0"}],
            init_statuses=[waiting("CrashLoopBackOff", restarts=2, last=30)],
        ),
        ("0/1", "Init:CrashLoopBackOff", "2 (30s ago)"),
        id="init-crash-loop",
    ),
    pytest.param(
        pod(
            1,
            [waiting("PodInitializing")],
            phase="Pending",
            init=[{"name": "i0"}],
            init_statuses=[terminated(exit_code=2)],
        ),
        ("0/1", "Init:ExitCode:2", "0"),
        id="init-exit-code",
    ),
    pytest.param(
        pod(
            1,
            [waiting("PodInitializing")],
            phase="Pending",
            init=[{"name": "i0"}],
            init_statuses=[terminated(signal=9, exit_code=137)],
        ),
        ("0/1", "Init:Signal:9", "0"),
        id="init-signal",
    ),
    pytest.param(
        pod(
            1,
            [waiting("PodInitializing")],
            phase="Pending",
            init=[{"name": "i0"}],
            init_statuses=[terminated(reason="Completed")],
            conditions=[{"type": "Initialized", "status": "True"}],
        ),
        ("0/1", "PodInitializing", "0"),
        id="pod-initializing",
    ),
    pytest.param(
        pod(1, [waiting("ContainerCreating")], phase="Pending"),
        ("0/1", "ContainerCreating", "0"),
        id="container-creating",
    ),
    pytest.param(
        pod(1, [running()], phase="Running", reason="NodeLost", deleted=True),
        ("1/1", "Unknown", "0"),
        id="node-lost",
    ),
]


@pytest.mark.parametrize(("obj", "expected"), POD_CASES)
def test_pod_cells(obj: JSON, expected: tuple[str, str, str]) -> None:
    cells = pod_row(obj, NOW)["cells"]
    assert tuple(cells[1:4]) == expected
    assert cells[0] == "test"
    assert cells[4] == "<unknown>"  # no creationTimestamp, as in the Go tests


@pytest.mark.parametrize(
    ("phase", "conditions"),
    [
        ("Running", None),
        (
            "Succeeded",
            [
                {
                    "type": "Completed",
                    "status": "True",
                    "reason": "Succeeded",
                    "message": "The pod has completed successfully.",
                }
            ],
        ),
        (
            "Failed",
            [
                {
                    "type": "Completed",
                    "status": "True",
                    "reason": "Failed",
                    "message": "The pod failed.",
                }
            ],
        ),
    ],
)
def test_pod_row_conditions(phase: str, conditions: list[JSON] | None) -> None:
    # TestPrintPodConditions: final pods carry a Completed row condition.
    row = pod_row(pod(2, [running(restarts=3), no_state(restarts=3)], phase=phase), NOW)
    assert row.get("conditions") == conditions
    assert row["cells"][2] == phase


def test_pod_wide_cells() -> None:
    # TestPrintPodwide: IP, node, nominated node and readiness gates.
    obj = pod(2, [running(restarts=3), no_state(restarts=3)])
    obj["spec"] |= {
        "nodeName": "test1",
        "readinessGates": [{"conditionType": f"condition{i}"} for i in (1, 2, 3)],
    }
    obj["status"] |= {
        "podIPs": [{"ip": "1.1.1.1"}, {"ip": "2001:db8::"}],
        "nominatedNodeName": "node1",
        "conditions": [
            {"type": "condition1", "status": "False"},
            {"type": "condition2", "status": "True"},
        ],
    }
    assert pod_row(obj, NOW)["cells"][5:] == ["1.1.1.1", "test1", "node1", "1/3"]
    bare = pod(2, [running(restarts=3), waiting("ContainerWaitingReason", restarts=3)])
    assert pod_row(bare, NOW)["cells"][5:] == ["<none>", "<none>", "<none>", "<none>"]


@pytest.mark.parametrize(
    ("seconds", "age"),
    [(0, "0s"), (45, "45s"), (421, "7m1s"), (25 * 60, "25m"), (5 * 3600, "5h"), (3 * 86400, "3d")],
)
def test_pod_age_is_human_duration(seconds: int, age: str) -> None:
    assert pod_row(pod(1, [], created=ago(seconds)), NOW)["cells"][4] == age


def test_pod_created_in_the_future_by_a_second_is_0s() -> None:
    # HumanDuration tolerates 1s of clock skew; 2s is <invalid>.
    future = (NOW + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert pod_row(pod(1, [], created=future), NOW)["cells"][4] == "0s"
    future = (NOW + timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert pod_row(pod(1, [], created=future), NOW)["cells"][4] == "<invalid>"


def test_minikubelet_pod_json_row() -> None:
    # A pod as minikubelet's pod_json renders it: a running web server with one restart.
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "1234",
            "creationTimestamp": ago(421),
            "labels": {"app": "web"},
        },
        "spec": {"containers": [{"name": "web", "command": ["python3"]}], "nodeName": "box"},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "containerStatuses": [
                {
                    "name": "web",
                    "state": {"running": {"startedAt": ago(60)}},
                    "lastState": {
                        "terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(61)}
                    },
                    "ready": True,
                    "restartCount": 1,
                    "image": "",
                    "imageID": "",
                }
            ],
        },
    }
    assert pod_row(obj, NOW) == {
        "cells": [
            "web",
            "1/1",
            "Running",
            "1 (61s ago)",
            "7m1s",
            "127.0.0.1",
            "box",
            "<none>",
            "<none>",
        ]
    }


def event(**fields: Any) -> JSON:
    base: JSON = {
        "metadata": {"name": "event1"},
        "source": {"component": "kubelet"},
        "involvedObject": {"kind": "Pod", "name": "Pod Name", "fieldPath": "spec.containers{foo}"},
        "reason": "Event Reason",
        "message": "Message Data",
        "type": "Normal",
    }
    return base | fields


DAY = 86400


@pytest.mark.parametrize(
    ("obj", "cells"),
    [
        pytest.param(
            event(firstTimestamp=ago(3 * DAY), lastTimestamp=ago(2 * DAY), count=6),
            [
                "2d",
                "Normal",
                "Event Reason",
                "pod/Pod Name",
                "spec.containers{foo}",
                "kubelet",
                "Message Data",
                "3d",
                6,
                "event1",
            ],
            id="basic",
        ),
        pytest.param(
            event(
                source={"component": "kubelet", "host": "Node1"},
                involvedObject={
                    "kind": "Deployment",
                    "name": "Deployment Name",
                    "fieldPath": "spec.containers{foo}",
                },
                type="Warning",
                firstTimestamp=ago(3 * DAY),
                lastTimestamp=ago(2 * DAY),
                count=6,
                metadata={"name": "event2"},
            ),
            [
                "2d",
                "Warning",
                "Event Reason",
                "deployment/Deployment Name",
                "spec.containers{foo}",
                "kubelet, Node1",
                "Message Data",
                "3d",
                6,
                "event2",
            ],
            id="wide-with-host",
        ),
        pytest.param(
            event(eventTime=ago(3 * DAY), lastTimestamp=ago(3 * DAY), count=1),
            [
                "3d",
                "Normal",
                "Event Reason",
                "pod/Pod Name",
                "spec.containers{foo}",
                "kubelet",
                "Message Data",
                "3d",
                1,
                "event1",
            ],
            id="no-first-timestamp-uses-event-time",
        ),
        pytest.param(
            event(eventTime=ago(3 * DAY), firstTimestamp=ago(3 * DAY), count=1),
            [
                "3d",
                "Normal",
                "Event Reason",
                "pod/Pod Name",
                "spec.containers{foo}",
                "kubelet",
                "Message Data",
                "3d",
                1,
                "event1",
            ],
            id="no-last-timestamp-uses-first",
        ),
        pytest.param(
            event(eventTime=ago(3 * DAY), series={"count": 2, "lastObservedTime": ago(2 * DAY)}),
            [
                "2d",
                "Normal",
                "Event Reason",
                "pod/Pod Name",
                "spec.containers{foo}",
                "kubelet",
                "Message Data",
                "3d",
                2,
                "event1",
            ],
            id="series",
        ),
        pytest.param(
            event(eventTime=ago(3 * DAY)),
            [
                "3d",
                "Normal",
                "Event Reason",
                "pod/Pod Name",
                "spec.containers{foo}",
                "kubelet",
                "Message Data",
                "3d",
                1,
                "event1",
            ],
            id="singleton-without-count",
        ),
        pytest.param(
            event(
                source={},
                reportingComponent="kubelet",
                reportingInstance="test",
                firstTimestamp=ago(3 * DAY),
                lastTimestamp=ago(2 * DAY),
                count=6,
                message="  Message Data\n",
            ),
            [
                "2d",
                "Normal",
                "Event Reason",
                "pod/Pod Name",
                "spec.containers{foo}",
                "kubelet, test",
                "Message Data",
                "3d",
                6,
                "event1",
            ],
            id="reporting-controller-and-trimmed-message",
        ),
        pytest.param(
            event(involvedObject={"kind": "Node"}, firstTimestamp=ago(5), lastTimestamp=ago(5)),
            [
                "5s",
                "Normal",
                "Event Reason",
                "node",
                "",
                "kubelet",
                "Message Data",
                "5s",
                1,
                "event1",
            ],
            id="object-without-name",
        ),
    ],
)
def test_event_cells(obj: JSON, cells: list[Any]) -> None:
    assert event_row(obj, NOW) == {"cells": cells}


def test_configmap_and_secret_cells() -> None:
    configmap = {
        "metadata": {"name": "cm", "creationTimestamp": ago(30)},
        "data": {"a": "1", "b": "2"},
        "binaryData": {"c": "AA=="},
    }
    assert configmap_row(configmap, NOW) == {"cells": ["cm", 3, "30s"]}
    secret = {
        "metadata": {"name": "secret1", "creationTimestamp": ago(0)},
        "type": "kubernetes.io/service-account-token",
        "data": {"token": "c2VjcmV0"},
    }
    assert secret_row(secret, NOW) == {
        "cells": ["secret1", "kubernetes.io/service-account-token", 1, "0s"]
    }
    assert secret_row({"metadata": {"name": "s"}, "type": "Opaque"}, NOW)["cells"][2] == 0


def test_pod_columns_match_the_apiserver() -> None:
    columns = column_definitions("pods")
    assert [(c["name"], c["type"], c["format"], c["priority"]) for c in columns] == [
        ("Name", "string", "name", 0),
        ("Ready", "string", "", 0),
        ("Status", "string", "", 0),
        ("Restarts", "string", "", 0),
        ("Age", "string", "", 0),
        ("IP", "string", "", 1),
        ("Node", "string", "", 1),
        ("Nominated Node", "string", "", 1),
        ("Readiness Gates", "string", "", 1),
    ]
    assert all(column["description"] for column in columns)


def test_event_columns_match_the_apiserver() -> None:
    columns = column_definitions("events")
    assert [(c["name"], c["priority"]) for c in columns] == [
        ("Last Seen", 0),
        ("Type", 0),
        ("Reason", 0),
        ("Object", 0),
        ("Subobject", 1),
        ("Source", 1),
        ("Message", 0),
        ("First Seen", 1),
        ("Count", 1),
        ("Name", 1),
    ]
    assert columns[-1]["format"] == "name"


WEB = {
    "kind": "Pod",
    "apiVersion": "v1",
    "metadata": {
        "name": "web",
        "namespace": "default",
        "uid": "u1",
        "resourceVersion": "7",
        "labels": {"app": "web"},
    },
    "spec": {"containers": [{"name": "web"}]},
    "status": {"phase": "Running"},
}


def test_table_default_rows_carry_partial_object_metadata() -> None:
    result = table("pods", [WEB], NOW, resource_version="1011")
    assert result["kind"] == "Table"
    assert result["apiVersion"] == "meta.k8s.io/v1"
    assert result["metadata"] == {"resourceVersion": "1011"}
    assert len(result["columnDefinitions"]) == 9
    (row,) = result["rows"]
    assert row["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": WEB["metadata"],
    }
    assert len(row["cells"]) == 9


def test_table_include_object_and_none() -> None:
    full = table(
        "pods",
        [WEB],
        NOW,
        resource_version="1",
        options=TableOptions(include_object=IncludeObject.OBJECT),
    )
    assert full["rows"][0]["object"] == WEB
    bare = {k: v for k, v in WEB.items() if k not in ("kind", "apiVersion")}
    assert row_object(bare, "Pod", IncludeObject.OBJECT, "meta.k8s.io/v1") == WEB
    none = table(
        "pods",
        [WEB],
        NOW,
        resource_version="1",
        options=TableOptions(include_object=IncludeObject.NONE),
    )
    assert none["rows"][0]["object"] is None


def test_table_without_headers_for_later_watch_frames() -> None:
    frame = table("pods", [WEB], NOW, resource_version="9", options=TableOptions(no_headers=True))
    assert frame["columnDefinitions"] is None
    assert frame["rows"][0]["cells"][0] == "web"


def test_empty_table_has_rows_and_continue() -> None:
    result = table("events", [], NOW, resource_version="3", continue_token="abc")
    assert result["rows"] == []
    assert result["metadata"] == {"resourceVersion": "3", "continue": "abc"}


@pytest.mark.parametrize(
    ("query", "include"),
    [
        ({}, IncludeObject.METADATA),
        ({"includeObject": "Metadata"}, IncludeObject.METADATA),
        ({"includeObject": "Object"}, IncludeObject.OBJECT),
        ({"includeObject": "None"}, IncludeObject.NONE),
    ],
)
def test_table_options(query: dict[str, str], include: IncludeObject) -> None:
    assert table_options(query).include_object is include


def test_table_options_refuse_an_unknown_include_object() -> None:
    with pytest.raises(RequestError) as caught:
        table_options({"includeObject": "Everything"})
    assert caught.value.code == 400
    assert caught.value.reason == "BadRequest"
    assert caught.value.message == (
        "Unable to convert to Table as requested: includeObject: Unsupported value: "
        '"Everything": supported values: "Metadata", "None", "Object"'
    )


KUBECTL_GET = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)


@pytest.mark.parametrize(
    ("accept", "version"),
    [
        (KUBECTL_GET, "v1"),
        ("application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json", "v1beta1"),
        ("application/json", None),
        ("", None),
        (None, None),
        ("application/vnd.kubernetes.protobuf,application/json", None),
        ("application/json;as=Table;v=v2;g=meta.k8s.io,application/json", None),
        ("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json", None),
        ("*/*", None),
    ],
)
def test_negotiate_table(accept: str | None, version: str | None) -> None:
    assert negotiate_table(accept) == version


@pytest.mark.parametrize(
    ("node", "cells"),
    [
        (
            {
                "metadata": {"name": "box", "labels": {"kubernetes.io/hostname": "box"}},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]},
            },
            ["box", "Ready", "<none>"],
        ),
        (
            {
                "metadata": {
                    "name": "cp",
                    "labels": {
                        "node-role.kubernetes.io/control-plane": "",
                        "node-role.kubernetes.io/worker": "",
                    },
                },
                "spec": {"unschedulable": True},
                "status": {"conditions": [{"type": "Ready", "status": "False"}]},
            },
            ["cp", "NotReady,SchedulingDisabled", "control-plane,worker"],
        ),
        ({"metadata": {"name": "new"}}, ["new", "Unknown", "<none>"]),
    ],
)
def test_node_cells(node: JSON, cells: list[str]) -> None:
    row = node_row(node, NOW)
    assert row["cells"][:3] == cells
    assert len(row["cells"]) == len(NODE_COLUMNS)
    assert row["cells"][5] == "<none>"  # no InternalIP in these
