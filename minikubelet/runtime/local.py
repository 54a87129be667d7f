"""The local runtime: containers as real processes on this machine (see ``process.py``).

Spawning runs in one of two worker threads: creating the log file and the vfork+exec
block for a millisecond or more, during which other pods' restarts proceed. The spawn
time is taken in that thread with ``time.monotonic()`` (the one clock a thread can read)
and handed back converted to anyio's clock, so a probe schedule starts when the process
did, not when the event loop got back to it.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections.abc import Callable, Mapping

import anyio
import anyio.abc
import anyio.to_thread

from minikubelet.runtime.attached import LocalExec, start_attached
from minikubelet.runtime.base import (
    ContainerProcess,
    ExecResult,
    ExitStatus,
    KillReport,
    Launch,
    LineSink,
    NodeUsage,
    ProblemSink,
    Usage,
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
from minikubelet.runtime.stats import sample_many, sample_node

__all__ = ["EXEC_OUTPUT_LIMIT", "LocalContainer", "LocalRuntime"]

EXEC_OUTPUT_LIMIT = 10 * 1024  # the kubelet keeps 10 KiB of an exec probe's output


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
    """One running container instance: its main process, pipes and log writer."""

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

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def started_at(self) -> float:
        return self._started_at

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
        return await self._child.wait()

    def signal_main(self, signum: int) -> bool:
        return self._child.send_signal(signum)

    async def kill_all(self, on_signal: Callable[[list[int]], None] | None = None) -> KillReport:
        return await kill_tagged(self._child.tag, self._roots(), self._runtime.table, on_signal)

    async def processes(self) -> set[int]:
        tag, roots, table = self._child.tag, self._roots(), self._runtime.table
        return await anyio.to_thread.run_sync(tagged_pids, tag, roots, table)

    @property
    def tag(self) -> str:
        return self._child.tag

    def _roots(self) -> list[int]:
        return [self.pid] if self._child.status is None else []


class LocalRuntime:
    """Spawns container processes; one per minikubelet process."""

    def __init__(self, rotation: LogRotation | None = None, *, subreaper: bool = True) -> None:
        self.table = ProcessTable()
        self.rotation = rotation or LogRotation()
        self.is_subreaper = become_subreaper() if subreaper else False
        self._exec_ids = itertools.count(1)
        # Two spawning threads overlap file creation and vfork+exec with the event loop on
        # this 2-core class of machine; few threads also keep /proc/self/task short, which
        # every orphan scan reads.
        self._spawners: anyio.CapacityLimiter | None = None  # made in the event loop

    async def start(
        self,
        launch: Launch,
        sink: LineSink | None = None,
        on_log_problem: ProblemSink | None = None,
    ) -> LocalContainer:
        container = await anyio.to_thread.run_sync(
            self._start, launch, sink, on_log_problem, limiter=self._spawner_limit()
        )
        elapsed = time.monotonic() - container.spawned_monotonic  # noqa: TID251 - see above
        container._started_at = anyio.current_time() - max(elapsed, 0.0)
        return container

    def _spawner_limit(self) -> anyio.CapacityLimiter:
        if self._spawners is None:
            self._spawners = anyio.CapacityLimiter(2)
        return self._spawners

    def _start(
        self, launch: Launch, sink: LineSink | None, on_log_problem: ProblemSink | None
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
                launch.argv,
                cwd=launch.cwd,
                env=env,
                table=self.table,
                tag=launch.tag,
                stdout=out_write,
                stderr=err_write,
                identity=identity,
                pass_fds=() if message_fd is None else (message_fd,),
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

        def start() -> ChildProcess:
            # An exec writes the container's message file too (a preStop hook often does).
            message, env, fd = launch.message, dict(launch.env), None
            try:
                if message is not None and not message.explicit:
                    fd = open_default_message(message.path, launch.identity, truncate=False)
                    env[TERMINATION_LOG_VARIABLE] = f"/dev/fd/{fd}"
                return spawn(
                    launch.argv,
                    cwd=launch.cwd,
                    env=env,
                    table=self.table,
                    tag=tag,
                    stdout=write_end,
                    stderr=write_end,
                    identity=launch.identity,
                    pass_fds=() if fd is None else (fd,),
                )
            finally:
                if fd is not None:
                    os.close(fd)

        try:
            child = await anyio.to_thread.run_sync(start, limiter=self._spawner_limit())
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
                with anyio.CancelScope(shield=True):
                    await kill_tagged(tag, [child.pid] if child.status is None else [], self.table)
                    status = await child.wait()
        return ExecResult(status.exit_code, bytes(output), scope.cancelled_caught)

    async def exec_stream(self, launch: Launch, *, tty: bool = False) -> LocalExec:
        """An exec with its streams attached, as part of the container (``attached.py``)."""
        tag = f"{launch.tag}/exec/{next(self._exec_ids)}"
        return await anyio.to_thread.run_sync(
            lambda: start_attached(launch, tag, self.table, tty=tty),
            limiter=self._spawner_limit(),
        )

    async def usage(self, containers: Mapping[str, ContainerProcess]) -> dict[str, Usage]:
        """One pass over /proc for every container, in a worker thread."""
        tags = {}
        for key, process in containers.items():
            assert isinstance(process, LocalContainer)
            tags[key] = (process.tag, process._roots())
        table = self.table
        return await anyio.to_thread.run_sync(sample_many, tags, table)

    async def node_usage(self) -> NodeUsage:
        return await anyio.to_thread.run_sync(sample_node)

    def reap_orphans(self) -> list[int]:
        return self.table.reap_orphans()

    async def run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """Reap orphans whenever a child exits; only possible in the main thread."""
        receiver = anyio.open_signal_receiver(signal.SIGCHLD)
        try:
            signals = receiver.__enter__()
        except ValueError:  # not the main thread: orphans are reaped after each kill
            task_status.started()
            await anyio.sleep_forever()
        try:
            task_status.started()
            async for _ in signals:
                self.table.reap_orphans()
        finally:
            receiver.__exit__(None, None, None)
