"""One worker per pod: it starts, watches, restarts and stops the pod's containers.

The worker is level-triggered, like the kubelet's ``podWorkers`` (``pod_workers.go``):
whenever something changes (a process started or exited, a hook finished, a probe
verdict came, a back-off window closed) it runs ``sync_once``, which asks
``logic.actions.compute_pod_actions`` what the pod should do next, given the spec and
everything observed so far, carries that out, and reports the status once. It never
sleeps on a timer except until the earliest back-off deadline (or the pod's
``activeDeadlineSeconds``), so a restart happens exactly when the back-off allows it,
and an exit is noticed the moment the process's pidfd becomes readable.

Its life is a tagged state, as the kubelet's ``SyncPod`` / ``SyncTerminatingPod`` /
``SyncTerminatedPod``: ``Syncing`` (reconciling), ``Terminating`` (stopping every container:
asked to, or nothing will run again), ``Terminated`` (every container gone).

The pieces it drives live beside it: ``instance.supervise`` runs one container instance
to its end, ``stop.stop_container`` is the stop policy, the ``ProbeManager`` owns the
probes, and the ``PodStatusKeeper`` turns what this worker observed into the API status.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import anyio.to_thread
import structlog

from minikubelet.errors import ContainerConfigError
from minikubelet.events import EventRecorder
from minikubelet.instance import InstanceContext, LiveInstance, run_instance, run_to_end
from minikubelet.launching import Launcher
from minikubelet.lifecycle import run_hook
from minikubelet.logic.actions import PodView, StartContainer, compute_pod_actions
from minikubelet.logic.adoption import AdoptionRefused, ProcessIdentity
from minikubelet.logic.backoff import BackoffEntry, crash_loop_message
from minikubelet.logic.environment import NO_OBJECTS, ObjectLookup
from minikubelet.logic.probing import apply_verdict, is_started
from minikubelet.logic.qos import container_resources
from minikubelet.logic.restore import lost
from minikubelet.logic.termination import (
    DEADLINE_EXCEEDED_MESSAGE,
    active_deadline,
    container_kill_grace,
    pod_grace,
)
from minikubelet.model.duration import format_duration
from minikubelet.model.events import EventType
from minikubelet.model.launch import Launch
from minikubelet.model.observed import ContainerRecord
from minikubelet.model.probe import ProbeKind, ProbeResult
from minikubelet.model.snapshot import PodSnapshot
from minikubelet.model.spec import Container, Pod
from minikubelet.model.status import Exit, Instance, PodStatus, StartFailure
from minikubelet.model.trace import Step, TraceEntry
from minikubelet.pod_report import PodReporter
from minikubelet.prober.manager import ProbeListener, ProbeManager, ProbeTarget
from minikubelet.runtime.base import (
    ContainerProcess,
    ContainerRuntime,
    LineSink,
    LogProblem,
    ProblemSink,
)
from minikubelet.runtime.logs import LOG_WRITE_RESUMED
from minikubelet.settings import Settings
from minikubelet.status_manager import PodStatusKeeper, TraceListener
from minikubelet.stop import StopOrder, describe_hook, kill_pod, stop_container, stop_pod

__all__ = ["LogLineSink", "PodLifecycle", "PodWorker", "Syncing", "Terminated", "Terminating"]

_log = structlog.get_logger("minikubelet.pod")

LogLineSink = Callable[[Pod, str, str, str], None]  # (pod, container, stream, text)


@dataclass(frozen=True)
class Syncing:
    """Reconciling: containers start, restart and are killed as the spec says."""


@dataclass(frozen=True)
class Terminating:
    """Stopping every container. ``requested``: deleted, stopped, or past its deadline
    (the pod ends in a terminal phase); False: nothing will run again (a finished job
    stopping its sidecars). ``grace`` None is the spec's; ``force`` kills at once."""

    requested: bool = True
    grace: int | None = None
    force: bool = False
    deadline_exceeded: bool = False
    # When it was asked for (anyio time): the grace period counts from then, not from
    # whenever this worker gets to it among many (a daemon stopping 500 pods at once).
    since: float | None = None


@dataclass(frozen=True)
class Terminated:
    """Every container is gone and none will start again."""

    how: Terminating


PodLifecycle = Syncing | Terminating | Terminated


class PodWorker:
    def __init__(
        self,
        pod: Pod,
        *,
        uid: str,
        runtime: ContainerRuntime,
        recorder: EventRecorder,
        settings: Settings,
        keeper: PodStatusKeeper,
        clock: Callable[[], datetime],
        probes: ProbeManager | None = None,
        log_sink: LogLineSink | None = None,
        objects: ObjectLookup = NO_OBJECTS,
        adoptable: Mapping[str, Instance] | None = None,
        known_uid: bool = False,
    ) -> None:
        """``adoptable``: the instances a previous daemon left running (its checkpoint's),
        by container name, to take back before anything starts (``logic/restore.py``).
        ``known_uid``: the pod came back with its uid (a static pod, a saved API pod): a
        previous daemon may have left processes of it, adopted or killed before any start."""
        self.pod = pod
        self.uid = uid
        self._runtime = runtime
        self._settings = settings
        self._keeper = keeper
        self.report = PodReporter(pod, uid, recorder, keeper)
        self._recorder = recorder
        self._objects = objects
        self._launcher = Launcher(pod, uid, settings, keeper.snapshot.log_dir, objects)
        self._instances = InstanceContext(
            runtime, self.report, clock, self._sink_for, self._log_problems
        )
        self._clock = clock
        self._probes = probes
        self._log_sink = log_sink
        # The keeper starts from the containers' history (none, or a checkpoint's).
        self._records = dict(keeper.snapshot.records)
        self._adoptable = dict(adoptable or {})
        self._restored = known_uid
        self._backoff: dict[str, BackoffEntry] = {}
        self._backoff_reported: dict[str, float] = {}
        self._live: dict[str, LiveInstance] = {}
        self._creating = 0  # instances being spawned, not yet in _live
        # The containers of one sync start one after the other (SyncPod's start loop);
        # each start settles once the instance runs and its postStart returned, or it
        # failed (and was killed). While a sequence is under way, no other start begins.
        self._starting = False
        self._settled: dict[str, anyio.Event] = {}
        # Containers whose configuration could not be made (CreateContainerConfigError):
        # not started again until what they wait for changes (retry_held).
        self._held: set[str] = set()
        self._has_initialized = False
        self._definition_changed: set[str] = set()  # killed by ``update``, to start again
        self._state: PodLifecycle = Syncing()
        self._changed = anyio.Event()
        self._done = anyio.Event()
        self._group: anyio.abc.TaskGroup | None = None

    # -- what others read ------------------------------------------------------------

    @property
    def state(self) -> PodLifecycle:
        return self._state

    @property
    def snapshot(self) -> PodSnapshot:
        return self._keeper.snapshot

    @property
    def status(self) -> PodStatus:
        return self._keeper.snapshot.status

    @property
    def trace(self) -> tuple[TraceEntry, ...]:
        return tuple(self._keeper.trace)

    @property
    def last_termination(self) -> Mapping[str, list[TraceEntry]]:
        return self._keeper.last_termination

    @property
    def done(self) -> bool:
        """The worker has finished: every container is gone and none will start again."""
        return self._done.is_set()

    def records(self) -> Mapping[str, ContainerRecord]:
        return dict(self._records)

    def processes(self) -> dict[str, ContainerProcess]:
        """The running instances' processes, by container name."""
        return {name: live.process for name, live in self._live.items()}

    def log_path(self, container: str, restart_count: int) -> Path:
        return self._keeper.snapshot.log_path(container, restart_count)

    def on_status(self, listener: Callable[[PodSnapshot], None]) -> Callable[[], None]:
        """Call ``listener`` with every new snapshot of this pod; returns the unsubscribe."""
        return self._keeper.on_change(listener)

    def on_trace(self, listener: TraceListener) -> Callable[[], None]:
        """Call ``listener`` for every lifecycle step from now on; returns the unsubscribe."""
        return self._keeper.on_trace(listener)

    async def wait_done(self) -> None:
        await self._done.wait()

    # -- what others ask -------------------------------------------------------------

    def terminate(self, grace: int | None = None, since: float | None = None) -> None:
        """Stop the pod gracefully; a later call may only shorten the grace period.
        ``since``: when the stop was asked for (anyio time; None: now), the same moment for
        pods stopped together, so that their grace periods end together."""
        match self._state:
            case Syncing():
                asked = anyio.current_time() if since is None else since
                self._state = Terminating(grace=grace, since=asked)
            case Terminating(grace=current):
                if current is not None and (grace is None or grace > current):
                    grace = current
                self._state = replace(self._state, requested=True, grace=grace)
            case Terminated():
                return
        self._notify()

    def mark_deleted(self, grace: int | None = None) -> None:
        """A deletion: the pod shows a deletion timestamp, then terminates gracefully."""
        self._keeper.mark_deleted(pod_grace(self.pod.spec, grace), announce=not self.done)
        self.terminate(grace)

    def kill(self) -> None:
        """Stop the pod at once: SIGKILL every process, no hooks (a second Ctrl-C)."""
        match self._state:
            case Syncing():
                self._state = Terminating(force=True)
            case Terminating(force=False):
                self._state = replace(self._state, force=True)
                self._spawn(kill_pod, list(self._live.values()))
            case Terminating() | Terminated():
                return
        self._notify()

    def restart_container(self, name: str) -> bool:
        """Stop container ``name``'s running instance gracefully; its restart policy then
        applies to that exit as to any other (minikubelet's addition: the API's restart).

        The normal kill path, as for a failed liveness probe (``killContainer`` in
        pkg/kubelet/kuberuntime/kuberuntime_container.go): Killing event, preStop, the
        stop signal, the grace period, SIGKILL. False when the container is not running,
        is already stopping, or the pod is terminating.
        """
        live = self._live.get(name)
        if live is None or live.stopping or not isinstance(self._state, Syncing):
            return False
        grace = container_kill_grace(self.pod.spec, live.container, None)
        message = f"Container {name} restart requested"
        self._spawn(self._stop, live, StopOrder(grace, message, self._minimum))
        return True

    # -- in-place updates (Kubelet.update_pod) ---------------------------------------

    def update(self, pod: Pod) -> None:
        """Take ``pod`` as this pod's new definition, in place (same uid, same instances).

        What may change is the API's to decide (``minikubelet.api.pod_update``: metadata,
        container images, ``activeDeadlineSeconds``...). Here, as the kubelet's
        ``computePodActions`` (pkg/kubelet/kuberuntime/kuberuntime_manager.go) does when a
        running container's hash changes: that container is killed with ``Container <n>
        definition changed, will be restarted`` and started again from the new definition
        whatever the restart policy, without back-off (its back-off key is the new hash);
        a container that is not running simply starts from the new one next time. The
        deadline is read again at the next step. A pod already terminating only records
        the new definition.
        """
        old = self.pod
        self.pod = pod
        self.report = PodReporter(pod, self.uid, self._recorder, self._keeper)
        self._launcher = Launcher(
            pod, self.uid, self._settings, self._keeper.snapshot.log_dir, self._objects
        )
        self._instances = replace(self._instances, report=self.report)
        self._keeper.replace_pod(pod)
        if isinstance(self._state, Syncing):
            for container in pod.spec.init_containers + pod.spec.containers:
                live = self._live.get(container.name)
                if live is None or live.stopping:
                    continue
                if container == old.spec.container(container.name):
                    continue
                message = f"Container {container.name} definition changed, will be restarted"
                grace = container_kill_grace(pod.spec, live.container, None)
                self._definition_changed.add(container.name)
                self._spawn(self._stop, live, StopOrder(grace, message, self._minimum))
        self._notify()

    def running_launch(self, name: str) -> Launch | None:
        """The launch of container ``name``'s running instance (what an exec into it runs
        with: its environment, working dir, user and tag), or None when it is not running."""
        live = self._live.get(name)
        return live.launch if live is not None and not live.stopping else None

    def _restart_changed(self) -> None:
        """Start again, at once, the containers ``update`` killed, once they have exited."""
        for name in list(self._definition_changed):
            record = self._records[name]
            if record.is_running or name in self._live:
                continue
            self._definition_changed.discard(name)
            self._backoff.pop(name, None)
            self._start(StartContainer(name))

    # -- the loop --------------------------------------------------------------------

    @asynccontextmanager
    async def tasks(self) -> AsyncIterator[PodWorker]:
        """The task group the worker's instances and stops run in (``run`` opens it; a
        test driving ``sync_once`` by hand opens it itself)."""
        async with anyio.create_task_group() as group:
            self._group = group
            try:
                yield self
            finally:
                self._group = None

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        _log.info("pod.added", pod=self.report.label, uid=self.uid)
        spec = self.pod.spec
        # The runtime makes the containers' cgroups now, ahead of their first start.
        resources = {c.name: container_resources(c) for c in spec.init_containers + spec.containers}
        await self._runtime.prepare_pod(self.uid, resources)
        try:
            async with self.tasks():
                await self._adopt_all()
                task_status.started()
                await self._sync_loop()
                await self._terminate()
        finally:
            with anyio.CancelScope(shield=True):
                # Termination is complete once the pod's cgroups are empty and removed.
                await self._runtime.remove_pod(self.uid)
            if isinstance(self._state, Terminating):
                self._state = Terminated(self._state)
            self._report()
            self._keeper.mark_finished()
            self._done.set()
            # Every container is gone. A static pod keeps its API phase (Running under
            # restartPolicy Always: getPhase in pkg/kubelet/kubelet_pods.go, kubernetes#116484),
            # which is no ending: the log says what the pod ended as, or that it did not.
            phase = self.status.phase
            _log.info(
                "pod.finished",
                pod=self.report.label,
                phase=phase.value if phase.is_final else None,
                api_phase=None if phase.is_final else phase.value,
            )

    async def _sync_loop(self) -> None:
        started = anyio.current_time()
        while isinstance(self._state, Syncing):
            self._changed = anyio.Event()
            # Read at every step: an update may change activeDeadlineSeconds (``update``).
            deadline = active_deadline(self.pod.spec, started)
            now = anyio.current_time()
            if deadline is not None and now >= deadline:
                self._exceed_deadline()
                return
            wake_at = self.sync_once(now)
            if not isinstance(self._state, Syncing):
                return
            if deadline is not None:
                wake_at = deadline if wake_at is None else min(wake_at, deadline)
            await self._wait_for_change(wake_at)

    async def _wait_for_change(self, wake_at: float | None) -> None:
        if wake_at is None:
            await self._changed.wait()
            return
        with anyio.move_on_after(max(wake_at - anyio.current_time(), 0)):
            await self._changed.wait()

    def sync_once(self, now: float) -> float | None:
        """One reconciliation step at anyio time ``now``; returns when to wake up if
        nothing else happens (the earliest back-off deadline), or None."""
        self._restart_changed()
        view = PodView(
            spec=self.pod.spec,
            records=self._records,
            backoff=self._backoff,
            policy=self._settings.backoff,
            now=now,
            has_initialized=self._has_initialized,
            held=frozenset(self._held),
        )
        actions = compute_pod_actions(view)
        for kill in actions.kill:
            live = self._live.get(kill.name)
            if live is not None and not live.stopping:
                verdict = self._records[kill.name].unhealthy
                grace = container_kill_grace(self.pod.spec, live.container, verdict)
                self._spawn(self._stop, live, StopOrder(grace, kill.message, self._minimum))
        if actions.start and not self._starting:
            self._starting = True
            self._spawn(self._start_in_order, actions.start)
        for refused in actions.backing_off:
            self._back_off(refused.name, refused.delay, refused.until)
        if actions.kill_pod:
            self._state = Terminating(requested=False)
        self._report()
        return actions.wake_at

    def _exceed_deadline(self) -> None:
        """activeDeadlineSeconds passed: the pod is killed and ends Failed, DeadlineExceeded."""
        self._state = Terminating(deadline_exceeded=True)
        self.report.event(None, EventType.WARNING, "DeadlineExceeded", DEADLINE_EXCEEDED_MESSAGE)

    def _back_off(self, name: str, delay: float, until: float) -> None:
        container = self.pod.spec.container(name)
        message = crash_loop_message(delay, name, self.report.pod_label)
        failure = StartFailure("CrashLoopBackOff", message)
        self._records[name] = replace(self._records[name], start_failure=failure)
        if self._backoff_reported.get(name) != until:
            self._backoff_reported[name] = until
            self.report.step(
                name, Step.RESTART, f"in {format_duration(delay)} (crash-loop back-off)"
            )
            message = f"Back-off restarting failed container {name} in pod {self.report.pod_label}"
            self.report.event(container, EventType.WARNING, "BackOff", message)

    # -- starting --------------------------------------------------------------------

    async def _start_in_order(self, starts: tuple[StartContainer, ...]) -> None:
        """Start ``starts`` one by one, each once the previous one has settled.

        ``kuberuntime_manager.go SyncPod`` starts a pod's containers in one loop, and
        ``startContainer`` runs the postStart hook before it returns (killing the container
        when the hook fails), so a slow postStart delays the next container.
        """
        try:
            for start in starts:
                if not isinstance(self._state, Syncing):
                    return
                await self._start(start).wait()
        finally:
            self._starting = False
            self._notify()

    def _settle(self, name: str) -> None:
        settled = self._settled.pop(name, None)
        if settled is not None:
            settled.set()

    def _start(self, start: StartContainer) -> anyio.Event:
        """Record the new instance as created, then spawn and supervise it in a task;
        returns the event set once the start has settled."""
        spec = self.pod.spec
        container = spec.container(start.name)
        record = self._records[start.name]
        settled = self._settled[container.name] = anyio.Event()
        try:
            plan = self._launcher.launch(container, record.next_restart_count)
        except ContainerConfigError as error:
            self._hold(container, str(error))
            self._settle(container.name)
            return settled
        self._held.discard(container.name)
        if start.backoff is not None:
            self._backoff[start.name] = start.backoff
        if container in spec.containers:
            self._has_initialized = True
        restart_count = record.next_restart_count
        if record.latest is not None:
            self.report.step(container.name, Step.RESTART, f"now (restart #{restart_count})")
        created = Instance(
            container_name=container.name,
            restart_count=restart_count,
            container_id="",
            created_at=self._clock(),
            post_start_done=container.lifecycle.post_start is None,
        )
        self._records[container.name] = record.with_new_instance(created)
        self._creating += 1
        self._spawn(run_instance, self._instances, self, container, plan, restart_count)
        return settled

    def _hold(self, container: Container, message: str) -> None:
        """``CreateContainerConfigError``: no instance; Waiting with the reason and an event,
        until ``retry_held`` (a ConfigMap or Secret it reads changed, or the pod did).

        The kubelet retries at its next sync (``backOffPeriod``, 10 s); nothing here wakes
        up on a timer: what the container waits for changes, or nothing will."""
        self._held.add(container.name)
        failure = StartFailure("CreateContainerConfigError", message)
        self._records[container.name] = replace(
            self._records[container.name], start_failure=failure
        )
        _log.warning(
            "container.config_failed",
            pod=self.report.label,
            container=container.name,
            error=message,
        )
        self.report.event(container, EventType.WARNING, "Failed", f"Error: {message}")

    def retry_held(self) -> None:
        """Try the held starts again now (what they were waiting for may have changed):
        the kubelet calls it when an object the pod refers to is added or changed."""
        if self._held:
            self._held.clear()
            self._notify()

    # -- adoption --------------------------------------------------------------------

    async def _adopt_all(self) -> None:
        """Take back the instances a previous daemon left running, before the first sync:
        each is supervised again as it is (same restart count, containerID, startedAt), or,
        refused, recorded lost (``ContainerStatusUnknown``, with the reason) and handled
        by its restart policy, as the kubelet handles a container its runtime lost."""
        adoptable, self._adoptable = self._adoptable, {}
        if not self._restored:
            return  # a new pod: no previous daemon ran it
        spec = self.pod.spec
        for container in spec.init_containers + spec.containers:
            instance = adoptable.get(container.name)
            if instance is not None:
                await self._adopt(container, instance)
            else:  # nothing to take back: the runtime clears what may be left of it
                await self._runtime.adopt(self._launcher.launch_of(container), None, 0.0)
        if adoptable:
            self._report()

    async def _adopt(self, container: Container, instance: Instance) -> None:
        name = container.name
        adopted: ContainerProcess | AdoptionRefused
        try:
            plan = self._launcher.launch(container, instance.restart_count)
        except ContainerConfigError as error:
            plan, adopted = None, AdoptionRefused(f"its configuration cannot be made: {error}")
            await self._runtime.adopt(self._launcher.launch_of(container), None, 0.0)
        if plan is not None:
            identity = None
            if instance.pid is not None and instance.start_ticks is not None:
                identity = ProcessIdentity(instance.pid, instance.start_ticks)
            ran_for = 0.0
            if instance.started_at is not None:
                ran_for = max((self._clock() - instance.started_at).total_seconds(), 0.0)
            adopted = await self._runtime.adopt(
                plan.launch,
                identity,
                anyio.current_time() - ran_for,
                self._sink_for(name),
                self._log_problems(container),
            )
        if isinstance(adopted, AdoptionRefused):
            _log.warning(
                "container.not_adopted",
                pod=self.report.label,
                container=name,
                pid=instance.pid,
                reason=adopted.reason,
            )
            self._records[name] = self._records[name].with_latest(
                lost(instance, self._clock(), adopted.reason)
            )
            return
        assert plan is not None
        live = LiveInstance(container, adopted, plan.launch, instance.restart_count, adopted=True)
        _log.info(
            "container.adopted",
            pod=self.report.label,
            container=name,
            pid=adopted.pid,
            restart_count=instance.restart_count,
        )
        self.report.step(
            name, Step.SPAWNED, f"pid {adopted.pid}: adopted after the daemon's restart"
        )
        self._update_instance(name, instance.restart_count, post_start_done=True)
        self._live[name] = live
        if container in self.pod.spec.containers:
            self._has_initialized = True
        self._spawn(run_to_end, self._instances, self, live)

    # -- what one instance tells (instance.InstanceOwner) ----------------------------

    def start_failed(self, container: Container, restart_count: int, exit_: Exit) -> None:
        self._creating -= 1
        self._update_instance(container.name, restart_count, exit=exit_)
        self._settle(container.name)
        self._notify()

    def started(self, live: LiveInstance, started_at: datetime) -> None:
        self._creating -= 1
        pid = live.process.pid
        self._update_instance(
            live.name,
            live.restart_count,
            container_id=f"process://{pid}",
            pid=pid,
            started_at=started_at,
            start_ticks=live.process.start_ticks,
        )
        self._live[live.name] = live
        if live.container.lifecycle.post_start is None:
            self._settle(live.name)
        self._notify()  # a start is a change: the next init container may now be due

    def running(self, live: LiveInstance, group: anyio.abc.TaskGroup) -> None:
        if live.container.lifecycle.post_start is not None and not live.adopted:
            group.start_soon(self._post_start, live)
        else:
            self._start_probes(live)

    def exited(self, live: LiveInstance, exit_: Exit) -> None:
        if self._probes is not None:
            self._probes.remove(self.uid, live.name)
        self._update_instance(live.name, live.restart_count, exit=exit_)
        del self._live[live.name]
        self._keeper.end_stop(live.name)  # the stop (if any) is over
        live.exited.set()
        self._settle(live.name)  # it ended during its postStart (the hook failed, or not)
        self._notify()

    def _update_instance(self, name: str, restart_count: int, **changes: Any) -> None:
        """Change the newest instance of container ``name``, if it still is instance
        ``restart_count``."""
        record = self._records[name]
        latest = record.latest
        if latest is not None and latest.restart_count == restart_count:
            self._records[name] = record.with_latest(replace(latest, **changes))

    def _log_problems(self, container: Container) -> ProblemSink:
        """Trouble writing a container's log (a full disk) as events on the container."""

        def tell(problem: LogProblem) -> None:
            resumed = problem.reason == LOG_WRITE_RESUMED
            kind = EventType.NORMAL if resumed else EventType.WARNING
            self.report.event(container, kind, problem.reason, problem.message)

        return tell

    def _sink_for(self, container: str) -> LineSink | None:
        if self._log_sink is None:
            return None
        sink, pod = self._log_sink, self.pod
        return lambda stream, text: sink(pod, container, stream, text)

    # -- postStart and probes --------------------------------------------------------

    async def _post_start(self, live: LiveInstance) -> None:
        container = live.container
        hook = container.lifecycle.post_start
        assert hook is not None
        self.report.step(container.name, Step.HOOK, f"postStart {describe_hook(hook)} started")
        result = await run_hook(hook, container, self._runtime, live.launch, self.report.pod_label)
        if result.warning is not None:
            self.report.event(None, EventType.WARNING, *result.warning)
        self.report.step(
            container.name, Step.HOOK, f"postStart {'succeeded' if result.ok else 'failed'}"
        )
        if result.ok:
            self._update_instance(container.name, live.restart_count, post_start_done=True)
            self._settle(container.name)
            self._start_probes(live)  # the kubelet sees the container only now
            self._notify()
            return
        _log.warning(
            "container.post_start_failed",
            pod=self.report.label,
            container=container.name,
            detail=result.detail,
        )
        self.report.event(
            container, EventType.WARNING, "FailedPostStartHook", "PostStartHook failed"
        )
        grace = container_kill_grace(self.pod.spec, container, None)
        self._spawn(self._stop, live, StopOrder(grace, "FailedPostStartHook", self._minimum))

    # -- probing ---------------------------------------------------------------------

    def _start_probes(self, live: LiveInstance) -> None:
        if self._probes is None:
            return
        container = live.container
        listener = ProbeListener(
            verdict=lambda kind, result: self._probe_verdict(live, kind, result),
            event=lambda reason, message: self.report.event(
                container, EventType.WARNING, reason, message
            ),
            is_started=lambda: is_started(container, self._records[container.name]),
        )
        target = ProbeTarget(
            self.uid, self.pod.namespace, self.pod.name, container, live.launch, live.started_at
        )
        self._probes.add(target, listener)

    def _probe_verdict(self, live: LiveInstance, kind: ProbeKind, result: ProbeResult) -> None:
        name = live.name
        if self._live.get(name) is not live:
            return  # a verdict on an instance that is already gone
        self.report.step(name, Step.PROBE, f"{kind.value.lower()} probe: {result.value}")
        self._records[name] = apply_verdict(self._records[name], kind, result)
        self._notify()

    # -- stopping --------------------------------------------------------------------

    @property
    def _minimum(self) -> float:
        return self._settings.minimum_grace_period

    async def _stop(self, live: LiveInstance, order: StopOrder) -> None:
        await stop_container(live, order, runtime=self._runtime, report=self.report)

    async def _terminate(self) -> None:
        """Stop every running container: regular ones at once, sidecars in reverse order."""
        while self._creating:  # an instance being spawned is stopped like the others
            self._changed = anyio.Event()
            self._report()
            if self._creating:
                await self._changed.wait()
        state = self._state
        assert isinstance(state, Terminating)
        if self._probes is not None:
            self._probes.stop_liveness_and_startup(self.uid)
        async with anyio.create_task_group() as group:
            group.start_soon(self._report_while_stopping)
            if state.force:
                await kill_pod(self._live.values())
            else:
                grace = pod_grace(self.pod.spec, state.grace)
                await stop_pod(
                    self._live,
                    self.pod.spec,
                    grace,
                    minimum_window=self._minimum,
                    runtime=self._runtime,
                    report=self.report,
                    since=state.since,
                )
            group.cancel_scope.cancel()

    async def _report_while_stopping(self) -> None:
        """Statuses during termination: the sync loop no longer reports them."""
        while True:
            self._changed = anyio.Event()
            self._report()
            await self._changed.wait()

    # -- status, events, trace -------------------------------------------------------

    def _spawn(self, function: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
        assert self._group is not None, "the worker's tasks are not running"
        self._group.start_soon(function, *args)

    def _notify(self) -> None:
        self._changed.set()

    def _report(self) -> None:
        state = self._state
        how = state.how if isinstance(state, Terminated) else state
        terminal = isinstance(how, Terminating) and how.requested
        deadline = isinstance(how, Terminating) and how.deadline_exceeded
        self._keeper.update(
            self._records,
            terminal=terminal,
            has_initialized=self._has_initialized,
            deadline_exceeded=deadline,
        )
