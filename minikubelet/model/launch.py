"""What the runtime is asked to run, and what it reports back: plain data.

A ``Launch`` is one container instance (or an exec inside it) as the runtime needs it:
the argv, its working directory, its environment and identity, and where its log goes.
It is built by a pure function (``logic/launch.py``) from the pod's spec, so the pod
worker, the probes and the hooks all run a container's commands the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from minikubelet.model.spec import TerminationMessagePolicy

__all__ = ["ExecResult", "ExitStatus", "Identity", "Launch", "TerminationMessage"]


@dataclass(frozen=True)
class Identity:
    """Who a container's processes run as (``securityContext``, resolved against the host).

    ``groups`` are the supplementary groups: the user's groups from the host's user
    database plus ``supplementalGroups``. ``home`` and ``name`` fill ``HOME``, ``USER``
    and ``LOGNAME``; an empty ``name`` means the uid has no entry in the user database.
    """

    uid: int
    gid: int
    groups: tuple[int, ...] = ()
    name: str = ""
    home: str = "/"


@dataclass(frozen=True)
class TerminationMessage:
    """Where an instance leaves its termination message, and how it is read back.

    ``explicit``: the manifest named the path (``terminationMessagePath``), so the runtime
    creates it fresh before each start, as the container's user; otherwise it is a
    per-instance file beside the log, which the container may create.
    """

    path: Path
    explicit: bool
    policy: TerminationMessagePolicy = TerminationMessagePolicy.FILE


@dataclass(frozen=True)
class Launch:
    """Everything needed to start one container instance (or an exec inside it)."""

    tag: str  # "<pod uid>/<container name>": marks every process of the container
    argv: tuple[str, ...]
    cwd: str
    env: Mapping[str, str] = field(default_factory=dict)
    identity: Identity | None = None  # None: minikubelet's own user
    log_path: Path | None = None
    message: TerminationMessage | None = None  # None: an exec, which leaves no message

    @property
    def container_name(self) -> str:
        return self.tag.split("/", 2)[1] if self.tag.count("/") >= 1 else self.tag


@dataclass(frozen=True)
class ExitStatus:
    """How a process ended. ``exit_code`` is 128+N when it died of signal N (as runc
    reports it); ``signal`` is N then."""

    exit_code: int
    signal: int | None = None

    @classmethod
    def from_signal(cls, signum: int) -> ExitStatus:
        return cls(exit_code=128 + signum, signal=signum)


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: bytes  # stdout and stderr interleaved, bounded
    timed_out: bool = False
