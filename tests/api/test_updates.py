"""Updates in place: PATCH in the four content types, the Pod update rule, pods/status."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from tests.api.conftest import Server
from tests.conftest import CHILD, PYTHON

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

PODS = "/api/v1/namespaces/default/pods"
SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


def manifest(name: str, image: str = "python:3.12") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "terminationGracePeriodSeconds": 5,
            "containers": [
                {"name": "app", "image": image, "command": [PYTHON, CHILD, "--forever"]}
            ],
        },
    }


async def create(server: Server, body: dict[str, Any]) -> Any:
    response = await server.client.post(PODS, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def patch(server: Server, name: str, body: Any, kind: str, **params: str) -> Any:
    return await server.client.patch(
        f"{PODS}/{name}",
        content=json.dumps(body),
        headers={"Content-Type": kind},
        params=params,
    )


async def running(server: Server, name: str, restarts: int = 0) -> Any:
    with anyio.fail_after(15):
        while True:
            pod = await server.json(f"{PODS}/{name}")
            statuses = pod["status"].get("containerStatuses") or []
            if statuses and all(
                "running" in s["state"] and s["restartCount"] >= restarts for s in statuses
            ):
                return pod
            await anyio.sleep(0.05)


async def test_a_label_merge_patch_changes_the_pod_in_place(server: Server) -> None:
    created = await create(server, manifest("web"))
    before = await running(server, "web")
    response = await patch(server, "web", {"metadata": {"labels": {"tier": "front"}}}, MERGE)
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert patched["metadata"]["uid"] == created["metadata"]["uid"]
    assert int(patched["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    assert patched["status"]["containerStatuses"][0]["restartCount"] == 0
    selected = await server.json(PODS, labelSelector="tier=front")
    assert [p["metadata"]["name"] for p in selected["items"]] == ["web"]
    # A removal, and a patch that changes nothing keeps the version.
    response = await patch(server, "web", {"metadata": {"labels": {"tier": None}}}, MERGE)
    assert response.json()["metadata"]["labels"] == {"app": "web"}
    again = await patch(server, "web", {"metadata": {"labels": {"app": "web"}}}, MERGE)
    assert (
        again.json()["metadata"]["resourceVersion"]
        == response.json()["metadata"]["resourceVersion"]
    )


async def test_an_image_change_restarts_the_container(server: Server) -> None:
    created = await create(server, manifest("img"))
    await running(server, "img")
    body = {
        "spec": {
            "$setElementOrder/containers": [{"name": "app"}],
            "containers": [{"name": "app", "image": "python:3.13"}],
        }
    }
    response = await patch(server, "img", body, SMP, fieldManager="kubectl-client-side-apply")
    assert response.status_code == 200, response.text
    assert response.json()["spec"]["containers"][0]["image"] == "python:3.13"
    after = await running(server, "img", restarts=1)
    assert after["metadata"]["uid"] == created["metadata"]["uid"]
    assert after["status"]["containerStatuses"][0]["image"] == "python:3.13"
    events = await server.json(
        "/api/v1/namespaces/default/events", fieldSelector="involvedObject.name=img"
    )
    assert "Container app definition changed, will be restarted" in [
        e["message"] for e in events["items"] if e["reason"] == "Killing"
    ]


async def test_forbidden_changes_are_invalid_as_the_apiserver_says(server: Server) -> None:
    await create(server, manifest("strict"))
    body = {"spec": {"containers": [{"name": "app", "command": ["sleep", "1"]}]}}
    response = await patch(server, "strict", body, SMP)
    assert response.status_code == 422, response.text
    status = response.json()
    assert status["reason"] == "Invalid"
    assert status["details"]["kind"] == "Pod"
    (cause,) = status["details"]["causes"]
    assert cause["field"] == "spec"
    assert cause["message"].startswith("Forbidden: pod updates may not change fields other than")
    assert status["message"].startswith('Pod "strict" is invalid: spec: Forbidden:')
    # JSON patch on a field the rule keeps: also refused; a bad operation is the bare 422.
    ops = [{"op": "replace", "path": "/spec/restartPolicy", "value": "Never"}]
    assert (await patch(server, "strict", ops, JSON_PATCH)).status_code == 422
    ops = [{"op": "remove", "path": "/metadata/nothing"}]
    response = await patch(server, "strict", ops, JSON_PATCH)
    assert response.status_code == 422
    # A stale resourceVersion is a conflict; an unknown field a bad request.
    stale = {"metadata": {"resourceVersion": "1", "labels": {"x": "y"}}}
    assert (await patch(server, "strict", stale, MERGE)).json()["reason"] == "Conflict"
    typo = {"spec": {"activeDeadlineSecs": 5}}
    response = await patch(server, "strict", typo, MERGE, fieldValidation="Strict")
    assert response.status_code == 400
    assert 'unknown field "spec.activeDeadlineSecs"' in response.json()["message"]
    response = await patch(server, "strict", typo, MERGE, fieldValidation="Warn")
    assert response.status_code == 200
    assert any("activeDeadlineSecs" in w for w in response.headers.get_list("warning"))
    assert (await patch(server, "nope", {}, MERGE)).status_code == 404


async def test_server_side_apply_creates_then_merges(server: Server) -> None:
    body = manifest("ssa")
    response = await patch(server, "ssa", body, APPLY, fieldManager="kubectl", force="false")
    assert response.status_code == 201, response.text
    created = response.json()
    (entry,) = created["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"]) == ("kubectl", "Apply")
    await running(server, "ssa")
    body["metadata"]["labels"] = {"app": "ssa", "applied": "twice"}
    response = await patch(server, "ssa", body, APPLY, fieldManager="kubectl")
    assert response.status_code == 200, response.text
    assert response.json()["metadata"]["labels"] == {"app": "ssa", "applied": "twice"}
    assert response.json()["metadata"]["uid"] == created["metadata"]["uid"]
    response = await patch(server, "ssa", body, APPLY)
    assert response.status_code == 400
    assert "must set fieldManager" in response.json()["message"]


async def test_the_status_subresource(server: Server) -> None:
    await create(server, manifest("st"))
    pod = await running(server, "st")
    status = await server.json(f"{PODS}/st/status")
    assert status["metadata"]["uid"] == pod["metadata"]["uid"]
    assert status["status"]["phase"] == "Running"
    current = await server.json(f"{PODS}/st/status")
    response = await server.client.put(f"{PODS}/st/status", json=current)
    assert response.status_code == 200, response.text
    assert response.json()["status"]["phase"] == "Running"  # the kubelet's, still
    current["metadata"]["resourceVersion"] = "1"
    assert (await server.client.put(f"{PODS}/st/status", json=current)).status_code == 409
    response = await server.client.patch(
        f"{PODS}/st/status",
        content=json.dumps({"status": {"phase": "Failed"}}),
        headers={"Content-Type": MERGE},
    )
    assert response.status_code == 200
    assert response.json()["status"]["phase"] == "Running"
    assert (await server.client.get(f"{PODS}/nope/status")).status_code == 404


async def test_a_static_pod_is_not_updated(server: Server) -> None:
    from tests.helpers.pods import child, pod, start

    await start(server.kubelet, pod("fromfile", child("app", "--forever")), is_static=True)
    response = await patch(server, "fromfile", {"metadata": {"labels": {"a": "b"}}}, MERGE)
    assert response.status_code == 422
    assert "static pod" in response.json()["message"]
