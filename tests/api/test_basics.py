"""Health, version, discovery, the kubelet's /pods, and the shape of errors."""

from __future__ import annotations

import pytest

from tests.api.conftest import Server
from tests.helpers.pods import child, pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_healthz(server: Server) -> None:
    response = await server.client.get("/healthz")
    assert response.status_code == 200
    assert response.text == "ok"


async def test_version_reports_kubernetes_1_33(server: Server) -> None:
    version = await server.json("/version")
    assert version["major"] == "1"
    assert version["minor"] == "33"
    assert version["gitVersion"] == "v1.33.0-minikubelet"


async def test_discovery(server: Server) -> None:
    # Legacy discovery (no aggregated Accept); tests/api/test_discovery.py has the rest.
    versions = await server.json("/api")
    assert versions["kind"] == "APIVersions"
    assert versions["versions"] == ["v1"]
    groups = (await server.json("/apis"))["groups"]
    assert [group["name"] for group in groups] == ["metrics.k8s.io"]
    resources = await server.json("/api/v1")
    assert resources["kind"] == "APIResourceList"
    assert resources["groupVersion"] == "v1"
    names = {r["name"]: r for r in resources["resources"]}
    assert {"pods", "pods/log", "events"} <= set(names)
    assert names["pods"]["kind"] == "Pod"
    assert names["pods"]["namespaced"] is True
    assert "watch" in names["pods"]["verbs"]
    assert names["events"]["shortNames"] == ["ev"]


async def test_kubelet_pods_endpoint(server: Server) -> None:
    await start(server.kubelet, pod("one", child("app", "--forever")))
    data = await server.json("/pods")
    assert data["kind"] == "PodList"
    assert data["apiVersion"] == "v1"
    assert [item["metadata"]["name"] for item in data["items"]] == ["one"]


async def test_unknown_path_is_a_not_found_status(server: Server) -> None:
    response = await server.client.get("/nope")
    assert response.status_code == 404
    assert response.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server could not find the requested resource",
        "reason": "NotFound",
        "code": 404,
    }


async def test_wrong_method_is_a_method_not_allowed_status(server: Server) -> None:
    response = await server.client.post("/healthz")
    assert response.status_code == 405
    status = response.json()
    assert status["kind"] == "Status"
    assert status["reason"] == "MethodNotAllowed"
    assert status["code"] == 405


async def test_tcp_listener_serves_the_same_api(server: Server) -> None:
    import httpx

    assert server.listening.port
    assert server.url == f"https://127.0.0.1:{server.listening.port}"
    async with httpx.AsyncClient(base_url=server.url, verify=server.ssl_context()) as client:
        response = await client.get("/healthz")
    assert response.text == "ok"


async def test_malformed_requests_do_not_hurt_the_daemon(server: Server) -> None:
    client = server.client
    bad = [
        client.get("/api/v1/pods", params={"labelSelector": "a in (b"}),
        client.get("/api/v1/pods", params={"fieldSelector": "spec.bogus=1"}),
        client.get("/api/v1/pods", params={"watch": "true", "resourceVersion": "x"}),
        client.post("/api/v1/namespaces/default/pods", content=b"\xff\xfe\x00"),
        client.post("/api/v1/namespaces/default/pods", content=b"{" * 1000),
        client.request("DELETE", "/api/v1/namespaces/default/pods/x", content=b"[1"),
        client.get("/api/v1/namespaces/default/pods/x/log", params={"tailLines": "?"}),
    ]
    for request in bad:
        response = await request
        assert 400 <= response.status_code < 500, response.text
        assert response.json()["kind"] == "Status"
    assert (await client.get("/healthz")).text == "ok"


async def test_a_body_over_the_limit_is_refused(server: Server) -> None:
    response = await server.client.post(
        "/api/v1/namespaces/default/pods", content=b" " * (3 * 1024 * 1024 + 1)
    )
    assert response.status_code == 413
    assert response.json()["reason"] == "RequestEntityTooLarge"


async def test_an_unexpected_failure_is_a_logged_500(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    from structlog.testing import capture_logs

    from minikubelet.server.summary import UsageSampler

    async def broken(self: UsageSampler) -> None:
        raise RuntimeError("sampler exploded")

    monkeypatch.setattr(UsageSampler, "summary", broken)
    with capture_logs() as logs:
        response = await server.client.get("/stats/summary")
    assert response.status_code == 500
    status = response.json()
    assert status["kind"] == "Status"
    assert status["reason"] == "InternalError"
    assert status["message"] == "Internal error occurred: sampler exploded"
    assert any(entry["event"] == "api.request_failed" for entry in logs)
    assert (await server.client.get("/healthz")).text == "ok"
