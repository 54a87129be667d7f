"""What was observed: container instances as the runtime saw them, and the API status.

Two layers live here:

* ``Instance`` is one run of a container (one process), as the runtime reports it. The pod
  worker keeps the newest two per container, like the kubelet looks at the newest two
  runtime containers (``convertToAPIContainerStatuses``).
* ``ContainerStatus`` / ``PodStatus`` are the Kubernetes API shapes, computed from
  instances by the pure functions of ``logic/status.py`` and ``logic/phase.py``.

States are tagged unions (``Waiting | Running | Terminated``); consumers ``match`` on them
and end with ``assert_never``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = [
    "CONTAINER_STATUS_UNKNOWN",
    "ConditionType",
    "ContainerState",
    "ContainerStatus",
    "Exit",
    "Instance",
    "PodCondition",
    "PodPhase",
    "PodStatus",
    "Running",
    "StartFailure",
    "Terminated",
    "Waiting",
]


class PodPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"

    @property
    def is_final(self) -> bool:
        return self in (PodPhase.SUCCEEDED, PodPhase.FAILED)


class ConditionType(StrEnum):
    POD_READY_TO_START_CONTAINERS = "PodReadyToStartContainers"
    INITIALIZED = "Initialized"
    READY = "Ready"
    CONTAINERS_READY = "ContainersReady"
    POD_SCHEDULED = "PodScheduled"


# The reason of an instance the runtime lost track of: it was running when the daemon went
# away, and it was not there when the daemon came back (kubelet_pods.go
# convertToAPIContainerStatuses, for a container that vanished from the runtime).
CONTAINER_STATUS_UNKNOWN = "ContainerStatusUnknown"


@dataclass(frozen=True)
class Exit:
    """How an instance ended. ``exit_code`` is 128+N for a death by signal N."""

    exit_code: int
    finished_at: datetime
    signal: int | None = None
    reason: str = ""  # "" lets the status code pick Completed/Error; else e.g. OOMKilled
    message: str = ""
    monotonic: float = 0.0  # anyio.current_time() at exit, for back-off decisions

    @property
    def lost(self) -> bool:
        """The instance was lost, not seen to exit: its container starts again, whatever
        the restart policy (``ShouldContainerBeRestarted`` for a container with no status)."""
        return self.reason == CONTAINER_STATUS_UNKNOWN


@dataclass(frozen=True)
class Instance:
    """One run of one container. ``started_at`` None: created, not yet running."""

    container_name: str
    restart_count: int
    container_id: str
    created_at: datetime
    pid: int | None = None
    started_at: datetime | None = None
    exit: Exit | None = None
    # False while postStart runs: the kubelet reports the container only after the hook.
    post_start_done: bool = True
    # The main process's start time (clock ticks after boot): with ``pid``, its identity
    # when a restarted daemon takes the instance back (``logic/adoption.py``).
    start_ticks: int | None = None

    @property
    def is_running(self) -> bool:
        return self.exit is None and self.started_at is not None


@dataclass(frozen=True)
class StartFailure:
    """Why the last start of a container was refused or failed (the kubelet's reason cache)."""

    reason: str  # CrashLoopBackOff, RunContainerError, PostStartHookError
    message: str


@dataclass(frozen=True)
class Waiting:
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class Running:
    started_at: datetime


@dataclass(frozen=True)
class Terminated:
    exit_code: int
    reason: str
    started_at: datetime | None
    finished_at: datetime
    container_id: str
    message: str = ""
    # The kubelet never fills `signal` (the CRI has no such field); we do, as the issue asks,
    # because a local supervisor knows it for certain.
    signal: int | None = None


ContainerState = Waiting | Running | Terminated


@dataclass(frozen=True)
class ContainerStatus:
    name: str
    state: ContainerState
    last_state: Terminated | None
    ready: bool
    restart_count: int
    image: str
    container_id: str = ""
    started: bool | None = None


@dataclass(frozen=True)
class PodCondition:
    type: ConditionType
    status: bool
    reason: str = ""
    message: str = ""
    last_transition_time: datetime | None = None


@dataclass(frozen=True)
class PodStatus:
    phase: PodPhase
    conditions: tuple[PodCondition, ...] = ()
    init_container_statuses: tuple[ContainerStatus, ...] = ()
    container_statuses: tuple[ContainerStatus, ...] = ()
    start_time: datetime | None = None
    reason: str = ""
    message: str = ""
    host_ip: str = "127.0.0.1"
    pod_ip: str = "127.0.0.1"
