"""cgroup v2 (a delegated subtree): one hierarchy; a gate holds the child until it is placed.

The container's cgroup is ``<own>/<subtree>/pod<uid>/<name>``. On v2 a thread cannot sit in
another cgroup than its process (``cgroup.threads`` refuses it outside threaded subtrees:
EOPNOTSUPP), and ``CLONE_INTO_CGROUP`` is out of reach from Python (glibc exposes it to
``posix_spawn`` only from 2.41; a raw ``clone3`` would return into the interpreter in the
child). So the process is moved before it execs:

* **The gate**: the child starts as ``/bin/sh -c 'read; exec "$@" </dev/null' … argv`` with a
  pipe as its stdin (vfork, no ``preexec_fn``); we write its pid into the container's
  ``cgroup.procs`` while it waits on the pipe, then write a newline: only then does it exec
  the real program (stdin back to /dev/null). Nothing runs before the move, so nothing can
  escape it, and the move is ours (the daemon's credentials), so a container running as
  another user is placed as well. The cost is one ``sh`` exec, and one cgroup migration,
  whose first write after a quiet spell waits for an RCU grace period (~6 ms here) unless the
  hierarchy is mounted with ``favordynmods``.
* Because the shell execs the program, ``exec`` errors would surface as exit codes 126/127;
  so the executable is checked first, and when it cannot be run the caller's ``start`` gets
  the plain argv to fail exactly as ``Popen`` always has.
* **Kill all**: ``cgroup.kill`` (Linux 5.14+) kills every process in the cgroup at once,
  forks in flight included; without it: ``cgroup.freeze``, SIGKILL every pid, thaw.
* **Counters**: ``cpu.stat`` ``usage_usec`` (core, without the cpu controller too),
  ``memory.current`` minus ``memory.stat`` ``inactive_file`` (cAdvisor's working set),
  ``memory.events`` ``oom_kill``. Cumulative over the cgroup's life, which spans restarts.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, TypeVar

import anyio
import anyio.to_thread

from minikubelet.errors import CgroupError
from minikubelet.logic.qos import CgroupResources
from minikubelet.runtime.cgroups.base import (
    CgroupUsage,
    HasPid,
    SpawnPlan,
    own_pid_filtered,
    signal_all,
    wait_then_remove,
)
from minikubelet.runtime.cgroups.files import (
    find_key,
    read_bytes,
    remove_dir,
    write_value,
)

__all__ = ["GATE_SCRIPT", "V2Container", "V2Driver", "spawn_through_gate"]

T = TypeVar("T", bound=HasPid)

# $0 is a label for ps; "$@" is the container's argv. `read` consumes one byte at a time
# from a pipe, so nothing beyond the newline is lost; EOF (we gave up) exits with 125.
GATE_SCRIPT = 'IFS= read -r _ || exit 125; exec "$@" </dev/null'
GATE_LABEL = "minikubelet-gate"
_SHELL = "/bin/sh"
# What a delegatee gets write access to (cgroup-v2.rst, "Model of Delegation").
_DELEGATED = ("cgroup.procs", "cgroup.threads", "cgroup.subtree_control")
_FREEZE_TIMEOUT = 2.0


class V2Driver:
    """The cgroup v2 driver, rooted at this daemon's subtree ``root``."""

    mode: Literal["cgroup-v2"] = "cgroup-v2"

    def __init__(self, root: Path, controllers: frozenset[str], reason: str) -> None:
        self.root = root
        self.controllers = controllers  # enabled for our subtree
        self.reason = reason
        self.enforces_memory = "memory" in controllers
        self.enforces_cpu = "cpu" in controllers
        self._containers: dict[tuple[str, str], V2Container] = {}
        self._lock = threading.Lock()

    def container(self, pod_uid: str, name: str) -> V2Container:
        with self._lock:
            key = (pod_uid, name)
            if key not in self._containers:
                self._containers[key] = V2Container(self, pod_uid, name)
            return self._containers[key]

    def forget(self, container: V2Container) -> None:
        with self._lock:
            self._containers.pop((container.pod_uid, container.name), None)

    def pods(self) -> list[str]:
        return sorted(
            entry.name[3:] for entry in _subdirectories(self.root) if entry.name.startswith("pod")
        )

    def has_pod(self, pod_uid: str) -> bool:
        return (self.root / f"pod{pod_uid}").is_dir()

    def pod_containers(self, pod_uid: str) -> list[str]:
        return sorted(entry.name for entry in _subdirectories(self.root / f"pod{pod_uid}"))

    def pod_pids(self, pod_uid: str) -> set[int]:
        pod = self.root / f"pod{pod_uid}"
        pids = own_pid_filtered(pod / "cgroup.procs")
        for child in _descendants(pod):
            pids |= own_pid_filtered(child / "cgroup.procs")
        return pids

    def remove_pod(self, pod_uid: str, timeout: float = 1.0) -> None:
        for name in self.pod_containers(pod_uid):
            self.container(pod_uid, name).remove(timeout)
        pod = self.root / f"pod{pod_uid}"
        wait_then_remove([pod], pod / "cgroup.procs", timeout)

    def close(self) -> None:
        with contextlib.suppress(CgroupError):
            remove_dir(self.root, timeout=0)


def _subdirectories(path: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as entries:
            return [entry for entry in entries if entry.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []


class V2Container:
    """One container's cgroup in the v2 hierarchy."""

    def __init__(self, driver: V2Driver, pod_uid: str, name: str) -> None:
        self.pod_uid = pod_uid
        self.name = name
        self._driver = driver
        self._pod = driver.root / f"pod{pod_uid}"
        self.dir = self._pod / name
        self._procs = self.dir / "cgroup.procs"
        self._lock = threading.Lock()

    def create(self, resources: CgroupResources | None = None) -> None:
        for path in (self._pod, self.dir):
            try:
                path.mkdir(exist_ok=True)
            except OSError as error:
                raise CgroupError(f"cannot create cgroup {path}: {error.strerror}") from error
            if path == self._pod and self._driver.controllers:
                # children get a controller only if their parent enables it for them
                enable = " ".join(f"+{name}" for name in sorted(self._driver.controllers))
                write_value(self._pod / "cgroup.subtree_control", enable)
        if resources is not None:
            self.set_limits(resources)

    def set_limits(self, resources: CgroupResources) -> None:
        if "memory" in self._driver.controllers:
            limit = resources.memory_limit_bytes
            write_value(self.dir / "memory.max", "max" if limit is None else limit)
            swap = self.dir / "memory.swap.max"
            if limit is not None and swap.exists():
                write_value(swap, 0)  # the kubelet's NoSwap: no swap for the container
        if "cpu" in self._driver.controllers:
            write_value(self.dir / "cpu.max", resources.cpu_max)
            write_value(self.dir / "cpu.weight", resources.cpu_weight)

    def spawn(
        self,
        start: Callable[[SpawnPlan], T],
        argv: Sequence[str],
        *,
        cwd: str | None = None,
        env_path: str | None = None,
    ) -> T:
        """Spawn through the gate, move the child into the cgroup, then let it exec.

        ``cwd`` and ``env_path`` (the child's working directory and PATH) let the
        executable be checked first. Blocks for the migration (an RCU grace period).
        """
        return spawn_through_gate(
            self.place, start, argv, cwd=cwd, env_path=env_path, lock=self._lock
        )

    async def spawn_async(
        self,
        start: Callable[[SpawnPlan], T],
        argv: Sequence[str],
        *,
        cwd: str | None = None,
        env_path: str | None = None,
    ) -> T:
        """``spawn`` in a worker thread: the migration waits for the kernel."""
        spawn = functools.partial(self.spawn, start, argv, cwd=cwd, env_path=env_path)
        return await anyio.to_thread.run_sync(spawn)

    def place(self, child: HasPid) -> None:
        """Move a running process into the cgroup (SIGKILL and CgroupError if it fails).

        ``spawn`` does it behind the gate, before the program runs; called on its own, it
        places a process that has already run (a caller that needs the child's stdin for
        something else than the gate), and what it forked meanwhile is not moved.
        """
        try:
            write_value(self._procs, child.pid)
        except CgroupError as error:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)
            raise CgroupError(str(error), process=child) from error

    def delegate(self, uid: int, gid: int) -> None:
        """Hand the cgroup to the container's user, as cgroup v2 delegation asks.

        The kernel's model (``Documentation/admin-guide/cgroup-v2.rst``, "Model of
        Delegation"): write access to the directory and to its ``cgroup.procs``,
        ``cgroup.threads`` and ``cgroup.subtree_control``. A container running as that user
        may then organise its own processes in child cgroups, as a systemd unit with
        ``Delegate=yes`` may; it can never move a process out (that needs write access to
        a common ancestor's ``cgroup.procs``, which stays ours), and its limits stay ours
        (``memory.max`` and the like are not handed over). Children it makes are found,
        killed and removed with the container (``pids``, ``kill_all``, ``remove``).
        """
        for path in (self.dir, *(self.dir / name for name in _DELEGATED)):
            try:
                os.chown(path, uid, gid)
            except FileNotFoundError:
                continue  # cgroup.threads exists only where threaded cgroups do
            except OSError as error:
                raise CgroupError(f"cannot hand {path} to uid {uid}: {error.strerror}") from error

    def pids(self) -> set[int]:
        """Every process in the cgroup and in any child cgroup (a delegated container's)."""
        pids = own_pid_filtered(self._procs)
        for child in _descendants(self.dir):
            pids |= own_pid_filtered(child / "cgroup.procs")
        return pids

    def is_empty(self) -> bool:
        return not self.pids()

    def kill_all(self) -> list[int]:
        if not self.dir.is_dir():
            return []
        with self._lock:
            kill = self.dir / "cgroup.kill"
            if kill.exists():
                pids = self.pids()
                write_value(kill, 1)
                return sorted(pids)
            write_value(self.dir / "cgroup.freeze", 1)
            try:
                _wait_frozen(self.dir / "cgroup.events")
                return signal_all(self.pids)
            finally:
                write_value(self.dir / "cgroup.freeze", 0)

    def try_kill_all(self) -> list[int] | None:
        if not self._lock.acquire(blocking=False):
            return None  # a spawn is under way
        try:
            if not self.dir.is_dir():
                return []
            kill = self.dir / "cgroup.kill"
            if not kill.exists():
                return None  # before Linux 5.14: freezing takes a while to settle
            pids = self.pids()
            write_value(kill, 1)
            return sorted(pids)
        finally:
            self._lock.release()

    def oom_kills(self) -> int:
        events = self.dir / "memory.events"
        if "memory" not in self._driver.controllers:
            return 0
        return find_key(read_bytes(events), b"oom_kill") or 0

    def usage(self) -> CgroupUsage:
        usage_us = find_key(read_bytes(self.dir / "cpu.stat"), b"usage_usec")
        cpu_ns = usage_us * 1000 if usage_us is not None else None
        if "memory" not in self._driver.controllers:
            return CgroupUsage(cpu_ns, None, None, None)
        memory = int(read_bytes(self.dir / "memory.current"))
        stat = read_bytes(self.dir / "memory.stat")
        inactive = find_key(stat, b"inactive_file") or 0
        return CgroupUsage(
            cpu_ns=cpu_ns,
            memory_bytes=memory,
            working_set_bytes=max(0, memory - inactive),
            oom_kills=self.oom_kills(),
            rss_bytes=find_key(stat, b"anon"),
        )

    def remove(self, timeout: float = 1.0) -> None:
        """Remove the cgroup (and any child cgroup) once no process is left in it."""
        with self._lock:
            children = _descendants(self.dir)
            if children:
                _wait_empty(self.pids, self.dir, timeout)
                for child in reversed(children):  # deepest first
                    remove_dir(child, timeout)
            wait_then_remove([self.dir], self._procs, timeout)
        self._driver.forget(self)


def _descendants(directory: Path) -> list[Path]:
    """Every child cgroup below ``directory``, parents before their children."""
    found: list[Path] = []
    pending = [directory]
    while pending:
        for entry in _subdirectories(pending.pop()):
            child = Path(entry.path)
            found.append(child)
            pending.append(child)
    return found


def _wait_empty(pids: Callable[[], set[int]], directory: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout  # noqa: TID251 - blocking by design: the driver runs in a worker thread
    delay = 0.0005
    while left := pids():
        if time.monotonic() >= deadline:  # noqa: TID251 - blocking by design: the driver runs in a worker thread
            raise CgroupError(f"cannot remove {directory}: it still has processes {sorted(left)}")
        time.sleep(delay)  # noqa: TID251 - blocking by design: the driver runs in a worker thread
        delay = min(delay * 2, 0.02)


def spawn_through_gate(
    place: Callable[[T], None],
    start: Callable[[SpawnPlan], T],
    argv: Sequence[str],
    *,
    cwd: str | None,
    env_path: str | None,
    lock: contextlib.AbstractContextManager[object] | None = None,
) -> T:
    """Spawn ``argv`` through the gate (see the module docstring), ``place`` it, open the
    gate; ``lock`` is held around the spawn and the placement.

    Shared by both drivers' containers when the keeper spawns (``runtime/keeper``): a
    process spawned by another process cannot start in a parked thread's cgroup (v1), so
    it waits at the gate until the daemon has moved it.
    """
    held = lock if lock is not None else contextlib.nullcontext()
    if not _can_exec(argv[0] if argv else "", cwd, env_path):
        # let Popen report it exactly as it always has (not found, permission denied)
        child = start(SpawnPlan(tuple(argv)))
        # it appeared in between: place it now, late but better than never
        place(child)
        return child
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    try:
        plan = SpawnPlan((_SHELL, "-c", GATE_SCRIPT, GATE_LABEL, *argv), stdin=read_end)
        with held:
            try:
                child = start(plan)
            finally:
                os.close(read_end)
            place(child)
        os.write(write_end, b"\n")
    finally:
        os.close(write_end)
    return child


def _can_exec(program: str, cwd: str | None, env_path: str | None) -> bool:
    """Whether exec would find ``program`` runnable (as execvp does, with the child's PATH)."""
    if not program:
        return False
    if "/" in program:
        path = os.path.join(cwd or os.getcwd(), program)
        return os.path.isfile(path) and os.access(path, os.X_OK)
    return shutil.which(program, path=env_path if env_path is not None else os.defpath) is not None


def _wait_frozen(events: Path) -> None:
    deadline = time.monotonic() + _FREEZE_TIMEOUT  # noqa: TID251 - blocking by design: the driver runs in a worker thread
    delay = 0.0002
    while find_key(read_bytes(events), b"frozen") != 1:
        if time.monotonic() >= deadline:  # noqa: TID251 - blocking by design: the driver runs in a worker thread
            raise CgroupError(f"{events}: the cgroup did not freeze within {_FREEZE_TIMEOUT} s")
        time.sleep(delay)  # noqa: TID251 - blocking by design: the driver runs in a worker thread
        delay = min(delay * 2, 0.01)
