"""Pod phase and conditions from container statuses.

Sources: ``pkg/kubelet/kubelet_pods.go getPhase`` and ``pkg/kubelet/status/generate.go``;
``pkg/kubelet/kubelet_pods.go generateAPIPodStatus``. Pure: the caller passes the
previous conditions and the wall-clock ``now`` so transition times are kept stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from minikubelet.model.spec import PodSpec, RestartPolicy
from minikubelet.model.status import (
    ConditionType,
    ContainerStatus,
    PodCondition,
    PodPhase,
    Running,
    Terminated,
    Waiting,
)

__all__ = ["PhaseInputs", "pod_conditions", "pod_phase"]


@dataclass(frozen=True)
class PhaseInputs:
    spec: PodSpec
    init_statuses: Sequence[ContainerStatus]
    statuses: Sequence[ContainerStatus]
    # The pod is being (or has been) terminated: deleted, or run was asked to stop.
    terminal: bool = False
    # Any regular container of this pod has been created (kubelet: podHasInitialized).
    has_initialized: bool = False
    is_static: bool = False


def _ended_instance(status: ContainerStatus) -> Terminated | None:
    """The terminated record of a container that is not running: its state or lastState."""
    match status.state:
        case Terminated():
            return status.state
        case Waiting():
            return status.last_state
        case Running():
            return None


def pod_phase(inputs: PhaseInputs) -> PodPhase:
    """``getPhase``: counting pass over init, sidecar and regular containers, then rules."""
    spec = inputs.spec
    pending_init = failed_init = pending_sidecar = 0
    unknown = running = waiting = stopped = succeeded = 0
    init_by_name = {s.name: s for s in inputs.init_statuses}
    for container in spec.init_containers:
        status = init_by_name.get(container.name)
        if container.is_sidecar:
            if status is None:
                unknown += 1
            elif isinstance(status.state, Running):
                running += 1
                pending_sidecar += 0 if status.started else 1
            elif isinstance(status.state, Waiting) and status.last_state is None:
                pending_sidecar += 1
                waiting += 1
            continue  # a sidecar's exit never influences the phase
        if status is None or isinstance(status.state, Running):
            pending_init += 1
            continue
        ended = _ended_instance(status)
        if ended is None:
            pending_init += 1
        elif ended.exit_code != 0:
            failed_init += 1
    regular_by_name = {s.name: s for s in inputs.statuses}
    for container in spec.containers:
        status = regular_by_name.get(container.name)
        if status is None:
            unknown += 1
        elif isinstance(status.state, Running):
            running += 1
        elif isinstance(status.state, Terminated):
            stopped += 1
            succeeded += status.state.exit_code == 0
        elif status.last_state is not None:
            stopped += 1  # restarting: never counts as succeeded
        else:
            waiting += 1
    if failed_init and spec.restart_policy is RestartPolicy.NEVER:
        return PodPhase.FAILED
    if pending_init or (pending_sidecar and not inputs.has_initialized) or waiting:
        return PodPhase.PENDING
    if running and not unknown:
        return PodPhase.RUNNING
    if not running and stopped and not unknown:
        if inputs.terminal and not inputs.is_static:
            return PodPhase.SUCCEEDED if stopped == succeeded else PodPhase.FAILED
        if spec.restart_policy is RestartPolicy.ALWAYS:
            return PodPhase.RUNNING
        if stopped == succeeded:
            return PodPhase.SUCCEEDED
        if spec.restart_policy is RestartPolicy.NEVER:
            return PodPhase.FAILED
        return PodPhase.RUNNING
    return PodPhase.PENDING


def pod_conditions(
    inputs: PhaseInputs,
    phase: PodPhase,
    previous: Sequence[PodCondition],
    now: datetime,
    *,
    sandbox_ready: bool = True,
) -> tuple[PodCondition, ...]:
    """The kubelet-owned conditions, in the kubelet's order, with stable transition times."""
    before = {c.type: c for c in previous}

    def condition(
        kind: ConditionType, ok: bool, reason: str = "", message: str = ""
    ) -> PodCondition:
        old = before.get(kind)
        since = old.last_transition_time if old is not None and old.status == ok else now
        return PodCondition(kind, ok, reason, message, since)

    initialized = _initialized(inputs, phase)
    containers_ready = _containers_ready(inputs, phase)
    return (
        condition(ConditionType.POD_READY_TO_START_CONTAINERS, sandbox_ready),
        condition(ConditionType.INITIALIZED, *initialized),
        condition(ConditionType.READY, *containers_ready),
        condition(ConditionType.CONTAINERS_READY, *containers_ready),
        condition(ConditionType.POD_SCHEDULED, True),
    )


def _names(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"


def _not_ready_message(incomplete: list[str], unknown: list[str], word: str) -> str:
    parts = []  # generate.go lists the unknown containers first
    if unknown:
        parts.append(f"containers with unknown status: {_names(unknown)}")
    if incomplete:
        parts.append(f"containers with {word} status: {_names(incomplete)}")
    return ", ".join(parts)


def _initialized(inputs: PhaseInputs, phase: PodPhase) -> tuple[bool, str, str]:
    if phase is PodPhase.SUCCEEDED:
        return True, "PodCompleted", ""
    if not inputs.spec.init_containers:
        return True, "", ""
    # Any regular container Running or Terminated means the pod was initialized
    # (HasAnyRegularContainerStarted; a Waiting one does not count, even with a lastState).
    if any(not isinstance(s.state, Waiting) for s in inputs.statuses):
        return True, "", ""
    by_name = {s.name: s for s in inputs.init_statuses}
    incomplete, unknown = [], []
    for container in inputs.spec.init_containers:
        status = by_name.get(container.name)
        if status is None:
            unknown.append(container.name)
        elif not (status.started if container.is_sidecar else status.ready):
            incomplete.append(container.name)
    if not incomplete and not unknown:
        return True, "", ""
    return False, "ContainersNotInitialized", _not_ready_message(incomplete, unknown, "incomplete")


def _containers_ready(inputs: PhaseInputs, phase: PodPhase) -> tuple[bool, str, str]:
    if phase is PodPhase.SUCCEEDED:
        return False, "PodCompleted", ""
    if phase is PodPhase.FAILED:
        return False, "PodFailed", ""
    by_name = {s.name: s for s in (*inputs.init_statuses, *inputs.statuses)}
    wanted = [c.name for c in inputs.spec.init_containers if c.is_sidecar]
    wanted += [c.name for c in inputs.spec.containers]
    unready, unknown = [], []
    for name in wanted:
        status = by_name.get(name)
        if status is None:
            unknown.append(name)
        elif not status.ready:
            unready.append(name)
    if not unready and not unknown:
        return True, "", ""
    return False, "ContainersNotReady", _not_ready_message(unready, unknown, "unready")
