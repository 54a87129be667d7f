"""Kubernetes-style events (``core/v1 Event``), as the kubelet records them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = ["Event", "EventType"]


class EventType(StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


@dataclass(frozen=True, slots=True)  # the recorder keeps up to 5000: no __dict__ each
class Event:
    """One event series: repeats of the same (object, reason, message) raise ``count``."""

    name: str  # "<pod>.<unique suffix>", like the apiserver's generated names
    namespace: str
    pod: str
    pod_uid: str
    field_path: str  # "spec.containers{app}", "spec.initContainers{init}" or "" (the pod)
    type: EventType
    reason: str
    message: str
    first_timestamp: datetime
    last_timestamp: datetime
    count: int = 1
    source_component: str = "kubelet"
