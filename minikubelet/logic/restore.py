"""A pod added again after the daemon's restart: its containers' history, from a checkpoint.

The kubelet, restarted, reads each container's instances back from the runtime; one that
was running and is no longer there gets ``lastState`` ``ContainerStatusUnknown`` (exit
137, "The container could not be located when the pod was deleted.  The container used
to be Running"), its ``restartCount`` grows by one, and it starts again whatever the
restart policy, as a container with no status does (``kubelet_pods.go
convertToAPIContainerStatuses``, ``container/helpers.go ShouldContainerBeRestarted``).
Instances that had exited keep their exit: a pod that had finished stays finished.

When the daemon died (``kill -9``) its containers kept running under the keeper
(``runtime/keeper``): the instances that were running are then candidates for adoption
(``running_instances``); the pod worker takes each back or, refused, records it lost with
the refusal's reason (``lost``), as above.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime

from minikubelet.model.checkpoint import PodCheckpoint
from minikubelet.model.observed import ContainerRecord
from minikubelet.model.spec import PodSpec
from minikubelet.model.status import CONTAINER_STATUS_UNKNOWN, Exit, Instance

__all__ = ["LOST_EXIT_CODE", "LOST_MESSAGE", "lost", "restored_records", "running_instances"]

LOST_EXIT_CODE = 137
LOST_MESSAGE = (
    "The container could not be located when the pod was deleted.  The container used to be Running"
)


def restored_records(
    spec: PodSpec, checkpoint: PodCheckpoint, now: datetime, adoptable: Collection[str] = ()
) -> dict[str, ContainerRecord]:
    """Each container's record as the checkpoint left it, its unfinished instance lost at
    ``now`` (unless the container is in ``adoptable``: it is left running, for the pod
    worker to adopt); containers the checkpoint does not know start with no history."""
    records: dict[str, ContainerRecord] = {}
    for container in spec.init_containers + spec.containers:
        instances = checkpoint.instances.get(container.name, ())[:2]
        if instances and instances[0].exit is None and container.name not in adoptable:
            instances = (lost(instances[0], now), *instances[1:])
        records[container.name] = ContainerRecord(container.name, instances=instances)
    return records


def running_instances(spec: PodSpec, checkpoint: PodCheckpoint) -> dict[str, Instance]:
    """The instances the checkpoint says were running when it was written (started, not
    exited), by container name: what a restarted daemon may adopt."""
    running: dict[str, Instance] = {}
    for container in spec.init_containers + spec.containers:
        instances = checkpoint.instances.get(container.name, ())
        if instances and instances[0].is_running:
            running[container.name] = instances[0]
    return running


def lost(instance: Instance, now: datetime, why: str = "") -> Instance:
    """``instance`` could not be located (taken back) at ``now``; ``why`` adds the reason."""
    message = f"{LOST_MESSAGE}: {why}" if why else LOST_MESSAGE
    return replace(
        instance,
        exit=Exit(
            exit_code=LOST_EXIT_CODE,
            finished_at=now,
            reason=CONTAINER_STATUS_UNKNOWN,
            message=message,
        ),
        post_start_done=True,
    )
