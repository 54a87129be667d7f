"""Engine settings shared by every pod worker: the flags of ``run`` and ``serve``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from minikubelet.logic.backoff import BackoffPolicy
from minikubelet.logic.environment import FieldContext
from minikubelet.logic.termination import MINIMUM_GRACE_PERIOD
from minikubelet.runtime.logs import LogRotation

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    root_dir: Path
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    minimum_grace_period: float = MINIMUM_GRACE_PERIOD
    base_env: Mapping[str, str] = field(default_factory=dict)
    node_name: str = "localhost"
    log_rotation: LogRotation = field(default_factory=LogRotation)
    field_context: FieldContext | None = None

    def pod_dir(self, namespace: str, name: str, uid: str) -> Path:
        """Where a pod's logs and per-instance files live (the kubelet's pod log dir)."""
        return self.root_dir / "pods" / f"{namespace}_{name}_{uid}"
