"""API discovery documents: what resources this server has, as data.

kubectl starts every command by discovering the server's resources. Two forms exist:

- **Aggregated** (``apidiscovery.k8s.io/v2``, and ``v2beta1`` for kubectl 1.27-1.29): one
  ``APIGroupDiscoveryList`` from ``/api`` and one from ``/apis``, asked for with ``Accept:
  application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,...``. The reply's
  ``Content-Type`` must repeat those parameters exactly: with plain ``application/json``
  client-go reads the body as legacy ``APIVersions``, finds nothing, and every command fails
  with ``the server doesn't have a resource type "pods"``. A version the client did not
  ask for fails the same way, so we answer only with one it listed.
- **Legacy**: ``APIVersions`` at ``/api``, ``APIGroupList`` at ``/apis``, and an
  ``APIResourceList`` per group version (``/api/v1``, ``/apis/metrics.k8s.io/v1beta1``).

Both are built from the same tables below (``k8s.io/apiserver/pkg/endpoints/discovery``),
so they cannot disagree. Verbs are those the server implements: a verb listed here and
missing from the routes would make kubectl try it and fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from minikubelet.api.media import parse_accept
from minikubelet.api.types import JSON

__all__ = [
    "CORE_V1",
    "DISCOVERY_VERSIONS",
    "GROUPS",
    "METRICS_V1BETA1",
    "GroupVersion",
    "Resource",
    "Subresource",
    "aggregated",
    "aggregated_content_type",
    "api_group",
    "api_group_list",
    "api_resource_list",
    "api_versions",
    "find_group_version",
    "negotiate_aggregated",
]


DISCOVERY_VERSIONS = ("v2", "v2beta1")
_DISCOVERY_GROUP = "apidiscovery.k8s.io"
_DISCOVERY_KIND = "APIGroupDiscoveryList"


@dataclass(frozen=True)
class Subresource:
    """``pods/log``, ``pods/status``, ``pods/exec``: what it returns and its verbs."""

    name: str
    kind: str
    verbs: tuple[str, ...]


@dataclass(frozen=True)
class Resource:
    name: str
    singular: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...]
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[Subresource, ...] = ()


@dataclass(frozen=True)
class GroupVersion:
    group: str  # "" for the core group
    version: str
    resources: tuple[Resource, ...]

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


_READ_WRITE = ("create", "delete", "get", "list", "patch", "update", "watch")

CORE_V1 = GroupVersion(
    "",
    "v1",
    (
        Resource("configmaps", "configmap", "ConfigMap", True, _READ_WRITE, short_names=("cm",)),
        # Events are written by the kubelet only: read and watch them.
        Resource("events", "event", "Event", True, ("get", "list", "watch"), short_names=("ev",)),
        # This machine, read-only (kubectl top node reads its allocatable resources).
        Resource("nodes", "node", "Node", False, ("get", "list"), short_names=("no",)),
        Resource(
            "pods",
            "pod",
            "Pod",
            True,
            _READ_WRITE,
            short_names=("po",),
            categories=("all",),
            subresources=(
                Subresource("exec", "PodExecOptions", ("create", "get")),
                Subresource("log", "Pod", ("get",)),
                Subresource("status", "Pod", ("get", "patch", "update")),
            ),
        ),
        Resource("secrets", "secret", "Secret", True, _READ_WRITE),
    ),
)

# kubectl top needs the group in discovery ("Metrics API not available" without it). The
# metrics-server registers no singular names.
METRICS_V1BETA1 = GroupVersion(
    "metrics.k8s.io",
    "v1beta1",
    (
        Resource("nodes", "", "NodeMetrics", False, ("get", "list")),
        Resource("pods", "", "PodMetrics", True, ("get", "list")),
    ),
)

GROUPS: tuple[GroupVersion, ...] = (METRICS_V1BETA1,)  # the named groups under /apis


def find_group_version(group: str, version: str) -> GroupVersion | None:
    for candidate in (CORE_V1, *GROUPS):
        if candidate.group == group and candidate.version == version:
            return candidate
    return None


def api_versions(server_address: str) -> JSON:
    """``GET /api`` (legacy): the core group's versions and where to reach the server."""
    return {
        "kind": "APIVersions",
        "versions": [CORE_V1.version],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _version_for_discovery(gv: GroupVersion) -> JSON:
    return {"groupVersion": gv.group_version, "version": gv.version}


def api_group(name: str) -> JSON | None:
    """``GET /apis/<group>``: one ``APIGroup``, or None when there is no such group."""
    versions = [gv for gv in GROUPS if gv.group == name]
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1"} | _group_entry(versions)


def _group_entry(versions: Sequence[GroupVersion]) -> JSON:
    return {
        "name": versions[0].group,
        "versions": [_version_for_discovery(gv) for gv in versions],
        "preferredVersion": _version_for_discovery(versions[0]),
    }


def api_group_list() -> JSON:
    """``GET /apis`` (legacy): every named group, preferred version first."""
    names = list(dict.fromkeys(gv.group for gv in GROUPS))
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_entry([gv for gv in GROUPS if gv.group == name]) for name in names],
    }


def _resource_entry(resource: Resource) -> JSON:
    entry: JSON = {
        "name": resource.name,
        "singularName": resource.singular,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    return entry


def api_resource_list(gv: GroupVersion) -> JSON:
    """``GET /api/v1`` or ``/apis/<group>/<version>``: an ``APIResourceList``.

    Subresources are listed as ``pods/log`` beside their resource, with an empty singular
    name, as the apiserver lists them.
    """
    resources: list[JSON] = []
    for resource in gv.resources:
        resources.append(_resource_entry(resource))
        for sub in resource.subresources:
            resources.append(
                {
                    "name": f"{resource.name}/{sub.name}",
                    "singularName": "",
                    "namespaced": resource.namespaced,
                    "kind": sub.kind,
                    "verbs": list(sub.verbs),
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv.group_version,
        "resources": resources,
    }


def _kind(gv: GroupVersion, kind: str) -> JSON:
    return {"group": gv.group, "version": gv.version, "kind": kind}


def _aggregated_resource(gv: GroupVersion, resource: Resource) -> JSON:
    # responseKind and scope are required: client-go refuses a resource without them.
    entry: JSON = {
        "resource": resource.name,
        "responseKind": _kind(gv, resource.kind),
        "scope": "Namespaced" if resource.namespaced else "Cluster",
        "singularResource": resource.singular,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    if resource.subresources:
        entry["subresources"] = [
            {
                "subresource": sub.name,
                "responseKind": _kind(gv, sub.kind),
                "verbs": list(sub.verbs),
            }
            for sub in resource.subresources
        ]
    return entry


def aggregated(groups: Sequence[GroupVersion], version: str) -> JSON:
    """An ``APIGroupDiscoveryList`` (``/api``: the core group; ``/apis``: the others)."""
    names = list(dict.fromkeys(gv.group for gv in groups))
    items = []
    for name in names:
        metadata: JSON = {"creationTimestamp": None}
        if name:
            metadata = {"name": name} | metadata
        items.append(
            {
                "metadata": metadata,
                "versions": [
                    {
                        "version": gv.version,
                        "resources": [_aggregated_resource(gv, r) for r in gv.resources],
                        "freshness": "Current",
                    }
                    for gv in groups
                    if gv.group == name
                ],
            }
        )
    return {
        "kind": _DISCOVERY_KIND,
        "apiVersion": f"{_DISCOVERY_GROUP}/{version}",
        "metadata": {},
        "items": items,
    }


def aggregated_content_type(version: str) -> str:
    """The exact ``Content-Type`` client-go needs to read the body as aggregated discovery."""
    return f"application/json;g={_DISCOVERY_GROUP};v={version};as={_DISCOVERY_KIND}"


def negotiate_aggregated(accept: str | None) -> str | None:
    """The aggregated discovery version the client lists first (``v2``/``v2beta1``), or None.

    None (legacy discovery) when the client's first acceptable entry is plain JSON, or when
    it asks for no version we serve.
    """
    for media in parse_accept(accept):
        if media.param("as") == _DISCOVERY_KIND and media.param("g") == _DISCOVERY_GROUP:
            if media.param("v") in DISCOVERY_VERSIONS and media.is_json:
                return media.param("v")
            continue
        if media.is_json and not media.param("as"):
            return None
    return None
