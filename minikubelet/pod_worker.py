"""One worker per pod: it starts, watches, restarts and stops the pod's containers.

The worker is level-triggered, like the kubelet's ``podWorkers``: whenever something
changes (a process started or exited, a hook finished, a back-off window closed) it asks
``logic.actions.compute_pod_actions`` what the pod should do next, given the spec and
everything observed so far, and carries that out. It never sleeps on a timer except
until the earliest back-off deadline, so a restart happens exactly when the back-off
allows it, and an exit is noticed the moment the process's pidfd becomes readable.

Each container instance is supervised by its own task (``_supervise``): it pumps the
logs, runs postStart, waits for the exit, kills whatever the container left behind and
records the exit. Stopping a container is a separate, shielded task (``_stop``): preStop,
the stop signal, the grace period, SIGKILL to every process of the container.
"""

from __future__ import annotations

import os
import shlex
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import assert_never

import anyio
import anyio.abc
import structlog

from minikubelet.errors import RuntimeStartError
from minikubelet.events import EventRecorder
from minikubelet.lifecycle import run_hook
from minikubelet.logic.actions import PodView, StartContainer, compute_pod_actions
from minikubelet.logic.backoff import BackoffEntry, BackoffPolicy
from minikubelet.logic.environment import FieldContext, container_argv, container_env
from minikubelet.logic.phase import PhaseInputs, pod_conditions, pod_phase
from minikubelet.logic.status import container_status
from minikubelet.logic.termination import (
    DEADLINE_EXCEEDED_MESSAGE,
    MINIMUM_GRACE_PERIOD,
    active_deadline,
    container_kill_grace,
    pod_grace,
    stop_window,
    termination_order,
)
from minikubelet.model.duration import format_duration
from minikubelet.model.events import EventType
from minikubelet.model.observed import ContainerRecord
from minikubelet.model.probe import ProbeKind, ProbeResult
from minikubelet.model.spec import (
    Container,
    ExecAction,
    HookHandler,
    HTTPGetAction,
    Pod,
    SleepAction,
    TCPSocketAction,
)
from minikubelet.model.status import Exit, Instance, PodPhase, PodStatus, StartFailure
from minikubelet.model.trace import Step, TraceEntry
from minikubelet.prober.stats import ProbeLabels, ProbeStats
from minikubelet.prober.worker import ProbeRunner, ProbeWorker, WorkerHooks
from minikubelet.runtime.base import ContainerProcess, ContainerRuntime, Launch, LineSink
from minikubelet.runtime.logs import LogRotation, read_termination_message

__all__ = ["LogLineSink", "PodWorker", "Settings"]

_log = structlog.get_logger("minikubelet.pod")

TRACE_LIMIT = 2000  # steps kept per pod

LogLineSink = Callable[[Pod, str, str, str], None]  # (pod, container, stream, text)


@dataclass(frozen=True)
class Settings:
    """Engine settings shared by every pod worker (flags of ``run`` and ``serve``)."""

    root_dir: Path
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    minimum_grace_period: float = MINIMUM_GRACE_PERIOD
    base_env: Mapping[str, str] = field(default_factory=dict)
    node_name: str = "localhost"
    log_rotation: LogRotation = field(default_factory=LogRotation)
    field_context: FieldContext | None = None


@dataclass
class _Live:
    """A running instance the worker can signal, and the event set when it has exited."""

    container: Container
    process: ContainerProcess
    launch: Launch
    exited: anyio.Event = field(default_factory=anyio.Event)
    stopping: bool = False
    sigkilled: bool = False  # the stop sequence SIGKILLed it (so nothing was "left behind")
    started_at: float = 0.0  # monotonic
    probes: dict[ProbeKind, ProbeWorker] = field(default_factory=dict)


class PodWorker:
    def __init__(
        self,
        pod: Pod,
        *,
        uid: str,
        runtime: ContainerRuntime,
        recorder: EventRecorder,
        settings: Settings,
        clock: Callable[[], datetime],
        log_sink: LogLineSink | None = None,
        is_static: bool = False,
        prober: ProbeRunner | None = None,
        probe_stats: ProbeStats | None = None,
    ) -> None:
        self.pod = pod
        self._prober = prober
        self._probe_stats = probe_stats or ProbeStats()
        self.uid = uid
        self.is_static = is_static
        self._runtime = runtime
        self._recorder = recorder
        self._settings = settings
        self._clock = clock
        self._log_sink = log_sink
        spec = pod.spec
        self._records = {
            c.name: ContainerRecord(c.name) for c in spec.init_containers + spec.containers
        }
        self._backoff: dict[str, BackoffEntry] = {}
        self._backoff_reported: dict[str, float] = {}
        self._live: dict[str, _Live] = {}
        self._creating = 0  # instances being spawned, not yet in _live
        self._has_initialized = False
        self._completed = False  # nothing will run again
        self._terminating = False
        self._termination_requested: int | None = None  # the requested grace (None: spec)
        self._stop_requested = False
        self._deadline_exceeded = False
        self._force = False
        self._changed = anyio.Event()
        self._done = anyio.Event()
        self.start_time = clock()
        self.created_at = self.start_time  # metadata.creationTimestamp
        self.deletion_timestamp: datetime | None = None
        self.deletion_grace: int | None = None
        self._status = PodStatus(phase=PodPhase.PENDING, start_time=self.start_time)
        self._status_listeners: list[Callable[[PodWorker], None]] = []
        self._trace_listeners: list[Callable[[TraceEntry], None]] = []
        self.trace: deque[TraceEntry] = deque(maxlen=TRACE_LIMIT)
        # Per container: the steps of its last stop, from Killing to Exited (for describe).
        self.last_termination: dict[str, list[TraceEntry]] = {}
        self._recording_stop: set[str] = set()
        self._group: anyio.abc.TaskGroup | None = None
        self.pod_dir = settings.root_dir / "pods" / f"{pod.namespace}_{pod.name}_{uid}"

    # -- what others read ------------------------------------------------------------

    @property
    def status(self) -> PodStatus:
        return self._status

    @property
    def done(self) -> bool:
        """The worker has finished: every container is gone and none will start again."""
        return self._done.is_set()

    def on_status(self, listener: Callable[[PodWorker], None]) -> Callable[[], None]:
        """Call ``listener`` after every status change; returns the unsubscribe function."""
        self._status_listeners.append(listener)
        return lambda: self._status_listeners.remove(listener)

    def on_trace(self, listener: Callable[[TraceEntry], None]) -> Callable[[], None]:
        """Call ``listener`` for every lifecycle step from now on; returns the unsubscribe."""
        self._trace_listeners.append(listener)
        return lambda: self._trace_listeners.remove(listener)

    def records(self) -> Mapping[str, ContainerRecord]:
        return dict(self._records)

    def log_path(self, container: str, restart_count: int) -> Path:
        return self.pod_dir / container / f"{restart_count}.log"

    async def wait_done(self) -> None:
        await self._done.wait()

    # -- what others ask -------------------------------------------------------------

    def terminate(self, grace: int | None = None) -> None:
        """Stop the pod gracefully; a later call may only shorten the grace period."""
        if self._stop_requested and self._termination_requested is not None and grace is not None:
            grace = min(grace, self._termination_requested)
        self._stop_requested = True
        self._termination_requested = grace
        self._notify()

    def mark_deleted(self, grace: int | None = None) -> None:
        """A deletion: the pod shows a deletion timestamp, then terminates gracefully."""
        if self.deletion_timestamp is None:
            self.deletion_timestamp = self._clock()
        self.deletion_grace = pod_grace(self.pod.spec, grace)
        self.terminate(grace)

    def kill(self) -> None:
        """Stop the pod at once: SIGKILL every process, no hooks (a second Ctrl-C)."""
        self._stop_requested = True
        self._force = True
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
        if live is None or live.stopping or self._stop_requested or self._group is None:
            return False
        grace = container_kill_grace(self.pod.spec, live.container, None)
        self._group.start_soon(self._stop, live, grace, f"Container {name} restart requested")
        return True

    # -- the loop --------------------------------------------------------------------

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        _log.info("pod.added", pod=self._label, uid=self.uid)
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                task_status.started()
                deadline = active_deadline(self.pod.spec, anyio.current_time())
                while not self._stop_requested:
                    self._changed = anyio.Event()
                    wake_at = self.sync_once()
                    if self._completed:
                        break
                    if deadline is not None:
                        if anyio.current_time() >= deadline:
                            self._exceed_deadline()
                            break
                        wake_at = deadline if wake_at is None else min(wake_at, deadline)
                    await self._wait_for_change(wake_at)
                self._terminating = self._stop_requested
                await self._terminate_all()
        finally:
            self._refresh_status()
            self._done.set()
            _log.info("pod.finished", pod=self._label, phase=self._status.phase.value)

    async def _wait_for_change(self, wake_at: float | None) -> None:
        if wake_at is None:
            await self._changed.wait()
            return
        with anyio.move_on_after(max(wake_at - anyio.current_time(), 0)):
            await self._changed.wait()

    def sync_once(self) -> float | None:
        """One reconciliation step; returns when to wake up if nothing else happens."""
        now = anyio.current_time()
        view = PodView(
            spec=self.pod.spec,
            records=self._records,
            backoff=self._backoff,
            policy=self._settings.backoff,
            now=now,
            has_initialized=self._has_initialized,
        )
        actions = compute_pod_actions(view)
        assert self._group is not None
        for kill in actions.kill:
            live = self._live.get(kill.name)
            if live is not None and not live.stopping:
                verdict = self._records[kill.name].unhealthy
                grace = container_kill_grace(self.pod.spec, live.container, verdict)
                self._group.start_soon(self._stop, live, grace, kill.message)
        for start in actions.start:
            self._start(start)
        for refused in actions.backing_off:
            self._back_off(refused.name, refused.delay, refused.until)
        if actions.kill_pod:
            self._completed = True
        self._refresh_status()
        return actions.wake_at

    def _exceed_deadline(self) -> None:
        """activeDeadlineSeconds passed: the pod is killed and ends Failed, DeadlineExceeded."""
        self._deadline_exceeded = True
        self._stop_requested = True
        self._event(None, EventType.WARNING, "DeadlineExceeded", DEADLINE_EXCEEDED_MESSAGE)

    def _back_off(self, name: str, delay: float, until: float) -> None:
        container = self.pod.spec.container(name)
        message = (
            f"back-off {format_duration(delay)} restarting failed container={name} "
            f"pod={self.pod.full_name}({self.uid})"
        )
        record = self._records[name]
        self._records[name] = replace(
            record, start_failure=StartFailure("CrashLoopBackOff", message)
        )
        if self._backoff_reported.get(name) != until:
            self._backoff_reported[name] = until
            self._step(name, Step.RESTART, f"in {format_duration(delay)} (crash-loop back-off)")
            pod = f"{self.pod.full_name}({self.uid})"
            message = f"Back-off restarting failed container {name} in pod {pod}"
            self._event(container, EventType.WARNING, "BackOff", message)

    # -- starting --------------------------------------------------------------------

    def _start(self, start: StartContainer) -> None:
        """Record the new instance as created, then spawn and supervise it in a task."""
        spec = self.pod.spec
        container = spec.container(start.name)
        record = self._records[start.name]
        if start.backoff is not None:
            self._backoff[start.name] = start.backoff
        if container in spec.containers:
            self._has_initialized = True
        restart_count = record.next_restart_count
        if record.latest is not None:
            self._step(container.name, Step.RESTART, f"now (restart #{restart_count})")
        created = Instance(
            container_name=container.name,
            restart_count=restart_count,
            container_id="",
            created_at=self._clock(),
            post_start_done=container.lifecycle.post_start is None,
        )
        self._records[container.name] = record.with_new_instance(created)
        self._creating += 1
        assert self._group is not None
        self._group.start_soon(self._run_instance, container, created)

    async def _run_instance(self, container: Container, created: Instance) -> None:
        launch = self._launch(container, created.restart_count)
        try:
            # In a worker thread: creating the log file and vfork+exec block for a
            # millisecond or more, during which other pods' restarts can proceed.
            process = await self._runtime.start(launch, self._sink_for(container.name))
        except RuntimeStartError as error:
            # containerd reports a container that cannot start as exited 128, StartError.
            now = self._clock()
            exit_ = Exit(
                128, now, reason="StartError", message=str(error), monotonic=anyio.current_time()
            )
            self._update_instance(replace(created, exit=exit_))
            _log.warning(
                "container.start_failed",
                pod=self._label,
                container=container.name,
                error=str(error),
            )
            self._event(container, EventType.WARNING, "Failed", f"Error: {error}")
            return
        finally:
            self._creating -= 1
            self._notify()
        started = replace(
            created,
            container_id=f"process://{process.pid}",
            pid=process.pid,
            started_at=self._clock(),
        )
        self._update_instance(started)
        self._step(container.name, Step.SPAWNED, f"pid {process.pid}: {shlex.join(launch.argv)}")
        _log.info(
            "container.started",
            pod=self._label,
            container=container.name,
            pid=process.pid,
            argv=list(launch.argv),
            restart_count=created.restart_count,
        )
        self._event(container, EventType.NORMAL, "Created", f"Created container: {container.name}")
        self._event(container, EventType.NORMAL, "Started", f"Started container {container.name}")
        # The probe schedule starts when the process did, not when this task resumed: in
        # a burst of starts the event loop may take a while to get back here.
        spawned = anyio.current_time() - max(time.monotonic() - process.spawned_at, 0.0)
        live = _Live(container, process, launch, started_at=spawned)
        self._live[container.name] = live
        self._notify()  # a start is a change: the next init container may now be due
        await self._supervise(live, created.restart_count)

    def _update_instance(self, instance: Instance) -> None:
        """Replace the newest instance of its container, if it still is the newest."""
        record = self._records[instance.container_name]
        latest = record.latest
        if latest is not None and latest.restart_count == instance.restart_count:
            self._records[instance.container_name] = record.with_latest(instance)

    def _launch(self, container: Container, restart_count: int) -> Launch:
        settings = self._settings
        context = settings.field_context or FieldContext(uid=self.uid, node_name=settings.node_name)
        context = replace(context, uid=self.uid)
        env = container_env(self.pod, container, settings.base_env, context)
        message_path = self._termination_message_path(container, restart_count)
        if container.termination_message_path is None:
            # Per instance, under the container's log directory (which the log writer
            # creates): the container creates the file if it has something to say.
            env["MINIKUBELET_TERMINATION_LOG"] = str(message_path)
        else:
            # Written as asked: a fresh, empty file before each start, as the kubelet.
            message_path.parent.mkdir(parents=True, exist_ok=True)
            message_path.write_bytes(b"")
            message_path.chmod(0o666)
        workdir = self.pod.source.directory / (container.working_dir or ".")
        security = container.security_context
        return Launch(
            tag=f"{self.uid}/{container.name}",
            argv=container_argv(container, env),
            cwd=str(workdir),
            env=env,
            user=security.run_as_user if os.geteuid() == 0 else None,
            group=security.run_as_group if os.geteuid() == 0 else None,
            log_path=self.log_path(container.name, restart_count),
        )

    def _termination_message_path(self, container: Container, restart_count: int) -> Path:
        if container.termination_message_path is not None:
            return self.pod.source.directory / container.termination_message_path
        return self.pod_dir / container.name / f"{restart_count}.termination-log"

    def _sink_for(self, container: str) -> LineSink | None:
        if self._log_sink is None:
            return None
        sink, pod = self._log_sink, self.pod
        return lambda stream, text: sink(pod, container, stream, text)

    # -- supervising one instance ----------------------------------------------------

    async def _supervise(self, live: _Live, restart_count: int) -> None:
        container = live.container
        async with anyio.create_task_group() as group:
            group.start_soon(live.process.pump_logs)
            async with anyio.create_task_group() as hooks:
                if container.lifecycle.post_start is not None:
                    hooks.start_soon(self._post_start, live, hooks)
                else:
                    self._start_probes(live, hooks)
                status = await live.process.wait()
                self._step(
                    container.name, Step.EXITED, _describe_exit(status.exit_code, status.signal)
                )
                hooks.cancel_scope.cancel()
            with anyio.CancelScope(shield=True):
                # Nothing a container started outlives it (a PID namespace's init dying
                # takes every other process with it; we do the same by hand).
                leftovers = await live.process.kill_all()
            if leftovers and not live.sigkilled:
                pids = " ".join(map(str, sorted(leftovers)))
                count = f"{len(leftovers)} process{'es' if len(leftovers) != 1 else ''}"
                self._step(
                    container.name, Step.SIGNAL, f"SIGKILL -> {count} left behind (pids {pids})"
                )
        finished = self._clock()
        message = read_termination_message(
            self._termination_message_path(container, restart_count),
            self.log_path(container.name, restart_count),
            container.termination_message_policy,
            status.exit_code,
        )
        exit_ = Exit(
            exit_code=status.exit_code,
            finished_at=finished,
            signal=status.signal,
            message=message,
            monotonic=anyio.current_time(),
        )
        latest = self._records[container.name].latest
        if latest is not None and latest.restart_count == restart_count:
            self._update_instance(replace(latest, exit=exit_))
        del self._live[container.name]
        self._recording_stop.discard(container.name)  # the stop (if any) is over
        live.exited.set()
        _log.info(
            "container.exited",
            pod=self._label,
            container=container.name,
            pid=live.process.pid,
            exit_code=status.exit_code,
            signal=signal.Signals(status.signal).name if status.signal else None,
            leftovers=leftovers or None,
        )
        self._notify()

    async def _post_start(self, live: _Live, probes: anyio.abc.TaskGroup) -> None:
        container = live.container
        hook = container.lifecycle.post_start
        assert hook is not None
        self._step(container.name, Step.HOOK, f"postStart {_describe_hook(hook)} started")
        result = await run_hook(hook, container, self._runtime, live.launch, self._pod_label)
        self._step(container.name, Step.HOOK, f"postStart {'succeeded' if result.ok else 'failed'}")
        if result.ok:
            record = self._records[container.name]
            if record.latest is not None:
                self._records[container.name] = record.with_latest(
                    replace(record.latest, post_start_done=True)
                )
            self._start_probes(live, probes)  # the kubelet sees the container only now
            self._notify()
            return
        _log.warning(
            "container.post_start_failed",
            pod=self._label,
            container=container.name,
            detail=result.detail,
        )
        self._event(container, EventType.WARNING, "FailedPostStartHook", "PostStartHook failed")
        assert self._group is not None
        grace = container_kill_grace(self.pod.spec, container, None)
        self._group.start_soon(self._stop, live, grace, "FailedPostStartHook")

    # -- probing ---------------------------------------------------------------------

    def _start_probes(self, live: _Live, group: anyio.abc.TaskGroup) -> None:
        container = live.container
        if self._prober is None:
            return
        kinds = {
            ProbeKind.STARTUP: container.startup_probe,
            ProbeKind.LIVENESS: container.liveness_probe,
            ProbeKind.READINESS: container.readiness_probe,
        }
        for kind, probe in kinds.items():
            if probe is None:
                continue
            hooks = WorkerHooks(
                verdict=lambda kind, result: self._probe_verdict(live, kind, result),
                event=lambda reason, message: self._event(
                    container, EventType.WARNING, reason, message
                ),
                is_started=lambda: self._is_started(container),
            )
            labels = ProbeLabels(kind, container.name, self.pod.name, self.pod.namespace, self.uid)
            worker = ProbeWorker(
                kind,
                probe,
                container=container,
                launch=live.launch,
                runner=self._prober,
                hooks=hooks,
                labels=labels,
                stats=self._probe_stats,
                started_at=live.started_at,
            )
            live.probes[kind] = worker
            group.start_soon(worker.run)

    def _is_started(self, container: Container) -> bool:
        return container.startup_probe is None or self._records[container.name].startup_succeeded

    def _probe_verdict(self, live: _Live, kind: ProbeKind, result: ProbeResult) -> None:
        name = live.container.name
        if self._live.get(name) is not live:
            return  # a verdict on an instance that is already gone
        self._step(name, Step.PROBE, f"{kind.value.lower()} probe: {result.value}")
        record = self._records[name]
        ok = result is ProbeResult.SUCCESS
        match kind:
            case ProbeKind.STARTUP:
                record = replace(record, startup_succeeded=ok, unhealthy=None if ok else "startup")
            case ProbeKind.LIVENESS:
                record = replace(record, unhealthy=None if ok else "liveness")
            case ProbeKind.READINESS:
                record = replace(record, readiness_succeeded=ok)
        self._records[name] = record
        readiness = live.probes.get(ProbeKind.READINESS)
        if kind is ProbeKind.STARTUP and ok and readiness is not None:
            readiness.trigger()  # ready right after startup, not a whole period later
        self._notify()

    # -- stopping --------------------------------------------------------------------

    async def _stop(
        self,
        live: _Live,
        grace: float,
        message: str,
        wait_turn: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """preStop -> stop signal -> grace -> SIGKILL the whole container; never skipped."""
        if live.stopping:
            await live.exited.wait()
            return
        live.stopping = True
        container = live.container
        with anyio.CancelScope(shield=True):
            self._event(container, EventType.NORMAL, "Killing", message)
            began = anyio.current_time()
            pre_stop = container.lifecycle.pre_stop
            first = f"preStop {_describe_hook(pre_stop)}" if pre_stop is not None else message
            self.last_termination[container.name] = []
            self._recording_stop.add(container.name)
            self._step(container.name, Step.KILLING, f"{first} (grace period {grace:g}s)")
            if pre_stop is not None and grace > 0 and not live.exited.is_set():
                await self._pre_stop(live, grace)
            if wait_turn is not None:
                with anyio.move_on_after(grace - (anyio.current_time() - began)):
                    await wait_turn()
            window = stop_window(
                grace, anyio.current_time() - began, self._settings.minimum_grace_period
            )
            signum = _signal_number(container.lifecycle.stop_signal)
            if live.process.signal_main(signum):
                name = signal.Signals(signum).name
                self._step(container.name, Step.SIGNAL, f"{name} -> pid {live.process.pid}")
                _log.info(
                    "container.signalled",
                    pod=self._label,
                    container=container.name,
                    signal=signal.Signals(signum).name,
                    pid=live.process.pid,
                    grace=window,
                )
            with anyio.move_on_after(window):
                await live.exited.wait()
            if not live.exited.is_set():
                self._step(container.name, Step.GRACE, f"{window:g}s elapsed, process still alive")

                def killing(pids: list[int]) -> None:
                    live.sigkilled = True
                    count = f"{len(pids)} process{'es' if len(pids) != 1 else ''}"
                    listed = " ".join(map(str, pids))
                    self._step(container.name, Step.SIGNAL, f"SIGKILL -> {count} (pids {listed})")

                killed = await live.process.kill_all(killing)
                _log.info(
                    "container.killed",
                    pod=self._label,
                    container=container.name,
                    signal="SIGKILL",
                    pids=killed,
                    after=window,
                )
            await live.exited.wait()

    async def _pre_stop(self, live: _Live, grace: float) -> None:
        container = live.container
        hook = container.lifecycle.pre_stop
        assert hook is not None
        outcome = None
        with anyio.move_on_after(grace):
            async with anyio.create_task_group() as group:

                async def abort_when_exited() -> None:
                    await live.exited.wait()
                    group.cancel_scope.cancel()  # the hook is pointless once it is gone

                group.start_soon(abort_when_exited)
                outcome = await run_hook(
                    hook, container, self._runtime, live.launch, self._pod_label
                )
                group.cancel_scope.cancel()
        verdict = "timed out" if outcome is None else "succeeded" if outcome.ok else "failed"
        self._step(container.name, Step.HOOK, f"preStop {verdict}")
        if outcome is None:
            _log.warning(
                "container.pre_stop_timeout", pod=self._label, container=container.name, grace=grace
            )
        elif not outcome.ok:
            _log.warning(
                "container.pre_stop_failed",
                pod=self._label,
                container=container.name,
                detail=outcome.detail,
            )
            self._event(container, EventType.WARNING, "FailedPreStopHook", "PreStopHook failed")

    async def _terminate_all(self) -> None:
        """Stop every running container: regular ones at once, sidecars in reverse order."""
        while self._creating:  # an instance being spawned is stopped like the others
            self._changed = anyio.Event()
            if self._creating:
                await self._changed.wait()
        if self._force:
            await self._kill_all()
            return
        for live in self._live.values():
            # Liveness and startup stop when termination begins; readiness goes on.
            for kind in (ProbeKind.LIVENESS, ProbeKind.STARTUP):
                if kind in live.probes:
                    live.probes[kind].stop()
        grace = pod_grace(self.pod.spec, self._termination_requested)
        order = termination_order(self.pod.spec)
        async with anyio.create_task_group() as group:
            for name, live in list(self._live.items()):
                waits_for = order.get(name, ())

                async def wait_turn(waits_for: tuple[str, ...] = waits_for) -> None:
                    for other in waits_for:
                        other_live = self._live.get(other)
                        if other_live is not None:
                            await other_live.exited.wait()

                group.start_soon(self._stop, live, grace, f"Stopping container {name}", wait_turn)
            # A forced kill requested while stopping gracefully cuts the wait short.
            group.start_soon(self._watch_for_force)
        self._refresh_status()

    async def _watch_for_force(self) -> None:
        while True:
            self._changed = anyio.Event()
            if self._force:
                await self._kill_all()
                return
            if not self._live:
                return
            await self._changed.wait()

    async def _kill_all(self) -> None:
        with anyio.CancelScope(shield=True):
            for live in list(self._live.values()):
                await live.process.kill_all()
            for live in list(self._live.values()):
                await live.exited.wait()

    # -- status and events -----------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._refresh_status()

    def _refresh_status(self) -> None:
        spec = self.pod.spec
        has_init = bool(spec.init_containers)
        init_statuses = tuple(
            container_status(c, self._records[c.name], is_init=True, pod_has_init=has_init)
            for c in spec.init_containers
        )
        statuses = tuple(
            sorted(
                (
                    container_status(c, self._records[c.name], is_init=False, pod_has_init=has_init)
                    for c in spec.containers
                ),
                key=lambda s: s.name,
            )
        )
        inputs = PhaseInputs(
            spec=spec,
            init_statuses=init_statuses,
            statuses=statuses,
            terminal=self._terminating,
            has_initialized=self._has_initialized,
            is_static=self.is_static,
        )
        previous = self._status
        phase = pod_phase(inputs)
        reason = message = ""
        if self._deadline_exceeded:  # the kubelet forces Failed with this reason and message
            phase, reason, message = PodPhase.FAILED, "DeadlineExceeded", DEADLINE_EXCEEDED_MESSAGE
        if previous.phase.is_final:
            phase = previous.phase  # terminal phases are sticky
            reason, message = previous.reason or reason, previous.message or message
        conditions = pod_conditions(inputs, phase, previous.conditions, self._clock())
        self._status = PodStatus(
            phase=phase,
            conditions=conditions,
            init_container_statuses=init_statuses,
            container_statuses=statuses,
            start_time=self.start_time,
            reason=reason,
            message=message,
        )
        if phase is not previous.phase:
            _log.info(
                "pod.phase", pod=self._label, phase=phase.value, previous=previous.phase.value
            )
        if self._status != previous:
            for listener in list(self._status_listeners):
                listener(self)

    @property
    def _label(self) -> str:
        return f"{self.pod.namespace}/{self.pod.name}"

    @property
    def _pod_label(self) -> str:
        return f"{self.pod.full_name}({self.uid})"

    def _step(self, container: str, step: Step, detail: str) -> None:
        entry = TraceEntry(
            anyio.current_time(), self._clock(), self._label, container, step, detail
        )
        self.trace.append(entry)
        if container in self._recording_stop:
            self.last_termination[container].append(entry)
        for listener in list(self._trace_listeners):
            listener(entry)

    def _event(
        self, container: Container | None, type: EventType, reason: str, message: str
    ) -> None:
        field_path = ""
        if container is not None:
            kind = "initContainers" if container in self.pod.spec.init_containers else "containers"
            field_path = f"spec.{kind}{{{container.name}}}"
        self._recorder.record(
            namespace=self.pod.namespace,
            pod=self.pod.name,
            pod_uid=self.uid,
            type=type,
            reason=reason,
            message=message,
            field_path=field_path,
        )


def _describe_exit(code: int, signum: int | None) -> str:
    if signum is None:
        return f"code {code}"
    return f"code {code} (killed by {signal.Signals(signum).name})"


def _describe_hook(hook: HookHandler) -> str:
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


def _signal_number(name: str | None) -> int:
    if not name:
        return signal.SIGTERM
    return int(signal.Signals[name])
