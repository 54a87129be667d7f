"""Discovery documents as data: negotiation, shapes, and legacy/aggregated agreement."""

from __future__ import annotations

from typing import Any, cast

import pytest

from minikubelet.api.discovery import (
    CORE_V1,
    GROUPS,
    METRICS_V1BETA1,
    aggregated,
    aggregated_content_type,
    api_group,
    api_group_list,
    api_resource_list,
    api_versions,
    find_group_version,
    negotiate_aggregated,
)

KUBECTL_130 = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
    "application/json"
)
KUBECTL_127 = (
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
)


@pytest.mark.parametrize(
    ("accept", "version"),
    [
        (KUBECTL_130, "v2"),
        (KUBECTL_127, "v2beta1"),  # kubectl 1.27-1.29 ask for v2beta1 only
        ("application/json", None),
        (None, None),
        ("", None),
        ("*/*", None),
        ("application/json, */*", None),
        # a version we do not serve: legacy, never a version the client did not ask for
        (
            "application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList,application/json",
            None,
        ),
        ("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList", None),
        # plain JSON first wins, as the client prefers it
        (
            "application/json,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
            None,
        ),
        # protobuf aggregated is not served; the JSON fallback is
        (
            "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
            "v2",
        ),
        ("application/json;as=APIGroupDiscoveryList;v=v2;g=apidiscovery.k8s.io", "v2"),
    ],
)
def test_negotiate_aggregated(accept: str | None, version: str | None) -> None:
    assert negotiate_aggregated(accept) == version


def test_aggregated_content_type_is_exact() -> None:
    # client-go reads the body as aggregated discovery only with these parameters.
    assert aggregated_content_type("v2") == (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    )
    assert aggregated_content_type("v2beta1") == (
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
    )


def test_aggregated_core_group() -> None:
    document = aggregated((CORE_V1,), "v2")
    assert document["kind"] == "APIGroupDiscoveryList"
    assert document["apiVersion"] == "apidiscovery.k8s.io/v2"
    (item,) = cast(Any, document["items"])
    assert "name" not in item["metadata"]  # the core group has no name
    (version,) = item["versions"]
    assert version["version"] == "v1"
    assert version["freshness"] == "Current"
    resources = {r["resource"]: r for r in version["resources"]}
    pods = resources["pods"]
    assert pods["responseKind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert pods["scope"] == "Namespaced"
    assert pods["singularResource"] == "pod"
    assert pods["shortNames"] == ["po"]
    assert pods["categories"] == ["all"]
    assert set(pods["verbs"]) >= {"create", "delete", "get", "list", "patch", "update", "watch"}
    subresources = {s["subresource"]: s for s in pods["subresources"]}
    assert subresources["log"]["verbs"] == ["get"]
    assert subresources["status"]["responseKind"]["kind"] == "Pod"
    assert subresources["exec"]["responseKind"]["kind"] == "PodExecOptions"
    assert resources["events"]["verbs"] == ["get", "list", "watch"]
    assert set(resources) == {"pods", "events", "configmaps", "secrets", "nodes"}


def test_aggregated_named_groups() -> None:
    document = aggregated(GROUPS, "v2beta1")
    assert document["apiVersion"] == "apidiscovery.k8s.io/v2beta1"
    (item,) = cast(Any, document["items"])
    assert item["metadata"]["name"] == "metrics.k8s.io"
    resources = {r["resource"]: r for r in item["versions"][0]["resources"]}
    assert resources["pods"]["responseKind"] == {
        "group": "metrics.k8s.io",
        "version": "v1beta1",
        "kind": "PodMetrics",
    }
    assert resources["nodes"]["scope"] == "Cluster"


def test_every_aggregated_resource_has_the_required_fields() -> None:
    # client-go rejects a resource without a responseKind or scope.
    for groups in ((CORE_V1,), GROUPS):
        for item in aggregated(groups, "v2")["items"]:
            for version in item["versions"]:
                for resource in version["resources"]:
                    assert resource["responseKind"]["kind"]
                    assert resource["scope"] in ("Namespaced", "Cluster")
                    assert resource["verbs"]


def test_legacy_documents() -> None:
    assert api_versions("127.0.0.1:10250") == {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:10250"}
        ],
    }
    version = {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}
    assert api_group_list() == {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [{"name": "metrics.k8s.io", "versions": [version], "preferredVersion": version}],
    }
    assert api_group("metrics.k8s.io") == {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": "metrics.k8s.io",
        "versions": [version],
        "preferredVersion": version,
    }
    assert api_group("apps") is None


def test_legacy_resource_list_lists_subresources_beside_their_resource() -> None:
    document = api_resource_list(CORE_V1)
    assert document["kind"] == "APIResourceList"
    assert document["groupVersion"] == "v1"
    by_name: dict[str, Any] = {r["name"]: r for r in document["resources"]}
    assert by_name["pods/log"] == {
        "name": "pods/log",
        "singularName": "",
        "namespaced": True,
        "kind": "Pod",
        "verbs": ["get"],
    }
    assert by_name["pods/exec"]["kind"] == "PodExecOptions"
    assert by_name["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert by_name["configmaps"]["shortNames"] == ["cm"]
    assert api_resource_list(METRICS_V1BETA1)["groupVersion"] == "metrics.k8s.io/v1beta1"


def test_legacy_and_aggregated_agree() -> None:
    legacy = {r["name"]: r for r in api_resource_list(CORE_V1)["resources"]}
    (item,) = cast(Any, aggregated((CORE_V1,), "v2")["items"])
    for resource in item["versions"][0]["resources"]:
        entry = legacy[resource["resource"]]
        assert entry["verbs"] == resource["verbs"]
        assert entry["kind"] == resource["responseKind"]["kind"]
        for sub in resource.get("subresources", []):
            assert legacy[f"{resource['resource']}/{sub['subresource']}"]["verbs"] == sub["verbs"]


def test_find_group_version() -> None:
    assert find_group_version("", "v1") is CORE_V1
    assert find_group_version("metrics.k8s.io", "v1beta1") is METRICS_V1BETA1
    assert find_group_version("metrics.k8s.io", "v1") is None
