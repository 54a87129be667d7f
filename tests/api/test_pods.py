"""Pods: list, selectors, get, create (JSON and YAML), replace, delete, and their errors."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from typing import Any

import pytest

from minikubelet.model.spec import ObjectMeta, RestartPolicy
from minikubelet.model.status import PodPhase
from minikubelet.testing import wait_for_status
from tests.api.conftest import Server
from tests.conftest import CHILD, PYTHON
from tests.helpers.pods import child, pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

PODS = "/api/v1/namespaces/default/pods"


def manifest(name: str, *flags: str, **extra: Any) -> dict[str, Any]:
    container = {"name": "app", "image": "local", "command": [PYTHON, CHILD, *flags]}
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [container], "terminationGracePeriodSeconds": 5},
    }
    for key, value in extra.items():
        body["spec"][key] = value
    return body


async def create(server: Server, body: dict[str, Any], path: str = PODS) -> Any:
    response = await server.client.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


# -- reading -------------------------------------------------------------------------


async def test_list_is_a_pod_list_with_a_resource_version(server: Server) -> None:
    await start(server.kubelet, pod("b", child("app", "--forever")))
    await start(server.kubelet, pod("a", child("app", "--forever")))
    data = await server.json(PODS)
    assert data["kind"] == "PodList"
    assert data["apiVersion"] == "v1"
    assert [item["metadata"]["name"] for item in data["items"]] == ["a", "b"]
    listed = int(data["metadata"]["resourceVersion"])
    for item in data["items"]:
        assert 0 < int(item["metadata"]["resourceVersion"]) <= listed
        assert item["kind"] == "Pod"
    everywhere = (await server.json("/api/v1/pods"))["items"]
    assert [item["metadata"]["uid"] for item in everywhere] == [
        item["metadata"]["uid"] for item in data["items"]
    ]
    assert (await server.json("/api/v1/namespaces/other/pods"))["items"] == []


async def test_resource_versions_only_grow(server: Server) -> None:
    first = int((await server.json(PODS))["metadata"]["resourceVersion"])
    worker = await start(server.kubelet, pod("grow", child("app", "--forever")))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    second = int((await server.json(PODS))["metadata"]["resourceVersion"])
    got = await server.json(f"{PODS}/grow")
    assert first < int(got["metadata"]["resourceVersion"]) <= second


async def test_label_selectors(server: Server) -> None:
    labelled = {
        "web": {"app": "web", "tier": "front"},
        "api": {"app": "api", "tier": "back"},
        "bare": {},
    }
    for name, labels in labelled.items():
        body = manifest(name, "--forever")
        body["metadata"]["labels"] = labels
        await create(server, body)

    async def names(selector: str) -> list[str]:
        data = await server.json(PODS, labelSelector=selector)
        return [item["metadata"]["name"] for item in data["items"]]

    assert await names("app=web") == ["web"]
    assert await names("app==api") == ["api"]
    assert await names("app!=web") == ["api", "bare"]
    assert await names("tier") == ["api", "web"]
    assert await names("!tier") == ["bare"]
    assert await names("app in (web,api),tier=back") == ["api"]
    assert await names("app notin (web)") == ["api", "bare"]
    response = await server.client.get(PODS, params={"labelSelector": "a b c"})
    assert response.status_code == 400
    assert response.json()["reason"] == "BadRequest"


async def test_field_selectors(server: Server) -> None:
    await start(server.kubelet, pod("one", child("app", "--forever")))
    await start(server.kubelet, pod("two", child("app", "--forever")))
    data = await server.json(PODS, fieldSelector="metadata.name=two")
    assert [item["metadata"]["name"] for item in data["items"]] == ["two"]
    data = await server.json(
        "/api/v1/pods", fieldSelector="metadata.name!=two,metadata.namespace=default"
    )
    assert [item["metadata"]["name"] for item in data["items"]] == ["one"]
    data = await server.json(PODS, fieldSelector="status.phase=Succeeded")
    assert data["items"] == []
    response = await server.client.get(PODS, params={"fieldSelector": "spec.bogus=1"})
    assert response.status_code == 400
    assert response.json()["message"] == "field label not supported: spec.bogus"


async def test_get_has_the_full_status(server: Server) -> None:
    worker = await start(server.kubelet, pod("full", child("app", "--forever")))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    data = await server.json(f"{PODS}/full")
    assert data["metadata"]["uid"] == worker.uid
    assert data["status"]["phase"] == "Running"
    assert data["status"]["podIP"] == "127.0.0.1"
    (status,) = data["status"]["containerStatuses"]
    assert status["name"] == "app"
    assert "running" in status["state"]
    assert status["containerID"].startswith("process://")


async def test_get_of_a_missing_pod_is_a_not_found_status(server: Server) -> None:
    response = await server.client.get(f"{PODS}/x")
    assert response.status_code == 404
    assert response.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "x" not found',
        "reason": "NotFound",
        "details": {"name": "x", "kind": "pods"},
        "code": 404,
    }


# -- create --------------------------------------------------------------------------


async def test_create_from_json(server: Server) -> None:
    created = await create(server, manifest("made", "--forever"))
    assert created["kind"] == "Pod"
    assert created["metadata"]["name"] == "made"
    assert created["metadata"]["namespace"] == "default"
    assert created["metadata"]["uid"]
    worker = server.kubelet.worker("default", "made")
    assert worker is not None
    assert worker.uid == created["metadata"]["uid"]
    assert not worker.snapshot.is_static
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)


async def test_create_from_yaml_in_the_url_namespace(server: Server) -> None:
    body = textwrap.dedent(
        f"""\
        apiVersion: v1
        kind: Pod
        metadata:
          name: yaml
        spec:
          restartPolicy: Never
          containers:
          - name: app
            command: [{json.dumps(PYTHON)}, {json.dumps(CHILD)}, --print, hi]
        """
    )
    response = await server.client.post(
        "/api/v1/namespaces/team/pods",
        content=body,
        headers={"Content-Type": "application/yaml"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["metadata"]["namespace"] == "team"
    worker = server.kubelet.worker("team", "yaml")
    assert worker is not None
    status = await wait_for_status(worker, lambda s: s.phase is PodPhase.SUCCEEDED)
    assert status.phase is PodPhase.SUCCEEDED


async def test_a_name_in_use_is_a_conflict(server: Server) -> None:
    await create(server, manifest("dup", "--forever"))
    response = await server.client.post(PODS, json=manifest("dup", "--forever"))
    assert response.status_code == 409
    status = response.json()
    assert status["reason"] == "AlreadyExists"
    assert status["message"] == 'pods "dup" already exists'
    assert status["details"] == {"name": "dup", "kind": "pods"}


async def test_an_unknown_field_is_a_bad_request(server: Server) -> None:
    body = manifest("typo")
    body["spec"]["containers"][0]["comand"] = ["x"]
    response = await server.client.post(PODS, json=body)
    assert response.status_code == 400
    status = response.json()
    assert status["reason"] == "BadRequest"
    assert status["message"].startswith(
        'strict decoding error: unknown field "spec.containers[0].comand"'
    )
    assert 'did you mean "command"?' in status["message"]
    assert server.kubelet.worker("default", "typo") is None


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"key: [unclosed", b"[1, 2]", b"", b"\xff\xfe"],
    ids=["json", "yaml", "not-an-object", "empty", "not-utf8"],
)
async def test_a_body_that_does_not_decode_is_a_bad_request(server: Server, body: bytes) -> None:
    response = await server.client.post(PODS, content=body)
    assert response.status_code == 400, response.text
    assert response.json()["reason"] == "BadRequest"


async def test_only_one_pod_per_request(server: Server) -> None:
    items = [manifest("l1"), manifest("l2")]
    response = await server.client.post(
        PODS, json={"apiVersion": "v1", "kind": "List", "items": items}
    )
    assert response.status_code == 400
    response = await server.client.post(
        PODS, json={"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}
    )
    assert response.status_code == 400


async def test_invalid_values_are_unprocessable_with_causes(server: Server) -> None:
    body = manifest("bad", terminationGracePeriodSeconds=-5)
    body["spec"]["containers"][0]["livenessProbe"] = {
        "exec": {"command": ["true"]},
        "periodSeconds": -1,
    }
    response = await server.client.post(PODS, json=body)
    assert response.status_code == 422, response.text
    status = response.json()
    assert status["reason"] == "Invalid"
    assert status["details"]["kind"] == "Pod"
    assert status["details"]["name"] == "bad"
    causes = {cause["field"]: cause for cause in status["details"]["causes"]}
    grace = causes["spec.terminationGracePeriodSeconds"]
    assert grace == {
        "reason": "FieldValueInvalid",
        "message": "Invalid value: -5: must be greater than or equal to 0",
        "field": "spec.terminationGracePeriodSeconds",
    }
    assert "spec.containers[0].livenessProbe.periodSeconds" in causes
    assert status["message"].startswith('Pod "bad" is invalid: [')


async def test_a_missing_required_field_is_unprocessable(server: Server) -> None:
    body = manifest("nocmd")
    del body["spec"]["containers"][0]["command"]
    response = await server.client.post(PODS, json=body)
    assert response.status_code == 422
    (cause,) = response.json()["details"]["causes"]
    assert cause["field"] == "spec.containers[0].command"
    assert cause["reason"] == "FieldValueRequired"


async def test_a_namespace_that_contradicts_the_url_is_a_bad_request(server: Server) -> None:
    body = manifest("elsewhere")
    body["metadata"]["namespace"] = "other"
    response = await server.client.post(PODS, json=body)
    assert response.status_code == 400
    assert response.json()["message"] == (
        "the namespace of the provided object does not match the namespace sent on the request"
    )
    body["metadata"]["namespace"] = "default"
    await create(server, body)


async def test_unhonoured_fields_come_back_as_warnings(server: Server) -> None:
    body = manifest("warned", "--forever", nodeSelector={"disk": "ssd"})
    response = await server.client.post(PODS, json=body)
    assert response.status_code == 201
    warnings = response.headers.get_list("warning")
    assert any("spec.nodeSelector" in warning for warning in warnings), warnings
    assert all(warning.startswith('299 - "') for warning in warnings)


# -- replace and delete ----------------------------------------------------------------


async def test_replace_recreates_the_pod(server: Server) -> None:
    created = await create(server, manifest("swap", "--forever"))
    body = manifest("swap", "--forever")
    body["metadata"]["labels"] = {"version": "2"}
    response = await server.client.put(f"{PODS}/swap", json=body)
    assert response.status_code == 200, response.text
    replaced = response.json()
    assert replaced["metadata"]["uid"] != created["metadata"]["uid"]
    assert replaced["metadata"]["labels"] == {"version": "2"}
    worker = server.kubelet.worker("default", "swap")
    assert worker is not None
    assert worker.uid == replaced["metadata"]["uid"]


async def test_replace_errors(server: Server) -> None:
    response = await server.client.put(f"{PODS}/ghost", json=manifest("ghost"))
    assert response.status_code == 404
    await create(server, manifest("named", "--forever"))
    response = await server.client.put(f"{PODS}/named", json=manifest("other"))
    assert response.status_code == 400
    assert response.json()["message"] == (
        "the name of the object (other) does not match the name on the URL (named)"
    )
    stale = manifest("named")
    stale["metadata"]["resourceVersion"] = "1"
    response = await server.client.put(f"{PODS}/named", json=stale)
    assert response.status_code == 409
    assert response.json()["reason"] == "Conflict"


async def test_delete_returns_the_pod_with_a_deletion_timestamp(server: Server) -> None:
    worker = await start(server.kubelet, pod("gone", child("app", "--forever"), grace=10))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    response = await server.client.request(
        "DELETE", f"{PODS}/gone", json={"gracePeriodSeconds": 3, "propagationPolicy": "Background"}
    )
    assert response.status_code == 200, response.text
    deleted = response.json()
    assert deleted["kind"] == "Pod"
    assert deleted["metadata"]["deletionTimestamp"]
    assert deleted["metadata"]["deletionGracePeriodSeconds"] == 3
    await worker.wait_done()
    assert server.kubelet.worker("default", "gone") is None
    assert (await server.client.get(f"{PODS}/gone")).status_code == 404


async def test_delete_with_grace_in_the_query(server: Server) -> None:
    worker = await start(server.kubelet, pod("q", child("app", "--forever"), grace=30))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    response = await server.client.delete(f"{PODS}/q", params={"gracePeriodSeconds": "2"})
    assert response.status_code == 200
    assert response.json()["metadata"]["deletionGracePeriodSeconds"] == 2


async def test_delete_errors(server: Server) -> None:
    response = await server.client.delete(f"{PODS}/nope")
    assert response.status_code == 404
    assert response.json()["message"] == 'pods "nope" not found'
    await start(server.kubelet, pod("kept", child("app", "--forever"), policy=RestartPolicy.ALWAYS))
    response = await server.client.request(
        "DELETE", f"{PODS}/kept", json={"preconditions": {"uid": "not-the-uid"}}
    )
    assert response.status_code == 409
    response = await server.client.request(
        "DELETE", f"{PODS}/kept", json={"gracePeriodSeconds": -1}
    )
    assert response.status_code == 422
    response = await server.client.request("DELETE", f"{PODS}/kept", content=b"{nope")
    assert response.status_code == 400
    assert server.kubelet.worker("default", "kept") is not None


async def test_pods_in_other_namespaces_are_separate(server: Server) -> None:
    other = pod("same", child("app", "--forever"))
    await start(server.kubelet, replace(other, metadata=ObjectMeta(name="same", namespace="ns1")))
    assert (await server.client.get(f"{PODS}/same")).status_code == 404
    got = await server.json("/api/v1/namespaces/ns1/pods/same")
    assert got["metadata"]["namespace"] == "ns1"


async def test_replacing_a_static_pod_is_forbidden(server: Server) -> None:
    await start(server.kubelet, pod("fromfile", child("app", "--forever")), is_static=True)
    response = await server.client.put(f"{PODS}/fromfile", json=manifest("fromfile", "--forever"))
    assert response.status_code == 422
    status = response.json()
    assert status["reason"] == "Invalid"
    assert "static pod" in status["message"]


# -- defaults, field validation, delete options -------------------------------------------


async def test_kind_and_api_version_come_from_the_url(server: Server) -> None:
    body = manifest("bare", "--forever")
    del body["kind"], body["apiVersion"]
    created = await create(server, body)
    assert (created["kind"], created["apiVersion"]) == ("Pod", "v1")
    other = manifest("svc")
    other["kind"] = "Service"
    response = await server.client.post(PODS, json=other)
    assert response.status_code == 400


async def test_the_served_pod_is_defaulted_as_the_apiserver_stores_it(server: Server) -> None:
    body = manifest("ports", "--forever")
    body["spec"]["containers"][0]["ports"] = [{"containerPort": 8080}]
    body["spec"]["containers"][0]["readinessProbe"] = {"tcpSocket": {"port": 8080}}
    created = await create(server, body)
    container = created["spec"]["containers"][0]
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert container["imagePullPolicy"] == "Always"  # "local": no tag is :latest
    assert container["readinessProbe"]["periodSeconds"] == 10
    assert created["spec"]["dnsPolicy"] == "ClusterFirst"
    assert "terminationMessagePath" not in container  # minikubelet maps the default itself


async def test_field_validation_warn_and_ignore_drop_unknown_fields(server: Server) -> None:
    body = manifest("lenient", "--forever")
    body["spec"]["containers"][0]["comand"] = ["x"]
    response = await server.client.post(PODS, json=body, params={"fieldValidation": "Warn"})
    assert response.status_code == 201, response.text
    assert any(
        'unknown field \\"spec.containers[0].comand\\"' in warning
        for warning in response.headers.get_list("warning")
    ), response.headers.get_list("warning")
    assert "comand" not in response.json()["spec"]["containers"][0]
    body["metadata"]["name"] = "quiet"
    response = await server.client.post(PODS, json=body, params={"fieldValidation": "Ignore"})
    assert response.status_code == 201
    assert not any("comand" in w for w in response.headers.get_list("warning"))
    response = await server.client.post(PODS, json=body, params={"fieldValidation": "Loose"})
    assert response.status_code == 400


async def test_delete_options_are_checked(server: Server) -> None:
    worker = await start(server.kubelet, pod("opts", child("app", "--forever")))
    path = f"{PODS}/opts"
    response = await server.client.request("DELETE", path, json={"propagationPolicy": "All"})
    assert response.status_code == 422
    assert 'propagationPolicy: Unsupported value: "All"' in response.json()["message"]
    current = await server.json(path)
    stale = {"preconditions": {"resourceVersion": "1"}}
    response = await server.client.request("DELETE", path, json=stale)
    assert response.status_code == 409
    assert "ResourceVersion in precondition: 1" in response.json()["message"]
    assert server.kubelet.worker("default", "opts") is worker
    fresh = {
        "preconditions": {
            "uid": worker.uid,
            "resourceVersion": current["metadata"]["resourceVersion"],
        },
        "propagationPolicy": "Foreground",
    }
    response = await server.client.request("DELETE", path, json=fresh)
    assert response.status_code in (200, 409), response.text  # 409 if it changed meanwhile


async def test_a_forced_delete_answers_once_the_pod_is_gone(server: Server) -> None:
    worker = await start(server.kubelet, pod("forced", child("app", "--forever"), grace=30))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    response = await server.client.request(
        "DELETE", f"{PODS}/forced", json={"gracePeriodSeconds": 0}
    )
    assert response.status_code == 200, response.text
    final = response.json()
    assert final["metadata"]["deletionTimestamp"]
    assert final["status"]["phase"] in ("Failed", "Succeeded")
    assert (await server.client.get(f"{PODS}/forced")).status_code == 404
    assert worker.done
