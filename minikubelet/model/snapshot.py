"""A pod as it stood at one moment: what the API, the sources and the CLI read.

The status manager hands these out; nothing outside the engine ever holds a live pod
worker. A snapshot is immutable, so a watch event rendered a second later still shows
the pod as it was when the event happened.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from minikubelet.model.observed import ContainerRecord
from minikubelet.model.spec import Pod
from minikubelet.model.status import PodStatus

__all__ = ["PodSnapshot", "WatchEventType", "Watchable"]


class WatchEventType(StrEnum):
    """The ``type`` of a Kubernetes ``WatchEvent`` (and of the engine's pod changes)."""

    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    BOOKMARK = "BOOKMARK"
    ERROR = "ERROR"


@dataclass(frozen=True)
class PodSnapshot:
    pod: Pod
    uid: str
    is_static: bool
    created_at: datetime  # metadata.creationTimestamp
    status: PodStatus
    records: Mapping[str, ContainerRecord]  # each container's newest two instances
    log_dir: Path  # <root-dir>/pods/<namespace>_<name>_<uid>
    deletion_timestamp: datetime | None = None
    deletion_grace: int | None = None
    finished: bool = False  # the worker is done: nothing runs, nothing will start again

    @property
    def key(self) -> tuple[str, str]:
        return (self.pod.namespace, self.pod.name)

    def log_path(self, container: str, restart_count: int) -> Path:
        """The CRI log of one instance: ``<container>/<restartCount>.log``."""
        return self.log_dir / container / f"{restart_count}.log"


class Watchable(Protocol):
    """What tells its listeners of every pod ADDED, MODIFIED and DELETED (the kubelet)."""

    def watch(
        self, listener: Callable[[WatchEventType, PodSnapshot], None]
    ) -> Callable[[], None]: ...
