"""Container statuses from observed instances (``convertToAPIContainerStatuses``).

Source: ``pkg/kubelet/kubelet_pods.go convertToAPIContainerStatuses`` and
``pkg/kubelet/prober/prober_manager.go UpdatePodStatus`` (ready/started). See
``pkg/kubelet/kuberuntime/kuberuntime_container.go``.
"""

from __future__ import annotations

from minikubelet.model.observed import ContainerRecord
from minikubelet.model.spec import Container
from minikubelet.model.status import (
    ContainerState,
    ContainerStatus,
    Instance,
    Running,
    Terminated,
    Waiting,
)

__all__ = ["CONTAINER_CREATING", "POD_INITIALIZING", "container_status", "terminated_state"]

CONTAINER_CREATING = "ContainerCreating"
POD_INITIALIZING = "PodInitializing"


def terminated_state(instance: Instance) -> Terminated | None:
    """The API ``terminated`` state of an exited instance; None while it runs."""
    if instance.exit is None:
        return None
    exit_ = instance.exit
    reason = exit_.reason or ("Completed" if exit_.exit_code == 0 else "Error")
    return Terminated(
        exit_code=exit_.exit_code,
        reason=reason,
        started_at=instance.started_at,
        finished_at=exit_.finished_at,
        container_id=instance.container_id,
        message=exit_.message,
        signal=exit_.signal,
    )


def container_status(
    container: Container, record: ContainerRecord, *, is_init: bool, pod_has_init: bool
) -> ContainerStatus:
    """The ``ContainerStatus`` the kubelet would report for ``record``."""
    default = Waiting(reason=POD_INITIALIZING if pod_has_init else CONTAINER_CREATING)
    latest, previous = record.latest, record.previous
    state: ContainerState = default
    last_state = terminated_state(previous) if previous is not None else None
    if latest is not None:
        state = _instance_state(latest, default)
    if record.start_failure is not None:
        # The reason cache: a pending restart shows why it is waiting (CrashLoopBackOff,
        # RunContainerError, ...) and the instance that ended moves to lastState.
        if isinstance(state, Terminated):
            last_state = state
        state = Waiting(reason=record.start_failure.reason, message=record.start_failure.message)
    running = isinstance(state, Running)
    started = running and (container.startup_probe is None or record.startup_succeeded)
    if is_init and not container.is_sidecar:
        ready = isinstance(state, Terminated) and state.exit_code == 0
    else:
        ready = started and (container.readiness_probe is None or record.readiness_succeeded)
    return ContainerStatus(
        name=container.name,
        state=state,
        last_state=last_state,
        ready=ready,
        restart_count=latest.restart_count if latest is not None else 0,
        image=container.image,
        container_id=latest.container_id if latest is not None else "",
        started=started,
    )


def _instance_state(instance: Instance, default: Waiting) -> ContainerState:
    terminated = terminated_state(instance)
    if terminated is not None:
        return terminated
    if instance.started_at is None or not instance.post_start_done:
        # Created but not running, or postStart still running: the kubelet has not yet
        # reported it (its pod worker is blocked in startContainer).
        return default
    return Running(started_at=instance.started_at)
