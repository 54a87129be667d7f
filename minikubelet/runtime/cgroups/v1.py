"""cgroup v1 (also the hybrid layout): a directory per controller hierarchy; a parked thread places.

The container's cgroup is ``<own>/<subtree>/pod<uid>/<name>`` in each hierarchy used
(``memory`` always; ``cpu``, ``cpuacct``, ``pids`` where mounted; ``freezer`` only without
``pids``), where ``<own>`` is the cgroup this process is in *in that hierarchy*.

* **Placement**: a ``ParkedSpawner`` thread lives in the container's cgroups and forks every
  process of it, so each starts there before it execs (see ``runtime/parking.py``). While
  it forks, the container's CPU limits are lifted (CFS quota off, shares 1024) and restored
  after: our thread must not be throttled or starved while it holds the GIL, or the whole
  daemon would stall until the container's next CFS period. The window is the spawn itself
  (~0.3 ms).
* **Kill all**: ``pids.max=0`` first, so nothing in the cgroup can fork any more; then
  SIGKILL every pid in ``cgroup.procs``; then the fence is lifted (every process left has a
  fatal signal pending, which makes fork fail, so none can come back). The ``freezer``
  would do the same job but would also freeze our parked thread, so it is only the fence
  where ``pids`` is not mounted (the kill runs under the container's lock, when the parked
  thread is idle and holds nothing).
* **Our pid in ``cgroup.procs``**: v1 lists a process when any of its threads is in the
  cgroup, so the parked thread makes this process appear there; every listing drops it.
* **Spawned by the keeper** (``serve``): the keeper parks a thread of its own the same way
  (``spawning_elsewhere`` gives the ``tasks`` files), so its children start in the cgroup
  too, with no migration; its pid is dropped from listings like ours, and its thread is
  let go (``release_elsewhere``) before the cgroup is removed.
* **Counters**: ``cpuacct.usage`` (ns), ``memory.usage_in_bytes`` minus ``memory.stat``
  ``total_inactive_file`` (cAdvisor's working set, ``container/libcontainer/handler.go``
  ``setMemoryStats``), ``memory.oom_control`` ``oom_kill``. They are cumulative for the
  cgroup, which is kept across restarts of the container (with its parked thread): take the
  value before an instance starts and compare after it ends. Our thread's own work while it
  spawns (a fraction of a millisecond per start) is counted as the container's CPU, as
  runc's ``init`` is.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Literal, TypeVar

import anyio
import anyio.to_thread

from minikubelet.errors import CgroupError
from minikubelet.logic.qos import SHARES_PER_CPU, CgroupResources
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
    read_int,
    remove_dir,
    write_value,
)
from minikubelet.runtime.parking import ParkedSpawner

__all__ = ["V1Container", "V1Driver"]

T = TypeVar("T", bound=HasPid)

_FREEZE_TIMEOUT = 2.0
_DEFAULT_PERIOD_US = 100_000  # a new cgroup's cpu.cfs_period_us (the kernel's default)


def _mkdir(path: Path) -> bool:
    """Make one cgroup directory; True if it was made now (it holds the kernel's defaults)."""
    try:
        path.mkdir()
    except FileExistsError:
        return False
    except OSError as error:
        raise CgroupError(f"cannot create cgroup {path}: {error.strerror}") from error
    return True


class V1Driver:
    """The cgroup v1 driver: ``roots`` maps each controller to this daemon's subtree in it."""

    mode: Literal["cgroup-v1"] = "cgroup-v1"

    def __init__(
        self,
        roots: Mapping[str, Path],
        reason: str,
        *,
        idle_timeout: float | None = 60.0,
    ) -> None:
        if "memory" not in roots:
            raise ValueError("the cgroup v1 driver needs the memory hierarchy")
        self.roots = dict(roots)
        self.reason = reason
        self.enforces_memory = True
        self.enforces_cpu = "cpu" in roots
        self.idle_timeout = idle_timeout
        self.fence: Literal["pids", "freezer"] | None = (
            "pids" if "pids" in roots else "freezer" if "freezer" in roots else None
        )
        # co-mounted controllers (cpu,cpuacct) share one directory
        self.directories = list(dict.fromkeys(self.roots.values()))
        self._containers: dict[tuple[str, str], V1Container] = {}
        self._lock = threading.Lock()
        # Lets go of the thread another process (the keeper) parked in a container's
        # cgroups, given its ``tasks`` files; blocking, from a worker thread.
        self.release_elsewhere: Callable[[tuple[str, ...]], None] | None = None

    def container(self, pod_uid: str, name: str) -> V1Container:
        """The handle of one container's cgroup (the same object for the same key)."""
        with self._lock:
            key = (pod_uid, name)
            if key not in self._containers:
                self._containers[key] = V1Container(self, pod_uid, name)
            return self._containers[key]

    def forget(self, container: V1Container) -> None:
        with self._lock:
            self._containers.pop((container.pod_uid, container.name), None)

    def pods(self) -> list[str]:
        """Uids of the pod cgroups present (a restarted daemon's leftovers included)."""
        return sorted(
            entry.name[3:]
            for entry in _subdirectories(self.roots["memory"])
            if entry.name.startswith("pod")
        )

    def has_pod(self, pod_uid: str) -> bool:
        return self._pod_dir("memory", pod_uid).is_dir()

    def pod_containers(self, pod_uid: str) -> list[str]:
        return sorted(entry.name for entry in _subdirectories(self._pod_dir("memory", pod_uid)))

    def pod_pids(self, pod_uid: str) -> set[int]:
        """Every process in the pod's cgroups (its containers' and any left in the pod's)."""
        pod = self._pod_dir("memory", pod_uid)
        pids = own_pid_filtered(pod / "cgroup.procs")
        for entry in _subdirectories(pod):
            pids |= own_pid_filtered(Path(entry.path) / "cgroup.procs")
        return pids

    def remove_pod(self, pod_uid: str, timeout: float = 1.0) -> None:
        """Remove the pod's container cgroups, then the pod's; each must have no process."""
        for name in self.pod_containers(pod_uid):
            self.container(pod_uid, name).remove(timeout)
        pod = self._pod_dir("memory", pod_uid)
        wait_then_remove(
            [directory / f"pod{pod_uid}" for directory in self.directories],
            pod / "cgroup.procs",
            timeout,
        )

    def close(self) -> None:
        """Stop every parked thread; remove our subtree roots if nothing is left in them."""
        with self._lock:
            containers = list(self._containers.values())
        for container in containers:
            container.unpark()
        for directory in self.directories:
            with contextlib.suppress(CgroupError):
                remove_dir(directory, timeout=0)

    def _pod_dir(self, controller: str, pod_uid: str) -> Path:
        return self.roots[controller] / f"pod{pod_uid}"


def _subdirectories(path: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as entries:
            return [entry for entry in entries if entry.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []


class V1Container:
    """One container's cgroup in every v1 hierarchy the driver uses."""

    def __init__(self, driver: V1Driver, pod_uid: str, name: str) -> None:
        self.pod_uid = pod_uid
        self.name = name
        self._driver = driver
        relative = Path(f"pod{pod_uid}") / name
        self.dirs = {controller: root / relative for controller, root in driver.roots.items()}
        self._pod_dirs = [directory / f"pod{pod_uid}" for directory in driver.directories]
        self._unique_dirs = [directory / relative for directory in driver.directories]
        self.tasks = tuple(str(directory / "tasks") for directory in self._unique_dirs)
        self._memory = self.dirs["memory"]
        self._cpu = self.dirs.get("cpu")
        # (cpu.cfs_quota_us, cpu.shares), written at every spawn (_cpu_limits_lifted)
        self._cpu_files = (
            None
            if self._cpu is None
            else (str(self._cpu / "cpu.cfs_quota_us"), str(self._cpu / "cpu.shares"))
        )
        self._procs = self._memory / "cgroup.procs"
        # Serialises spawn jobs (taken on the parked thread), kills and removal: a kill must
        # not meet a spawn half-way, and the freezer fence must only ever catch the parked
        # thread idle (at most blocked on this lock, which holds nothing).
        self._lock = threading.Lock()
        # Guards handing a job to the parked thread against its retirement; held briefly,
        # except while a new thread is being parked.
        self._submit_lock = threading.Lock()
        self._spawner: ParkedSpawner | None = None
        self._resources: CgroupResources | None = None

    def create(self, resources: CgroupResources | None = None, *, park: bool = True) -> None:
        """Make the cgroup (and the pod's), apply ``resources``, park the spawning thread.

        Parking joins the thread to the cgroups, which costs one RCU grace period (a few
        ms of waiting, no CPU) unless other migrations happened just before; call this
        ahead of the first start where latency matters.
        """
        for path in self._pod_dirs:
            _mkdir(path)
        made = [_mkdir(path) for path in self._unique_dirs]
        if resources is not None:
            self.set_limits(resources, fresh=all(made))
        if park:
            with self._submit_lock:
                self._live_spawner()

    def set_limits(self, resources: CgroupResources, *, fresh: bool = False) -> None:
        """Apply ``resources``. ``fresh``: the cgroup was just made, so it holds the
        kernel's defaults (no memory limit, no CFS quota, a 100 ms period, 1024 shares) and
        a value equal to its default is not written (a BestEffort container's start then
        writes only its shares)."""
        memory = self._memory
        limit = resources.memory_limit_bytes or -1
        if not fresh or resources.memory_limit_bytes is not None:
            memsw = memory / "memory.memsw.limit_in_bytes"
            has_memsw = memsw.exists()  # only with swap accounting (swapaccount=1)
            if has_memsw:
                write_value(memsw, -1)  # memsw may never be below the memory limit: lift it
            write_value(memory / "memory.limit_in_bytes", limit)
            if has_memsw:
                write_value(memsw, limit)  # memory + swap = memory: no swap for the container
        if resources.memory_limit_bytes is not None:
            write_value(memory / "memory.swappiness", 0)
        if self._cpu is not None and self._cpu_files is not None:
            quota, shares = self._cpu_files
            if not fresh or resources.cpu_period_us != _DEFAULT_PERIOD_US:
                write_value(self._cpu / "cpu.cfs_period_us", resources.cpu_period_us)
            if not fresh or resources.cpu_quota_us is not None:
                write_value(quota, _quota(resources))
            if not fresh or resources.cpu_shares != SHARES_PER_CPU:
                write_value(shares, resources.cpu_shares)
        self._resources = resources

    def spawn(
        self,
        start: Callable[[SpawnPlan], T],
        argv: Sequence[str],
        *,
        cwd: str | None = None,
        env_path: str | None = None,
    ) -> T:
        """Run ``start`` on the parked thread, so what it spawns starts in this cgroup.

        ``start`` must spawn ``plan.argv`` (unchanged here) with a fork or vfork made by
        the calling thread (``subprocess.Popen`` does). Blocks until it returns. ``cwd``
        and ``env_path`` are not needed here (see ``V2Container.spawn``).
        """
        plan = SpawnPlan(tuple(argv))
        with self._submit_lock:
            future = self._live_spawner().submit(lambda: self._job(start, plan))
        return future.result()

    async def spawn_async(
        self,
        start: Callable[[SpawnPlan], T],
        argv: Sequence[str],
        *,
        cwd: str | None = None,
        env_path: str | None = None,
    ) -> T:
        """``spawn`` from the event loop, with one thread hop (to the parked thread) only.

        The parked thread signals completion through an eventfd the loop waits on, so no
        worker thread sits in between. Without a parked thread ready (the first start, or
        after it retired), it falls back to ``spawn`` in a worker thread, since parking one
        waits for the kernel. Not cancellable once handed over: the process is started, and
        the caller gets it, whatever happens around.
        """
        plan = SpawnPlan(tuple(argv))
        future = None
        if self._submit_lock.acquire(blocking=False):  # never wait in the event loop
            try:
                spawner = self._spawner
                if spawner is not None and not spawner.retired:
                    future = spawner.submit(lambda: self._job(start, plan))
            finally:
                self._submit_lock.release()
        if future is None:
            spawn = functools.partial(self.spawn, start, argv, cwd=cwd, env_path=env_path)
            return await anyio.to_thread.run_sync(spawn)
        done = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        try:
            future.add_done_callback(lambda _: os.eventfd_write(done, 1))
            with anyio.CancelScope(shield=True):
                await anyio.wait_readable(done)  # the callback has written: safe to close
        finally:
            os.close(done)
        return future.result()

    def _job(self, start: Callable[[SpawnPlan], T], plan: SpawnPlan) -> T:
        """What the parked thread runs for one spawn."""
        with self._lock, self._cpu_limits_lifted():
            return start(plan)

    @contextlib.asynccontextmanager
    async def spawning_elsewhere(self) -> AsyncIterator[tuple[str, ...]]:
        """While another process (the keeper) spawns into this cgroup, from a thread of
        its own that must be in the ``tasks`` files given here.

        For the event loop: as on the parked thread, the container's lock is held (no kill
        meets the spawn half way) and its CPU limits are lifted (the spawner must not be
        throttled meanwhile). The lock is taken at once unless a kill or a removal holds
        it; then it is waited for in a worker thread.
        """
        if not self._lock.acquire(blocking=False):
            with anyio.CancelScope(shield=True):  # a lock taken must be released
                await anyio.to_thread.run_sync(self._lock.acquire)
        try:
            with self._cpu_limits_lifted():
                yield self.tasks
        finally:
            self._lock.release()

    def place(self, child: HasPid) -> None:
        """Move a running process into the cgroup, in every hierarchy (SIGKILL and
        CgroupError if it fails). Each move waits for the kernel (an RCU grace period), so
        no spawn path uses it on v1: the parked threads (ours, the keeper's) start every
        process in place."""
        try:
            for directory in self._unique_dirs:
                write_value(directory / "cgroup.procs", child.pid)
        except CgroupError as error:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)
            raise CgroupError(str(error), process=child) from error

    def delegate(self, uid: int, gid: int) -> None:
        """Nothing to hand over on v1: placement is ours (the parked thread), and v1 has no
        delegation model that would let the container's user organise child cgroups."""

    def pids(self) -> set[int]:
        return own_pid_filtered(self._procs)

    def is_empty(self) -> bool:
        return not self.pids()

    def kill_all(self) -> list[int]:
        """SIGKILL every process in the cgroup, fenced so none can fork meanwhile.

        Returns the pids signalled; they may take a moment to exit (``is_empty``).
        """
        if not self._memory.is_dir():
            return []
        with self._lock, self._fenced():
            return signal_all(self.pids)

    def try_kill_all(self) -> list[int] | None:
        if self._driver.fence == "freezer" or not self._lock.acquire(blocking=False):
            return None  # the freezer takes a while to settle; a spawn is under way
        try:
            if not self._memory.is_dir():
                return []
            with self._fenced():  # pids.max 0: two small writes, no wait
                return signal_all(self.pids)
        finally:
            self._lock.release()

    def oom_kills(self) -> int:
        return find_key(read_bytes(self._memory / "memory.oom_control"), b"oom_kill") or 0

    def usage(self) -> CgroupUsage:
        cpuacct = self.dirs.get("cpuacct")
        cpu_ns = read_int(cpuacct / "cpuacct.usage") if cpuacct is not None else None
        memory = read_int(self._memory / "memory.usage_in_bytes")
        stat = read_bytes(self._memory / "memory.stat")
        inactive = find_key(stat, b"total_inactive_file") or 0
        return CgroupUsage(
            cpu_ns=cpu_ns,
            memory_bytes=memory,
            working_set_bytes=max(0, memory - inactive),
            oom_kills=self.oom_kills(),
            rss_bytes=find_key(stat, b"total_rss"),
        )

    def unpark(self) -> None:
        """Let the parked thread go (it leaves the cgroups as it exits)."""
        with self._submit_lock:
            if self._spawner is not None:
                self._spawner.stop()
                self._spawner = None

    def remove(self, timeout: float = 1.0) -> None:
        """Remove the cgroup once its processes are gone (waiting up to ``timeout``)."""
        with self._submit_lock:
            if self._spawner is not None:
                self._spawner.stop()  # after the jobs already handed to it
                self._spawner = None
            with self._lock:
                if self._driver.release_elsewhere is not None:
                    self._driver.release_elsewhere(self.tasks)
                wait_then_remove(self._unique_dirs, self._procs, timeout)
        self._driver.forget(self)

    def _live_spawner(self) -> ParkedSpawner:
        # under self._submit_lock
        if self._spawner is None or self._spawner.retired:
            self._spawner = ParkedSpawner(
                f"cgroup:{self.pod_uid}/{self.name}",
                [directory / "tasks" for directory in self._unique_dirs],
                self._submit_lock,
                self._driver.idle_timeout,
            )
        return self._spawner

    @contextlib.contextmanager
    def _cpu_limits_lifted(self) -> Iterator[None]:
        resources, files = self._resources, self._cpu_files
        if files is None or resources is None:
            yield
            return
        quota, shares = files
        lift_quota = resources.cpu_quota_us is not None
        lift_shares = resources.cpu_shares < SHARES_PER_CPU
        if lift_quota:
            write_value(quota, -1)
        if lift_shares:
            write_value(shares, SHARES_PER_CPU)
        try:
            yield
        finally:
            if lift_quota:
                write_value(quota, _quota(resources))
            if lift_shares:
                write_value(shares, resources.cpu_shares)

    @contextlib.contextmanager
    def _fenced(self) -> Iterator[None]:
        fence = self._driver.fence
        if fence == "pids":
            limit = self.dirs["pids"] / "pids.max"
            write_value(limit, 0)
            try:
                yield
            finally:
                write_value(limit, "max")
        elif fence == "freezer":
            state = self.dirs["freezer"] / "freezer.state"
            write_value(state, "FROZEN")
            try:
                _wait_frozen(state)
                yield
            finally:
                write_value(state, "THAWED")
        else:
            yield


def _quota(resources: CgroupResources) -> int:
    return resources.cpu_quota_us if resources.cpu_quota_us is not None else -1


def _wait_frozen(state: Path) -> None:
    deadline = time.monotonic() + _FREEZE_TIMEOUT  # noqa: TID251 - blocking by design: the driver runs in a worker thread
    delay = 0.0002
    while read_bytes(state).strip() != b"FROZEN":
        if time.monotonic() >= deadline:  # noqa: TID251 - blocking by design: the driver runs in a worker thread
            raise CgroupError(f"{state}: the cgroup did not freeze within {_FREEZE_TIMEOUT} s")
        time.sleep(delay)  # noqa: TID251 - blocking by design: the driver runs in a worker thread
        delay = min(delay * 2, 0.01)
