"""This machine as a ``Node`` (``/api/v1/nodes``), and its and its pods' metrics.

``kubectl top node`` reads two things: ``metrics.k8s.io/v1beta1`` ``NodeMetrics`` for the
usage, and the ``Node`` list for each node's allocatable CPU and memory (the percentages;
``<unknown>`` without). So the one node minikubelet is, is served read-only: its name (the
pods' ``spec.nodeName``), the kubelet's labels (``kubernetes.io/hostname``, ``…/os``,
``…/arch``), capacity and allocatable (every CPU, all memory: nothing is reserved), a
``Ready`` condition while the daemon runs, the addresses and ``nodeInfo``.

``metrics.k8s.io/v1beta1`` is what the metrics-server serves, from the same samples as
``/stats/summary`` (``summary.UsageSampler``): per pod the usage of each running container
(``cpu`` in nanocores, the rate over the sampling window; ``memory`` the working set, in
``Ki``), and for the node the machine's. Pods without a running container are left out,
as the metrics-server leaves them out.
"""

from __future__ import annotations

import os
import platform
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minikubelet import __version__
from minikubelet.api.serialize import time_json
from minikubelet.api.types import JSON
from minikubelet.errors import RequestError
from minikubelet.kubelet import ContainerUsage
from minikubelet.server.changes import Snapshot
from minikubelet.server.context import Api, api_of, json_response
from minikubelet.server.resources import Resource, list_response_for, object_response
from minikubelet.server.selectors import NODE_FIELDS
from minikubelet.server.status import not_found

__all__ = [
    "NODE",
    "get_node",
    "get_node_metrics",
    "get_pod_metrics",
    "list_node_metrics",
    "list_nodes",
    "list_pod_metrics",
    "node_json",
]

NODE = Resource("nodes", "Node", NODE_FIELDS)
_METRICS = "metrics.k8s.io/v1beta1"
_ARCHES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}
_ARCH = _ARCHES.get(platform.machine(), platform.machine())


def _os_image() -> str:
    try:
        with open("/etc/os-release") as file:
            for line in file:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def node_json(api: Api, memory_total: int) -> JSON:
    name = api.kubelet.settings.node_name
    started: datetime = api.started
    capacity = {
        "cpu": str(os.cpu_count() or 1),
        "memory": f"{memory_total // 1024}Ki",
        "pods": "110",
    }
    heartbeat = time_json(api.kubelet.clock())
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.minikubelet")),
            "creationTimestamp": time_json(started),
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": _ARCH,
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": _ARCH,
            },
        },
        "spec": {},
        "status": {
            "capacity": capacity,
            "allocatable": dict(capacity),
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "lastHeartbeatTime": heartbeat,
                    "lastTransitionTime": time_json(started),
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                }
            ],
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
                "kernelVersion": platform.release(),
                "osImage": _os_image(),
                "containerRuntimeVersion": f"minikubelet://{__version__}",
                "kubeletVersion": f"v{api.kubernetes_version}-minikubelet",
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": _ARCH,
            },
        },
    }


async def _node_snapshot(api: Api) -> Snapshot:
    usage = await api.kubelet.node_usage()
    obj = node_json(api, usage.memory_total_bytes)
    # The node does not change as the API sees it: one version, the daemon's first.
    return Snapshot(api.changes.oldest, lambda: obj)


async def list_nodes(request: Request) -> Response:
    """``GET /api/v1/nodes``: this machine."""
    api = api_of(request)
    node = await _node_snapshot(api)
    return list_response_for(request, api, NODE, lambda namespace: [node])


async def get_node(request: Request) -> Response:
    api = api_of(request)
    if request.path_params["name"] != api.kubelet.settings.node_name:
        raise not_found(request.path_params["name"], "nodes")
    return object_response(request, api, NODE, await _node_snapshot(api))


# -- metrics.k8s.io ---------------------------------------------------------------------


def _cpu(nano_cores: int | None) -> str:
    return f"{nano_cores or 0}n"


def _memory(size: int) -> str:
    return f"{size // 1024}Ki"


def _window(api: Api) -> str:
    return f"{max(api.sampler.window, 0.001):.3f}".rstrip("0").rstrip(".") + "s"


def _pod_metrics(
    api: Api, pod: Any, usages: Sequence[tuple[ContainerUsage, int | None]], now: datetime
) -> JSON:
    return {
        "metadata": {
            "name": pod.pod.name,
            "namespace": pod.pod.namespace,
            "creationTimestamp": time_json(now),
            "labels": dict(pod.pod.metadata.labels),
        },
        "timestamp": time_json(now),
        "window": _window(api),
        "containers": [
            {
                "name": usage.container,
                "usage": {"cpu": _cpu(rate), "memory": _memory(usage.usage.memory_bytes)},
            }
            for usage, rate in usages
        ],
    }


async def _all_pod_metrics(api: Api, namespace: str | None) -> list[JSON]:
    usages = await api.sampler.containers()
    now = api.kubelet.clock()
    by_pod: dict[str, list[tuple[ContainerUsage, int | None]]] = {}
    for usage, rate in usages:
        by_pod.setdefault(usage.pod.uid, []).append((usage, rate))
    pods = sorted(api.kubelet.snapshots(), key=lambda p: p.key)
    return [
        _pod_metrics(api, pod, by_pod[pod.uid], now)
        for pod in pods
        if pod.uid in by_pod and (namespace is None or pod.pod.namespace == namespace)
    ]


def _labelled(request: Request, items: list[JSON]) -> list[JSON]:
    from minikubelet.server.selectors import parse_label_selector

    labels = parse_label_selector(request.query_params.get("labelSelector"))
    return [item for item in items if labels.matches(item["metadata"].get("labels") or {})]


async def list_pod_metrics(request: Request) -> Response:
    """``GET /apis/metrics.k8s.io/v1beta1[/namespaces/{namespace}]/pods``."""
    api = api_of(request)
    items = await _all_pod_metrics(api, request.path_params.get("namespace"))
    return json_response(
        {
            "kind": "PodMetricsList",
            "apiVersion": _METRICS,
            "metadata": {},
            "items": _labelled(request, items),
        }
    )


async def get_pod_metrics(request: Request) -> Response:
    api = api_of(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    for item in await _all_pod_metrics(api, namespace):
        if item["metadata"]["name"] == name:
            return json_response({"kind": "PodMetrics", "apiVersion": _METRICS, **item})
    raise RequestError(
        404,
        f'podmetrics.metrics.k8s.io "{namespace}/{name}" not found',
        details={"name": f"{namespace}/{name}", "group": "metrics.k8s.io", "kind": "pods"},
    )


async def _node_metrics(api: Api) -> JSON:
    usage, rate = await api.sampler.node(rated=True)
    now = api.kubelet.clock()
    name = api.kubelet.settings.node_name
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": time_json(now),
            "labels": {"kubernetes.io/hostname": name},
        },
        "timestamp": time_json(now),
        "window": _window(api),
        "usage": {"cpu": _cpu(rate), "memory": _memory(usage.memory_used_bytes)},
    }


async def list_node_metrics(request: Request) -> Response:
    """``GET /apis/metrics.k8s.io/v1beta1/nodes``."""
    item = await _node_metrics(api_of(request))
    return json_response(
        {
            "kind": "NodeMetricsList",
            "apiVersion": _METRICS,
            "metadata": {},
            "items": _labelled(request, [item]),
        }
    )


async def get_node_metrics(request: Request) -> Response:
    api = api_of(request)
    name = request.path_params["name"]
    if name != api.kubelet.settings.node_name:
        raise RequestError(
            404,
            f'nodemetrics.metrics.k8s.io "{name}" not found',
            details={"name": name, "group": "metrics.k8s.io", "kind": "nodes"},
        )
    return json_response(
        {"kind": "NodeMetrics", "apiVersion": _METRICS, **await _node_metrics(api)}
    )
