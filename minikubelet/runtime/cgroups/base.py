"""What the cgroup drivers share: the spawn plan, usage, the no-cgroup mode, the protocols."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, TypeVar

from minikubelet.errors import CgroupError
from minikubelet.logic.qos import CgroupResources
from minikubelet.runtime.cgroups.files import read_procs, remove_dir

__all__ = [
    "CgroupDriver",
    "CgroupUsage",
    "ContainerCgroup",
    "HasPid",
    "NoCgroups",
    "SpawnPlan",
    "count_as_own",
    "own_pid_filtered",
    "stop_counting_as_own",
]

T = TypeVar("T", bound="HasPid")


class HasPid(Protocol):
    @property
    def pid(self) -> int: ...


@dataclass(frozen=True)
class SpawnPlan:
    """How the caller's ``start`` must spawn, so that the process starts in its cgroup.

    Pass ``argv`` (it may carry a prefix) and, when ``stdin`` is not None, that file
    descriptor as the child's stdin instead of /dev/null. The process's own stdin is still
    /dev/null once the real program runs.
    """

    argv: tuple[str, ...]
    stdin: int | None = None
    # cgroup v1, for a process another process spawns (the keeper): the ``tasks`` files a
    # thread of the spawner must be in when it forks, so the child starts in the cgroup
    tasks: tuple[str, ...] = ()


@dataclass(frozen=True)
class CgroupUsage:
    """One reading of a container cgroup's counters; None where the controller is absent."""

    cpu_ns: int | None  # cumulative CPU time of every process that ran in it
    memory_bytes: int | None  # memory.current / memory.usage_in_bytes
    working_set_bytes: int | None  # usage minus inactive file pages, as cAdvisor computes it
    oom_kills: int | None  # cumulative count of processes the kernel's OOM killer killed
    rss_bytes: int | None = None  # anonymous memory (memory.stat total_rss / anon), cAdvisor's rss


@dataclass(frozen=True)
class NoCgroups:
    """No usable cgroup hierarchy: process-tree tracking, memory limits by sampling."""

    reason: str  # one sentence, for the start-up log and ``describe``
    mode: Literal["none"] = "none"
    enforces_memory: bool = False
    enforces_cpu: bool = False


class ContainerCgroup(Protocol):
    """One container's cgroup (in every hierarchy the driver uses).

    Every method does blocking file I/O on cgroupfs: call them from a worker thread. The
    cheap ones (``pids``, ``is_empty``, ``oom_kills``, ``usage``: a few small reads) may
    run in the event loop thread if a few tens of microseconds of blocking are acceptable;
    ``create``, ``spawn``, ``kill_all`` and ``remove`` may wait for the kernel (an RCU
    grace period, a process to exit) and must not. ``spawn_async`` is ``spawn`` for the
    event loop (on v1 it hands the job straight to the parked thread).
    """

    pod_uid: str
    name: str

    def create(self, resources: CgroupResources | None = None) -> None: ...
    def set_limits(self, resources: CgroupResources) -> None: ...
    def spawn(
        self,
        start: Callable[[SpawnPlan], T],
        argv: Sequence[str],
        *,
        cwd: str | None = None,
        env_path: str | None = None,
    ) -> T: ...
    async def spawn_async(
        self,
        start: Callable[[SpawnPlan], T],
        argv: Sequence[str],
        *,
        cwd: str | None = None,
        env_path: str | None = None,
    ) -> T: ...
    def place(self, child: HasPid) -> None: ...
    def delegate(self, uid: int, gid: int) -> None: ...
    def pids(self) -> set[int]: ...
    def is_empty(self) -> bool: ...
    def kill_all(self) -> list[int]: ...
    def try_kill_all(self) -> list[int] | None:
        """``kill_all`` if it needs no wait (no spawn holds the cgroup, no freezer must
        settle), so the event loop can do it at once; None otherwise."""
        ...

    def oom_kills(self) -> int: ...
    def usage(self) -> CgroupUsage: ...
    def remove(self, timeout: float = 1.0) -> None: ...


class CgroupDriver(Protocol):
    mode: Literal["cgroup-v1", "cgroup-v2"]
    reason: str  # one sentence: what is enforced, where, and what is not
    enforces_memory: bool
    enforces_cpu: bool

    def container(self, pod_uid: str, name: str) -> ContainerCgroup: ...
    def pods(self) -> list[str]: ...
    def has_pod(self, pod_uid: str) -> bool: ...
    def pod_containers(self, pod_uid: str) -> list[str]: ...
    def pod_pids(self, pod_uid: str) -> set[int]: ...
    def remove_pod(self, pod_uid: str, timeout: float = 1.0) -> None: ...
    def close(self) -> None: ...


# --- shared implementation ------------------------------------------------------------

_KILL_ROUNDS = 20


def signal_all(list_pids: Callable[[], set[int]]) -> list[int]:
    """SIGKILL every pid ``list_pids`` returns, again until a round finds nothing new.

    Behind a fence (no fork can succeed) one round finds everything and the second confirms;
    without one, the rounds catch what was forked in between.
    """
    signalled: set[int] = set()
    for _ in range(_KILL_ROUNDS):
        pending = list_pids() - signalled
        if not pending:
            break
        for pid in pending:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        signalled |= pending
    return sorted(signalled)


# Processes of minikubelet itself that may have a thread parked in a container's cgroup
# (v1 lists a process there when any of its threads is): this one, and the keeper that
# spawns ``serve``'s containers from threads of its own (``runtime/keeper``).
_own_pids: set[int] = set()


def count_as_own(pid: int) -> None:
    """Treat ``pid`` as this process in every cgroup listing (the keeper, once connected)."""
    _own_pids.add(pid)


def stop_counting_as_own(pid: int) -> None:
    _own_pids.discard(pid)


def own_pid_filtered(procs: Path) -> set[int]:
    """The pids in ``procs``, without this process or the keeper (whose parked threads may
    be listed)."""
    pids = read_procs(procs)
    pids.discard(os.getpid())
    pids -= _own_pids
    return pids


def wait_then_remove(dirs: Sequence[Path], procs: Path, timeout: float) -> None:
    """Remove ``dirs`` (deepest first as given) once ``procs`` lists no process of theirs."""
    remaining = timeout
    step = 0.0005
    while (pids := own_pid_filtered(procs)) and remaining > 0:
        time.sleep(step)  # noqa: TID251 - blocking by design: the driver runs in a worker thread
        remaining -= step
        step = min(step * 2, 0.02)
    if pids:
        raise CgroupError(f"cannot remove {procs.parent}: it still has processes {sorted(pids)}")
    for path in dirs:
        remove_dir(path, max(remaining, 0.05))
