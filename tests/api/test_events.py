"""Events: EventList, namespaces, field selectors on involvedObject.* and more."""

from __future__ import annotations

import pytest

from minikubelet.model.status import PodPhase
from minikubelet.testing import wait_for_status
from tests.api.conftest import Server
from tests.helpers.pods import child, pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

EVENTS = "/api/v1/namespaces/default/events"


async def started(server: Server, name: str) -> str:
    worker = await start(server.kubelet, pod(name, child("app", "--forever")))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    return worker.uid


async def test_event_list(server: Server) -> None:
    uid = await started(server, "web")
    data = await server.json(EVENTS)
    assert data["kind"] == "EventList"
    assert data["apiVersion"] == "v1"
    assert int(data["metadata"]["resourceVersion"]) > 0
    reasons = [item["reason"] for item in data["items"]]
    assert "Started" in reasons
    event = data["items"][reasons.index("Started")]
    assert event["kind"] == "Event"
    assert event["involvedObject"] == {
        "kind": "Pod",
        "namespace": "default",
        "name": "web",
        "uid": uid,
        "apiVersion": "v1",
        "fieldPath": "spec.containers{app}",
    }
    assert event["type"] == "Normal"
    assert event["count"] == 1
    assert event["metadata"]["resourceVersion"]
    assert (await server.json("/api/v1/events"))["items"] == data["items"]
    assert (await server.json("/api/v1/namespaces/other/events"))["items"] == []


async def test_field_selector_picks_one_pods_events(server: Server) -> None:
    uid = await started(server, "mine")
    await started(server, "theirs")
    # kubectl describe sends all three terms, in any order.
    selector = f"involvedObject.uid={uid},involvedObject.name=mine,involvedObject.namespace=default"
    data = await server.json(EVENTS, fieldSelector=selector)
    assert data["items"]
    assert {item["involvedObject"]["name"] for item in data["items"]} == {"mine"}
    data = await server.json(
        "/api/v1/events",
        fieldSelector="involvedObject.kind=Pod,involvedObject.apiVersion=v1,reason=Started",
    )
    assert {item["involvedObject"]["name"] for item in data["items"]} == {"mine", "theirs"}
    data = await server.json(EVENTS, fieldSelector="involvedObject.name!=mine,type=Normal")
    assert {item["involvedObject"]["name"] for item in data["items"]} == {"theirs"}
    data = await server.json(EVENTS, fieldSelector="type=Warning")
    assert data["items"] == []


async def test_an_unsupported_field_is_a_bad_request(server: Server) -> None:
    response = await server.client.get(EVENTS, params={"fieldSelector": "message=x"})
    assert response.status_code == 400
    assert response.json()["message"] == "field label not supported: message"
    response = await server.client.get(EVENTS, params={"fieldSelector": "no-operator"})
    assert response.status_code == 400
