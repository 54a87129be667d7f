"""A scripted runtime on anyio's clock, for tests of the engine on virtual time.

It stands where ``LocalRuntime`` stands (the ``ContainerRuntime`` seam) and keeps the same
contract (``tests/runtime/test_contract.py`` runs one set of checks on both), but its
processes are scripts: they exit with a given code after a given (virtual) time, ignore
the signals they are told to ignore, leave "descendants" that only a whole-container
kill ends, or fail to start. Under trio's ``MockClock(autojump_threshold=0)`` a test runs
minutes of pod life in milliseconds and can assert exact times with ``==``::

    runtime = FakeRuntime()
    runtime.script("app", Script(exit_code=1, runs_for=2.0))   # every instance of "app"
    runtime.script("web", Script(ignores={SIGTERM}))            # until SIGKILL
    runtime.script("job", Script(exit_code=1), Script())        # 1st instance, then the rest
    runtime.exec_script("check", ExecScript(exit_code=1))       # exec probes/hooks "check ..."
    runtime.script("hog", Script(exit_code=137, runs_for=1.0, oom_killed=True))  # OOMKilled

A container's script is found by its name (the tag's last part), then by ``argv[0]``;
with neither, it runs until signalled and exits 0 on SIGTERM. Everything that happens is
recorded with its time: ``starts``, ``signals``, ``kills`` and ``execs``; pods as they are
prepared and removed (``prepared``, ``removed``). ``kept`` plays the keeper after a
daemon's death: processes of an earlier runtime that ``adopt`` may take back (``adopted``,
``refused``), and ``kill_unadopted`` kills. Its containment is ``fake``: nothing is
contained, and a memory limit is only what a script says (``oom_killed``).
"""

from __future__ import annotations

import itertools
import math
import signal
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio
import anyio.abc
import anyio.lowlevel

from minikubelet.errors import RuntimeStartError
from minikubelet.logic.adoption import AdoptionRefused, ProcessIdentity, refusal
from minikubelet.logic.qos import CgroupResources
from minikubelet.model.containment import ContainmentInfo, ContainmentMode
from minikubelet.model.keeper import KeptProcess
from minikubelet.runtime.base import (
    ContainerProcess,
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

__all__ = [
    "FAKE_CONTAINMENT",
    "ExecScript",
    "FakeExec",
    "FakeProcess",
    "FakeRuntime",
    "Script",
    "Signalled",
]

FAKE_CONTAINMENT = ContainmentInfo(
    ContainmentMode.FAKE, "scripted processes on anyio's clock (FakeRuntime): nothing is contained"
)

T = TypeVar("T")


@dataclass(frozen=True)
class Script:
    """How one instance behaves.

    ``runs_for``: seconds until it exits by itself with ``exit_code`` (None: never).
    A signal it does not ``ignore`` ends it ``stops_after`` seconds later, with 128+N, or
    with ``exit_code_on_signal`` (a process that traps SIGTERM and exits 0).
    ``descendants``: processes it leaves behind; they live until the container is killed.
    ``unkillable``: even SIGKILL does not end it (a process stuck in the kernel).
    ``start_error``: ``start`` raises RuntimeStartError with this message.
    ``output``: (stream, line) pairs written at start; ``termination_message`` is what the
    instance leaves in its message file. ``oom_killed``: the instance's end (by itself, at
    ``runs_for``) is an OOM kill, as the kernel's in its cgroup: give it ``exit_code`` 137
    for the main process as the victim, or another code for a child killed instead.
    """

    exit_code: int = 0
    runs_for: float | None = None
    ignores: Collection[int] = frozenset()
    stops_after: float = 0.0
    exit_code_on_signal: int | None = None
    descendants: int = 0
    unkillable: bool = False
    start_error: str | None = None
    output: tuple[tuple[str, str], ...] = ()
    cpu_seconds: float = 0.0
    memory_bytes: int = 0
    termination_message: str = ""
    oom_killed: bool = False


@dataclass(frozen=True)
class ExecScript:
    """How one exec (a probe or hook command) behaves: its result after ``runs_for``."""

    exit_code: int = 0
    runs_for: float = 0.0
    output: bytes = b""
    start_error: str | None = None
    # An attached exec (``exec_stream``) that copies its stdin to stdout and exits with
    # ``exit_code`` once its stdin is closed (``cat``), instead of after ``runs_for``.
    echo_stdin: bool = False


@dataclass(frozen=True)
class Signalled:
    at: float
    pid: int
    signum: int


class _Turns(Generic[T]):
    """Scripts handed out in turn; the last one repeats."""

    def __init__(self, scripts: tuple[T, ...]) -> None:
        self._scripts = scripts
        self._used = 0

    def next(self) -> T:
        script = self._scripts[min(self._used, len(self._scripts) - 1)]
        self._used += 1
        return script


class FakeProcess:
    """One scripted container instance."""

    def __init__(
        self, runtime: FakeRuntime, launch: Launch, script: Script, pid: int, sink: LineSink | None
    ) -> None:
        self.launch = launch
        self.script = script
        self._runtime = runtime
        self._pid = pid
        self._started_at = anyio.current_time()
        runs_for = script.runs_for
        self._exit_at = math.inf if runs_for is None else self._started_at + runs_for
        self._exit_code = script.exit_code
        self._exit_signal: int | None = None
        self._signalled = False  # it ends because of a signal, not at its own time
        self._status: ExitStatus | None = None
        self._changed = anyio.Event()
        self._gone = anyio.Event()
        self.descendants = set(range(pid + 1, pid + 1 + script.descendants))
        self._sink = sink

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def start_ticks(self) -> int:
        """A fake kernel start time: distinct per process, so a reused pid shows."""
        return 1_000_000 + self._pid

    def handed_to(self, runtime: FakeRuntime, launch: Launch, sink: LineSink | None) -> None:
        """Adopted by ``runtime`` (``FakeRuntime.adopt``): its signals are recorded there."""
        self._runtime, self.launch, self._sink = runtime, launch, sink

    @property
    def started_at(self) -> float:
        return self._started_at

    @property
    def status(self) -> ExitStatus | None:
        return self._status

    async def pump_logs(self) -> None:
        """The output at once; then, like a pipe, EOF once every process of it is gone."""
        if self._sink is not None:
            for stream, line in self.script.output:
                self._sink(stream, line)
        await self.wait()  # a fake exits at its time whether or not anyone waits
        await self._gone.wait()

    async def wait(self) -> ExitStatus:
        while self._status is None:
            changed = self._changed
            now = anyio.current_time()
            if now >= self._exit_at:
                signum = self._exit_signal
                if self.was_oom_killed_at_exit and self._exit_code == 137:
                    signum = signal.SIGKILL  # the main process was the OOM killer's victim
                self._finish(ExitStatus(self._exit_code, signum))
                break
            with anyio.move_on_after(self._exit_at - now):
                await changed.wait()
        assert self._status is not None
        return self._status

    def signal_main(self, signum: int) -> bool:
        if self._status is not None:
            return False
        self._runtime.signals.append(Signalled(anyio.current_time(), self._pid, signum))
        if signum in self.script.ignores or (signum == signal.SIGKILL and self.script.unkillable):
            return True
        if signum == signal.SIGKILL:
            self._exit_at, self._exit_code, self._exit_signal = anyio.current_time(), 137, 9
            self._signalled = True
        else:
            at = anyio.current_time() + self.script.stops_after
            if at < self._exit_at:
                self._signalled = True
                code = self.script.exit_code_on_signal
                self._exit_at = at
                self._exit_code = 128 + signum if code is None else code
                self._exit_signal = signum if code is None else None
        self._wake()
        return True

    async def kill_all(self, on_signal: Callable[[list[int]], None] | None = None) -> KillReport:
        if self.script.unkillable:
            await anyio.lowlevel.checkpoint()
            alive = sorted(self._alive())
            return KillReport((), tuple(alive))
        pids = sorted(self._alive())
        if pids:
            self._runtime.kills.append((anyio.current_time(), tuple(pids)))
            if on_signal is not None:
                on_signal(pids)
        if self._status is None:
            self._signalled = True
            self._finish(ExitStatus.from_signal(signal.SIGKILL))
        self.descendants.clear()
        self._check_gone()
        await anyio.lowlevel.checkpoint()
        return KillReport(tuple(pids))

    async def processes(self) -> set[int]:
        await anyio.lowlevel.checkpoint()
        return self._alive()

    async def oom_kill(self) -> OomKill | None:
        await anyio.lowlevel.checkpoint()
        if not self.was_oom_killed:
            return None
        return OomKill(1, f"scripted OOM kill of container {self.launch.container_name}")

    @property
    def was_oom_killed(self) -> bool:
        """Scripted OOM kills end the instance at its own time only (not by a signal)."""
        return self._status is not None and self.was_oom_killed_at_exit

    @property
    def was_oom_killed_at_exit(self) -> bool:
        return self.script.oom_killed and not self._signalled

    def _alive(self) -> set[int]:
        main = {self._pid} if self._status is None else set()
        return main | self.descendants

    def _finish(self, status: ExitStatus) -> None:
        self._status = status
        self._wake()
        self._check_gone()

    def _check_gone(self) -> None:
        if self._status is not None and not self.descendants:
            self._gone.set()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()


class FakeExec:
    """One scripted attached exec (``FakeRuntime.exec_stream``).

    Its output is the script's ``output``, then (``echo_stdin``) whatever is written to
    its stdin; it ends once the exec has been waited for to its end, or killed.
    """

    def __init__(self, runtime: FakeRuntime, script: ExecScript, pid: int, tty: bool) -> None:
        self._runtime = runtime
        self._script = script
        self._pid = pid
        self.tty = tty
        self._started_at = anyio.current_time()
        self._send, self._receive = anyio.create_memory_object_stream[bytes](math.inf)
        self._stdin_closed = anyio.Event()
        self._finished = anyio.Event()
        self._status: ExitStatus | None = None

    @property
    def pid(self) -> int:
        return self._pid

    async def write_stdin(self, data: bytes) -> None:
        await anyio.lowlevel.checkpoint()
        if self._script.echo_stdin and not self._stdin_closed.is_set() and self._status is None:
            self._send.send_nowait(data)

    def close_stdin(self) -> None:
        self._stdin_closed.set()

    def resize(self, columns: int, rows: int) -> None:
        self._runtime.resizes.append((self._pid, columns, rows))

    async def pump_output(self, sink: Callable[[str, bytes], Awaitable[None]]) -> None:
        if self._script.output:
            await sink("stdout", self._script.output)
        async with self._receive:
            async for data in self._receive:
                await sink("stdout", data)

    async def wait(self) -> ExitStatus:
        async with anyio.create_task_group() as group:

            async def run_to_its_end() -> None:
                if self._script.echo_stdin:
                    await self._stdin_closed.wait()
                else:
                    await anyio.sleep_until(self._started_at + self._script.runs_for)
                if self._status is None:
                    self._finish(ExitStatus(self._script.exit_code))

            group.start_soon(run_to_its_end)
            await self._finished.wait()  # its end, or a kill
            group.cancel_scope.cancel()
        assert self._status is not None
        return self._status

    async def kill(self) -> None:
        await anyio.lowlevel.checkpoint()
        if self._status is None:
            self._runtime.kills.append((anyio.current_time(), (self._pid,)))
            self._finish(ExitStatus.from_signal(signal.SIGKILL))

    def close(self) -> None:
        self._send.close()
        self._receive.close()

    def _finish(self, status: ExitStatus) -> None:
        self._status = status
        self._send.close()
        self._finished.set()


@dataclass
class FakeRuntime:
    """The scripted runtime; see the module docstring."""

    default: Script = field(default_factory=Script)
    starts: list[FakeProcess] = field(default_factory=list)
    signals: list[Signalled] = field(default_factory=list)
    kills: list[tuple[float, tuple[int, ...]]] = field(default_factory=list)
    execs: list[tuple[float, tuple[str, ...]]] = field(default_factory=list)
    resizes: list[tuple[int, int, int]] = field(default_factory=list)  # (pid, columns, rows)
    _scripts: dict[str, _Turns[Script]] = field(default_factory=dict)
    _exec_scripts: dict[str, _Turns[ExecScript]] = field(default_factory=dict)
    prepared: dict[str, dict[str, CgroupResources]] = field(default_factory=dict)
    removed: list[tuple[float, str]] = field(default_factory=list)
    _pids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000, 10))
    # Processes a previous runtime left running (what a keeper held), for ``adopt``; the
    # ones adopted, and the pids ``kill_unadopted`` killed.
    kept: list[FakeProcess] = field(default_factory=list)
    adopted: list[FakeProcess] = field(default_factory=list)
    refused: list[AdoptionRefused] = field(default_factory=list)

    @property
    def containment(self) -> ContainmentInfo:
        return FAKE_CONTAINMENT

    def script(self, key: str, *scripts: Script) -> None:
        """How the instances of container ``key`` (or of argv[0] ``key``) behave, in turn."""
        self._scripts[key] = _Turns(scripts)

    def exec_script(self, command: str, *scripts: ExecScript) -> None:
        """How execs whose argv[0] is ``command`` behave, in turn (the last repeats)."""
        self._exec_scripts[command] = _Turns(scripts)

    def started(self, container: str) -> list[FakeProcess]:
        """Every instance of ``container`` started so far, oldest first."""
        return [p for p in self.starts if p.launch.container_name == container]

    def signalled(self, pid: int) -> list[Signalled]:
        return [s for s in self.signals if s.pid == pid]

    async def run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        task_status.started()
        await anyio.sleep_forever()

    async def prepare_pod(self, uid: str, resources: Mapping[str, CgroupResources]) -> None:
        self.prepared[uid] = dict(resources)
        await anyio.lowlevel.checkpoint()

    async def remove_pod(self, uid: str) -> None:
        self.removed.append((anyio.current_time(), uid))
        await anyio.lowlevel.checkpoint()

    async def start(
        self,
        launch: Launch,
        sink: LineSink | None = None,
        on_log_problem: ProblemSink | None = None,
    ) -> FakeProcess:
        await anyio.lowlevel.checkpoint()
        entry = self._scripts.get(launch.container_name) or self._scripts.get(launch.argv[0])
        script = entry.next() if entry is not None else self.default
        if script.start_error is not None:
            raise RuntimeStartError(script.start_error)
        process = FakeProcess(self, launch, script, next(self._pids), sink)
        self.starts.append(process)
        return process

    async def adopt(
        self,
        launch: Launch,
        identity: ProcessIdentity | None,
        started_at: float,
        sink: LineSink | None = None,
        on_log_problem: ProblemSink | None = None,
    ) -> FakeProcess | AdoptionRefused:
        """One of ``kept`` whose pid, start ticks and tag match (``logic.adoption``)."""
        await anyio.lowlevel.checkpoint()
        found = next((p for p in self.kept if identity and p.pid == identity.pid), None)
        kept = None
        if found is not None:
            status = found.status
            wait_status = None if status is None else (status.signal or status.exit_code << 8)
            kept = KeptProcess(found.pid, found.launch.tag, found.start_ticks, wait_status)
        refused = refusal(identity, launch.tag, kept)
        if refused is not None:
            self.refused.append(refused)
            for left in [p for p in self.kept if p.launch.tag == launch.tag]:
                self.kept.remove(left)  # never two instances: what is left of it dies
                await left.kill_all()
            return refused
        assert found is not None
        self.kept.remove(found)
        found.handed_to(self, launch, sink)
        self.adopted.append(found)
        return found

    async def kill_unadopted(self) -> list[int]:
        killed: list[int] = []
        for process in self.kept:
            killed += (await process.kill_all()).killed
        self.kept.clear()
        return killed

    async def termination_message(self, launch: Launch, exit_code: int) -> str:
        await anyio.lowlevel.checkpoint()
        for process in reversed(self.starts):
            if process.launch is launch:
                return process.script.termination_message
        return ""

    async def exec(self, launch: Launch, timeout: float | None) -> ExecResult:
        self.execs.append((anyio.current_time(), launch.argv))
        entry = self._exec_scripts.get(launch.argv[0])
        script = entry.next() if entry is not None else ExecScript()
        if script.start_error is not None:
            await anyio.lowlevel.checkpoint()
            raise RuntimeStartError(script.start_error)
        if timeout is not None and script.runs_for > timeout:
            await anyio.sleep(timeout)
            return ExecResult(137, b"", timed_out=True)
        await anyio.sleep(script.runs_for)
        return ExecResult(script.exit_code, script.output)

    async def exec_stream(self, launch: Launch, *, tty: bool = False) -> FakeExec:
        await anyio.lowlevel.checkpoint()
        self.execs.append((anyio.current_time(), launch.argv))
        entry = self._exec_scripts.get(launch.argv[0])
        script = entry.next() if entry is not None else ExecScript()
        if script.start_error is not None:
            raise RuntimeStartError(script.start_error)
        return FakeExec(self, script, next(self._pids), tty)

    async def usage(self, containers: Mapping[str, ContainerProcess]) -> dict[str, Usage]:
        await anyio.lowlevel.checkpoint()
        usages = {}
        for key, process in containers.items():
            assert isinstance(process, FakeProcess)
            count = len(process._alive())
            script = process.script
            ooms = sum(
                1 for p in self.starts if p.launch.tag == process.launch.tag and p.was_oom_killed
            )
            memory = script.memory_bytes if count else 0
            usages[key] = Usage(script.cpu_seconds, memory, count, oom_events=ooms, source="fake")
        return usages

    async def node_usage(self) -> NodeUsage:
        await anyio.lowlevel.checkpoint()
        return NodeUsage(cpu_seconds=0.0, memory_used_bytes=0, memory_total_bytes=0, boot_time=0.0)
