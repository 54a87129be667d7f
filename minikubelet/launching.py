"""Getting a container instance ready to run: its ``Launch``.

The pure parts are ``logic.launch.build_launch`` (argv, environment — with the pod's
ConfigMaps and Secrets from the lookup it is given —, working dir, message file) and
``logic.identity.resolve_identity``; this is the part that asks the host: who minikubelet
runs as, and the user database. The files the instance needs are the
runtime's to make (``runtime/files.py``).
"""

from __future__ import annotations

import os
import pwd
from dataclasses import replace
from pathlib import Path

from minikubelet.errors import ContainerConfigError
from minikubelet.logic.environment import NO_OBJECTS, ConfigFailure, FieldContext, ObjectLookup
from minikubelet.logic.identity import UserEntry, resolve_identity
from minikubelet.logic.launch import LaunchPlan, build_launch
from minikubelet.model.launch import Launch
from minikubelet.model.spec import Container, Pod
from minikubelet.settings import Settings

__all__ = ["Launcher", "user_entry"]


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

    def launch_of(self, container: Container) -> Launch:
        """Which container this is, and no more (its tag): what the runtime needs to
        clear what a previous daemon left of it (``ContainerRuntime.adopt``)."""
        return Launch(tag=f"{self._uid}/{container.name}", argv=container.command, cwd="/")

    def launch(self, container: Container, restart_count: int) -> LaunchPlan:
        """The instance's launch, with the ConfigMaps and Secrets as they are now. Raises
        ContainerConfigError when the container cannot be configured as asked (a missing
        object or key, a user that cannot be had)."""
        settings = self._settings
        context = settings.field_context or FieldContext(
            uid=self._uid, node_name=settings.node_name
        )
        identity = resolve_identity(
            container.security_context,
            euid=os.geteuid(),
            egid=os.getegid(),
            lookup=user_entry,
            pod=f"{self._pod.full_name}({self._uid})",
            container=container.name,
        )
        plan = build_launch(
            self._pod,
            container,
            uid=self._uid,
            restart_count=restart_count,
            base_env=settings.base_env,
            context=replace(context, uid=self._uid),
            log_dir=self._log_dir,
            identity=identity,
            objects=self._objects,
        )
        if isinstance(plan, ConfigFailure):
            raise ContainerConfigError(plan.message)
        return plan


def user_entry(uid: int) -> UserEntry | None:
    """The host's user database entry of ``uid`` (None: it has none)."""
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return None
    try:
        groups = tuple(os.getgrouplist(entry.pw_name, entry.pw_gid))
    except OSError:
        groups = (entry.pw_gid,)
    return UserEntry(entry.pw_name, uid, entry.pw_gid, entry.pw_dir or "/", groups)
