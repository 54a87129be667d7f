"""Pods, statuses and events as Kubernetes JSON (``core/v1``), for the API and the CLI.

Timestamps are ``metav1.Time``: RFC 3339 in UTC with whole seconds (``2026-11-25T01:02:03Z``).
Empty strings and absent values are omitted, as Go's ``omitempty`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, assert_never

from minikubelet.api.types import JSON
from minikubelet.logic.qos import QOSClass, pod_qos_class
from minikubelet.model.events import Event
from minikubelet.model.snapshot import PodSnapshot
from minikubelet.model.spec import Container, PodSpec
from minikubelet.model.status import (
    ContainerStatus,
    PodCondition,
    PodStatus,
    Running,
    Terminated,
    Waiting,
)

__all__ = [
    "container_status_json",
    "event_json",
    "pod_json",
    "pod_status_json",
    "time_json",
]


def time_json(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _compact(fields: Mapping[str, Any]) -> JSON:
    return {key: value for key, value in fields.items() if value not in (None, "", {}, [])}


def _terminated_json(state: Terminated) -> JSON:
    return _compact(
        {
            "exitCode": state.exit_code,
            "signal": state.signal,
            "reason": state.reason,
            "message": state.message,
            "startedAt": time_json(state.started_at),
            "finishedAt": time_json(state.finished_at),
            "containerID": state.container_id,
        }
    )


def _state_json(state: Waiting | Running | Terminated) -> JSON:
    match state:
        case Waiting():
            return {"waiting": _compact({"reason": state.reason, "message": state.message})}
        case Running():
            return {"running": {"startedAt": time_json(state.started_at)}}
        case Terminated():
            return {"terminated": _terminated_json(state)}
        case _:
            assert_never(state)


def container_status_json(status: ContainerStatus) -> JSON:
    data: JSON = {
        "name": status.name,
        "state": _state_json(status.state),
        "lastState": {"terminated": _terminated_json(status.last_state)}
        if status.last_state
        else {},
        "ready": status.ready,
        "restartCount": status.restart_count,
        "image": status.image,
        "imageID": "",
    }
    if status.container_id:
        data["containerID"] = status.container_id
    if status.started is not None:
        data["started"] = status.started
    return data


def _condition_json(condition: PodCondition) -> JSON:
    return _compact(
        {
            "type": condition.type.value,
            "status": "True" if condition.status else "False",
            "reason": condition.reason,
            "message": condition.message,
            "lastTransitionTime": time_json(condition.last_transition_time),
        }
    ) | {"lastProbeTime": None}


def pod_status_json(status: PodStatus, qos_class: QOSClass = QOSClass.BEST_EFFORT) -> JSON:
    """``status``; ``qosClass`` is the spec's (``pod_json`` computes it: ``ComputePodQOS``,
    fixed at admission as the apiserver sets it)."""
    data: JSON = {
        "phase": status.phase.value,
        "conditions": [_condition_json(c) for c in status.conditions],
        "hostIP": status.host_ip,
        "hostIPs": [{"ip": status.host_ip}],
        "podIP": status.pod_ip,
        "podIPs": [{"ip": status.pod_ip}],
        "startTime": time_json(status.start_time),
        "containerStatuses": [container_status_json(s) for s in status.container_statuses],
        "qosClass": qos_class.value,
    }
    if status.init_container_statuses:
        data["initContainerStatuses"] = [
            container_status_json(s) for s in status.init_container_statuses
        ]
    if status.reason:
        data["reason"] = status.reason
    if status.message:
        data["message"] = status.message
    return data


def pod_json(snapshot: PodSnapshot, node_name: str = "localhost") -> JSON:
    """The full ``Pod`` object: metadata as the kubelet reports it, spec as written, status."""
    pod = snapshot.pod
    manifest = dict(pod.manifest) if pod.manifest else {}
    written = manifest.get("metadata")
    metadata: JSON = dict(written) if isinstance(written, Mapping) else {}
    metadata.update(
        {
            "name": pod.name,
            "namespace": pod.namespace,
            "uid": snapshot.uid,
            "creationTimestamp": time_json(snapshot.created_at),
        }
    )
    annotations = dict(pod.metadata.annotations)
    if snapshot.is_static:
        # As the kubelet marks a static pod (config.hash: its uid, the hash of its file) and
        # its mirror pod (config.mirror) (``pkg/kubelet/config/common.go``).
        annotations["kubernetes.io/config.source"] = "file"
        annotations["kubernetes.io/config.hash"] = snapshot.uid
        annotations["kubernetes.io/config.mirror"] = snapshot.uid
    if annotations:
        metadata["annotations"] = annotations
    if pod.metadata.labels:
        metadata["labels"] = dict(pod.metadata.labels)
    if snapshot.deletion_timestamp is not None:
        metadata["deletionTimestamp"] = time_json(snapshot.deletion_timestamp)
        metadata["deletionGracePeriodSeconds"] = snapshot.deletion_grace
    written_spec = manifest.get("spec")
    spec: JSON = dict(written_spec) if isinstance(written_spec, Mapping) else {}
    if "containers" not in spec:  # a pod built in code, with no manifest behind it
        spec.update(_spec_json(pod.spec))
    spec.setdefault("restartPolicy", pod.spec.restart_policy.value)
    spec.setdefault("terminationGracePeriodSeconds", pod.spec.termination_grace_period_seconds)
    spec["nodeName"] = node_name
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": spec,
        "status": pod_status_json(snapshot.status, pod_qos_class(pod.spec)),
    }


def _container_json(container: Container) -> JSON:
    data: JSON = {"name": container.name, "command": list(container.command)}
    if container.args:
        data["args"] = list(container.args)
    if container.image:
        data["image"] = container.image
    if container.working_dir:
        data["workingDir"] = container.working_dir
    env = [{"name": v.name, "value": v.value} for v in container.env if v.field_path is None]
    if env:
        data["env"] = env
    ports = [
        _compact({"name": p.name, "containerPort": p.container_port, "protocol": p.protocol})
        for p in container.ports
    ]
    if ports:
        data["ports"] = ports
    if container.restart_policy is not None:
        data["restartPolicy"] = container.restart_policy.value
    return data


def _spec_json(spec: PodSpec) -> JSON:
    """The spec of a pod that has no manifest: what the model holds, in the API's names."""
    data: JSON = {"containers": [_container_json(c) for c in spec.containers]}
    if spec.init_containers:
        data["initContainers"] = [_container_json(c) for c in spec.init_containers]
    return data


def event_json(event: Event, node_name: str = "localhost") -> JSON:
    involved: JSON = {
        "kind": "Pod",
        "namespace": event.namespace,
        "name": event.pod,
        "uid": event.pod_uid,
        "apiVersion": "v1",
    }
    if event.field_path:
        involved["fieldPath"] = event.field_path
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": event.name,
            "namespace": event.namespace,
            "creationTimestamp": time_json(event.first_timestamp),
        },
        "involvedObject": involved,
        "reason": event.reason,
        "message": event.message,
        "source": {"component": event.source_component, "host": node_name},
        "firstTimestamp": time_json(event.first_timestamp),
        "lastTimestamp": time_json(event.last_timestamp),
        "count": event.count,
        "type": event.type.value,
        "eventTime": None,
        "reportingComponent": event.source_component,
        "reportingInstance": node_name,
    }
