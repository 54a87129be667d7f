"""What the daemon keeps of a pod's containers across its own restart: a checkpoint.

The kubelet keeps nothing of the kind: after its restart it finds the pod's containers,
running or dead, in the container runtime (``kuberuntime_manager.go GetPodStatus``), and
derives ``restartCount`` and ``lastState`` from them. minikubelet's processes are its own
children, so it writes down, at every start and exit, the newest two instances of each
container (``Instance``: restart count, pid and process start ticks, start and exit) and
reads them back when the pod is added again with the same uid.

This module is the data and its JSON form; ``minikubelet.checkpoints`` writes the files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from minikubelet.model.status import Exit, Instance

__all__ = ["CHECKPOINT_VERSION", "PodCheckpoint", "checkpoint_from_json", "checkpoint_json"]

# 2 added ``startTicks`` (a running instance's process identity, for adoption); a
# version 1 file reads as one whose instances have none (they cannot be adopted).
CHECKPOINT_VERSION = 2
_READABLE_VERSIONS = (1, 2)


@dataclass(frozen=True)
class PodCheckpoint:
    uid: str
    namespace: str
    name: str
    created_at: datetime  # the pod's creationTimestamp, kept as the apiserver keeps it
    # container name -> its newest instances, newest first (at most two)
    instances: Mapping[str, tuple[Instance, ...]] = field(default_factory=dict)


def checkpoint_json(checkpoint: PodCheckpoint) -> dict[str, Any]:
    return {
        "version": CHECKPOINT_VERSION,
        "uid": checkpoint.uid,
        "namespace": checkpoint.namespace,
        "name": checkpoint.name,
        "createdAt": checkpoint.created_at.isoformat(),
        "containers": {
            name: [_instance_json(instance) for instance in instances]
            for name, instances in checkpoint.instances.items()
        },
    }


def checkpoint_from_json(data: object) -> PodCheckpoint:
    """The checkpoint ``data`` describes; raises ValueError saying what is wrong with it."""
    document = _mapping(data, "the checkpoint")
    if document.get("version") not in _READABLE_VERSIONS:
        raise ValueError(f"unknown checkpoint version {document.get('version')!r}")
    containers = _mapping(document.get("containers"), "containers")
    return PodCheckpoint(
        uid=_text(document, "uid"),
        namespace=_text(document, "namespace"),
        name=_text(document, "name"),
        created_at=_time(document.get("createdAt"), "createdAt"),
        instances={
            str(name): tuple(_instance(item, str(name)) for item in _list(items, str(name)))
            for name, items in containers.items()
        },
    )


def _instance_json(instance: Instance) -> dict[str, Any]:
    data: dict[str, Any] = {
        "restartCount": instance.restart_count,
        "containerID": instance.container_id,
        "createdAt": instance.created_at.isoformat(),
        "pid": instance.pid,
        "startedAt": instance.started_at.isoformat() if instance.started_at else None,
        "postStartDone": instance.post_start_done,
        "startTicks": instance.start_ticks,
    }
    if instance.exit is not None:
        data["exit"] = {
            "exitCode": instance.exit.exit_code,
            "finishedAt": instance.exit.finished_at.isoformat(),
            "signal": instance.exit.signal,
            "reason": instance.exit.reason,
            "message": instance.exit.message,
        }
    return data


def _instance(data: object, container: str) -> Instance:
    item = _mapping(data, f"an instance of {container}")
    started = item.get("startedAt")
    pid = item.get("pid")
    ticks = item.get("startTicks")
    exit_data = item.get("exit")
    exit_: Exit | None = None
    if exit_data is not None:
        exited = _mapping(exit_data, f"the exit of {container}")
        signal = exited.get("signal")
        exit_ = Exit(
            exit_code=_int(exited, "exitCode"),
            finished_at=_time(exited.get("finishedAt"), "finishedAt"),
            signal=signal if isinstance(signal, int) else None,
            reason=str(exited.get("reason") or ""),
            message=str(exited.get("message") or ""),
        )
    return Instance(
        container_name=container,
        restart_count=_int(item, "restartCount"),
        container_id=_text(item, "containerID"),
        created_at=_time(item.get("createdAt"), "createdAt"),
        pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        started_at=_time(started, "startedAt") if started is not None else None,
        exit=exit_,
        post_start_done=item.get("postStartDone") is not False,
        start_ticks=ticks if isinstance(ticks, int) and not isinstance(ticks, bool) else None,
    )


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} is not an object")
    return value


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"the instances of {what} are not a list")
    return value


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} is missing or not a string")
    return value


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{key} is missing or not an integer")
    return value


def _time(value: object, key: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{key} is missing or not a timestamp")
    moment = datetime.fromisoformat(value)  # ValueError names the bad text
    if moment.tzinfo is None:
        raise ValueError(f"{key} has no time zone")
    return moment
