"""How a container instance is launched: argv, environment, working dir, identity, files.

Sources: ``pkg/kubelet/kuberuntime/kuberuntime_container.go generateContainerConfig``
(``makeEnvironmentVariables``, the expanded command, the working dir) and
``makeMounts`` (the termination-message file, a fresh one per instance). Pure: the
caller passes everything that comes from the host (the base environment, the resolved
user, the ConfigMaps and Secrets) and gets a ``LaunchPlan`` to hand to the runtime, or the
``ConfigFailure`` that keeps the container from starting (``CreateContainerConfigError``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from minikubelet.logic.environment import (
    NO_OBJECTS,
    ConfigFailure,
    FieldContext,
    InvalidKeys,
    ObjectLookup,
    container_argv,
    full_environment,
    make_environment,
    shown_argv,
)
from minikubelet.logic.identity import identity_env
from minikubelet.model.launch import Identity, Launch, TerminationMessage
from minikubelet.model.spec import Container, Pod

__all__ = ["LaunchPlan", "build_launch", "termination_message_path"]


def termination_message_path(
    pod: Pod, container: Container, log_dir: Path, restart_count: int
) -> Path:
    """The message file of one instance: as written in the manifest (relative to it), or
    a per-instance file beside the instance's log when left at the default."""
    if container.termination_message_path is not None:
        return pod.source.directory / container.termination_message_path
    return log_dir / container.name / f"{restart_count}.termination-log"


@dataclass(frozen=True)
class LaunchPlan:
    """A launch, the ``envFrom`` keys skipped on the way (an event each), and the argv as
    logs and the trace show it (no Secret value in it: ``environment.shown_argv``)."""

    launch: Launch
    invalid: tuple[InvalidKeys, ...] = ()
    shown_argv: tuple[str, ...] = ()

    @property
    def shown(self) -> tuple[str, ...]:
        return self.shown_argv or self.launch.argv

    def redact(self, text: str) -> str:
        """``text`` with the real argv[0] replaced by the shown one (runtime errors quote
        the executable, which a ``$(VAR)`` from a Secret may have produced)."""
        real, shown = self.launch.argv[:1], self.shown[:1]
        if real and shown and real != shown and real[0]:
            return text.replace(real[0], shown[0])
        return text


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
    objects: ObjectLookup = NO_OBJECTS,
) -> LaunchPlan | ConfigFailure:
    """The launch of instance ``restart_count`` of ``container``, or why it cannot start."""
    environment = make_environment(pod, container, context, objects)
    if isinstance(environment, ConfigFailure):
        return environment
    env = full_environment(pod, base_env, environment)
    if identity is not None:
        # The user's own, not minikubelet's: HOME, USER, LOGNAME (unless the manifest set
        # them: its variables win).
        for name, value in identity_env(identity).items():
            if name in environment.variables:
                continue
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
    path = termination_message_path(pod, container, log_dir, restart_count)
    explicit = container.termination_message_path is not None
    launch = Launch(
        tag=f"{uid}/{container.name}",
        argv=container_argv(container, env, environment.variables),
        cwd=str(pod.source.directory / (container.working_dir or ".")),
        env=env,
        identity=identity,
        log_path=log_dir / container.name / f"{restart_count}.log",
        message=TerminationMessage(path, explicit, container.termination_message_policy),
    )
    return LaunchPlan(launch, environment.invalid, shown_argv(container, environment))
