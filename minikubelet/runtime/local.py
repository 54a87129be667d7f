"""The local runtime: containers as real processes on this machine (see ``process.py``).

Spawning runs in a worker thread: creating the log file and the vfork+exec block for a
millisecond or more, during which other pods' restarts proceed. The spawn time is taken
in that thread with ``time.monotonic()`` (the one clock a thread can read) and handed back
converted to anyio's clock, so a probe schedule starts when the process did, not when the
event loop got back to it.

Containment (``containment.py``; the driver in ``cgroups/``) is chosen when ``run``
starts. With a cgroup driver, every process of a container (its instances, and its exec
probes and hooks) is spawned into the container's cgroup before it execs, through the
driver's ``spawn_async`` (on cgroup v1 the thread that spawns is the one parked in the
cgroup, so that is the only hop); the container's processes, its whole-container SIGKILL,
its usage and its OOM kills are the cgroup's. Without one, processes are found by tree and
environment tag (``process.py``), usage is summed over the tree with psutil, and memory
limits are enforced by sampling.

With a keeper (``serve``: ``runtime/keeper``), the instances are not our children: the
spawning thread hands the prepared spawn to the keeper and gets back the pid, the start
ticks and the pipes' read ends; with a cgroup, on v1 the keeper forks from a thread of its
own parked in the container's cgroups (as ours are), on v2 the process waits behind the
gate until it is placed. Exits come from the
keeper, signals go through pidfds, orphans are the keeper's children (``table.foster``).
At start-up, what the keeper holds waits for ``adopt``; ``kill_unadopted`` ends the rest,
and only then are the cgroups of pods that did not come back removed. Execs (probes,
hooks, ``kubectl exec``) are still spawned here: they are short, and die with the
container.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.abc
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import structlog

from minikubelet.errors import CgroupError, KeeperError, RuntimeStartError
from minikubelet.logic.adoption import (
    AdoptionRefused,
    ProcessIdentity,
    refusal,
    start_ticks_of,
    unclaimed,
)
from minikubelet.logic.memory_limit import MemoryExceeded
from minikubelet.logic.qos import CgroupResources
from minikubelet.model.keeper import KeptProcess, SpawnRequest, SpawnUser
from minikubelet.model.spec import TerminationMessagePolicy
from minikubelet.runtime.attached import LocalExec, start_attached
from minikubelet.runtime.base import (
    ContainerProcess,
    ContainmentInfo,
    ExecResult,
    ExitStatus,
    KillReport,
    Launch,
    LineSink,
    NodeUsage,
    OomKill,
    ProblemSink,
    Usage,
)
from minikubelet.runtime.cgroups import (
    ContainerCgroup,
    HasPid,
    SpawnPlan,
    V1Container,
    V1Driver,
    V2Container,
)
from minikubelet.runtime.cgroups.base import count_as_own, stop_counting_as_own
from minikubelet.runtime.containment import (
    NOT_STARTED,
    Cgroups,
    ContainmentRequest,
    SampledLimits,
    choose,
    clear_leftovers_except,
    container_key,
    kill_cgroup,
)
from minikubelet.runtime.files import (
    TERMINATION_LOG_VARIABLE,
    open_default_message,
    open_for_container,
    prepare_explicit_message,
)
from minikubelet.runtime.keeper.client import Held, KeeperClient, KeptChild
from minikubelet.runtime.logs import (
    CriLogWriter,
    LogRotation,
    pump_stream,
    read_termination_message,
)
from minikubelet.runtime.process import (
    ChildProcess,
    ProcessTable,
    become_subreaper,
    kill_tagged,
    spawn,
    strays,
    tagged_pids,
)
from minikubelet.runtime.stats import cgroup_usage, sample_many, sample_node

__all__ = ["EXEC_OUTPUT_LIMIT", "LocalContainer", "LocalRuntime"]

EXEC_OUTPUT_LIMIT = 10 * 1024  # the kubelet keeps 10 KiB of an exec probe's output

T = TypeVar("T", bound=HasPid)

_log = structlog.get_logger("minikubelet.runtime")
_runtimes = itertools.count(1)


def _pipe() -> tuple[int, int]:
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    os.set_blocking(read_end, False)
    return read_end, write_end


async def _drain(fd: int, on_data: Callable[[bytes], None]) -> None:
    """Read ``fd`` until EOF, handing each chunk to ``on_data``; closes ``fd``."""
    try:
        while True:
            await anyio.wait_readable(fd)
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not data:
                return
            on_data(data)
    finally:
        os.close(fd)


class LocalContainer:
    """One running container instance: its main process, pipes and log writer, and the
    container's cgroup when there is one."""

    def __init__(
        self,
        child: ChildProcess | KeptChild,
        runtime: LocalRuntime,
        pipes: dict[str, int],
        log: CriLogWriter,
        start_ticks: int | None = None,
    ) -> None:
        self._child = child
        self._runtime = runtime
        self._pipes = pipes
        self._log = log
        self._pid = child.pid
        # Taken in the spawning thread; ``LocalRuntime.start`` converts it to anyio time.
        self.spawned_monotonic = time.monotonic()  # noqa: TID251 - a worker thread's clock
        self._started_at = 0.0
        self.cgroup: ContainerCgroup | None = None
        self._oom_baseline = 0  # the cgroup's OOM kill count before this instance
        self.memory_limit: int | None = None
        self._sampled_oom: OomKill | None = None
        self.ended = anyio.Event()  # set once the main process has been reaped
        self._start_ticks = start_ticks if start_ticks is not None else _start_ticks(child.pid)
        self._kill_reported: anyio.Event | None = None  # a kill_all's signals are told

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def start_ticks(self) -> int | None:
        return self._start_ticks

    @property
    def started_at(self) -> float:
        return self._started_at

    def contain(self, cgroup: ContainerCgroup, oom_baseline: int) -> None:
        self.cgroup = cgroup
        self._oom_baseline = oom_baseline

    async def pump_logs(self) -> None:
        try:
            async with anyio.create_task_group() as group:
                for stream, fd in self._pipes.items():
                    group.start_soon(self._pump, stream, fd)
        finally:
            await self._log.aclose()

    async def _pump(self, stream: str, fd: int) -> None:
        await pump_stream(self._log, stream, fd)

    async def wait(self) -> ExitStatus:
        try:
            status = await self._child.wait()
        finally:
            if self._child.status is not None:
                self.ended.set()
        # An exit caused by a kill_all comes after that kill's signals are told (its
        # pidfd can wake the loop before the killing thread's return does).
        if self._kill_reported is not None:
            await self._kill_reported.wait()
        return status

    def signal_main(self, signum: int) -> bool:
        return self._child.send_signal(signum)

    async def kill_all(self, on_signal: Callable[[list[int]], None] | None = None) -> KillReport:
        reported = self._kill_reported = anyio.Event()

        def signalled(pids: list[int]) -> None:
            if on_signal is not None:
                on_signal(pids)
            reported.set()

        table = self._runtime.table
        try:
            # The main process first, then a turn for the other containers whose grace
            # period ends at the same moment (a daemon stopping its pods): every main
            # process is killed on time, before any container is swept, fenced, for what
            # else it holds.
            first = [self.pid] if self._child.send_signal(signal.SIGKILL) else []
            if first:
                await anyio.lowlevel.checkpoint()
            if self.cgroup is not None:
                return await kill_cgroup(self.cgroup, table, signalled, first=first)
            return await kill_tagged(self._child.tag, self.roots(), table, signalled, first=first)
        finally:
            reported.set()

    async def processes(self) -> set[int]:
        if self.cgroup is not None:
            return self.cgroup.pids()  # one small read: cheaper than a thread hop
        tag, roots, table = self._child.tag, self.roots(), self._runtime.table
        return await anyio.to_thread.run_sync(tagged_pids, tag, roots, table)

    async def oom_kill(self) -> OomKill | None:
        await anyio.lowlevel.checkpoint()
        if self._sampled_oom is not None:
            return self._sampled_oom
        if self.cgroup is None:
            return None
        try:
            kills = self.cgroup.oom_kills() - self._oom_baseline
        except (CgroupError, OSError):
            return None  # the cgroup is gone: nothing can be told
        if kills <= 0:
            return None
        processes = f"{kills} process{'es' if kills != 1 else ''}"
        return OomKill(
            kills,
            f"Memory cgroup out of memory: the kernel's OOM killer killed {processes} of "
            f"container {self.cgroup.name} (memory limit {_mebibytes(self.memory_limit)})",
        )

    async def enforce_memory_limit(self, exceeded: MemoryExceeded) -> None:
        """The sampled limit was exceeded: kill the container, as the kernel would."""
        self._sampled_oom = OomKill(1, exceeded.message, sampled=True)
        self._runtime.count_sampled_oom(self.tag)
        _log.warning(
            "container.memory_limit_exceeded",
            container=self.tag,
            pid=self.pid,
            usage=exceeded.usage_bytes,
            limit=exceeded.limit_bytes,
            effect="SIGKILL to every process of the container (sampled limit)",
        )
        await self.kill_all()

    async def discard(self) -> None:
        """A process that was started but could not be placed (and was SIGKILLed)."""
        with anyio.CancelScope(shield=True):
            await self._child.wait()
            for fd in self._pipes.values():
                os.close(fd)
            await self._log.aclose()

    @property
    def tag(self) -> str:
        return self._child.tag

    def roots(self) -> list[int]:
        """Where the container's process tree starts: the main process, while it runs."""
        return [self.pid] if self._child.status is None else []


def _start_ticks(pid: int) -> int | None:
    """When ``pid`` started (``/proc/<pid>/stat``), read right after the spawn (it is not
    reaped yet, so it is that process); None where /proc cannot say."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return start_ticks_of(stat.read())
    except (OSError, ValueError):
        return None


def _mebibytes(value: int | None) -> str:
    return "none" if value is None else f"{value / 2**20:.0f}Mi"


class LocalRuntime:
    """Spawns container processes; one per minikubelet process.

    ``containment``: "auto" (what the machine allows), "v1"/"v2" (that cgroup layout, or
    none), "none" (never cgroups). ``cgroup_subtree`` names this runtime's cgroups under
    the daemon's own (``containment.subtree_for`` a root dir; by default one per runtime
    object). The choice is made when ``run`` starts; until then no cgroup is used.

    ``keeper``: the root dir whose keeper spawns the containers (``runtime/keeper``:
    ``serve``), so that they survive this process and a runtime made after its death can
    ``adopt`` them; None (``run``, tests): spawned here, they die with us.
    """

    def __init__(
        self,
        rotation: LogRotation | None = None,
        *,
        subreaper: bool = True,
        containment: ContainmentRequest = "auto",
        cgroup_subtree: str | None = None,
        idle_timeout: float | None = 60.0,
        keeper: Path | None = None,
    ) -> None:
        self.table = ProcessTable()
        self._keeper_dir = keeper
        self._keeper: KeeperClient | None = None
        self._ready: anyio.Event | None = None  # made in the event loop (``_keeper_ready``)
        self._token: anyio.lowlevel.EventLoopToken | None = None
        self._held: dict[int, Held] = {}  # what the keeper held when we connected, by pid
        self._adopted: dict[int, str] = {}  # pid -> tag of the processes taken back
        # Tagged processes outside the keeper's tree at start-up (orphaned to pid 1 by a
        # dead keeper), by tag: killed when their container is not adopted.
        self._strays: dict[str, list[int]] = {}
        self.rotation = rotation or LogRotation()
        self.is_subreaper = become_subreaper() if subreaper else False
        self._exec_ids = itertools.count(1)
        # Two spawning threads overlap file creation and vfork+exec with the event loop on
        # this 2-core class of machine; few threads also keep /proc/self/task short, which
        # every orphan scan reads.
        self._spawners: anyio.CapacityLimiter | None = None  # made in the event loop
        self._request: ContainmentRequest = containment
        self._subtree = cgroup_subtree or f"minikubelet-{os.getpid()}-{next(_runtimes)}"
        self._idle_timeout = idle_timeout
        self._containment = NOT_STARTED
        self._cgroups: Cgroups | None = None
        self._group: anyio.abc.TaskGroup | None = None
        # Per pod uid: each container's resources, as admitted (the sampled memory limit).
        self._resources: dict[str, dict[str, CgroupResources]] = {}
        # Per container tag: the sampled limit's kills so far (its container_oom_events).
        self._sampled_ooms: dict[str, int] = {}
        self._sampled = SampledLimits(self.table)

    @property
    def containment(self) -> ContainmentInfo:
        return self._containment

    @property
    def _keeper_ready(self) -> anyio.Event:
        """Set while a keeper is connected (cleared while a lost one is replaced)."""
        if self._ready is None:
            self._ready = anyio.Event()
        return self._ready

    @_keeper_ready.setter
    def _keeper_ready(self, event: anyio.Event) -> None:
        self._ready = event

    @property
    def cgroups(self) -> Cgroups | None:
        """The cgroup bookkeeping, while ``run`` runs with a cgroup driver."""
        return self._cgroups

    def count_sampled_oom(self, tag: str) -> None:
        """The sampled limit killed an instance of container ``tag`` (its OOM events)."""
        self._sampled_ooms[tag] = self._sampled_ooms.get(tag, 0) + 1

    async def prepare_pod(self, uid: str, resources: Mapping[str, CgroupResources]) -> None:
        self._resources[uid] = dict(resources)
        if self._cgroups is not None and self._group is not None:
            self._cgroups.prepare(self._group, uid, resources)
        await anyio.lowlevel.checkpoint()

    async def remove_pod(self, uid: str) -> None:
        self._resources.pop(uid, None)
        for tag in [tag for tag in self._sampled_ooms if tag.startswith(f"{uid}/")]:
            del self._sampled_ooms[tag]
        if self._cgroups is None:
            await anyio.lowlevel.checkpoint()
            return
        with anyio.CancelScope(shield=True):
            await self._cgroups.remove_pod(uid)

    async def start(
        self,
        launch: Launch,
        sink: LineSink | None = None,
        on_log_problem: ProblemSink | None = None,
    ) -> LocalContainer:
        cgroup = await self._cgroup_for(launch)
        if self._keeper is not None and not isinstance(cgroup, V2Container):
            container = await self._start_kept_here(launch, sink, on_log_problem, cgroup)
        elif cgroup is None:
            container = await anyio.to_thread.run_sync(
                self._start, launch, sink, on_log_problem, None, limiter=self._spawner_limit()
            )
        else:

            def start(plan: SpawnPlan) -> LocalContainer:
                try:
                    baseline = cgroup.oom_kills()
                except OSError as error:  # its memory controller went away: nothing to count
                    raise CgroupError(f"cannot read the OOM kill count: {error}") from error
                if launch.identity is not None and launch.identity.uid != os.geteuid():
                    cgroup.delegate(launch.identity.uid, launch.identity.gid)
                started = self._start(launch, sink, on_log_problem, plan)
                started.contain(cgroup, baseline)
                return started

            container = await self.spawn_in_container(launch, start, cgroup=cgroup)
        elapsed = time.monotonic() - container.spawned_monotonic  # noqa: TID251 - see above
        container._started_at = anyio.current_time() - max(elapsed, 0.0)
        container.memory_limit = self._memory_limit(launch)
        if container.memory_limit is not None and self._containment.samples_memory:
            if self._group is None:
                _log.warning(
                    "container.memory_limit_unenforced",
                    container=container.tag,
                    reason="the runtime is not running, so nothing samples the container",
                )
            else:
                self._sampled.watch(self._group, container, container.memory_limit)
        return container

    async def spawn_in_container(
        self,
        launch: Launch,
        start: Callable[[SpawnPlan], T],
        *,
        cgroup: ContainerCgroup | None = None,
        needs_stdin: bool = False,
    ) -> T:
        """Run ``start`` so that the process it spawns starts in ``launch``'s container.

        The one way into a container, for its instances, its execs (probes, hooks) and an
        interactive exec alike. ``start`` must spawn ``plan.argv`` (it may carry the
        driver's prefix) with ``plan.stdin`` as stdin when that is not None, from the
        calling thread (``process.spawn`` does). With a cgroup it runs on the driver's
        spawning thread (v1: the thread parked in the cgroup) or behind the v2 gate;
        without one, in a worker thread. ``needs_stdin``: the caller gives the process a
        stdin of its own, so the v2 gate (which takes stdin) cannot be used: the process
        is spawned, then moved into the cgroup at once (what it forks before the move is
        not contained). With a keeper on v2, ``start`` hands the spawn to the keeper from
        the gate's thread (on v1, and without cgroups, ``_start_kept_here`` needs no
        thread). Raises RuntimeStartError.
        """
        if cgroup is None:
            cgroup = await self._cgroup_for(launch)
        if cgroup is None:
            plain = SpawnPlan(launch.argv)
            return await anyio.to_thread.run_sync(start, plain, limiter=self._spawner_limit())
        try:
            if needs_stdin and isinstance(cgroup, V2Container):
                child = await anyio.to_thread.run_sync(start, SpawnPlan(launch.argv))
                await anyio.to_thread.run_sync(cgroup.place, child)
                return child
            return await cgroup.spawn_async(
                start, launch.argv, cwd=launch.cwd, env_path=launch.env.get("PATH")
            )
        except CgroupError as error:
            unplaced = error.process
            if isinstance(unplaced, LocalContainer):
                await unplaced.discard()
            elif isinstance(unplaced, ChildProcess):
                with anyio.CancelScope(shield=True):
                    await unplaced.wait()
            raise RuntimeStartError(f"cannot place the process in its cgroup: {error}") from None

    async def _cgroup_for(self, launch: Launch) -> ContainerCgroup | None:
        key = container_key(launch.tag)
        if self._cgroups is None or key is None:
            return None
        try:
            return await self._cgroups.container(*key)
        except CgroupError as error:
            raise RuntimeStartError(f"cannot create the container's cgroup: {error}") from None

    def _memory_limit(self, launch: Launch) -> int | None:
        key = container_key(launch.tag)
        if key is None:
            return None
        resources = self._resources.get(key[0], {}).get(key[1])
        return resources.memory_limit_bytes if resources is not None else None

    def _spawner_limit(self) -> anyio.CapacityLimiter:
        if self._spawners is None:
            self._spawners = anyio.CapacityLimiter(2)
        return self._spawners

    def _start(
        self,
        launch: Launch,
        sink: LineSink | None,
        on_log_problem: ProblemSink | None,
        plan: SpawnPlan | None,
    ) -> LocalContainer:
        assert launch.log_path is not None
        identity = launch.identity
        message = launch.message
        if message is not None and message.explicit:
            prepare_explicit_message(message.path, identity)
        owner = (identity.uid, identity.gid) if identity is not None else None
        log = CriLogWriter(
            launch.log_path, self.rotation, sink=sink, on_problem=on_log_problem, owner=owner
        )
        message_fd: int | None = None
        if self._keeper is not None:  # cgroup v2: from the gate's thread
            assert plan is not None
            try:
                with self._kept_message(launch) as kept_fd:
                    request, fds = self._kept_request(launch, plan, kept_fd)
                    client, held = anyio.from_thread.run(
                        self._spawn_kept, request, fds, token=self._token
                    )
                return self._container_of(held, log, client)
            except BaseException:
                log.close()
                raise
        out_read, out_write = _pipe()
        err_read, err_write = _pipe()
        try:
            env = dict(launch.env)
            if message is not None and not message.explicit:
                message_fd = open_default_message(message.path, identity, truncate=True)
                env[TERMINATION_LOG_VARIABLE] = f"/dev/fd/{message_fd}"
            child = spawn(
                plan.argv if plan is not None else launch.argv,
                cwd=launch.cwd,
                env=env,
                table=self.table,
                tag=launch.tag,
                stdout=out_write,
                stderr=err_write,
                identity=identity,
                pass_fds=() if message_fd is None else (message_fd,),
                stdin=plan.stdin if plan is not None else None,
                program=launch.argv[0] if launch.argv else None,
            )
        except BaseException:
            os.close(out_read)
            os.close(err_read)
            log.close()
            raise
        finally:
            for passed in (out_write, err_write, message_fd):
                if passed is not None:
                    os.close(passed)
        return LocalContainer(child, self, {"stdout": out_read, "stderr": err_read}, log)

    async def _start_kept_here(
        self,
        launch: Launch,
        sink: LineSink | None,
        on_log_problem: ProblemSink | None,
        cgroup: ContainerCgroup | None,
    ) -> LocalContainer:
        """``start`` through the keeper, from the event loop: the keeper forks (on cgroup
        v1 from its thread parked in the container's cgroups), so what is left here is a
        few small file operations (the log directory and file, the message file), done
        inline: a worker thread doing them would wait for the GIL at every system call
        while the loop is busy (measured: 500 first starts took 5.4 s that way, 3.9 s
        inline), and every restart would pay the hop."""
        assert launch.log_path is not None
        identity = launch.identity
        if launch.message is not None and launch.message.explicit:
            prepare_explicit_message(launch.message.path, identity)
        owner = (identity.uid, identity.gid) if identity is not None else None
        log = CriLogWriter(
            launch.log_path, self.rotation, sink=sink, on_problem=on_log_problem, owner=owner
        )
        try:
            with self._kept_message(launch) as message_fd:
                if not isinstance(cgroup, V1Container):
                    plan = SpawnPlan(launch.argv)
                    request, fds = self._kept_request(launch, plan, message_fd)
                    client, held = await self._spawn_kept(request, fds)
                    return self._container_of(held, log, client)
                try:
                    baseline = cgroup.oom_kills()
                except OSError as error:  # its memory controller went away: nothing to count
                    raise RuntimeStartError(f"cannot read the OOM kill count: {error}") from None
                async with cgroup.spawning_elsewhere() as tasks:
                    plan = SpawnPlan(launch.argv, tasks=tasks)
                    request, fds = self._kept_request(launch, plan, message_fd)
                    client, held = await self._spawn_kept(request, fds)
            started = self._container_of(held, log, client)
            started.contain(cgroup, baseline)
            return started
        except BaseException:
            log.close()
            raise

    @staticmethod
    @contextlib.contextmanager
    def _kept_message(launch: Launch) -> Iterator[int | None]:
        """The default termination-message file, open for the keeper to pass on while the
        spawn request is made (the keeper holds its own copy once it has answered)."""
        message = launch.message
        if message is None or message.explicit:
            yield None
            return
        fd = open_default_message(message.path, launch.identity, truncate=True)
        try:
            yield fd
        finally:
            os.close(fd)

    def _kept_request(
        self, launch: Launch, plan: SpawnPlan, message_fd: int | None
    ) -> tuple[SpawnRequest, list[int]]:
        """What the keeper is asked to spawn, and the descriptors the request carries."""
        identity = launch.identity
        request = SpawnRequest(
            request=0,
            argv=plan.argv,
            cwd=launch.cwd,
            env=launch.env,
            tag=launch.tag,
            program=launch.argv[0] if launch.argv else None,
            user=None
            if identity is None
            else SpawnUser(identity.uid, identity.gid, identity.groups),
            stdin=plan.stdin is not None,
            message_variable=None if message_fd is None else TERMINATION_LOG_VARIABLE,
            cgroup=plan.tasks,
        )
        return request, [fd for fd in (plan.stdin, message_fd) if fd is not None]

    async def _spawn_kept(self, request: SpawnRequest, fds: list[int]) -> tuple[KeeperClient, Held]:
        """Spawn through the keeper there is, waiting for a new one while a lost one is
        being replaced (a request that could not be sent spawned nothing: it is sent again)."""
        while True:
            await self._keeper_ready.wait()
            client = self._keeper
            assert client is not None
            try:
                return client, await client.spawn(request, fds)
            except KeeperError:
                if self._keeper is client:
                    self._keeper_ready = anyio.Event()  # _keep_keeper sets it once replaced
                continue

    def _container_of(
        self, held: Held, log: CriLogWriter, client: KeeperClient | None = None
    ) -> LocalContainer:
        for fd in (held.stdout, held.stderr):
            os.set_blocking(fd, False)
        client = client or self._keeper
        assert client is not None
        child = KeptChild(client, held.kept)
        pipes = {"stdout": held.stdout, "stderr": held.stderr}
        return LocalContainer(child, self, pipes, log, start_ticks=held.kept.start_ticks)

    async def adopt(
        self,
        launch: Launch,
        identity: ProcessIdentity | None,
        started_at: float,
        sink: LineSink | None = None,
        on_log_problem: ProblemSink | None = None,
    ) -> LocalContainer | AdoptionRefused:
        """Take back the instance ``launch`` describes, which ran as ``identity`` before
        this daemon started, from the keeper: its log goes on in the same file (what the
        pipes hold is read from where it is), its exit is the keeper's to report."""
        if self._keeper is None:
            await anyio.lowlevel.checkpoint()
            return AdoptionRefused("no keeper held the containers (the daemon had stopped)")
        held = self._held.get(identity.pid) if identity is not None else None
        cgroup = await self._cgroup_for(launch) if held is not None else None
        in_cgroup: bool | None = None
        if cgroup is not None and held is not None and held.kept.wait_status is None:
            in_cgroup = held.kept.pid in await anyio.to_thread.run_sync(cgroup.pids)
        refused = refusal(identity, launch.tag, held.kept if held else None, in_cgroup)
        if refused is not None:
            # Never two instances: what is left of the container goes before a new one.
            if cgroup is None:
                with contextlib.suppress(RuntimeStartError):  # none can be made: none to clear
                    cgroup = await self._cgroup_for(launch)
            await self._kill_leftovers(launch.tag, cgroup)
            return refused
        assert held is not None
        assert launch.log_path is not None
        await self._kill_strays(launch.tag, execs_only=True)  # the dead daemon's probes
        del self._held[held.kept.pid]
        self._adopted[held.kept.pid] = launch.tag
        owner = (launch.identity.uid, launch.identity.gid) if launch.identity else None
        log = CriLogWriter(
            launch.log_path, self.rotation, sink=sink, on_problem=on_log_problem, owner=owner
        )
        container = self._container_of(held, log)
        container._started_at = started_at
        if cgroup is not None:
            try:
                container.contain(cgroup, cgroup.oom_kills())
            except OSError:
                container.contain(cgroup, 0)
        container.memory_limit = self._memory_limit(launch)
        limit = container.memory_limit
        if limit is not None and self._containment.samples_memory and self._group is not None:
            self._sampled.watch(self._group, container, limit)
        _log.info("container.adopted", container=launch.tag, pid=container.pid)
        return container

    async def _kill_leftovers(self, tag: str, cgroup: ContainerCgroup | None) -> None:
        """Kill what a previous daemon left of container ``tag``: the keeper's processes
        of it (with their trees) and whatever is in its cgroup."""
        for kept in [held.kept for held in self._held.values() if held.kept.tag == tag]:
            await self._kill_held(kept)
        await self._kill_strays(tag)
        if cgroup is not None and not await anyio.to_thread.run_sync(cgroup.is_empty):
            report = await kill_cgroup(cgroup, self.table)
            _log.warning(
                "container.leftovers_killed",
                container=tag,
                pids=list(report.killed),
                effect="a previous daemon's process in the container's cgroup, not adopted",
            )

    async def _kill_strays(self, tag: str, *, execs_only: bool = False) -> None:
        """Kill the orphans carrying container ``tag`` (or, ``execs_only``, only its execs:
        a dead daemon's probes and hooks, whose own daemon is gone) found at start-up."""
        prefix = f"{tag}/"
        owners = [t for t in self._strays if t.startswith(prefix) or (t == tag and not execs_only)]
        for owner in owners:
            # By the orphan's own tag: an exec's kill must not reach the container's
            # processes (which carry the container's tag, not the exec's).
            report = await kill_tagged(owner, self._strays.pop(owner), self.table)
            _log.warning(
                "container.leftovers_killed",
                container=owner,
                pids=list(report.killed),
                effect="orphans of a previous daemon's container, not adopted",
            )

    async def _kill_held(self, kept: KeptProcess) -> list[int]:
        """Kill a process the keeper holds (and all it started) and take its exit."""
        assert self._keeper is not None
        held = self._held.pop(kept.pid)
        for fd in (held.stdout, held.stderr):
            os.close(fd)
        child = KeptChild(self._keeper, kept)
        roots = [kept.pid] if child.status is None else []
        tag = kept.tag
        if tag in self._adopted.values():  # a second process of an adopted container:
            tag = f"{tag}/unclaimed/{kept.pid}"  # its own tree only, never the adopted one
        report = await kill_tagged(tag, roots, self.table)
        await child.wait()  # its exit taken: the keeper forgets it
        _log.warning(
            "container.not_adopted_killed",
            container=kept.tag,
            pid=kept.pid,
            pids=list(report.killed),
            effect="no instance claims it: killed, not left running",
        )
        return list(report.killed)

    async def kill_unadopted(self) -> list[int]:
        """Every process the keeper held that no ``adopt`` took back is killed (with all
        it started), and every pod cgroup of our subtree that belongs to no pod admitted
        since we started is removed: nothing of a previous daemon is left running
        unsupervised."""
        if self._keeper is None:
            await anyio.lowlevel.checkpoint()
            return []
        killed: list[int] = []
        for kept in unclaimed((held.kept for held in self._held.values()), self._adopted):
            killed += await self._kill_held(kept)
        if self._cgroups is not None:  # the pods admitted so far (all of them) keep theirs
            await clear_leftovers_except(self._cgroups.driver, frozenset(self._resources))
        return killed

    async def termination_message(self, launch: Launch, exit_code: int) -> str:
        message, log_path, identity = launch.message, launch.log_path, launch.identity
        if message is None or log_path is None:
            return ""

        def read() -> str:
            if message.explicit:  # a path the manifest chose: read back as the container may
                return read_termination_message(
                    message.path,
                    log_path,
                    message.policy,
                    exit_code,
                    lambda path: open_for_container(path, identity, write=False),
                )
            return read_termination_message(message.path, log_path, message.policy, exit_code)

        if not message.explicit and message.policy is TerminationMessagePolicy.FILE:
            # One small read of our own file (4 KiB at most): cheaper than a thread hop,
            # which every exit would pay. A log tail or the manifest's path: in a thread.
            await anyio.lowlevel.checkpoint()
            return read()
        return await anyio.to_thread.run_sync(read)

    async def exec(self, launch: Launch, timeout: float | None) -> ExecResult:
        read_end, write_end = _pipe()
        tag = f"{launch.tag}/exec/{next(self._exec_ids)}"

        def start(plan: SpawnPlan) -> ChildProcess:
            # An exec writes the container's message file too (a preStop hook often does).
            message, env, fd = launch.message, dict(launch.env), None
            try:
                if message is not None and not message.explicit:
                    fd = open_default_message(message.path, launch.identity, truncate=False)
                    env[TERMINATION_LOG_VARIABLE] = f"/dev/fd/{fd}"
                return spawn(
                    plan.argv,
                    cwd=launch.cwd,
                    env=env,
                    table=self.table,
                    tag=tag,
                    stdout=write_end,
                    stderr=write_end,
                    identity=launch.identity,
                    pass_fds=() if fd is None else (fd,),
                    stdin=plan.stdin,
                    program=launch.argv[0] if launch.argv else None,
                )
            finally:
                if fd is not None:
                    os.close(fd)

        try:
            child = await self.spawn_in_container(launch, start)
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        output = bytearray()

        def keep(data: bytes) -> None:
            room = EXEC_OUTPUT_LIMIT - len(output)
            if room > 0:
                output.extend(data[:room])

        async with anyio.create_task_group() as group:
            group.start_soon(_drain, read_end, keep)
            try:
                with anyio.move_on_after(timeout) as scope:
                    await child.wait()
            finally:
                # Whatever the command left behind (all of it, on timeout or when the
                # caller gave up) dies now; that also closes the pipe, ending the drain.
                # The exec's own tree, by tag: the container's other processes share its
                # cgroup, and what escaped the tree dies with the container.
                with anyio.CancelScope(shield=True):
                    await kill_tagged(tag, [child.pid] if child.status is None else [], self.table)
                    status = await child.wait()
        return ExecResult(status.exit_code, bytes(output), scope.cancelled_caught)

    async def exec_stream(self, launch: Launch, *, tty: bool = False) -> LocalExec:
        """An exec with its streams attached, as part of the container (``attached.py``):
        in its cgroup, when it has one (moved there at once: its stdin is its own)."""
        tag = f"{launch.tag}/exec/{next(self._exec_ids)}"

        def start(plan: SpawnPlan) -> LocalExec:
            return start_attached(launch, tag, self.table, tty=tty, argv=plan.argv)

        return await self.spawn_in_container(launch, start, needs_stdin=True)

    async def usage(self, containers: Mapping[str, ContainerProcess]) -> dict[str, Usage]:
        """One pass for every container, in a worker thread: the cgroup's counters where
        the container has a cgroup (a few small reads each), else one pass over /proc."""
        trees: dict[str, tuple[str, list[int]]] = {}
        contained: dict[str, tuple[ContainerCgroup, str, list[int]]] = {}
        sampled_ooms: dict[str, int] = {}
        for key, process in containers.items():
            assert isinstance(process, LocalContainer)
            if process.cgroup is not None:
                contained[key] = (process.cgroup, process.tag, process.roots())
            else:
                trees[key] = (process.tag, process.roots())
                sampled_ooms[key] = self._sampled_ooms.get(process.tag, 0)
        table = self.table

        def sample() -> dict[str, Usage]:
            found = sample_many(trees, table) if trees else {}
            for key, oom_kills in sampled_ooms.items():
                if oom_kills:
                    found[key] = dataclasses.replace(found[key], oom_events=oom_kills)
            for key, (cgroup, tag, roots) in contained.items():
                try:
                    found[key] = cgroup_usage(cgroup, tag, roots, table)
                except (OSError, CgroupError, ValueError):
                    continue  # its cgroup went away meanwhile (the instance ended): no sample
            return found

        return await anyio.to_thread.run_sync(sample)

    async def node_usage(self) -> NodeUsage:
        return await anyio.to_thread.run_sync(sample_node)

    def reap_orphans(self) -> list[int]:
        return self.table.reap_orphans()

    async def run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """Choose the containment; then reap orphans whenever a child exits (only possible
        in the main thread; elsewhere they are reaped after each kill) and host the
        sampled memory limits, until cancelled; then remove every cgroup made."""
        kept = self._keeper_dir is not None
        driver, self._containment = await choose(
            self._request, self._subtree, self._idle_timeout, clear_leftovers=not kept
        )
        self._cgroups = Cgroups(driver, park=not kept) if driver is not None else None
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                if self._keeper_dir is not None:
                    await self._connect_keeper(group, self._keeper_dir)
                with _sigchld() as signals:
                    task_status.started()
                    if signals is None:
                        await anyio.sleep_forever()
                    else:
                        async for _ in signals:
                            self.table.reap_orphans()
        finally:
            self._group = None
            cgroups, self._cgroups = self._cgroups, None
            if cgroups is not None:
                await cgroups.close()
                self.table.reap_orphans()
            self._release_keeper()

    async def _connect_keeper(self, group: anyio.abc.TaskGroup, root_dir: Path) -> None:
        """Reach (or start) the keeper; what it holds waits for ``adopt``."""
        client = await self._open_keeper(root_dir, adopting=True)
        group.start_soon(self._keep_keeper, client, root_dir)

    async def _open_keeper(self, root_dir: Path, *, adopting: bool) -> KeeperClient:
        client = KeeperClient(root_dir)
        held = await client.connect()
        self._keeper = client
        assert client.pid is not None
        count_as_own(client.pid)  # its parked threads are in our containers' cgroups (v1)
        if self._cgroups is not None and isinstance(self._cgroups.driver, V1Driver):
            self._cgroups.driver.release_elsewhere = self._release_parked
        self._token = anyio.lowlevel.current_token()
        self.table.foster = client.pid
        self._keeper_ready.set()
        if adopting:
            self._held = {entry.kept.pid: entry for entry in held}
            self._strays = await anyio.to_thread.run_sync(strays, client.pid)
        else:  # a new keeper holds nothing; a reconnected one held what we know already
            for entry in held:
                os.close(entry.stdout)
                os.close(entry.stderr)
        return client

    async def _keep_keeper(self, client: KeeperClient, root_dir: Path) -> None:
        """Hear the keeper for as long as the runtime runs; if it is lost (killed), what
        it held goes on being supervised through pidfds and a new keeper spawns what
        starts next."""
        while True:
            await client.serve()
            self._keeper_ready = anyio.Event()  # spawns wait for the new one
            client.close()
            if client.pid is not None:
                stop_counting_as_own(client.pid)  # gone, with its threads
            _log.warning("keeper.replacing", lost=client.pid)
            client = await self._open_keeper(root_dir, adopting=False)

    def _release_parked(self, tasks: tuple[str, ...]) -> None:
        """Have the keeper let go of the thread it parked in these cgroups (from the worker
        thread that removes them: a cgroup with a thread in it cannot be removed)."""
        client, token = self._keeper, self._token
        if client is not None and token is not None:
            anyio.from_thread.run(client.release, tasks, token=token)

    def _release_keeper(self) -> None:
        """The runtime stops, its pods stopped: the keeper may end once nothing of ours is
        left (``stopping``)."""
        client, self._keeper = self._keeper, None
        if client is None:
            return
        for entry in self._held.values():
            os.close(entry.stdout)
            os.close(entry.stderr)
        self._held.clear()
        client.stopping()
        client.close()
        if client.pid is not None:
            stop_counting_as_own(client.pid)


@contextlib.contextmanager
def _sigchld() -> Iterator[AsyncIterator[None] | None]:
    """Each SIGCHLD, as an async iterator; None off the main thread (no signals there).

    The event loop's own signal API where it allows SIGCHLD (asyncio, trio); uvloop keeps
    SIGCHLD for libuv's process watcher, so there a handler of ours writes to a pipe the
    loop waits on (uvloop wakes for every signal and runs Python's handlers at once).
    """
    receiver = anyio.open_signal_receiver(signal.SIGCHLD)
    try:
        signals = receiver.__enter__()
    except ValueError:  # not the main thread
        yield None
        return
    except RuntimeError:  # uvloop: "cannot add a signal handler for SIGCHLD"
        with _sigchld_pipe() as piped:
            yield piped
        return
    try:
        yield _each(signals)
    finally:
        receiver.__exit__(None, None, None)


async def _each(signals: AsyncIterator[int]) -> AsyncIterator[None]:
    async for _ in signals:
        yield


@contextlib.contextmanager
def _sigchld_pipe() -> Iterator[AsyncIterator[None]]:
    read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def handler(signum: int, frame: object) -> None:
        with contextlib.suppress(BlockingIOError):  # full: a wake-up is pending anyway
            os.write(write_end, b"\0")

    async def each() -> AsyncIterator[None]:
        while True:
            await anyio.wait_readable(read_end)
            with contextlib.suppress(BlockingIOError):
                while os.read(read_end, 4096):
                    pass
            yield

    previous = signal.signal(signal.SIGCHLD, handler)
    try:
        yield each()
    finally:
        signal.signal(signal.SIGCHLD, previous)
        os.close(read_end)
        os.close(write_end)
