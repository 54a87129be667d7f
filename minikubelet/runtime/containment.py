"""The local runtime's containment: which cgroups exist, made early, killed whole, removed last.

The driver (``runtime/cgroups/``) knows how to make, place into, kill and remove one
container's cgroup; this module is the runtime's bookkeeping around it, in the event loop:

* **Chosen once.** ``choose`` runs ``detect`` in a worker thread when the runtime starts,
  with a subtree name per daemon (``subtree_for`` its root dir), so that ``run`` beside
  ``serve``, and tests in parallel, never share cgroups. Pod cgroups a previous daemon of
  the same subtree left behind (it crashed) are killed and removed then: nothing of theirs
  is known any more, and their pods are started again from their sources.
* **Made early.** ``Cgroups.prepare`` starts making a pod's container cgroups when the pod
  is admitted (each is a worker-thread job: on v1 it parks the spawning thread, which waits
  for an RCU grace period), so the first start does not pay for it; ``container`` waits for
  a creation under way, or makes the cgroup on the spot for a pod that was not prepared.
* **Killed whole.** ``kill_cgroup`` SIGKILLs every process in the cgroup (the driver's fenced
  ``kill_all``) and waits, through pidfds, until it is empty: a process that cleared its
  environment, called ``setsid`` and double-forked is in it all the same.
* **Removed last.** ``Cgroups.remove_pod`` once every instance of the pod has ended, and
  ``Cgroups.close`` when the runtime stops (every pod cgroup left, then our subtree roots).
* **Without cgroups** (``NoCgroups``, or a v2 hierarchy that delegates no memory
  controller), ``SampledLimits`` stands in for the kernel's memory limit: it samples the
  process trees of the containers that have a memory limit (and of no other), as
  ``logic/memory_limit.py`` decides, and kills a container when it is over.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import anyio
import anyio.abc
import anyio.to_thread
import structlog

from minikubelet.errors import CgroupError
from minikubelet.logic.memory_limit import (
    DEFAULT_MIN_INTERVAL,
    MemoryExceeded,
    MemorySample,
    MemoryWithinLimit,
    check_memory,
)
from minikubelet.logic.qos import CgroupResources
from minikubelet.model.containment import ContainmentInfo, ContainmentMode
from minikubelet.runtime.base import KILL_TIMEOUT, KillReport
from minikubelet.runtime.cgroups import (
    ContainerCgroup,
    Containment,
    NoCgroups,
    V1Container,
    V1Driver,
    V2Driver,
    detect,
)
from minikubelet.runtime.cgroups.base import signal_all
from minikubelet.runtime.process import ProcessTable, wait_gone
from minikubelet.runtime.stats import sample_memory_many

__all__ = [
    "NOT_STARTED",
    "CgroupDriver",
    "Cgroups",
    "ContainmentRequest",
    "Sampled",
    "SampledLimits",
    "choose",
    "clear_leftovers_except",
    "container_key",
    "info_of",
    "kill_cgroup",
    "subtree_for",
]

_log = structlog.get_logger("minikubelet.runtime")

CgroupDriver = V1Driver | V2Driver
# "auto": what detection finds; "v1"/"v2": that layout or none (tests, benchmarks);
# "none": process-tree tracking even where cgroups would work.
ContainmentRequest = Literal["auto", "v1", "v2", "none"]

NOT_STARTED = ContainmentInfo(
    ContainmentMode.NONE, "the runtime is not running: containment is chosen when it starts"
)


def subtree_for(root_dir: Path) -> str:
    """The cgroup subtree name of a daemon with this root dir: stable across its restarts
    (so leftovers of a crash are found), distinct from any other root dir's."""
    digest = hashlib.sha256(str(root_dir.expanduser().absolute()).encode()).hexdigest()
    return f"minikubelet-{digest[:12]}"


def container_key(tag: str) -> tuple[str, str] | None:
    """``(pod uid, container name)`` from a launch tag ``<pod uid>/<container>[/...]``."""
    parts = tag.split("/")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


def info_of(containment: Containment) -> ContainmentInfo:
    match containment:
        case V1Driver():
            return ContainmentInfo(
                ContainmentMode.CGROUP_V1,
                containment.reason,
                enforces_memory=containment.enforces_memory,
                enforces_cpu=containment.enforces_cpu,
                location=str(containment.roots["memory"]),
            )
        case V2Driver():
            return ContainmentInfo(
                ContainmentMode.CGROUP_V2,
                containment.reason,
                enforces_memory=containment.enforces_memory,
                enforces_cpu=containment.enforces_cpu,
                location=str(containment.root),
            )
        case NoCgroups():
            return ContainmentInfo(ContainmentMode.NONE, containment.reason)


async def choose(
    request: ContainmentRequest,
    subtree: str,
    idle_timeout: float | None,
    *,
    clear_leftovers: bool = True,
) -> tuple[CgroupDriver | None, ContainmentInfo]:
    """Detect the containment (in a worker thread), log it, and clear a crash's leftovers
    (unless ``clear_leftovers`` is False: a daemon with a keeper adopts what it can first,
    then calls ``clear_leftovers_except``)."""
    if request == "none":
        containment: Containment = NoCgroups(
            "cgroups were not asked for (containment none): limits.memory is enforced by "
            "sampling and limits.cpu is not enforced"
        )
    else:
        layout = "auto" if request == "auto" else request
        detector = functools.partial(detect, subtree, layout=layout, idle_timeout=idle_timeout)
        containment = await anyio.to_thread.run_sync(detector)
    info = info_of(containment)
    if isinstance(containment, NoCgroups):
        _log.warning(
            "containment.mode",
            mode=info.mode.value,
            reason=info.reason,
            effect="processes are tracked by tree and tag; limits.memory is sampled, "
            "limits.cpu is not enforced",
        )
        return None, info
    _log.info("containment.mode", mode=info.mode.value, reason=info.reason, cgroups=info.location)
    if clear_leftovers:
        await clear_leftovers_except(containment, frozenset())
    return containment, info


async def clear_leftovers_except(driver: CgroupDriver, keep: frozenset[str]) -> None:
    """Kill and remove every pod cgroup of our subtree but those of the pods in ``keep``
    (whose containers were adopted)."""
    leftovers = await anyio.to_thread.run_sync(_clear_leftovers, driver, keep)
    if leftovers:
        _log.warning(
            "containment.leftovers_removed",
            pods=sorted(leftovers),
            pids=sorted(pid for pids in leftovers.values() for pid in pids),
            effect="processes a previous run of this daemon left in its cgroups were killed",
        )


def _clear_leftovers(
    driver: CgroupDriver, keep: frozenset[str] = frozenset()
) -> dict[str, list[int]]:
    """Kill and remove every pod cgroup already in our subtree (a crashed daemon's), but
    those of the pods in ``keep``."""
    found: dict[str, list[int]] = {}
    for uid in driver.pods():
        if uid in keep:
            continue
        found[uid] = _kill_pod(driver, uid)
        try:
            driver.remove_pod(uid, timeout=KILL_TIMEOUT)
        except CgroupError as error:
            _log.error("containment.remove_failed", pod_uid=uid, error=str(error))
    return found


def _kill_pod(driver: CgroupDriver, uid: str) -> list[int]:
    killed: list[int] = []
    for name in driver.pod_containers(uid):
        try:
            killed += driver.container(uid, name).kill_all()
        except CgroupError as error:
            _log.error("containment.kill_failed", pod_uid=uid, container=name, error=str(error))
    return killed


class Cgroups:
    """The container cgroups of one runtime: made when a pod is admitted, removed after it."""

    def __init__(self, driver: CgroupDriver, *, park: bool = True) -> None:
        """``park``: on v1, park our spawning thread in each cgroup as it is made (where
        the keeper spawns the containers, ours only spawns their execs: it is parked at
        the first, which saves a migration per container when hundreds start at once)."""
        self.driver = driver
        self._park = park
        self._made: dict[tuple[str, str], ContainerCgroup] = {}
        self._pending: dict[tuple[str, str], anyio.Event] = {}
        self._resources: dict[tuple[str, str], CgroupResources] = {}

    def prepare(
        self,
        group: anyio.abc.TaskGroup,
        uid: str,
        resources: Mapping[str, CgroupResources],
    ) -> None:
        """Start making the pod's container cgroups, each in a worker thread."""
        for name, wanted in resources.items():
            key = (uid, name)
            self._resources[key] = wanted
            if key not in self._made and key not in self._pending:
                self._pending[key] = anyio.Event()
                group.start_soon(self._create_early, key)

    async def _create_early(self, key: tuple[str, str]) -> None:
        try:
            await self._create(key)
        except CgroupError as error:
            # The start tries again, and reports it (StartError) if it fails again.
            _log.warning(
                "containment.create_failed", pod_uid=key[0], container=key[1], error=str(error)
            )
        finally:
            self._pending.pop(key).set()

    async def _create(self, key: tuple[str, str]) -> ContainerCgroup:
        cgroup = self.driver.container(*key)
        resources = self._resources.get(key)
        if isinstance(cgroup, V1Container):
            create = functools.partial(cgroup.create, resources, park=self._park)
            await anyio.to_thread.run_sync(create)
        else:
            await anyio.to_thread.run_sync(cgroup.create, resources)
        self._made[key] = cgroup
        return cgroup

    async def container(self, uid: str, name: str) -> ContainerCgroup:
        """The container's cgroup, ready for a spawn; raises CgroupError."""
        key = (uid, name)
        while (pending := self._pending.get(key)) is not None:
            await pending.wait()
        made = self._made.get(key)
        if made is not None:
            return made
        self._pending[key] = anyio.Event()  # not prepared, or its early creation failed
        try:
            return await self._create(key)
        finally:
            self._pending.pop(key).set()

    def made(self, uid: str, name: str) -> ContainerCgroup | None:
        return self._made.get((uid, name))

    async def remove_pod(self, uid: str) -> None:
        """Kill what is left in the pod's cgroups, wait until they are empty, remove them."""
        for key, pending in list(self._pending.items()):
            if key[0] == uid:
                await pending.wait()
        try:
            await anyio.to_thread.run_sync(self._remove_pod, uid)
        except CgroupError as error:
            _log.error(
                "containment.remove_failed",
                pod_uid=uid,
                error=str(error),
                effect="retried when the runtime stops",
            )
        for key in [key for key in self._made if key[0] == uid]:
            del self._made[key]
        for key in [key for key in self._resources if key[0] == uid]:
            del self._resources[key]

    def _remove_pod(self, uid: str) -> None:
        driver = self.driver
        if not driver.has_pod(uid):  # one stat, not a listing of every pod's
            return
        killed = _kill_pod(driver, uid) if driver.pod_pids(uid) else []
        if killed:
            _log.warning("containment.pod_leftovers_killed", pod_uid=uid, pids=sorted(killed))
        driver.remove_pod(uid, timeout=KILL_TIMEOUT)

    async def close(self) -> None:
        """The runtime stops: remove every pod cgroup left (killing what is in them), then
        our subtree roots. Shielded: it must not be skipped."""
        with anyio.CancelScope(shield=True):
            leftovers = await anyio.to_thread.run_sync(_clear_leftovers, self.driver)
            await anyio.to_thread.run_sync(self.driver.close)
        killed = sorted(pid for pids in leftovers.values() for pid in pids)
        if killed:
            _log.warning("containment.leftovers_killed", pods=sorted(leftovers), pids=killed)
        self._made.clear()
        self._resources.clear()


async def kill_cgroup(
    cgroup: ContainerCgroup,
    table: ProcessTable,
    on_signal: Callable[[list[int]], None] | None = None,
    timeout: float = KILL_TIMEOUT,
    first: Sequence[int] = (),
) -> KillReport:
    """SIGKILL every process in ``cgroup`` until it is empty, or ``timeout`` passed.

    The common case, an empty cgroup (the main process exited and left nothing), costs one
    read of ``cgroup.procs`` in the event loop and no thread hop. Otherwise the driver's
    fenced kill runs in the event loop too when it needs no wait, or in a worker thread,
    and the wait for the pids to die is event-driven (pidfds). What is still there at the
    deadline (uninterruptible sleep) is reported. ``first``: pids the caller has already
    SIGKILLed (the main process); they are reported with the rest.
    """
    killed = list(first)
    left = cgroup.pids()
    if not left:
        if on_signal is not None and killed:
            on_signal(sorted(killed))
        return KillReport(tuple(killed))
    with anyio.move_on_after(timeout):
        while left:
            signalled = _kill_at_once(cgroup)
            if signalled is None:
                signalled = await anyio.to_thread.run_sync(_kill_all, cgroup)
            killed += [pid for pid in signalled if pid not in killed]
            if on_signal is not None and killed:
                on_signal(sorted(killed))
                on_signal = None
            await wait_gone(signalled, timeout=1.0)
            table.reap_orphans()  # double-forked ones were re-parented to us (subreaper)
            left = cgroup.pids()
    left = cgroup.pids()
    return KillReport(tuple(killed), tuple(sorted(left)))


def _kill_at_once(cgroup: ContainerCgroup) -> list[int] | None:
    """The fenced kill in the event loop, when it needs no wait (``cgroup.kill``, or the
    pids fence): the SIGKILL lands on time, not after a thread hop on a busy machine.
    None: it must wait, or it failed (the worker thread's path retries and reports)."""
    try:
        return cgroup.try_kill_all()
    except (CgroupError, OSError):
        return None


def _kill_all(cgroup: ContainerCgroup) -> list[int]:
    """The driver's fenced kill; if the kernel refuses the fence (or ``cgroup.kill``), every
    pid listed, round after round, without it: never give up on a kill."""
    try:
        return cgroup.kill_all()
    except CgroupError as error:
        _log.error(
            "containment.kill_failed",
            pod_uid=cgroup.pod_uid,
            container=cgroup.name,
            error=str(error),
            effect="SIGKILL to each listed process, without the fence",
        )
        return signal_all(cgroup.pids)


class Sampled(Protocol):
    """A container instance whose memory limit is enforced by sampling."""

    @property
    def tag(self) -> str: ...

    ended: anyio.Event

    def roots(self) -> list[int]: ...

    async def enforce_memory_limit(self, exceeded: MemoryExceeded) -> None: ...


@dataclass(eq=False)
class _Watched:
    container: Sampled
    limit: int
    due: float
    samples: deque[MemorySample] = field(default_factory=lambda: deque(maxlen=2))


class SampledLimits:
    """``limits.memory`` without a cgroup, for every container that has one, in one task.

    Each container is sampled when ``check_memory`` says (every 1 s far from its limit, down
    to 100 ms near it); the containers due within the next ``BATCH`` seconds are sampled
    together, so that their samples fall into step and one wake-up and one worker-thread
    hop serve them all (``sample_memory_many``: each one's tree, through the kernel's
    ``children`` lists, so the cost follows the processes watched, not the machine's). At
    the first sample over its limit a container is killed whole. The task exists only while
    some container is watched: nothing wakes up otherwise. A container that ended is
    dropped at its next sample (its tree is empty).
    """

    BATCH = DEFAULT_MIN_INTERVAL

    def __init__(self, table: ProcessTable) -> None:
        self._table = table
        self._watched: list[_Watched] = []
        self._added = anyio.Event()
        self._running = False

    def watch(self, group: anyio.abc.TaskGroup, container: Sampled, limit: int) -> None:
        self._watched.append(_Watched(container, limit, anyio.current_time()))
        self._added.set()
        if not self._running:
            self._running = True
            group.start_soon(self._run, group)

    async def _run(self, group: anyio.abc.TaskGroup) -> None:
        try:
            while self._watched:
                self._added = anyio.Event()
                now = anyio.current_time()
                due = [w for w in self._watched if w.due <= now + self.BATCH]
                if due:
                    await self._sample(group, due)
                self._watched = [
                    w for w in self._watched if w.due != math.inf and not w.container.ended.is_set()
                ]
                if not self._watched:
                    return
                wake = min(w.due for w in self._watched)
                with anyio.move_on_after(max(wake - anyio.current_time(), 0)):
                    await self._added.wait()
        finally:
            self._running = False

    async def _sample(self, group: anyio.abc.TaskGroup, due: list[_Watched]) -> None:
        trees = {index: (w.container.tag, w.container.roots()) for index, w in enumerate(due)}
        usages = await anyio.to_thread.run_sync(sample_memory_many, trees, self._table)
        at = anyio.current_time()
        for index, watched in enumerate(due):
            usage = usages.get(index)
            if usage is None:  # nothing of it is left
                watched.due = math.inf
                continue
            watched.samples.append(MemorySample(at, usage))
            decision = check_memory(list(watched.samples), watched.limit)
            match decision:
                case MemoryExceeded():
                    watched.due = math.inf
                    group.start_soon(watched.container.enforce_memory_limit, decision)
                case MemoryWithinLimit(next_sample_in=delay):
                    watched.due = at + delay
