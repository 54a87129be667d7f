"""What a pod should do next: the kubelet's ``computePodActions``, as a pure function.

Sources: ``pkg/kubelet/kuberuntime/kuberuntime_manager.go computePodActions``,
``kuberuntime_container.go computeInitContainerActions``, ``pkg/kubelet/container/helpers.go
ShouldContainerBeRestarted``.

The pod worker calls ``compute_pod_actions`` after every change it observes (a start, an
exit, a probe verdict, a back-off deadline) and carries out what it returns. Nothing here
waits: a container whose restart is refused by back-off comes back as ``BackingOff`` with
the monotonic time at which asking again will succeed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from minikubelet.logic.backoff import BackoffEntry, BackoffPolicy, StartNow, decide_restart
from minikubelet.logic.restart import should_restart
from minikubelet.model.observed import ContainerRecord
from minikubelet.model.spec import Container, PodSpec, RestartPolicy

__all__ = [
    "BackingOff",
    "KillContainer",
    "PodActions",
    "PodView",
    "StartContainer",
    "compute_pod_actions",
    "kill_message",
]


@dataclass(frozen=True)
class PodView:
    spec: PodSpec
    records: Mapping[str, ContainerRecord]
    backoff: Mapping[str, BackoffEntry]
    policy: BackoffPolicy
    now: float  # monotonic seconds
    has_initialized: bool = False  # a regular container has been created
    # Containers whose configuration failed (CreateContainerConfigError): not started
    # until what they wait for changes.
    held: frozenset[str] = frozenset()


@dataclass(frozen=True)
class StartContainer:
    name: str
    backoff: BackoffEntry | None = None  # the new entry when this start is a restart


@dataclass(frozen=True)
class KillContainer:
    name: str
    message: str  # the Killing event's message


@dataclass(frozen=True)
class BackingOff:
    name: str
    delay: float
    until: float


@dataclass(frozen=True)
class PodActions:
    start: tuple[StartContainer, ...] = ()
    kill: tuple[KillContainer, ...] = ()
    backing_off: tuple[BackingOff, ...] = ()
    # Nothing will run again: stop what is left (sidecars) and let the pod complete.
    kill_pod: bool = False

    @property
    def wake_at(self) -> float | None:
        """When a refused restart becomes allowed; None if nothing is backing off."""
        return min((b.until for b in self.backing_off), default=None)


def kill_message(container: Container, verdict: str, policy: RestartPolicy) -> str:
    """``Container app failed liveness probe, will be restarted`` and its variants."""
    if container.is_sidecar:
        # computeInitContainerActions: a sidecar always restarts, and its message says nothing.
        return f"Init container {container.name} failed {verdict} probe"
    text = f"Container {container.name} failed {verdict} probe"
    return text + ", will be restarted" if policy is not RestartPolicy.NEVER else text


@dataclass
class _Plan:
    view: PodView
    start: list[StartContainer] = field(default_factory=list)
    kill: list[KillContainer] = field(default_factory=list)
    backing_off: list[BackingOff] = field(default_factory=list)
    kill_pod: bool = False

    def record(self, name: str) -> ContainerRecord:
        return self.view.records.get(name) or ContainerRecord(name=name)

    def start_or_restart(self, name: str) -> None:
        if name in self.view.held:
            return
        exit_ = self.record(name).latest_exit
        if exit_ is None:
            self.start.append(StartContainer(name))
            return
        view = self.view
        decision = decide_restart(view.policy, view.backoff.get(name), exit_.monotonic, view.now)
        if isinstance(decision, StartNow):
            self.start.append(StartContainer(name, decision.entry))
        else:
            self.backing_off.append(BackingOff(name, decision.delay, decision.until))

    def actions(self) -> PodActions:
        return PodActions(
            tuple(self.start),
            tuple(self.kill),
            tuple(self.backing_off),
            self.kill_pod,
        )


def compute_pod_actions(view: PodView) -> PodActions:
    """Starts, kills and refused restarts for one sync of one (non-terminating) pod."""
    plan = _Plan(view)
    spec = view.spec
    for container in spec.init_containers + spec.containers:
        record = plan.record(container.name)
        if record.unhealthy is not None and record.is_running:
            plan.kill.append(
                KillContainer(
                    container.name, kill_message(container, record.unhealthy, spec.restart_policy)
                )
            )
    if not view.has_initialized and not _init_done(plan):
        return plan.actions()
    for sidecar in (c for c in spec.init_containers if c.is_sidecar):
        if plan.record(sidecar.name).latest_exit is not None:
            plan.start_or_restart(sidecar.name)
    keep = 0
    for container in spec.containers:
        record = plan.record(container.name)
        exit_ = record.latest_exit
        if record.latest is None:
            plan.start_or_restart(container.name)
        elif exit_ is None:
            killed = any(k.name == container.name for k in plan.kill)
            if killed and spec.restart_policy is RestartPolicy.NEVER:
                continue
        elif exit_.lost or should_restart(
            container, spec.restart_policy, exit_.exit_code, is_init=False
        ):
            plan.start_or_restart(container.name)
        else:
            continue
        keep += 1
    if keep == 0:
        plan.kill_pod = True
    return plan.actions()


def _init_done(plan: _Plan) -> bool:
    """Walk init containers in order; plan the next step and say whether all are done."""
    spec = plan.view.spec
    for container in spec.init_containers:
        record = plan.record(container.name)
        latest = record.latest
        if latest is None:
            plan.start_or_restart(container.name)
            return False
        if container.is_sidecar:
            if latest.exit is not None:
                plan.start_or_restart(container.name)
                return False
            started = latest.is_running and latest.post_start_done
            if not started or (
                container.startup_probe is not None and not record.startup_succeeded
            ):
                return False
            continue
        if latest.exit is None:
            return False
        if latest.exit.lost:
            plan.start_or_restart(container.name)
            return False
        if latest.exit.exit_code == 0 and latest.exit.reason != "OOMKilled":
            continue
        if spec.restart_policy is RestartPolicy.NEVER:
            plan.kill_pod = True
        else:
            plan.start_or_restart(container.name)
        return False
    return True
