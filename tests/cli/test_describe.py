"""``describe pod`` text from Pod and Event JSON: kubectl's describer, line for line."""

from __future__ import annotations

from typing import Any

import pytest

from minikubelet.cli.client.describe import describe_events, describe_pod, describe_probe
from tests.cli.samples import NOW, container_status, event, pod, running, terminated, waiting

pytestmark = pytest.mark.usefixtures("utc_clock")


def web() -> dict[str, Any]:
    return pod(
        "web",
        labels={"app": "web", "tier": "front"},
        annotations={
            "kubernetes.io/config.source": "file",
            "kubectl.kubernetes.io/last-applied-configuration": "{}",
        },
        containers=[
            {
                "name": "web",
                "image": "python:3.12",
                "command": ["python", "-m", "http.server"],
                "args": ["8080"],
                "ports": [{"containerPort": 8080}],
                "env": [
                    {"name": "MODE", "value": "dev"},
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 2},
                "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}},
            }
        ],
        statuses=[
            container_status(
                "web",
                running(100),
                ready=True,
                restarts=2,
                last=terminated(137, "OOMKilled", 200, 110),
            )
        ],
    )


EVENTS = [
    event("Started", "Started container web", count=3, first=120, last=100, container="web"),
    event("Pulled", 'Container image "python:3.12" already present', first=130),
    event(
        "BackOff",
        "Back-off restarting failed container web",
        kind="Warning",
        count=2,
        first=115,
        last=105,
    ),
]

WEB = "".join(
    line + "\n"
    for line in (
        "Name:         web",
        "Namespace:    default",
        "Node:         localhost/127.0.0.1",
        "Start Time:   Sat, 01 Mar 2025 11:55:00 +0000",
        "Labels:       app=web",
        "              tier=front",
        "Annotations:  kubernetes.io/config.source: file",
        "Status:       Running",
        "IP:           127.0.0.1",
        "IPs:",
        "  IP:  127.0.0.1",
        "Containers:",
        "  web:",
        "    Container ID:  process://4242",
        "    Image:         python:3.12",
        "    Image ID:      ",
        "    Port:          8080/TCP",
        "    Host Port:     0/TCP",
        "    Command:",
        "      python",
        "      -m",
        "      http.server",
        "    Args:",
        "      8080",
        "    State:          Running",
        "      Started:      Sat, 01 Mar 2025 11:58:20 +0000",
        "    Last State:     Terminated",
        "      Reason:       OOMKilled",
        "      Exit Code:    137",
        "      Started:      Sat, 01 Mar 2025 11:56:40 +0000",
        "      Finished:     Sat, 01 Mar 2025 11:58:10 +0000",
        "    Ready:          True",
        "    Restart Count:  2",
        "    Limits:",
        "      cpu:      500m",
        "      memory:   64Mi",
        "    Liveness:   http-get http://:8080/healthz "
        "delay=0s timeout=1s period=10s #success=1 #failure=3",
        "    Readiness:  exec [cat /tmp/ready] delay=0s timeout=1s period=2s #success=1 #failure=3",
        "    Environment:",
        "      MODE:  dev",
        "      POD:   web (v1:metadata.name)",
        "    Mounts:  <none>",
        "Conditions:",
        "  Type                        Status",
        "  PodReadyToStartContainers   True ",
        "  Initialized                 True ",
        "  Ready                       True ",
        "  ContainersReady             True ",
        "  PodScheduled                True ",
        "Volumes:                      <none>",
        "QoS Class:                    BestEffort",
        "Node-Selectors:               <none>",
        "Tolerations:                  <none>",
        "Events:",
        "  Type     Reason   Age                  From         Message",
        "  ----     ------   ----                 ----         -------",
        "  Normal   Pulled   2m10s                minikubelet  "
        'Container image "python:3.12" already present',
        "  Warning  BackOff  105s (x2 over 115s)  minikubelet  "
        "Back-off restarting failed container web",
        "  Normal   Started  100s (x3 over 2m)    minikubelet  Started container web",
    )
)


def test_full_layout_like_kubectl() -> None:
    assert describe_pod(web(), EVENTS, NOW) == WEB


def test_no_events_prints_none_aligned_with_the_block_above() -> None:
    text = describe_pod(pod("bare"), [], NOW)
    assert text.endswith(
        "Tolerations:                  <none>\nEvents:                       <none>\n"
    )
    assert "    Environment:    <none>\n    Mounts:         <none>\n" in text


def test_events_left_out_when_not_fetched() -> None:
    assert "Events" not in describe_pod(pod("bare"), None, NOW)


def test_terminating_pod() -> None:
    text = describe_pod(pod("web", deleting=4), [], NOW)
    assert "Status:                    Terminating (lasts 4s)\n" in text
    assert "Termination Grace Period:  30s\n" in text


def test_init_containers_and_waiting_states() -> None:
    text = describe_pod(
        pod(
            "web",
            phase="Pending",
            init_containers=[{"name": "migrate", "image": "", "command": ["./migrate"]}],
            init_statuses=[
                container_status(
                    "migrate",
                    waiting("CrashLoopBackOff"),
                    restarts=1,
                    last=terminated(3, "Error", 20, 10),
                )
            ],
            statuses=[container_status("web", waiting("PodInitializing"))],
            initialized=False,
        ),
        [],
        NOW,
    )
    assert "Init Containers:\n  migrate:\n" in text
    assert (
        "    State:          Waiting\n"
        "      Reason:       CrashLoopBackOff\n"
        "    Last State:     Terminated\n"
        "      Reason:       Error\n"
        "      Exit Code:    3\n"
    ) in text
    assert "    State:          Waiting\n      Reason:       PodInitializing\n" in text
    assert text.index("Init Containers:") < text.index("Containers:\n  web:")


def test_signal_and_message_of_a_terminated_container() -> None:
    state = terminated(137, "Error", 20, 10, signal=9)
    state["terminated"]["message"] = "killed"
    text = describe_pod(
        pod("job", phase="Failed", statuses=[container_status("job", state)]), [], NOW
    )
    assert "      Message:      killed\n      Exit Code:    137\n      Signal:       9\n" in text


def test_several_ports_and_env_sources() -> None:
    container = {
        "name": "web",
        "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP", "hostPort": 53}],
        "env": [
            {"name": "TEXT", "value": "one\ntwo"},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}}},
        ],
    }
    text = describe_pod(pod("web", containers=[container], labels={"app": "shop"}), [], NOW)
    assert "    Ports:         80/TCP, 53/UDP\n    Host Ports:    0/TCP, 53/UDP\n" in text
    assert (
        "    Environment:\n"
        "      TEXT:  one\n"
        "             two\n"
        "      IP:    127.0.0.1 (v1:status.podIP)\n"
        "      APP:   shop (v1:metadata.labels['app'])\n"
        "      KEY:   <set to the key 'k' in secret 's'>  Optional: false\n"
        "      MEM:   node allocatable (limits.memory)\n"
        "    Mounts:  <none>\n"
    ) in text


@pytest.mark.parametrize(
    ("probe", "expected"),
    [
        (
            {"httpGet": {"path": "/healthz", "port": 8080}},
            "http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3",
        ),
        (
            {
                "httpGet": {"host": "10.0.0.1", "port": "web", "scheme": "HTTPS"},
                "initialDelaySeconds": 5,
                "timeoutSeconds": 2,
                "periodSeconds": 3,
                "successThreshold": 1,
                "failureThreshold": 6,
            },
            "http-get https://10.0.0.1:web/ delay=5s timeout=2s period=3s #success=1 #failure=6",
        ),
        (
            {"tcpSocket": {"port": 5432}},
            "tcp-socket :5432 delay=0s timeout=1s period=10s #success=1 #failure=3",
        ),
        (
            {"grpc": {"port": 9090}},
            "grpc <pod>:9090  delay=0s timeout=1s period=10s #success=1 #failure=3",
        ),
        (
            {"exec": {"command": ["sh", "-c", "test -f /tmp/ok"]}},
            "exec [sh -c test -f /tmp/ok] delay=0s timeout=1s period=10s #success=1 #failure=3",
        ),
    ],
)
def test_probe_lines(probe: dict[str, Any], expected: str) -> None:
    assert describe_probe(probe) == expected


def test_events_table_alone() -> None:
    assert describe_events([], NOW) == "Events:  <none>\n"
    text = describe_events([event("Killing", "Stopping container web", first=5)], NOW)
    assert text == (
        "Events:\n"
        "  Type    Reason   Age   From         Message\n"
        "  ----    ------   ----  ----         -------\n"
        "  Normal  Killing  5s    minikubelet  Stopping container web\n"
    )


def test_long_annotations_are_shortened() -> None:
    text = describe_pod(pod("web", annotations={"note": "x" * 200}), [], NOW)
    assert "Annotations:  note:\n                " + "x" * 138 + "...\n" in text


def test_the_containment_line_comes_from_the_pod_trace() -> None:
    trace = {
        "kind": "PodTrace",
        "containers": [],
        "containment": {
            "mode": "cgroup-v1",
            "reason": "cgroup v1 (hybrid): a cgroup per container",
        },
    }
    lines = describe_pod(pod("web"), [], NOW, trace).splitlines()
    qos = next(i for i, line in enumerate(lines) if line.startswith("QoS Class:"))
    assert lines[qos + 1].split(None, 1) == [
        "Containment:",
        "cgroup-v1: cgroup v1 (hybrid): a cgroup per container",
    ]
    # aligned with the block it belongs to
    assert lines[qos + 1].index("cgroup-v1") == lines[qos].index("BestEffort")
    assert "Containment" not in describe_pod(pod("web"), [], NOW, {"containers": []})
