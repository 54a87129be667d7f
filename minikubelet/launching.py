"""Getting a container instance ready to run: its ``Launch``, its files, its message.

The pure part (argv, environment, working dir) is ``logic.launch.build_launch``, which reads
the pod's ConfigMaps and Secrets from the lookup it is given; this is the part that touches
the host: who the process runs as (the user database), the
termination-message file an explicit ``terminationMessagePath`` asks for (a fresh one per
instance, as the kubelet makes), and reading the message back once the instance exited.
The file work blocks: run ``prepare`` and ``message`` in a worker thread.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from minikubelet.logic.environment import NO_OBJECTS, ConfigFailure, FieldContext, ObjectLookup
from minikubelet.logic.launch import LaunchPlan, build_launch, termination_message_path
from minikubelet.model.launch import Identity
from minikubelet.model.spec import Container, Pod
from minikubelet.runtime.logs import read_termination_message
from minikubelet.settings import Settings

__all__ = ["Launcher"]


class Launcher:
    """Launches of one pod's containers."""

    def __init__(
        self,
        pod: Pod,
        uid: str,
        settings: Settings,
        log_dir: Path,
        objects: ObjectLookup = NO_OBJECTS,
    ) -> None:
        self._pod = pod
        self._uid = uid
        self._settings = settings
        self._log_dir = log_dir
        self._objects = objects

    def launch(self, container: Container, restart_count: int) -> LaunchPlan | ConfigFailure:
        """The instance's launch, with the ConfigMaps and Secrets as they are now; a
        ``ConfigFailure`` when one it needs is missing (``CreateContainerConfigError``)."""
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
            objects=self._objects,
        )

    def prepare(self, container: Container, restart_count: int) -> None:
        """An explicit terminationMessagePath: a fresh, empty file before each start."""
        if container.termination_message_path is None:
            return
        path = self._message_path(container, restart_count)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        path.chmod(0o666)

    def message(self, container: Container, restart_count: int, exit_code: int) -> str:
        """The termination message of an instance that has exited."""
        return read_termination_message(
            self._message_path(container, restart_count),
            self._log_dir / container.name / f"{restart_count}.log",
            container.termination_message_policy,
            exit_code,
        )

    def _message_path(self, container: Container, restart_count: int) -> Path:
        return termination_message_path(self._pod, container, self._log_dir, restart_count)


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
