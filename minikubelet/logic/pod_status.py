"""A pod's whole API status from what its worker observed (``generateAPIPodStatus``).

Source: ``pkg/kubelet/kubelet_pods.go generateAPIPodStatus``: container statuses from the
runtime's instances, the phase from them, a terminal phase that never changes back, the
reason and message a sync handler forced (``activeDeadlineSeconds`` →
``DeadlineExceeded``), and the kubelet-owned conditions with stable transition times;
then ``pkg/kubelet/status/status_manager.go normalizeStatus``'s cap on the messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from minikubelet.logic.phase import PhaseInputs, pod_conditions, pod_phase
from minikubelet.logic.status import container_status
from minikubelet.logic.termination import DEADLINE_EXCEEDED_MESSAGE
from minikubelet.logic.termination_message import limit_pod_messages
from minikubelet.model.observed import ContainerRecord
from minikubelet.model.spec import PodSpec
from minikubelet.model.status import PodPhase, PodStatus

__all__ = ["Observed", "pod_status"]


@dataclass(frozen=True)
class Observed:
    """What a pod worker knows that shapes the status, besides the spec."""

    records: Mapping[str, ContainerRecord]
    terminal: bool = False  # being (or been) terminated: deleted, stopped, deadline
    has_initialized: bool = False  # a regular container has been created
    deadline_exceeded: bool = False
    is_static: bool = False


def pod_status(spec: PodSpec, observed: Observed, previous: PodStatus, now: datetime) -> PodStatus:
    """The status to report now, given the one reported before (for sticky values)."""
    has_init = bool(spec.init_containers)
    records = observed.records
    init_statuses = tuple(
        container_status(c, records[c.name], is_init=True, pod_has_init=has_init)
        for c in spec.init_containers
    )
    statuses = tuple(
        sorted(
            (
                container_status(c, records[c.name], is_init=False, pod_has_init=has_init)
                for c in spec.containers
            ),
            key=lambda s: s.name,
        )
    )
    inputs = PhaseInputs(
        spec=spec,
        init_statuses=init_statuses,
        statuses=statuses,
        terminal=observed.terminal,
        has_initialized=observed.has_initialized,
        is_static=observed.is_static,
    )
    phase = pod_phase(inputs)
    reason = message = ""
    if observed.deadline_exceeded:  # the kubelet forces Failed with this reason and message
        phase, reason, message = PodPhase.FAILED, "DeadlineExceeded", DEADLINE_EXCEEDED_MESSAGE
    if previous.phase.is_final:
        phase = previous.phase  # terminal phases are sticky
        reason, message = previous.reason or reason, previous.message or message
    status = PodStatus(
        phase=phase,
        conditions=pod_conditions(inputs, phase, previous.conditions, now),
        init_container_statuses=init_statuses,
        container_statuses=statuses,
        start_time=previous.start_time,
        reason=reason,
        message=message,
    )
    # status_manager.go normalizeStatus: a pod's messages share 12 KiB.
    return limit_pod_messages(status, spec)
