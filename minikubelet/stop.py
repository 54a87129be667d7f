"""The stop policy: preStop → stop signal → grace → SIGKILL the whole container → gone.

Sources: ``pkg/kubelet/kuberuntime/kuberuntime_container.go killContainer`` and
``executePreStopHook``, containerd's ``stopContainer``. The preStop hook's time counts
against the grace period; whatever is left, the stop signal then gets at least the
minimum window (2 s, ``minimumGracePeriodInSeconds``) before SIGKILL goes to *every*
process of the container; sidecars first wait for their turn (``waitForTurn``).

Why it is shaped like this:

* **Shielded.** Cancellation (a second Ctrl-C, the daemon stopping) must never skip a
  stop half-way and leave a container running: the whole policy runs in a shielded scope.
* **Its own deadline.** Shielded code that waits can wait forever. The policy has a
  deadline of grace + minimum window + two kill timeouts; past it, it reports a Warning
  event ``ExceededGracePeriod`` (the kubelet's wording) and abandons the instance, whose
  supervision then records it as lost, so the pod can finish. It never hangs.
* **The stop signal goes to the main process only**, as containerd sends it to the
  container's init; SIGKILL goes to all of them, as the kernel does when a PID
  namespace's init dies.
"""

from __future__ import annotations

import shlex
import signal
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, assert_never

import anyio
import structlog

from minikubelet.instance import LiveInstance
from minikubelet.lifecycle import run_hook
from minikubelet.logic.termination import MINIMUM_GRACE_PERIOD, stop_window, termination_order
from minikubelet.model.events import EventType
from minikubelet.model.spec import (
    Container,
    ExecAction,
    HookHandler,
    HTTPGetAction,
    PodSpec,
    SleepAction,
    TCPSocketAction,
)
from minikubelet.model.trace import Step
from minikubelet.runtime.base import KILL_TIMEOUT, ContainerRuntime

__all__ = [
    "EXCEEDED_GRACE_MESSAGE",
    "StopOrder",
    "StopReporter",
    "describe_hook",
    "kill_pod",
    "signal_number",
    "stop_container",
    "stop_pod",
]

_log = structlog.get_logger("minikubelet.pod")

EXCEEDED_GRACE_MESSAGE = "Container runtime did not kill the pod within specified grace period."


@dataclass(frozen=True)
class StopOrder:
    """How one container is to be stopped."""

    grace: float
    message: str  # the Killing event's message
    minimum_window: float = MINIMUM_GRACE_PERIOD
    kill_timeout: float = KILL_TIMEOUT
    since: float | None = None  # anyio time the stop was asked for (None: now)

    @property
    def budget(self) -> float:
        """The most the whole stop may take before it is given up."""
        return self.grace + self.minimum_window + 2 * self.kill_timeout


class StopReporter(Protocol):
    """Where the policy reports: events, trace steps, and the start of a termination."""

    @property
    def label(self) -> str: ...  # namespace/name, for log lines

    @property
    def pod_label(self) -> str: ...  # name_namespace(uid), for hook messages

    def event(
        self, container: Container | None, type: EventType, reason: str, message: str
    ) -> None: ...

    def step(self, container: str, step: Step, detail: str) -> None: ...

    def begin_stop(self, container: str) -> None: ...


async def stop_container(
    live: LiveInstance,
    order: StopOrder,
    *,
    runtime: ContainerRuntime,
    report: StopReporter,
    wait_turn: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Stop ``live`` as ``order`` says; returns once nothing of it is left (or it was
    given up). A second call for the same instance only waits for the first."""
    if live.stopping:
        with anyio.CancelScope(shield=True), anyio.move_on_after(order.budget):
            await live.exited.wait()
        return
    live.stopping = True
    with anyio.CancelScope(shield=True) as scope:
        scope.deadline = anyio.current_time() + order.budget
        await _stop(live, order, runtime, report, wait_turn)
    if scope.cancelled_caught and not live.exited.is_set():
        container = live.container
        _log.error(
            "container.stop_failed",
            pod=report.label,
            container=container.name,
            pid=live.process.pid,
            after=order.budget,
            effect="given up: the container is reported lost",
        )
        report.event(container, EventType.WARNING, "ExceededGracePeriod", EXCEEDED_GRACE_MESSAGE)
        live.abandon()


async def stop_pod(
    live: Mapping[str, LiveInstance],
    spec: PodSpec,
    grace: int,
    *,
    minimum_window: float,
    runtime: ContainerRuntime,
    report: StopReporter,
    since: float | None = None,
) -> None:
    """Stop every running container of a pod (``killContainersWithSyncResult``): regular
    ones at once and in parallel, each sidecar after the regular containers and the next
    sidecar (``kuberuntime_termination_order.go``), so sidecars stop in reverse order.

    ``live`` is the pod's running instances by name, kept current by their supervision.
    The grace period counts from ``since`` (anyio time), when the pod was asked to stop.
    """
    order = termination_order(spec)

    async def stop(instance: LiveInstance) -> None:
        waits_for = order.get(instance.name, ())

        async def wait_turn() -> None:
            for other in waits_for:
                running = live.get(other)
                if running is not None:
                    await running.exited.wait()

        message = f"Stopping container {instance.name}"
        await stop_container(
            instance,
            StopOrder(grace, message, minimum_window, since=since),
            runtime=runtime,
            report=report,
            wait_turn=wait_turn if waits_for else None,
        )

    async with anyio.create_task_group() as group:
        for instance in list(live.values()):
            group.start_soon(stop, instance)


async def kill_pod(live: Iterable[LiveInstance], kill_timeout: float = KILL_TIMEOUT) -> None:
    """SIGKILL every container at once, no hooks, no grace (a second Ctrl-C); an instance
    that still has not ended after ``kill_timeout`` is abandoned, never waited for."""
    instances = list(live)
    with anyio.CancelScope(shield=True):
        for instance in instances:
            await instance.process.kill_all()
        with anyio.move_on_after(kill_timeout):
            for instance in instances:
                await instance.exited.wait()
        for instance in instances:
            if not instance.exited.is_set():
                instance.abandon()


async def _stop(
    live: LiveInstance,
    order: StopOrder,
    runtime: ContainerRuntime,
    report: StopReporter,
    wait_turn: Callable[[], Awaitable[None]] | None,
) -> None:
    container = live.container
    grace = order.grace
    # The grace period runs from when the stop was asked for, not from when this task got
    # to it (a daemon stopping 500 pods starts them one after the other), and only the
    # preStop hook and the sidecar's turn delay the SIGKILL: without them it goes at
    # ``since + grace`` however long the bookkeeping took, the same moment for every pod
    # stopped together.
    started = anyio.current_time()
    began = started if order.since is None else min(order.since, started)
    report.event(container, EventType.NORMAL, "Killing", order.message)
    pre_stop = container.lifecycle.pre_stop
    first = f"preStop {describe_hook(pre_stop)}" if pre_stop is not None else order.message
    report.begin_stop(container.name)
    report.step(container.name, Step.KILLING, f"{first} (grace period {grace:g}s)")
    waited = 0.0  # what the stop signal waited for: the preStop hook, the turn
    if pre_stop is not None and grace > 0 and not live.exited.is_set():
        await _pre_stop(live, pre_stop, grace, runtime, report)
        waited = anyio.current_time() - started
    if wait_turn is not None:
        with anyio.move_on_after(grace - (anyio.current_time() - began)):
            await wait_turn()
        waited = anyio.current_time() - started
    window = stop_window(grace, waited, order.minimum_window)
    kill_at = began + waited + window
    signum = signal_number(container.lifecycle.stop_signal)
    if live.process.signal_main(signum):
        name = signal.Signals(signum).name
        report.step(container.name, Step.SIGNAL, f"{name} -> pid {live.process.pid}")
        _log.info(
            "container.signalled",
            pod=report.label,
            container=container.name,
            signal=name,
            pid=live.process.pid,
            grace=window,
        )
    await _wait_exited(live, kill_at)
    if not live.exited.is_set():
        report.step(container.name, Step.GRACE, f"{window:g}s elapsed, process still alive")

        def killing(pids: list[int]) -> None:
            live.sigkilled = True
            count = f"{len(pids)} process{'es' if len(pids) != 1 else ''}"
            listed = " ".join(map(str, pids))
            report.step(container.name, Step.SIGNAL, f"SIGKILL -> {count} (pids {listed})")

        killed = await live.process.kill_all(killing)
        _log.info(
            "container.killed",
            pod=report.label,
            container=container.name,
            signal="SIGKILL",
            pids=list(killed.killed),
            after=window,
        )
    await live.exited.wait()


# The kernel lets an ordinary task's timer ``t`` away fire up to ``t / 1000`` late (its
# slack, ``select_estimate_accuracy`` in fs/select.c, which epoll uses too), and the loop's
# millisecond clock adds to that: a 2 s grace period ended 2-8 ms late on these machines.
# The wait wakes once early (0.5 % + 2 ms: 12 ms for 2 s) and waits out the rest on a
# timer too short to have slack to speak of.
_TIMER_SLACK = 0.005
_TIMER_MARGIN = 0.002


async def _wait_exited(live: LiveInstance, deadline: float) -> None:
    """Wait for ``live`` to exit, or until ``deadline`` (anyio time), to the millisecond."""
    early = deadline - (deadline - anyio.current_time()) * _TIMER_SLACK - _TIMER_MARGIN
    for wake_at in (early, deadline):
        with anyio.CancelScope(deadline=wake_at):
            await live.exited.wait()
        if live.exited.is_set():
            return


async def _pre_stop(
    live: LiveInstance,
    hook: HookHandler,
    grace: float,
    runtime: ContainerRuntime,
    report: StopReporter,
) -> None:
    container = live.container
    outcome = None
    with anyio.move_on_after(grace):
        async with anyio.create_task_group() as group:

            async def abort_when_exited() -> None:
                await live.exited.wait()
                group.cancel_scope.cancel()  # the hook is pointless once it is gone

            group.start_soon(abort_when_exited)
            outcome = await run_hook(hook, container, runtime, live.launch, report.pod_label)
            group.cancel_scope.cancel()
    if outcome is not None and outcome.warning is not None:
        report.event(None, EventType.WARNING, *outcome.warning)
    verdict = "timed out" if outcome is None else "succeeded" if outcome.ok else "failed"
    report.step(container.name, Step.HOOK, f"preStop {verdict}")
    if outcome is None:
        _log.warning(
            "container.pre_stop_timeout", pod=report.label, container=container.name, grace=grace
        )
    elif not outcome.ok:
        _log.warning(
            "container.pre_stop_failed",
            pod=report.label,
            container=container.name,
            detail=outcome.detail,
        )
        report.event(container, EventType.WARNING, "FailedPreStopHook", "PreStopHook failed")


def describe_hook(hook: HookHandler) -> str:
    """A hook as the trace shows it: ``exec sh -c 'sleep 1'``, ``httpGet :8080/quit``."""
    match hook:
        case ExecAction(command=command):
            return f"exec {shlex.join(command)}"
        case HTTPGetAction(port=port, path=path):
            return f"httpGet :{port}{path}"
        case SleepAction(seconds=seconds):
            return f"sleep {seconds}s"
        case TCPSocketAction(port=port):
            return f"tcpSocket :{port}"
        case _:
            assert_never(hook)


def signal_number(name: str | None) -> int:
    """``lifecycle.stopSignal`` as a number; SIGTERM when unset."""
    if not name:
        return signal.SIGTERM
    return int(signal.Signals[name])
