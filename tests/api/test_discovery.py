"""Discovery and OpenAPI over HTTP: negotiation, the exact content type, ETags, redirects."""

from __future__ import annotations

import gzip
import json
from importlib import resources

import pytest

from tests.api.conftest import Server

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
KUBECTL_ACCEPT = f"{V2},{V2BETA1},application/json"


@pytest.mark.parametrize(
    ("accept", "content_type", "api_version"),
    [
        (KUBECTL_ACCEPT, V2, "apidiscovery.k8s.io/v2"),
        (f"{V2BETA1},application/json", V2BETA1, "apidiscovery.k8s.io/v2beta1"),
    ],
)
@pytest.mark.parametrize("path", ["/api", "/apis"])
async def test_aggregated_discovery(
    server: Server, path: str, accept: str, content_type: str, api_version: str
) -> None:
    response = await server.client.get(path, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["vary"] == "Accept"
    body = response.json()
    assert body["kind"] == "APIGroupDiscoveryList"
    assert body["apiVersion"] == api_version
    assert body["items"]


async def test_aggregated_discovery_etag(server: Server) -> None:
    first = await server.client.get("/api", headers={"Accept": KUBECTL_ACCEPT})
    etag = first.headers["etag"]
    again = await server.client.get(
        "/api", headers={"Accept": KUBECTL_ACCEPT, "If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.content == b""
    other = await server.client.get(
        "/api", headers={"Accept": KUBECTL_ACCEPT, "If-None-Match": '"stale"'}
    )
    assert other.status_code == 200


async def test_legacy_discovery_when_not_asked_for_aggregated(server: Server) -> None:
    response = await server.client.get("/api", headers={"Accept": "application/json"})
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["kind"] == "APIVersions"
    (address,) = body["serverAddressByClientCIDRs"]
    assert address["clientCIDR"] == "0.0.0.0/0"


async def test_legacy_address_is_the_tcp_listener(server: Server) -> None:
    async with server.tcp_client() as client:
        body = (await client.get("/api")).json()
    assert body["serverAddressByClientCIDRs"][0]["serverAddress"] == (
        f"127.0.0.1:{server.listening.port}"
    )


async def test_group_documents(server: Server) -> None:
    group = await server.json("/apis/metrics.k8s.io")
    assert group["kind"] == "APIGroup"
    resources = await server.json("/apis/metrics.k8s.io/v1beta1")
    assert [r["name"] for r in resources["resources"]] == ["nodes", "pods"]
    for path in ("/apis/apps", "/apis/apps/v1", "/apis/metrics.k8s.io/v1"):
        response = await server.client.get(path)
        assert response.status_code == 404
        assert response.json()["message"] == "the server could not find the requested resource"


async def test_openapi_index_names_the_document_by_its_hash(server: Server) -> None:
    index = await server.json("/openapi/v3")
    url = index["paths"]["api/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/api/v1?hash=")
    response = await server.client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "public, immutable"
    assert response.headers["etag"] == '"' + url.rsplit("=", 1)[1] + '"'
    document = response.json()
    assert document["openapi"] == "3.0.0"
    # The document served is the packaged one, unchanged.
    packaged = resources.files("minikubelet.api").joinpath("openapi_v1.json.gz").read_bytes()
    assert document == json.loads(gzip.decompress(packaged))
    cached = await server.client.get(url, headers={"If-None-Match": response.headers["etag"]})
    assert cached.status_code == 304


async def test_openapi_stale_hash_is_redirected(server: Server) -> None:
    response = await server.client.get("/openapi/v3/api/v1?hash=0000")
    assert response.status_code == 301
    current = (await server.json("/openapi/v3"))["paths"]["api/v1"]["serverRelativeURL"]
    assert response.headers["location"] == current


async def test_openapi_without_hash_and_unknown_paths(server: Server) -> None:
    response = await server.client.get("/openapi/v3/api/v1")
    assert response.status_code == 200
    assert "cache-control" not in response.headers
    assert (await server.client.get("/openapi/v3/apis/apps/v1")).status_code == 404
    # v2: an empty document, so that kubectl's client-side check of a List has one.
    v2 = await server.client.get("/openapi/v2")
    assert v2.json() == {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0-minikubelet"},
        "paths": {},
    }
    accept = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    protobuf = await server.client.get("/openapi/v2", headers={"Accept": accept})
    assert protobuf.headers["content-type"] == (
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    )
    assert protobuf.content.startswith(b"\n\x032.0\x12")  # swagger = "2.0", then info
