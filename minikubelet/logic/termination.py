"""The grace-period budget and the order in which a pod's containers stop.

Sources: ``pkg/kubelet/pod_workers.go calculateEffectiveGracePeriod``,
``kuberuntime_container.go killContainer / setTerminationGracePeriod``,
``kuberuntime_termination_order.go``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from minikubelet.model.spec import Container, PodSpec

__all__ = [
    "DEADLINE_EXCEEDED_MESSAGE",
    "MINIMUM_GRACE_PERIOD",
    "active_deadline",
    "container_kill_grace",
    "pod_grace",
    "stop_window",
    "termination_order",
]

# kubelet minimumGracePeriodInSeconds: after preStop, the stop signal always gets this long.
MINIMUM_GRACE_PERIOD = 2.0


DEADLINE_EXCEEDED_MESSAGE = "Pod was active on the node longer than the specified deadline"


def active_deadline(spec: PodSpec, started: float) -> float | None:
    """When the pod must be stopped and marked Failed (``pkg/kubelet/active_deadline.go``).

    ``activeDeadlineSeconds`` counts from the pod's start time; None without one.
    """
    if spec.active_deadline_seconds is None:
        return None
    return started + spec.active_deadline_seconds


def pod_grace(spec: PodSpec, requested: int | None = None) -> int:
    """Grace for terminating a whole pod: the request if any, else the spec; at least 1 s.

    An explicit request of 0 is floored to 1 s, as the newest kubelet does (1.22-1.34
    treated it as unset, kubernetes/kubernetes#115819). A forced kill skips this path.
    """
    grace = spec.termination_grace_period_seconds if requested is None else requested
    return max(grace, 1)


def container_kill_grace(
    spec: PodSpec, container: Container, verdict: str | None, requested: int | None = None
) -> int:
    """Grace for killing one container outside pod termination (``setTerminationGracePeriod``).

    A liveness or startup kill uses the probe's own ``terminationGracePeriodSeconds`` when
    set, even if it is larger than the pod's.
    """
    if requested is not None:
        return requested
    probe = {"liveness": container.liveness_probe, "startup": container.startup_probe}.get(
        verdict or ""
    )
    if probe is not None and probe.termination_grace_period_seconds is not None:
        return probe.termination_grace_period_seconds
    return spec.termination_grace_period_seconds


def stop_window(
    grace: float, pre_stop_elapsed: float, minimum: float = MINIMUM_GRACE_PERIOD
) -> float:
    """How long the stop signal gets before SIGKILL, once preStop has taken its share.

    The kubelet subtracts the hook's time in whole seconds (truncated) and never gives
    less than ``minimum`` (2 s): a hung preStop yields the stop signal at T+grace and
    SIGKILL two seconds later.
    """
    return max(grace - math.floor(pre_stop_elapsed), minimum)


def termination_order(spec: PodSpec) -> Mapping[str, tuple[str, ...]]:
    """For each container, the containers that must have exited before it is signalled.

    Regular containers stop at once, in parallel; each sidecar waits for every regular
    container and for the next sidecar in spec order, so sidecars stop in reverse order.
    """
    regular = tuple(c.name for c in spec.containers)
    sidecars = [c.name for c in spec.init_containers if c.is_sidecar]
    order: dict[str, tuple[str, ...]] = dict.fromkeys(regular, ())
    order.update({c.name: () for c in spec.init_containers if not c.is_sidecar})
    for index, name in enumerate(sidecars):
        order[name] = regular + tuple(sidecars[index + 1 : index + 2])
    return order
