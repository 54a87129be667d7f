"""One running container instance, from its spawn to the moment nothing of it is left.

``supervise`` pumps the instance's logs, waits for its main process to exit (an event:
the pidfd becomes readable), kills whatever the container left behind (a PID namespace's
init dying takes every other process with it; we do the same by hand), and lets the log
pump drain what is left in the pipes. It never hangs on a process it cannot end: a
descendant that escaped the kill and keeps the container's stdout open gets
``LOG_DRAIN_TIMEOUT`` before the pipes are closed under it (``container.log_pipe_held``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import anyio
import anyio.abc
import structlog

from minikubelet.model.launch import ExitStatus, Launch
from minikubelet.model.spec import Container
from minikubelet.runtime.base import ContainerProcess, KillReport

__all__ = ["LOG_DRAIN_TIMEOUT", "Ended", "LiveInstance", "supervise"]

_log = structlog.get_logger("minikubelet.pod")

# After the last process of a container died, its pipes reach EOF at once; longer means a
# process we could not find still holds them.
LOG_DRAIN_TIMEOUT = 1.0


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
