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
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TypeVar

import anyio
import anyio.abc
import anyio.lowlevel
import anyio.to_thread
import structlog

from minikubelet.errors import CgroupError, RuntimeStartError
from minikubelet.logic.memory_limit import MemoryExceeded
from minikubelet.logic.qos import CgroupResources
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
from minikubelet.runtime.cgroups import ContainerCgroup, HasPid, SpawnPlan, V2Container
from minikubelet.runtime.containment import (
    NOT_STARTED,
    Cgroups,
    ContainmentRequest,
    SampledLimits,
    choose,
    container_key,
    kill_cgroup,
)
from minikubelet.runtime.files import (
    TERMINATION_LOG_VARIABLE,
    open_default_message,
    open_for_container,
    prepare_explicit_message,
)
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
        self, child: ChildProcess, runtime: LocalRuntime, pipes: dict[str, int], log: CriLogWriter
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

    @property
    def pid(self) -> int:
        return self._pid

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
            return await self._child.wait()
        finally:
            if self._child.status is not None:
                self.ended.set()

    def signal_main(self, signum: int) -> bool:
        return self._child.send_signal(signum)

    async def kill_all(self, on_signal: Callable[[list[int]], None] | None = None) -> KillReport:
        if self.cgroup is not None:
            return await kill_cgroup(self.cgroup, self._runtime.table, on_signal)
        return await kill_tagged(self._child.tag, self.roots(), self._runtime.table, on_signal)

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


def _mebibytes(value: int | None) -> str:
    return "none" if value is None else f"{value / 2**20:.0f}Mi"


class LocalRuntime:
    """Spawns container processes; one per minikubelet process.

    ``containment``: "auto" (what the machine allows), "v1"/"v2" (that cgroup layout, or
    none), "none" (never cgroups). ``cgroup_subtree`` names this runtime's cgroups under
    the daemon's own (``containment.subtree_for`` a root dir; by default one per runtime
    object). The choice is made when ``run`` starts; until then no cgroup is used.
    """

    def __init__(
        self,
        rotation: LogRotation | None = None,
        *,
        subreaper: bool = True,
        containment: ContainmentRequest = "auto",
        cgroup_subtree: str | None = None,
        idle_timeout: float | None = 60.0,
    ) -> None:
        self.table = ProcessTable()
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
        if cgroup is None:
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
        not contained). Raises RuntimeStartError.
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
        out_read, out_write = _pipe()
        err_read, err_write = _pipe()
        message_fd: int | None = None
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
        driver, self._containment = await choose(self._request, self._subtree, self._idle_timeout)
        self._cgroups = Cgroups(driver) if driver is not None else None
        try:
            async with anyio.create_task_group() as group:
                self._group = group
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


@contextlib.contextmanager
def _sigchld() -> Iterator[AsyncIterator[int] | None]:
    receiver = anyio.open_signal_receiver(signal.SIGCHLD)
    try:
        signals = receiver.__enter__()
    except ValueError:  # not the main thread
        yield None
        return
    try:
        yield signals
    finally:
        receiver.__exit__(None, None, None)
