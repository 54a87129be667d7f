"""Server-side Tables: what kubectl's Accept header gets for lists, objects and watches."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from minikubelet.model.status import PodPhase
from minikubelet.testing import wait_for_status
from tests.api.conftest import Server
from tests.helpers.pods import child, pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

PODS = "/api/v1/namespaces/default/pods"
TABLE = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;"
    "g=meta.k8s.io,application/json"
)


async def table(server: Server, path: str, **params: str) -> Any:
    response = await server.client.get(path, params=params, headers={"Accept": TABLE})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["kind"] == "Table"
    assert data["apiVersion"] == "meta.k8s.io/v1"
    return data


async def test_a_pod_list_as_a_table(server: Server) -> None:
    worker = await start(server.kubelet, pod("web", child("app", "--forever")))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    data = await table(server, PODS, limit="500")
    names = [(c["name"], c["priority"]) for c in data["columnDefinitions"]]
    assert names == [
        ("Name", 0),
        ("Ready", 0),
        ("Status", 0),
        ("Restarts", 0),
        ("Age", 0),
        ("IP", 1),
        ("Node", 1),
        ("Nominated Node", 1),
        ("Readiness Gates", 1),
    ]
    (row,) = data["rows"]
    assert row["cells"][:4] == ["web", "1/1", "Running", "0"]
    assert row["cells"][5:] == ["127.0.0.1", server.kubelet.settings.node_name, "<none>", "<none>"]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["uid"] == worker.uid
    # kubectl get -w watches from the Table's version: every row is at or before it.
    assert int(data["metadata"]["resourceVersion"]) >= int(
        row["object"]["metadata"]["resourceVersion"]
    )


async def test_include_object_and_one_object(server: Server) -> None:
    worker = await start(server.kubelet, pod("one", child("app", "--forever")))
    full = await table(server, PODS, includeObject="Object")
    assert full["rows"][0]["object"]["kind"] == "Pod"
    assert full["rows"][0]["object"]["spec"]["containers"][0]["name"] == "app"
    bare = await table(server, PODS, includeObject="None")
    assert bare["rows"][0]["object"] is None
    single = await table(server, f"{PODS}/one")
    (row,) = single["rows"]
    assert row["cells"][0] == "one"
    assert single["metadata"]["resourceVersion"] == row["object"]["metadata"]["resourceVersion"]
    response = await server.client.get(
        PODS, params={"includeObject": "Everything"}, headers={"Accept": TABLE}
    )
    assert response.status_code == 400
    assert "includeObject: Unsupported value" in response.json()["message"]
    # Plain JSON when the client does not ask for a Table.
    assert (await server.json(f"{PODS}/one"))["metadata"]["uid"] == worker.uid
    assert (await table(server, "/api/v1/namespaces/none/pods"))["rows"] == []


async def test_events_as_a_table(server: Server) -> None:
    await start(server.kubelet, pod("noisy", child("app", "--forever")))
    with anyio.fail_after(10):
        while True:
            data = await table(server, "/api/v1/namespaces/default/events")
            if any(row["cells"][2] == "Started" for row in data["rows"]):
                break
            await anyio.sleep(0.05)
    shown = [c["name"] for c in data["columnDefinitions"] if c["priority"] == 0]
    assert shown == ["Last Seen", "Type", "Reason", "Object", "Message"]
    started = next(row for row in data["rows"] if row["cells"][2] == "Started")
    assert started["cells"][1] == "Normal"
    assert started["cells"][3] == "pod/noisy"
    assert started["cells"][4] == "spec.containers{app}"
    assert started["cells"][6] == "Started container app"


async def test_a_watch_of_tables_has_its_headers_once(server: Server) -> None:
    await start(server.kubelet, pod("w", child("app", "--forever")))
    frames = []
    async with server.client.stream(
        "GET",
        PODS,
        params={"watch": "true", "timeoutSeconds": "1"},
        headers={"Accept": TABLE},
        timeout=None,
    ) as response:
        with anyio.fail_after(10):
            async for line in response.aiter_lines():
                if line.strip():
                    frames.append(json.loads(line))
    assert frames
    assert all(frame["object"]["kind"] == "Table" for frame in frames)
    assert frames[0]["object"]["columnDefinitions"]
    assert all(frame["object"]["columnDefinitions"] is None for frame in frames[1:])
    assert all(len(frame["object"]["rows"]) == 1 for frame in frames)
    assert frames[0]["type"] == "ADDED"
