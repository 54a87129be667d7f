"""The seam between the engine and whatever runs container processes.

Everything the pod workers, the prober and the lifecycle hooks do to a process goes
through ``ContainerRuntime`` and the ``ContainerProcess`` it returns, the way the kubelet
talks to containers only through the CRI (``pkg/kubelet/kuberuntime``). Two
implementations stand behind it: ``LocalRuntime`` (real processes on this machine) and
``FakeRuntime`` (scripted processes on anyio's clock, for tests on virtual time); the
contract test in ``tests/runtime/test_contract.py`` runs the same checks on both.

Times are anyio's (``anyio.current_time()``), never ``time.monotonic()``: a fake runtime
under trio's ``MockClock`` must be able to supply every one of them.

A pod's life at this seam, as the kubelet's at the CRI (``RunPodSandbox``,
``CreateContainer``/``StartContainer``, ``StopPodSandbox``/``RemovePodSandbox``):
``adopt`` for an instance a previous daemon started (``kill_unadopted`` once every pod is
back), ``prepare_pod`` when the pod is admitted (the runtime may make its containers' cgroups
ahead of their first start), ``start`` for every instance, and ``remove_pod`` once every
instance has ended: the pod's termination is complete when that returns. ``containment``
says which containment is in force, and why (``model/containment.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import anyio.abc

from minikubelet.logic.adoption import AdoptionRefused, ProcessIdentity
from minikubelet.logic.qos import CgroupResources
from minikubelet.model.containment import ContainmentInfo
from minikubelet.model.launch import ExecResult, ExitStatus, Launch
from minikubelet.model.usage import NodeUsage, Usage

__all__ = [
    "KILL_TIMEOUT",
    "AdoptionRefused",
    "CgroupResources",
    "ContainerProcess",
    "ContainerRuntime",
    "ContainmentInfo",
    "ExecResult",
    "ExitStatus",
    "KillReport",
    "Launch",
    "LineSink",
    "LogProblem",
    "NodeUsage",
    "OomKill",
    "OutputSink",
    "ProblemSink",
    "ProcessIdentity",
    "StreamingExec",
    "Usage",
]

# How long a whole-container SIGKILL may take before the survivors are reported: a
# process in uninterruptible sleep (D state, e.g. on a hung NFS mount) cannot die sooner.
KILL_TIMEOUT = 5.0

LineSink = Callable[[str, str], None]  # (stream, text) for every complete log line


@dataclass(frozen=True)
class LogProblem:
    """Something about a container's log the user should hear of (an event).

    ``reason`` is ``LogWriteFailed`` or ``LogRotateFailed`` (a Warning: e.g. the disk is
    full), or ``LogWriteResumed`` (the end of a failure: a Normal event).
    """

    reason: str
    message: str
    path: Path


ProblemSink = Callable[[LogProblem], None]


OutputSink = Callable[[str, bytes], Awaitable[None]]  # ("stdout"|"stderr", bytes) of an exec


@dataclass(frozen=True)
class KillReport:
    """What a whole-container SIGKILL did: the pids killed, and any left alive."""

    killed: tuple[int, ...]
    survivors: tuple[int, ...] = ()


@dataclass(frozen=True)
class OomKill:
    """An instance's processes were OOM-killed: by the kernel (its cgroup counted ``kills``
    OOM kills during the instance) or, without a cgroup, by the sampled memory limit.

    ``message`` says which, for the Warning event; the instance ends ``OOMKilled``.
    """

    kills: int
    message: str
    sampled: bool = False


class ContainerProcess(Protocol):
    """One container instance: its main process and everything it started."""

    @property
    def pid(self) -> int: ...

    @property
    def started_at(self) -> float:
        """anyio time at which the process was spawned (not when the caller resumed)."""
        ...

    @property
    def start_ticks(self) -> int | None:
        """When the main process started, in the kernel's clock ticks after boot: with the
        pid, its identity across the daemon's restart (checkpointed; ``adopt``)."""
        ...

    async def pump_logs(self) -> None:
        """Copy the container's stdout/stderr to its log until every writer has closed;
        cancelling it closes the pipes (a process that still holds them gets EPIPE)."""

    async def wait(self) -> ExitStatus:
        """Wait for the main process to exit and reap it."""

    def signal_main(self, signum: int) -> bool:
        """Send ``signum`` to the main process only; False if it already exited."""

    async def kill_all(self, on_signal: Callable[[list[int]], None] | None = None) -> KillReport:
        """SIGKILL every process of the container until none is left, or give up after
        a few seconds and report the survivors.

        ``on_signal`` hears the pids as soon as they are signalled, before they are reaped.
        """

    async def processes(self) -> set[int]:
        """The container's live processes: the main one (while it runs) and descendants."""

    async def oom_kill(self) -> OomKill | None:
        """Whether the instance was OOM-killed; ask once it has ended (and its leftovers
        were killed). The kernel counts per cgroup, so a child killed instead of the main
        process counts too, as containerd reports it (``TaskOOM``)."""


class StreamingExec(Protocol):
    """A command running inside a container with its streams attached (``kubectl exec``).

    Its processes carry the container's tag (``<container>/exec/N``), so they belong to
    the container: they die when it is killed. With a tty, stdout and stderr are one
    stream (``stdout``) and the command has the terminal as its controlling terminal.
    """

    @property
    def pid(self) -> int: ...

    async def write_stdin(self, data: bytes) -> None:
        """Feed the command's stdin (waits while the pipe is full); ignored once closed."""

    def close_stdin(self) -> None:
        """End of input: the command reads EOF (with a tty: end-of-file, ``^D``)."""

    def resize(self, columns: int, rows: int) -> None:
        """Set the terminal's size (a tty only; the command gets SIGWINCH)."""

    async def pump_output(self, sink: OutputSink) -> None:
        """Hand the output to ``sink`` as it comes, until the command exited and its
        streams are drained (or held open by what it left behind for a moment)."""

    async def wait(self) -> ExitStatus:
        """Wait for the command's main process to exit and reap it."""

    async def kill(self) -> None:
        """SIGKILL the command and everything it started."""

    def close(self) -> None:
        """Release the runtime's ends of the streams, once the exec is over."""


class ContainerRuntime(Protocol):
    async def run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """The runtime's own background work (reaping orphans), until cancelled.

        It chooses the containment before it reports started, and when cancelled it
        removes whatever containment it made (every cgroup, once empty)."""

    @property
    def containment(self) -> ContainmentInfo:
        """Which containment is in force and why (final once ``run`` has started)."""

    async def prepare_pod(self, uid: str, resources: Mapping[str, CgroupResources]) -> None:
        """Pod ``uid`` was admitted, with these containers: make what they need (their
        cgroups, with their limits) in the background; returns at once. ``start`` waits
        for a container's part of it."""

    async def remove_pod(self, uid: str) -> None:
        """Every instance of pod ``uid`` has ended: kill what is left in its cgroups, wait
        until they are empty, and remove them (bounded by ``KILL_TIMEOUT``)."""

    async def start(
        self,
        launch: Launch,
        sink: LineSink | None = None,
        on_log_problem: ProblemSink | None = None,
    ) -> ContainerProcess:
        """Spawn the main process; raises RuntimeStartError if it cannot run.

        An explicit termination-message file is created fresh first, as the container's
        user; ``on_log_problem`` hears of trouble writing the log (a full disk).
        """

    async def adopt(
        self,
        launch: Launch,
        identity: ProcessIdentity | None,
        started_at: float,
        sink: LineSink | None = None,
        on_log_problem: ProblemSink | None = None,
    ) -> ContainerProcess | AdoptionRefused:
        """Take back the instance ``launch`` describes, which a previous daemon started as
        ``identity`` (pid and start ticks, from its checkpoint) at anyio time
        ``started_at``: a ``ContainerProcess`` as ``start`` returns, its log appended to,
        or why it cannot be (gone, another process, another container's, not in its cgroup).
        A process that exited while no daemon ran is adopted too: ``wait`` returns its
        real exit status at once. Refused (``identity`` None included: nothing to take
        back), whatever a previous daemon left of the container is killed, so the
        instance that starts next is the only one."""

    async def kill_unadopted(self) -> list[int]:
        """Adoption is over (every restored pod was added): kill whatever a previous
        daemon left running that no ``adopt`` took back; the pids killed."""

    async def termination_message(self, launch: Launch, exit_code: int) -> str:
        """The termination message of the instance ``launch`` started, now that it exited."""

    async def exec(self, launch: Launch, timeout: float | None) -> ExecResult:
        """Run ``launch.argv`` as part of the container; on timeout kill its whole tree."""

    async def exec_stream(self, launch: Launch, *, tty: bool = False) -> StreamingExec:
        """Start ``launch.argv`` as part of the container, its streams attached; raises
        RuntimeStartError if it cannot run. The caller ``wait``s, and ``kill``s it if it
        gives up on it."""

    async def usage(self, containers: Mapping[str, ContainerProcess]) -> dict[str, Usage]:
        """CPU and memory of each container (keys are the caller's), in one pass."""

    async def node_usage(self) -> NodeUsage:
        """CPU and memory of the whole machine."""
