"""Where a pod's lifecycle is told: Kubernetes events, trace steps and structlog lines.

One per pod worker. The worker, the stop policy and the instance supervision all report
through it, so every event carries the same involved object (``spec.containers{c}`` or
``spec.initContainers{c}``, as the kubelet's ``fieldPath``) and every step lands in the
pod's trace.
"""

from __future__ import annotations

from minikubelet.events import EventRecorder
from minikubelet.model.events import EventType
from minikubelet.model.spec import Container, Pod
from minikubelet.model.trace import Step
from minikubelet.status_manager import PodStatusKeeper

__all__ = ["PodReporter"]


class PodReporter:
    def __init__(
        self, pod: Pod, uid: str, recorder: EventRecorder, keeper: PodStatusKeeper
    ) -> None:
        self._pod = pod
        self._uid = uid
        self._recorder = recorder
        self._keeper = keeper

    @property
    def label(self) -> str:
        """``namespace/name``, for log lines."""
        return self._keeper.label

    @property
    def pod_label(self) -> str:
        """``name_namespace(uid)``, as the kubelet names a pod in messages."""
        return f"{self._pod.full_name}({self._uid})"

    def event(
        self, container: Container | None, type: EventType, reason: str, message: str
    ) -> None:
        """A Kubernetes event on the pod, or on one of its containers."""
        field_path = ""
        if container is not None:
            kind = "initContainers" if container in self._pod.spec.init_containers else "containers"
            field_path = f"spec.{kind}{{{container.name}}}"
        self._recorder.record(
            namespace=self._pod.namespace,
            pod=self._pod.name,
            pod_uid=self._uid,
            type=type,
            reason=reason,
            message=message,
            field_path=field_path,
        )

    def step(self, container: str, step: Step, detail: str) -> None:
        self._keeper.step(container, step, detail)

    def begin_stop(self, container: str) -> None:
        self._keeper.begin_stop(container)

    def end_stop(self, container: str) -> None:
        self._keeper.end_stop(container)
