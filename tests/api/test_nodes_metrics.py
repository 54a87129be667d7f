"""This machine as a Node, and metrics.k8s.io (what ``kubectl top pod|node`` read)."""

from __future__ import annotations

import os

import pytest

from minikubelet.model.status import PodPhase
from minikubelet.testing import wait_for_status
from tests.api.conftest import Server
from tests.helpers.pods import child, pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

METRICS = "/apis/metrics.k8s.io/v1beta1"


async def test_the_node(server: Server) -> None:
    name = server.kubelet.settings.node_name
    nodes = await server.json("/api/v1/nodes")
    assert nodes["kind"] == "NodeList"
    (node,) = nodes["items"]
    assert node["metadata"]["name"] == name
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == name
    assert node["status"]["allocatable"]["cpu"] == str(os.cpu_count())
    assert node["status"]["allocatable"]["memory"].endswith("Ki")
    assert {c["type"]: c["status"] for c in node["status"]["conditions"]} == {"Ready": "True"}
    assert (await server.json(f"/api/v1/nodes/{name}"))["metadata"]["name"] == name
    assert (await server.client.get("/api/v1/nodes/other")).status_code == 404
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    response = await server.client.get("/api/v1/nodes", headers={"Accept": accept})
    (row,) = response.json()["rows"]
    assert row["cells"][:3] == [name, "Ready", "<none>"]


async def test_pod_and_node_metrics(server: Server) -> None:
    worker = await start(server.kubelet, pod("busy", child("app", "--forever")))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    listed = await server.json(f"{METRICS}/namespaces/default/pods")
    assert listed["kind"] == "PodMetricsList"
    (item,) = listed["items"]
    assert item["metadata"]["name"] == "busy"
    (container,) = item["containers"]
    assert container["name"] == "app"
    assert container["usage"]["cpu"].endswith("n")
    assert container["usage"]["memory"].endswith("Ki")
    assert int(container["usage"]["memory"][:-2]) > 1000  # a Python process: MBs
    assert item["window"].endswith("s")
    one = await server.json(f"{METRICS}/namespaces/default/pods/busy")
    assert one["kind"] == "PodMetrics"
    everywhere = await server.json(f"{METRICS}/pods")
    assert [i["metadata"]["name"] for i in everywhere["items"]] == ["busy"]
    missing = await server.client.get(f"{METRICS}/namespaces/default/pods/nope")
    assert missing.status_code == 404
    nodes = await server.json(f"{METRICS}/nodes")
    (node,) = nodes["items"]
    assert node["metadata"]["name"] == server.kubelet.settings.node_name
    assert int(node["usage"]["cpu"][:-1]) >= 0
    assert (await server.json(f"{METRICS}/nodes/{node['metadata']['name']}"))["kind"] == (
        "NodeMetrics"
    )
