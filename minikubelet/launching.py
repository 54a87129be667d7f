"""Getting a container instance ready to run: its ``Launch``.

The pure part (argv, environment, working dir, message file) is
``logic.launch.build_launch``; this is the part that asks the host: who the process runs
as. The files the instance needs are the runtime's to make (``runtime/files.py``).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from minikubelet.logic.environment import FieldContext
from minikubelet.logic.launch import build_launch
from minikubelet.model.launch import Identity, Launch
from minikubelet.model.spec import Container, Pod
from minikubelet.settings import Settings

__all__ = ["Launcher"]


class Launcher:
    """Launches of one pod's containers."""

    def __init__(self, pod: Pod, uid: str, settings: Settings, log_dir: Path) -> None:
        self._pod = pod
        self._uid = uid
        self._settings = settings
        self._log_dir = log_dir

    def launch(self, container: Container, restart_count: int) -> Launch:
        settings = self._settings
        context = settings.field_context or FieldContext(
            uid=self._uid, node_name=settings.node_name
        )
        return build_launch(
            self._pod,
            container,
            uid=self._uid,
            restart_count=restart_count,
            base_env=settings.base_env,
            context=replace(context, uid=self._uid),
            log_dir=self._log_dir,
            identity=_identity(container),
        )


def _identity(container: Container) -> Identity | None:
    """``runAsUser``/``runAsGroup`` as given, when minikubelet is root to switch to them;
    what is not given stays minikubelet's own."""
    security = container.security_context
    if os.geteuid() != 0 or (security.run_as_user is None and security.run_as_group is None):
        return None
    user, group = security.run_as_user, security.run_as_group
    return Identity(
        uid=user if user is not None else os.getuid(),
        gid=group if group is not None else os.getgid(),
    )
