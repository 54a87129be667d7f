"""Whether a process the keeper holds is the container instance a checkpoint says ran.

After the daemon's death and restart, a checkpoint says "instance N of container C ran as
pid P, started at tick T"; the keeper says which processes it holds (pid, tag, start ticks).
The instance is adopted only when all of it matches: the pid alone may have been reused by
an unrelated process (the kubelet, restarted, trusts the runtime's container IDs for the
same reason: ``pkg/kubelet/kuberuntime/kuberuntime_manager.go GetPodStatus``), and the tag
says which container a process belongs to. With a cgroup per container, the process must
also be in that container's cgroup. Anything else is refused, with the reason the user reads
in the container's ``lastState`` (``ContainerStatusUnknown``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from minikubelet.model.keeper import KeptProcess

__all__ = ["AdoptionRefused", "ProcessIdentity", "refusal", "start_ticks_of", "unclaimed"]


@dataclass(frozen=True)
class ProcessIdentity:
    """A process as a checkpoint knows it: its pid and its start time in clock ticks."""

    pid: int
    start_ticks: int


@dataclass(frozen=True)
class AdoptionRefused:
    """The instance could not be taken back; ``reason`` says why, in one sentence."""

    reason: str


def start_ticks_of(stat: str) -> int:
    """Field 22 (``starttime``) of a ``/proc/<pid>/stat`` line; ValueError if malformed.

    The command name (field 2) is in parentheses and may hold spaces and parentheses
    itself, so the fields are counted after the last ``)``.
    """
    _, paren, rest = stat.rpartition(")")
    fields = rest.split()
    if not paren or len(fields) < 20:
        raise ValueError(f"not a /proc/<pid>/stat line: {stat[:80]!r}")
    return int(fields[19])  # fields[0] is field 3 (state)


def refusal(
    claim: ProcessIdentity | None,
    tag: str,
    kept: KeptProcess | None,
    in_cgroup: bool | None = None,
) -> AdoptionRefused | None:
    """Why the instance tagged ``tag`` that ran as ``claim`` cannot be adopted as ``kept``
    (the keeper's process of that pid, None when it holds none); None: it can.

    ``in_cgroup``: whether the process is in the container's cgroup (None: no cgroup, or
    the process has already exited and left it).
    """
    if claim is None:
        return AdoptionRefused("the checkpoint holds no process identity (pid and start time)")
    if kept is None:
        return AdoptionRefused(f"no process of the keeper has pid {claim.pid} any more")
    if kept.start_ticks != claim.start_ticks:
        return AdoptionRefused(
            f"pid {claim.pid} started at tick {kept.start_ticks}, not {claim.start_ticks}: "
            "it is another process"
        )
    if kept.tag != tag:
        return AdoptionRefused(f"pid {claim.pid} belongs to {kept.tag!r}, not {tag!r}")
    if in_cgroup is False:
        return AdoptionRefused(f"pid {claim.pid} is not in the container's cgroup")
    return None


def unclaimed(kept: Iterable[KeptProcess], adopted: Collection[int]) -> list[KeptProcess]:
    """The keeper's processes no instance took back: they must not be left running."""
    return [process for process in kept if process.pid not in adopted]
