"""How a container instance is launched: argv, environment, working dir, identity, files.

Sources: ``pkg/kubelet/kuberuntime/kuberuntime_container.go generateContainerConfig``
(``makeEnvironmentVariables``, the expanded command, the working dir) and
``makeMounts`` (the termination-message file, a fresh one per instance). Pure: the
caller passes everything that comes from the host (the base environment, the resolved
user) and gets a ``Launch`` it hands to the runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from minikubelet.logic.environment import FieldContext, container_argv, container_env
from minikubelet.logic.identity import identity_env
from minikubelet.model.launch import Identity, Launch, TerminationMessage
from minikubelet.model.spec import Container, Pod

__all__ = ["build_launch", "termination_message_path"]


def termination_message_path(
    pod: Pod, container: Container, log_dir: Path, restart_count: int
) -> Path:
    """The message file of one instance: as written in the manifest (relative to it), or
    a per-instance file beside the instance's log when left at the default."""
    if container.termination_message_path is not None:
        return pod.source.directory / container.termination_message_path
    return log_dir / container.name / f"{restart_count}.termination-log"


def build_launch(
    pod: Pod,
    container: Container,
    *,
    uid: str,
    restart_count: int,
    base_env: Mapping[str, str],
    context: FieldContext,
    log_dir: Path,
    identity: Identity | None,
) -> Launch:
    """The ``Launch`` of instance ``restart_count`` of ``container``."""
    env = container_env(pod, container, base_env, context)
    if identity is not None:
        # The user's own, not minikubelet's: HOME, USER, LOGNAME (before `env`, which wins).
        for name, value in identity_env(identity).items():
            if name in {var.name for var in container.env}:
                continue
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
    path = termination_message_path(pod, container, log_dir, restart_count)
    explicit = container.termination_message_path is not None
    return Launch(
        tag=f"{uid}/{container.name}",
        argv=container_argv(container, env),
        cwd=str(pod.source.directory / (container.working_dir or ".")),
        env=env,
        identity=identity,
        log_path=log_dir / container.name / f"{restart_count}.log",
        message=TerminationMessage(path, explicit, container.termination_message_policy),
    )
