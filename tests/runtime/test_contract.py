"""The runtime contract: one set of checks, run on LocalRuntime and on FakeRuntime.

The fake stands in for real processes in every component test, so it must behave as
the real runtime does wherever the engine can tell: exit codes and signals, what
``signal_main`` answers after an exit, descendants that outlive the main process until
the whole container is killed, start failures, exec output and timeouts, usage keys, the
containment it reports, an OOM kill over a memory limit (the kernel's through a cgroup, or
the sampled limit's without one), and a pod's removal.
Each behaviour is written once (``Behaviour``) and realised twice: as the test child
program on the local runtime, and as a ``Script`` on the fake.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import anyio
import pytest

from minikubelet.errors import RuntimeStartError
from minikubelet.logic.adoption import AdoptionRefused, ProcessIdentity
from minikubelet.logic.qos import CgroupResources
from minikubelet.model.containment import ContainmentMode
from minikubelet.model.launch import ExitStatus, Launch
from minikubelet.runtime.base import ContainerProcess, ContainerRuntime
from minikubelet.runtime.fake import FakeProcess
from minikubelet.runtime.local import LocalRuntime
from minikubelet.testing import ExecScript, FakeRuntime, Script, wait_for_file
from tests.conftest import CHILD, PYTHON

pytestmark = [pytest.mark.anyio]

# Allocate and touch N MiB, then linger (the kernel, or the sampled limit, kills it first).
MI64 = 64 * 2**20
ALLOCATE = (
    "import sys, time\n"
    "block = bytearray(int(sys.argv[1]) * 2**20)\n"
    "for i in range(0, len(block), 4096): block[i] = 1\n"
    "time.sleep(30)\n"
)


@dataclass(frozen=True)
class Behaviour:
    exit_code: int = 0
    forever: bool = False
    ignores_sigterm: bool = False
    descendants: int = 0
    output: tuple[str, ...] = ()
    unstartable: bool = False
    allocates_mib: int = 0  # then lingers: over a memory limit, it is OOM-killed


class Subject(Protocol):
    @property
    def runtime(self) -> ContainerRuntime: ...

    def launch(self, name: str, behaviour: Behaviour) -> Launch: ...

    async def ready(self, name: str) -> None:
        """Return once the process has set itself up (signal handlers, descendants)."""

    def exec_launch(self, exit_code: int, output: str, runs_for: float) -> Launch: ...

    def echo_launch(self, exit_code: int) -> Launch:
        """An attached exec that copies stdin to stdout, then exits with ``exit_code``."""


class Local:
    def __init__(self, directory: Path) -> None:
        self.runtime = LocalRuntime()
        self._directory = directory

    def launch(self, name: str, behaviour: Behaviour) -> Launch:
        flags = ["--exit-code", str(behaviour.exit_code), "--ready-file", self._ready(name)]
        if behaviour.forever:
            flags.append("--forever")
        if behaviour.ignores_sigterm:
            flags.append("--ignore-sigterm")
        flags += ["--spawn", "grandchild"] * behaviour.descendants
        for line in behaviour.output:
            flags += ["--print", line]
        argv = ("/nonexistent/program",) if behaviour.unstartable else (PYTHON, CHILD, *flags)
        if behaviour.allocates_mib:
            argv = (PYTHON, "-c", ALLOCATE, str(behaviour.allocates_mib))
        return Launch(
            tag=f"contract/{name}",
            argv=argv,
            cwd=str(self._directory),
            env={"PATH": "/usr/bin:/bin"},
            log_path=self._directory / name / "0.log",
        )

    async def ready(self, name: str) -> None:
        await wait_for_file(Path(self._ready(name)))

    def exec_launch(self, exit_code: int, output: str, runs_for: float) -> Launch:
        code = f"import sys, time; print({output!r}); time.sleep({runs_for}); sys.exit({exit_code})"
        return Launch(
            tag="contract/exec", argv=(PYTHON, "-c", code), cwd=str(self._directory), env={}
        )

    def echo_launch(self, exit_code: int) -> Launch:
        code = (
            "import sys\n"
            "for line in sys.stdin: sys.stdout.write(line); sys.stdout.flush()\n"
            f"sys.exit({exit_code})\n"
        )
        return Launch(
            tag="contract/exec", argv=(PYTHON, "-c", code), cwd=str(self._directory), env={}
        )

    def _ready(self, name: str) -> str:
        return str(self._directory / f"{name}.ready")


class Kept(Local):
    """The local runtime as ``serve`` runs it: the root dir's keeper spawns and reaps."""

    def __init__(self, directory: Path, root: Path) -> None:
        super().__init__(directory)
        self.runtime = LocalRuntime(keeper=root)
        self.keeper_pid: int | None = None


class Fake:
    def __init__(self) -> None:
        self.runtime = self._fake = FakeRuntime()

    def launch(self, name: str, behaviour: Behaviour) -> Launch:
        script = Script(
            exit_code=behaviour.exit_code,
            runs_for=None if behaviour.forever else 0.0,
            ignores={signal.SIGTERM} if behaviour.ignores_sigterm else frozenset(),
            descendants=behaviour.descendants,
            output=tuple(("stdout", line) for line in behaviour.output),
            start_error='exec: "x": not found' if behaviour.unstartable else None,
        )
        if behaviour.allocates_mib:
            script = Script(exit_code=137, runs_for=0.5, oom_killed=True)
        self._fake.script(name, script)
        return Launch(tag=f"contract/{name}", argv=(name,), cwd="/")

    async def ready(self, name: str) -> None:
        await anyio.lowlevel.checkpoint()

    def exec_launch(self, exit_code: int, output: str, runs_for: float) -> Launch:
        self._fake.exec_script(
            "probe", ExecScript(exit_code, runs_for=runs_for, output=f"{output}\n".encode())
        )
        return Launch(tag="contract/exec", argv=("probe",), cwd="/")

    def echo_launch(self, exit_code: int) -> Launch:
        self._fake.exec_script("echo", ExecScript(exit_code, echo_stdin=True))
        return Launch(tag="contract/exec", argv=("echo",), cwd="/")


@pytest.fixture(params=["local", "kept", "fake"])
def subject(request: pytest.FixtureRequest, tmp_path: Path, short_tmp: Path) -> Subject:
    if request.param == "kept":
        return Kept(tmp_path, short_tmp)
    return Local(tmp_path) if request.param == "local" else Fake()


@pytest.fixture
async def running(subject: Subject) -> AsyncIterator[Subject]:
    async with anyio.create_task_group() as group:
        await group.start(subject.runtime.run)
        keeper = subject.runtime.table.foster if isinstance(subject, Kept) else None
        yield subject
        group.cancel_scope.cancel()
    if keeper is not None:  # told the runtime stopped, it exits once nothing is left
        with contextlib.suppress(ProcessLookupError):
            pidfd = os.pidfd_open(keeper)
            try:
                with anyio.fail_after(10):
                    await anyio.wait_readable(pidfd)
            finally:
                os.close(pidfd)


async def started(subject: Subject, name: str, behaviour: Behaviour) -> ContainerProcess:
    before = anyio.current_time()
    process = await subject.runtime.start(subject.launch(name, behaviour))
    assert process.pid > 0
    assert before - 0.5 <= process.started_at <= anyio.current_time()
    await subject.ready(name)
    return process


async def test_an_exit_code_is_reported(running: Subject) -> None:
    process = await started(running, "app", Behaviour(exit_code=3))
    assert await process.wait() == ExitStatus(3)
    assert not process.signal_main(signal.SIGTERM)  # already gone


async def test_the_stop_signal_ends_a_process_that_keeps_the_default(running: Subject) -> None:
    process = await started(running, "app", Behaviour(forever=True))
    assert process.signal_main(signal.SIGTERM)
    assert await process.wait() == ExitStatus(143, signal.SIGTERM)


async def test_a_process_ignoring_sigterm_ends_only_when_killed(running: Subject) -> None:
    process = await started(running, "stubborn", Behaviour(forever=True, ignores_sigterm=True))
    assert process.signal_main(signal.SIGTERM)
    with anyio.move_on_after(0.3) as waited:
        await process.wait()
    assert waited.cancelled_caught
    report = await process.kill_all()
    assert process.pid in report.killed
    assert not report.survivors
    assert await process.wait() == ExitStatus(137, signal.SIGKILL)
    assert await process.processes() == set()


async def test_descendants_outlive_the_main_process_until_the_container_is_killed(
    running: Subject,
) -> None:
    process = await started(running, "parent", Behaviour(exit_code=0, descendants=2))
    assert await process.wait() == ExitStatus(0)
    left = await process.processes()
    assert len(left) == 2
    assert process.pid not in left
    seen: list[list[int]] = []
    report = await process.kill_all(seen.append)
    assert sorted(report.killed) == sorted(left) == seen[0]
    assert await process.processes() == set()


async def test_a_stubborn_process_and_its_descendants_are_killed_and_told_at_once(
    running: Subject,
) -> None:
    process = await started(
        running, "stubborn", Behaviour(forever=True, ignores_sigterm=True, descendants=2)
    )
    everything = await process.processes()
    assert process.pid in everything
    assert len(everything) == 3
    seen: list[list[int]] = []
    report = await process.kill_all(seen.append)
    assert seen == [sorted(everything)]
    assert sorted(report.killed) == sorted(everything)
    assert await process.wait() == ExitStatus(137, signal.SIGKILL)
    assert await process.processes() == set()


async def test_logs_reach_the_sink(running: Subject) -> None:
    lines: list[tuple[str, str]] = []
    launch = running.launch("talker", Behaviour(output=("hello", "world")))
    process = await running.runtime.start(launch, lambda stream, text: lines.append((stream, text)))
    with anyio.fail_after(10):
        await process.pump_logs()
        await process.wait()
    assert lines == [("stdout", "hello"), ("stdout", "world")]


async def test_a_process_that_cannot_start_raises(running: Subject) -> None:
    with pytest.raises(RuntimeStartError):
        await running.runtime.start(running.launch("broken", Behaviour(unstartable=True)))


async def test_exec_returns_the_exit_code_and_output(running: Subject) -> None:
    result = await running.runtime.exec(running.exec_launch(4, "checked", 0.0), timeout=10)
    assert (result.exit_code, result.timed_out) == (4, False)
    assert result.output == b"checked\n"


async def test_exec_times_out(running: Subject) -> None:
    result = await running.runtime.exec(running.exec_launch(0, "slow", 5.0), timeout=0.2)
    assert result.timed_out


async def test_usage_is_keyed_by_the_caller(running: Subject) -> None:
    process = await started(running, "idle", Behaviour(forever=True))
    usage = await running.runtime.usage({"mine": process})
    assert set(usage) == {"mine"}
    assert usage["mine"].processes == 1
    await process.kill_all()
    await process.wait()


async def attached(
    running: Subject, launch: Launch, feed: list[bytes], tty: bool = False
) -> tuple[ExitStatus, dict[str, bytes]]:
    """Run an attached exec to its end: feed stdin, close it, collect the output."""
    process = await running.runtime.exec_stream(launch, tty=tty)
    received: dict[str, bytes] = {}

    async def sink(stream: str, data: bytes) -> None:
        received[stream] = received.get(stream, b"") + data

    try:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(process.pump_output, sink)
                for data in feed:
                    await process.write_stdin(data)
                process.close_stdin()
                status = await process.wait()
    finally:
        process.close()
    return status, received


async def test_an_attached_exec_reads_stdin_and_returns_the_exit_code(running: Subject) -> None:
    status, received = await attached(running, running.echo_launch(3), [b"one\n", b"two\n"])
    assert status == ExitStatus(3)
    assert received.get("stdout") == b"one\ntwo\n"


async def test_an_attached_exec_that_cannot_start_raises(running: Subject) -> None:
    launch = running.exec_launch(0, "", 0.0)
    if isinstance(running, Fake):
        running.runtime.exec_script("probe", ExecScript(start_error='exec: "x": not found'))
    else:
        launch = Launch(tag="contract/exec", argv=("/nonexistent/program",), cwd="/", env={})
    with pytest.raises(RuntimeStartError):
        await running.runtime.exec_stream(launch)


async def test_an_attached_exec_is_killed(running: Subject) -> None:
    process = await running.runtime.exec_stream(running.exec_launch(0, "slow", 30.0))
    try:
        with anyio.fail_after(10):
            await process.kill()
            assert await process.wait() == ExitStatus(137, signal.SIGKILL)
    finally:
        process.close()


async def test_the_containment_is_known_once_running(running: Subject) -> None:
    info = running.runtime.containment
    assert info.mode in set(ContainmentMode)
    assert info.reason


async def test_a_normal_exit_is_no_oom_kill(running: Subject) -> None:
    process = await started(running, "app", Behaviour(exit_code=0))
    assert await process.wait() == ExitStatus(0)
    await process.kill_all()
    assert await process.oom_kill() is None


async def test_over_its_memory_limit_a_container_is_oom_killed(running: Subject) -> None:
    await running.runtime.prepare_pod("contract", {"hog": CgroupResources(memory_limit_bytes=MI64)})
    process = await running.runtime.start(running.launch("hog", Behaviour(allocates_mib=300)))
    with anyio.fail_after(30):
        status = await process.wait()
    await process.kill_all()
    assert status == ExitStatus(137, signal.SIGKILL)
    oom = await process.oom_kill()
    assert oom is not None
    assert oom.kills >= 1
    await running.runtime.remove_pod("contract")


async def test_a_removed_pod_has_nothing_left(running: Subject) -> None:
    await running.runtime.prepare_pod("contract", {"parent": CgroupResources()})
    process = await started(running, "parent", Behaviour(exit_code=0, descendants=1))
    assert await process.wait() == ExitStatus(0)
    assert len(await process.processes()) == 1
    await process.kill_all()
    await running.runtime.remove_pod("contract")
    assert await process.processes() == set()


# -- adoption: an instance a previous runtime (daemon) started -------------------------


async def test_a_process_nobody_holds_is_not_adopted(running: Subject) -> None:
    launch = running.launch("app", Behaviour(forever=True))
    refused = await running.runtime.adopt(launch, ProcessIdentity(2**22 + 1, 1), 0.0)
    assert isinstance(refused, AdoptionRefused)
    assert refused.reason
    missing = await running.runtime.adopt(launch, None, 0.0)
    assert isinstance(missing, AdoptionRefused)
    assert await running.runtime.kill_unadopted() == []


def handed_over(earlier: FakeRuntime, *, kept: list[FakeProcess]) -> FakeRuntime:
    """The runtime of the daemon after ``earlier``'s death: its keeper held ``kept``."""
    later = FakeRuntime(kept=kept)
    later._pids = earlier._pids  # the kernel's pids go on
    return later


async def test_the_fake_adopts_what_an_earlier_runtime_left_running() -> None:
    earlier = FakeRuntime()
    earlier.script("app", Script(exit_code_on_signal=0))
    launch = Launch(tag="uid/app", argv=("app",), cwd="/")
    process = await earlier.start(launch)
    later = handed_over(earlier, kept=[process])
    identity = ProcessIdentity(process.pid, process.start_ticks)
    adopted = await later.adopt(launch, identity, process.started_at)
    assert adopted is process
    assert later.adopted == [process]
    assert adopted.signal_main(signal.SIGTERM)
    assert later.signalled(process.pid)  # the later runtime's now
    assert await adopted.wait() == ExitStatus(0)


async def test_the_fake_refuses_a_reused_pid_and_another_container_s_process() -> None:
    earlier = FakeRuntime()
    launch = Launch(tag="uid/app", argv=("app",), cwd="/")
    process, other = await earlier.start(launch), await earlier.start(launch)
    later = handed_over(earlier, kept=[process])
    web = Launch(tag="uid/web", argv=("app",), cwd="/")
    theirs = await later.adopt(web, ProcessIdentity(process.pid, process.start_ticks), 0.0)
    assert isinstance(theirs, AdoptionRefused)
    assert process.status is None  # another container's: not touched
    reused = await later.adopt(launch, ProcessIdentity(process.pid, process.start_ticks + 1), 0.0)
    assert isinstance(reused, AdoptionRefused)
    assert "another process" in reused.reason
    assert process.status == ExitStatus(137, signal.SIGKILL)  # never two instances
    later.kept.append(other)  # held, claimed by nobody
    assert await later.kill_unadopted() == [other.pid]
    assert later.kept == []


async def test_the_fake_adopts_an_exit_that_happened_while_no_runtime_ran() -> None:
    earlier = FakeRuntime()
    earlier.script("app", Script(exit_code=3, runs_for=1.0))
    launch = Launch(tag="uid/app", argv=("app",), cwd="/")
    process = await earlier.start(launch)
    assert await process.wait() == ExitStatus(3)
    later = handed_over(earlier, kept=[process])
    adopted = await later.adopt(launch, ProcessIdentity(process.pid, process.start_ticks), 0.0)
    assert adopted is process
    assert await adopted.wait() == ExitStatus(3)  # at once, its real code
