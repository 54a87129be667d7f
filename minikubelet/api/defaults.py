"""The defaults the apiserver writes into a Pod it stores, applied to the Pod JSON we serve.

A real cluster answers with the defaulted object (``pkg/apis/core/v1/defaults.go``:
``SetDefaults_PodSpec``, ``SetDefaults_Container``, ``SetDefaults_ContainerPort``,
``SetDefaults_Probe``, ``SetDefaults_HTTPGetAction``...), and clients rely on it:
``kubectl describe`` prints ``Port: 8080/TCP`` from ``ports[].protocol`` (``8080/`` without),
client-side ``apply`` computes its patch against the live object, and the update rule
(``pod_update.py``) compares two defaulted objects. The manifest parser applies the same
defaults to the model as it reads values; this module writes them into the JSON.

Left out on purpose: ``terminationMessagePath`` (its default, ``/dev/termination-log``, is
mapped by minikubelet to a file of each instance; written out, a client that sends the
object back would ask for the literal path) and ``terminationMessagePolicy``, and what
admission plugins add on a cluster (service account, tolerations).

Pure: a new object is returned; the input (which shares lists with the pod's manifest)
is never modified.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from minikubelet.api.types import JSON

__all__ = ["image_pull_policy", "pod_with_defaults"]


_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_PROBE_DEFAULTS = {
    "timeoutSeconds": 1,
    "periodSeconds": 10,
    "successThreshold": 1,
    "failureThreshold": 3,
}


def image_pull_policy(image: str) -> str:
    """``SetDefaults_Container``: ``Always`` for ``:latest`` or no tag, else ``IfNotPresent``."""
    if "@" in image:  # pinned by digest
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.rsplit(":", 1)[1] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _handler(handler: object) -> None:
    if isinstance(handler, dict) and isinstance(handler.get("httpGet"), dict):
        handler["httpGet"].setdefault("path", "/")
        handler["httpGet"].setdefault("scheme", "HTTP")


def _container(container: JSON) -> None:
    image = container.get("image")
    if isinstance(image, str) and image:
        container.setdefault("imagePullPolicy", image_pull_policy(image))
    container.setdefault("resources", {})
    for port in container.get("ports") or ():
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for name in _PROBES:
        probe = container.get(name)
        if isinstance(probe, dict):
            for field, value in _PROBE_DEFAULTS.items():
                probe.setdefault(field, value)
            _handler(probe)
    lifecycle = container.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            _handler(lifecycle.get(hook))
    for variable in container.get("env") or ():
        source = variable.get("valueFrom") if isinstance(variable, dict) else None
        if isinstance(source, dict) and isinstance(source.get("fieldRef"), dict):
            source["fieldRef"].setdefault("apiVersion", "v1")


def pod_with_defaults(pod: Mapping[str, Any]) -> JSON:
    """``pod`` (Kubernetes JSON) with the apiserver's defaults filled in where absent."""
    result = dict(pod)
    spec = pod.get("spec")
    if not isinstance(spec, Mapping):
        return result
    spec = copy.deepcopy(dict(spec))
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    for field in ("initContainers", "containers"):
        for container in spec.get(field) or ():
            if isinstance(container, dict):
                _container(container)
    result["spec"] = spec
    return result
