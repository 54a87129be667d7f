"""One container instance, from its spawn to the moment nothing of it is left.

``run_instance`` is the kubelet's ``startContainer`` plus what its PLEG sees afterwards:
spawn the process (``RunContainerError``/``StartError`` when it cannot
run), report it (``Created``, ``Started``), then ``supervise`` it: pump its logs, wait for
the main process to exit (an event: the pidfd becomes readable), kill whatever the
container left behind (a PID namespace's init dying takes every other process with it;
we do the same by hand), let the log pump drain what is left in the pipes, and read the
termination message. The pod worker hears each step through ``InstanceOwner`` and keeps
the records.

It never hangs on a process it cannot end: a descendant that escaped the kill and keeps
the container's stdout open gets ``LOG_DRAIN_TIMEOUT`` before the pipes are closed under
it (``container.log_pipe_held``), and an instance the stop policy gave up on is recorded
as lost (``ContainerStatusUnknown``, 137).

An instance whose processes the kernel's OOM killer killed (its cgroup's count rose during
the instance; without a cgroup, the sampled memory limit killed it) ends ``Terminated``,
reason ``OOMKilled``, with a Warning event ``OOMKilled``: containerd sets that reason when
the container's cgroup had an OOM event, whichever of its processes died
(``internal/cri/server/events.go`` ``TaskOOM``), and keeps the main process's own exit
code (137 when it was the victim, its own code when a child was).
"""

from __future__ import annotations

import shlex
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import anyio
import anyio.abc
import anyio.to_thread
import structlog

from minikubelet.errors import RuntimeStartError
from minikubelet.logic.environment import INVALID_VARIABLE_NAMES
from minikubelet.logic.launch import LaunchPlan
from minikubelet.model.events import EventType
from minikubelet.model.launch import ExitStatus, Launch
from minikubelet.model.spec import Container
from minikubelet.model.status import Exit
from minikubelet.model.trace import Step
from minikubelet.pod_report import PodReporter
from minikubelet.runtime.base import (
    ContainerProcess,
    ContainerRuntime,
    KillReport,
    LineSink,
    OomKill,
    ProblemSink,
)

__all__ = [
    "LOG_DRAIN_TIMEOUT",
    "OOM_KILLED",
    "Ended",
    "InstanceContext",
    "InstanceOwner",
    "LiveInstance",
    "run_instance",
    "run_to_end",
    "supervise",
]

_log = structlog.get_logger("minikubelet.pod")

# After the last process of a container died, its pipes reach EOF at once; longer means a
# process we could not find still holds them.
LOG_DRAIN_TIMEOUT = 1.0

OOM_KILLED = "OOMKilled"  # the reason, as containerd reports it (and the event's)


@dataclass(eq=False)
class LiveInstance:
    """A running instance the pod worker can stop, and the event set once it is over."""

    container: Container
    process: ContainerProcess
    launch: Launch
    restart_count: int
    exited: anyio.Event = field(default_factory=anyio.Event)
    stopping: bool = False
    sigkilled: bool = False  # the stop sequence SIGKILLed it (so nothing was "left behind")
    adopted: bool = False  # started by a previous daemon: its postStart is not run again
    # Cancelled when the stop policy gives up on a process that cannot be killed.
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)

    @property
    def name(self) -> str:
        return self.container.name

    @property
    def started_at(self) -> float:
        return self.process.started_at

    def abandon(self) -> None:
        """Stop supervising: the process could not be killed (see the stop policy)."""
        self.scope.cancel()


@dataclass(frozen=True)
class Ended:
    """How an instance ended: its exit status (None when abandoned) and the leftovers."""

    status: ExitStatus | None
    leftovers: KillReport = field(default_factory=lambda: KillReport(()))


async def supervise(
    live: LiveInstance,
    *,
    label: str,
    while_running: Callable[[anyio.abc.TaskGroup], None],
    on_exit: Callable[[ExitStatus], None],
) -> Ended:
    """Run the instance to its end. ``while_running`` starts what lives only as long as
    the main process (the postStart hook) in the group it is given; ``on_exit`` hears the
    exit before the leftovers are killed (for the trace)."""
    status: ExitStatus | None = None
    leftovers = KillReport(())
    pumped = anyio.Event()

    async def pump() -> None:
        try:
            await live.process.pump_logs()
        finally:
            pumped.set()

    with live.scope:
        async with anyio.create_task_group() as group:
            group.start_soon(pump)
            async with anyio.create_task_group() as running:
                while_running(running)
                status = await live.process.wait()
                on_exit(status)
                running.cancel_scope.cancel()
            with anyio.CancelScope(shield=True):
                leftovers = await live.process.kill_all()
            with anyio.move_on_after(LOG_DRAIN_TIMEOUT):
                await pumped.wait()
            if not pumped.is_set():
                _log.warning(
                    "container.log_pipe_held",
                    pod=label,
                    container=live.name,
                    pids=list(leftovers.survivors) or None,
                    effect="the container's pipes are closed; later output is lost",
                )
                group.cancel_scope.cancel()
    if leftovers.survivors:
        _log.error(
            "container.unkillable",
            pod=label,
            container=live.name,
            pids=list(leftovers.survivors),
        )
    return Ended(status, leftovers)


class InstanceOwner(Protocol):
    """What the pod worker hears of one instance's life."""

    def start_failed(self, container: Container, restart_count: int, exit_: Exit) -> None: ...

    def started(self, live: LiveInstance, started_at: datetime) -> None: ...

    def running(self, live: LiveInstance, group: anyio.abc.TaskGroup) -> None:
        """Start what lives only while the main process does (postStart, or the probes)."""

    def exited(self, live: LiveInstance, exit_: Exit) -> None: ...


@dataclass(frozen=True)
class InstanceContext:
    """What every instance of one pod shares."""

    runtime: ContainerRuntime
    report: PodReporter
    clock: Callable[[], datetime]
    sink: Callable[[str], LineSink | None]  # container name -> its log-line sink
    log_problems: Callable[[Container], ProblemSink]  # -> where its log's trouble is told


async def run_instance(
    context: InstanceContext,
    owner: InstanceOwner,
    container: Container,
    plan: LaunchPlan,
    restart_count: int,
) -> None:
    """Spawn instance ``restart_count`` of ``container`` as ``plan`` says, and run it to
    its end."""
    report = context.report
    for invalid in plan.invalid:
        # makeEnvironmentVariables records this on the pod, not the container.
        report.event(None, EventType.WARNING, INVALID_VARIABLE_NAMES, invalid.message)
    launch = plan.launch
    try:
        process = await context.runtime.start(
            launch, context.sink(container.name), context.log_problems(container)
        )
    except RuntimeStartError as error:
        # containerd reports a container that cannot start as exited 128, StartError.
        reason = plan.redact(str(error))
        exit_ = Exit(
            128,
            context.clock(),
            reason="StartError",
            message=reason,
            monotonic=anyio.current_time(),
        )
        _log.warning(
            "container.start_failed", pod=report.label, container=container.name, error=reason
        )
        report.event(container, EventType.WARNING, "Failed", f"Error: {reason}")
        owner.start_failed(container, restart_count, exit_)
        return
    # The argv as shown: Secret values stay $(NAME) in the trace and the logs.
    report.step(container.name, Step.SPAWNED, f"pid {process.pid}: {shlex.join(plan.shown)}")
    _log.info(
        "container.started",
        pod=report.label,
        container=container.name,
        pid=process.pid,
        argv=list(plan.shown),
        restart_count=restart_count,
    )
    report.event(container, EventType.NORMAL, "Created", f"Created container: {container.name}")
    report.event(container, EventType.NORMAL, "Started", f"Started container {container.name}")
    live = LiveInstance(container, process, launch, restart_count)
    owner.started(live, context.clock())
    await run_to_end(context, owner, live)


async def run_to_end(context: InstanceContext, owner: InstanceOwner, live: LiveInstance) -> None:
    """Supervise an instance that runs (just started, or adopted after the daemon's
    restart) to its end, and tell ``owner`` how it ended."""
    report, container, process = context.report, live.container, live.process
    exited_at = 0.0

    def on_exit(status: ExitStatus) -> None:
        nonlocal exited_at
        exited_at = anyio.current_time()  # the back-off counts from here, not from after
        report.step(container.name, Step.EXITED, _describe_exit(status))

    ended = await supervise(
        live,
        label=report.label,
        while_running=lambda group: owner.running(live, group),
        on_exit=on_exit,
    )
    leftovers = ended.leftovers.killed
    if leftovers and not live.sigkilled:
        pids = " ".join(map(str, sorted(leftovers)))
        count = f"{len(leftovers)} process{'es' if len(leftovers) != 1 else ''}"
        report.step(container.name, Step.SIGNAL, f"SIGKILL -> {count} left behind (pids {pids})")
    oom = await process.oom_kill() if ended.status is not None else None
    exit_ = await _exit_of(context, live, ended.status, exited_at, oom)
    _log.info(
        "container.exited",
        pod=report.label,
        container=container.name,
        pid=process.pid,
        exit_code=exit_.exit_code,
        signal=signal.Signals(exit_.signal).name if exit_.signal else None,
        reason=exit_.reason or None,
        leftovers=list(leftovers) or None,
    )
    if oom is not None:
        _log.warning(
            "container.oom_killed",
            pod=report.label,
            container=container.name,
            kills=oom.kills,
            sampled=oom.sampled,
        )
        report.event(container, EventType.WARNING, OOM_KILLED, oom.message)
    owner.exited(live, exit_)


async def _exit_of(
    context: InstanceContext,
    live: LiveInstance,
    status: ExitStatus | None,
    exited_at: float,
    oom: OomKill | None = None,
) -> Exit:
    """The instance's ``Exit``, with its termination message (the runtime reads it), and
    reason ``OOMKilled`` when it was OOM-killed."""
    finished = context.clock()
    if status is None:
        # The stop policy gave up on it: the kubelet's word for a container it lost.
        return Exit(
            137,
            finished,
            reason="ContainerStatusUnknown",
            message="The container could not be killed within its grace period",
            monotonic=anyio.current_time(),
        )
    message = await context.runtime.termination_message(live.launch, status.exit_code)
    return Exit(
        exit_code=status.exit_code,
        finished_at=finished,
        signal=status.signal,
        reason=OOM_KILLED if oom is not None else "",
        message=message,
        monotonic=exited_at,
    )


def _describe_exit(status: ExitStatus) -> str:
    if status.signal is None:
        return f"code {status.exit_code}"
    return f"code {status.exit_code} (killed by {signal.Signals(status.signal).name})"
