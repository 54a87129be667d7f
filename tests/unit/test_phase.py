"""Pod phase (``getPhase``) and kubelet-owned conditions, from ContainerStatus values.

Follows ``getPhase`` and ``pkg/kubelet/status/generate.go``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from minikubelet.logic.phase import PhaseInputs, pod_conditions, pod_phase
from minikubelet.model.spec import Container, PodSpec, RestartPolicy
from minikubelet.model.status import (
    ConditionType,
    ContainerState,
    ContainerStatus,
    PodCondition,
    PodPhase,
    Running,
    Terminated,
    Waiting,
)

ALWAYS, ON_FAILURE, NEVER = RestartPolicy.ALWAYS, RestartPolicy.ON_FAILURE, RestartPolicy.NEVER
PENDING, RUNNING = PodPhase.PENDING, PodPhase.RUNNING
SUCCEEDED, FAILED = PodPhase.SUCCEEDED, PodPhase.FAILED
T0 = datetime(2025, 1, 1, tzinfo=UTC)
NOW = T0 + timedelta(minutes=5)


# --- builders -------------------------------------------------------------------------


def regular(name: str) -> Container:
    return Container(name=name, command=("true",))


def sidecar(name: str) -> Container:
    return Container(name=name, command=("true",), restart_policy=RestartPolicy.ALWAYS)


def _ended(exit_code: int) -> Terminated:
    reason = "Completed" if exit_code == 0 else "Error"
    return Terminated(exit_code, reason, T0, T0 + timedelta(seconds=1), "local://1")


def _status(
    name: str,
    state: ContainerState,
    *,
    last: int | None = None,
    ready: bool = False,
    started: bool = False,
) -> ContainerStatus:
    return ContainerStatus(
        name=name,
        state=state,
        last_state=_ended(last) if last is not None else None,
        ready=ready,
        restart_count=0 if last is None else 1,
        image="",
        started=started,
    )


def running(name: str, *, started: bool = True, ready: bool = True) -> ContainerStatus:
    return _status(name, Running(T0), ready=ready, started=started)


def waiting(
    name: str, reason: str = "ContainerCreating", *, last: int | None = None
) -> ContainerStatus:
    """Waiting; with ``last`` (an exit code) it is a restart such as CrashLoopBackOff."""
    return _status(name, Waiting(reason), last=last)


def crash_loop(name: str, last: int = 1) -> ContainerStatus:
    return waiting(name, "CrashLoopBackOff", last=last)


def terminated(name: str, exit_code: int = 0, *, ready: bool | None = None) -> ContainerStatus:
    """Terminated; ``ready`` defaults to what an init container would report."""
    return _status(name, _ended(exit_code), ready=exit_code == 0 if ready is None else ready)


def inputs(
    *containers: Container,
    init: Sequence[Container] = (),
    statuses: Sequence[ContainerStatus] = (),
    policy: RestartPolicy = ALWAYS,
    terminal: bool = False,
    has_initialized: bool = False,
    static: bool = False,
) -> PhaseInputs:
    """A pod of ``containers`` (and ``init``); ``statuses`` are split between both lists."""
    spec = PodSpec(containers=containers, init_containers=tuple(init), restart_policy=policy)
    init_names = {c.name for c in init}
    return PhaseInputs(
        spec=spec,
        init_statuses=[s for s in statuses if s.name in init_names],
        statuses=[s for s in statuses if s.name not in init_names],
        terminal=terminal,
        has_initialized=has_initialized,
        is_static=static,
    )


APP, WEB = regular("app"), regular("web")
SETUP, MIGRATE = regular("setup"), regular("migrate")
PROXY = sidecar("proxy")


# --- pod_phase -------------------------------------------------------------------------

PHASE_CASES = [
    # getPhase's last rule / unknown statuses
    pytest.param(inputs(APP), PENDING, id="no-statuses"),
    pytest.param(inputs(APP, WEB, statuses=[running("app")]), PENDING, id="one-status-missing"),
    pytest.param(inputs(APP, statuses=[waiting("app")]), PENDING, id="container-creating"),
    # regular init containers
    pytest.param(
        inputs(APP, init=[SETUP], statuses=[running("setup"), waiting("app", "PodInitializing")]),
        PENDING,
        id="init-running",
    ),
    pytest.param(
        inputs(APP, init=[SETUP], statuses=[waiting("app", "PodInitializing")]),
        PENDING,
        id="init-no-status",
    ),
    pytest.param(
        inputs(APP, init=[SETUP], statuses=[waiting("setup", "PodInitializing")], policy=NEVER),
        PENDING,
        id="init-waiting-first-start",
    ),
    pytest.param(
        inputs(APP, init=[SETUP], statuses=[terminated("setup", 1)], policy=NEVER),
        FAILED,
        id="init-failed-never",
    ),
    pytest.param(
        inputs(APP, init=[SETUP], statuses=[crash_loop("setup")], policy=NEVER),
        FAILED,
        id="init-failed-never-via-last-state",
    ),
    pytest.param(
        inputs(APP, init=[SETUP], statuses=[terminated("setup", 1), running("app")], policy=NEVER),
        FAILED,
        id="init-failed-never-wins-over-everything",
    ),
    pytest.param(
        inputs(
            APP,
            init=[SETUP],
            statuses=[crash_loop("setup"), waiting("app", "PodInitializing")],
            policy=ALWAYS,
        ),
        PENDING,
        id="init-failed-always-restarting",
    ),
    pytest.param(
        inputs(
            APP,
            init=[SETUP],
            statuses=[terminated("setup", 1), waiting("app", "PodInitializing")],
            policy=ON_FAILURE,
        ),
        PENDING,
        id="init-failed-on-failure",
    ),
    pytest.param(
        inputs(APP, init=[SETUP], statuses=[terminated("setup", 0), running("app")]),
        RUNNING,
        id="init-done-app-running",
    ),
    pytest.param(
        inputs(
            APP,
            init=[SETUP, MIGRATE],
            statuses=[terminated("setup", 0), crash_loop("migrate", last=0), running("app")],
        ),
        RUNNING,
        id="init-waiting-after-exit-0-counts-done",
    ),
    # sidecars
    pytest.param(
        inputs(
            APP,
            init=[PROXY],
            statuses=[running("proxy", started=False), waiting("app", "PodInitializing")],
        ),
        PENDING,
        id="sidecar-not-started-app-waiting",
    ),
    pytest.param(
        inputs(APP, init=[PROXY], statuses=[running("proxy", started=False), running("app")]),
        PENDING,
        id="sidecar-not-started-before-initialized",
    ),
    pytest.param(
        inputs(
            APP,
            init=[PROXY],
            statuses=[running("proxy", started=False), running("app")],
            has_initialized=True,
        ),
        RUNNING,
        id="sidecar-not-started-after-initialized",
    ),
    pytest.param(
        inputs(APP, init=[PROXY], statuses=[running("app")]),
        PENDING,
        id="sidecar-no-status-is-unknown",
    ),
    pytest.param(
        inputs(
            APP,
            init=[PROXY],
            statuses=[waiting("proxy", "PodInitializing"), running("app")],
            has_initialized=True,
        ),
        PENDING,
        id="sidecar-waiting-first-start",
    ),
    pytest.param(
        inputs(
            APP,
            init=[PROXY],
            statuses=[crash_loop("proxy"), running("app")],
            has_initialized=True,
        ),
        RUNNING,
        id="sidecar-crash-loop-ignored",
    ),
    pytest.param(
        inputs(APP, init=[PROXY], statuses=[terminated("proxy", 137), terminated("app", 0)]),
        RUNNING,
        id="sidecar-exit-ignored-always",
    ),
    pytest.param(
        inputs(
            APP,
            init=[PROXY],
            statuses=[terminated("proxy", 137), terminated("app", 0)],
            policy=NEVER,
        ),
        SUCCEEDED,
        id="sidecar-exit-ignored-never",
    ),
    # regular containers
    pytest.param(
        inputs(APP, WEB, statuses=[running("app"), waiting("web")]),
        PENDING,
        id="running-and-container-creating",
    ),
    pytest.param(
        inputs(APP, WEB, statuses=[running("app"), running("web")]), RUNNING, id="all-running"
    ),
    pytest.param(
        inputs(APP, WEB, statuses=[terminated("app", 0), terminated("web", 1)]),
        RUNNING,
        id="always-all-exited",
    ),
    pytest.param(
        inputs(APP, statuses=[crash_loop("app")]), RUNNING, id="crash-loop-back-off-always"
    ),
    pytest.param(
        inputs(APP, statuses=[crash_loop("app")], policy=ON_FAILURE),
        RUNNING,
        id="crash-loop-back-off-on-failure",
    ),
    pytest.param(
        inputs(APP, statuses=[crash_loop("app", last=0)], policy=ON_FAILURE),
        RUNNING,
        id="restarting-never-counts-as-succeeded",
    ),
    pytest.param(
        inputs(APP, WEB, statuses=[terminated("app", 0), terminated("web", 0)], policy=ON_FAILURE),
        SUCCEEDED,
        id="on-failure-all-exit-0",
    ),
    pytest.param(
        inputs(APP, WEB, statuses=[terminated("app", 0), terminated("web", 2)], policy=ON_FAILURE),
        RUNNING,
        id="on-failure-one-failed",
    ),
    pytest.param(
        inputs(APP, WEB, statuses=[terminated("app", 1), running("web")], policy=NEVER),
        RUNNING,
        id="never-one-failed-one-running",
    ),
    pytest.param(
        inputs(APP, WEB, statuses=[terminated("app", 1), terminated("web", 0)], policy=NEVER),
        FAILED,
        id="never-all-done-with-a-failure",
    ),
    pytest.param(
        inputs(APP, statuses=[terminated("app", 0)], policy=NEVER), SUCCEEDED, id="never-exit-0"
    ),
    # terminal (deleted / stopped) pods
    pytest.param(
        inputs(APP, statuses=[terminated("app", 0)], terminal=True),
        SUCCEEDED,
        id="terminal-exit-0",
    ),
    pytest.param(
        inputs(APP, statuses=[terminated("app", 143)], terminal=True),
        FAILED,
        id="terminal-exit-143",
    ),
    pytest.param(
        inputs(APP, statuses=[crash_loop("app", last=0)], terminal=True),
        FAILED,
        id="terminal-restarting-is-not-success",
    ),
    pytest.param(
        inputs(APP, WEB, statuses=[terminated("app", 143), running("web")], terminal=True),
        RUNNING,
        id="terminal-still-running",
    ),
    pytest.param(
        inputs(APP, statuses=[terminated("app", 143)], terminal=True, static=True),
        RUNNING,
        id="terminal-static-always",
    ),
    pytest.param(
        inputs(APP, statuses=[terminated("app", 143)], terminal=True, static=True, policy=NEVER),
        FAILED,
        id="terminal-static-never",
    ),
    pytest.param(
        inputs(APP, statuses=[terminated("app", 0)], terminal=True, static=True, policy=ON_FAILURE),
        SUCCEEDED,
        id="terminal-static-on-failure-exit-0",
    ),
]


@pytest.mark.parametrize(("pod", "expected"), PHASE_CASES)
def test_pod_phase(pod: PhaseInputs, expected: PodPhase) -> None:
    assert pod_phase(pod) is expected


# --- pod_conditions --------------------------------------------------------------------


def conditions(
    pod: PhaseInputs,
    previous: Sequence[PodCondition] = (),
    *,
    phase: PodPhase | None = None,
    sandbox_ready: bool = True,
) -> dict[ConditionType, PodCondition]:
    phase = pod_phase(pod) if phase is None else phase
    found = pod_conditions(pod, phase, previous, NOW, sandbox_ready=sandbox_ready)
    return {c.type: c for c in found}


def summary(condition: PodCondition) -> tuple[bool, str, str]:
    return condition.status, condition.reason, condition.message


def test_conditions_come_in_the_kubelets_order() -> None:
    found = pod_conditions(inputs(APP), PENDING, (), NOW)
    assert [c.type for c in found] == [
        ConditionType.POD_READY_TO_START_CONTAINERS,
        ConditionType.INITIALIZED,
        ConditionType.READY,
        ConditionType.CONTAINERS_READY,
        ConditionType.POD_SCHEDULED,
    ]


@pytest.mark.parametrize("sandbox_ready", [True, False])
def test_pod_scheduled_and_ready_to_start(sandbox_ready: bool) -> None:
    found = conditions(inputs(APP), sandbox_ready=sandbox_ready)
    assert summary(found[ConditionType.POD_SCHEDULED]) == (True, "", "")
    assert summary(found[ConditionType.POD_READY_TO_START_CONTAINERS]) == (sandbox_ready, "", "")


NOT_INITIALIZED = "ContainersNotInitialized"

INITIALIZED_CASES = [
    pytest.param(inputs(APP), (True, "", ""), id="no-init-containers"),
    pytest.param(
        inputs(
            APP, init=[SETUP, MIGRATE], statuses=[running("setup", ready=False), waiting("migrate")]
        ),
        (False, NOT_INITIALIZED, "containers with incomplete status: [setup migrate]"),
        id="incomplete",
    ),
    pytest.param(
        inputs(APP, init=[SETUP, MIGRATE], statuses=[terminated("setup", 1)]),
        (
            False,
            NOT_INITIALIZED,
            "containers with unknown status: [migrate], containers with incomplete status: [setup]",
        ),
        id="unknown-listed-first",
    ),
    pytest.param(
        inputs(APP, init=[SETUP], statuses=[]),
        (False, NOT_INITIALIZED, "containers with unknown status: [setup]"),
        id="unknown-only",
    ),
    pytest.param(
        inputs(APP, init=[SETUP, PROXY], statuses=[terminated("setup", 0), running("proxy")]),
        (True, "", ""),
        id="init-done-sidecar-started",
    ),
    pytest.param(
        inputs(
            APP,
            init=[SETUP, PROXY],
            statuses=[terminated("setup", 0), running("proxy", started=False, ready=False)],
        ),
        (False, NOT_INITIALIZED, "containers with incomplete status: [proxy]"),
        id="sidecar-not-started",
    ),
    pytest.param(
        inputs(APP, init=[PROXY], statuses=[crash_loop("proxy"), running("app")]),
        (True, "", ""),
        id="regular-running-means-initialized",
    ),
    pytest.param(
        inputs(APP, init=[PROXY], statuses=[crash_loop("proxy"), terminated("app", 1)]),
        (True, "", ""),
        id="regular-terminated-means-initialized",
    ),
    pytest.param(
        # HasAnyRegularContainerStarted looks at Running/Terminated only.
        inputs(APP, init=[PROXY], statuses=[crash_loop("proxy"), crash_loop("app")]),
        (False, NOT_INITIALIZED, "containers with incomplete status: [proxy]"),
        id="regular-waiting-with-last-state-does-not-count",
    ),
    pytest.param(
        inputs(
            APP,
            init=[SETUP],
            statuses=[terminated("setup", 0), terminated("app", 0)],
            policy=NEVER,
        ),
        (True, "PodCompleted", ""),
        id="succeeded",
    ),
]


@pytest.mark.parametrize(("pod", "expected"), INITIALIZED_CASES)
def test_initialized_condition(pod: PhaseInputs, expected: tuple[bool, str, str]) -> None:
    assert summary(conditions(pod)[ConditionType.INITIALIZED]) == expected


NOT_READY = "ContainersNotReady"

READY_CASES = [
    pytest.param(
        inputs(APP, WEB, statuses=[running("app"), running("web")]),
        None,
        (True, "", ""),
        id="all-ready",
    ),
    pytest.param(
        inputs(APP, WEB, statuses=[running("app", ready=False), waiting("web")]),
        None,
        (False, NOT_READY, "containers with unready status: [app web]"),
        id="unready",
    ),
    pytest.param(
        inputs(APP, WEB, statuses=[running("web", ready=False)]),
        None,
        (
            False,
            NOT_READY,
            "containers with unknown status: [app], containers with unready status: [web]",
        ),
        id="unknown-listed-first",
    ),
    pytest.param(
        inputs(APP, init=[PROXY], statuses=[running("proxy", ready=False), running("app")]),
        RUNNING,
        (False, NOT_READY, "containers with unready status: [proxy]"),
        id="sidecar-counts",
    ),
    pytest.param(
        inputs(APP, init=[SETUP], statuses=[terminated("setup", 1, ready=False), running("app")]),
        RUNNING,
        (True, "", ""),
        id="regular-init-does-not-count",
    ),
    pytest.param(
        inputs(APP, statuses=[terminated("app", 0, ready=False)], policy=NEVER),
        None,
        (False, "PodCompleted", ""),
        id="succeeded",
    ),
    pytest.param(
        inputs(APP, statuses=[terminated("app", 1, ready=False)], policy=NEVER),
        None,
        (False, "PodFailed", ""),
        id="failed",
    ),
    pytest.param(
        inputs(APP, WEB, statuses=[terminated("app", 1, ready=False), running("web")]),
        FAILED,
        (False, "PodFailed", ""),
        id="failed-while-still-terminating",
    ),
]


@pytest.mark.parametrize(("pod", "phase", "expected"), READY_CASES)
def test_containers_ready_and_ready(
    pod: PhaseInputs, phase: PodPhase | None, expected: tuple[bool, str, str]
) -> None:
    found = conditions(pod, phase=phase)
    assert summary(found[ConditionType.CONTAINERS_READY]) == expected
    assert summary(found[ConditionType.READY]) == expected  # Ready copies ContainersReady


EARLIER = T0 + timedelta(minutes=1)


def previous(
    kind: ConditionType, status: bool, reason: str = "", message: str = ""
) -> PodCondition:
    return PodCondition(kind, status, reason, message, last_transition_time=EARLIER)


@pytest.mark.parametrize(
    ("before", "expected_time"),
    [
        pytest.param((), NOW, id="first-time"),
        pytest.param(
            (previous(ConditionType.READY, False, NOT_READY, "containers with unready status: x"),),
            EARLIER,
            id="same-status-other-message-keeps-time",
        ),
        pytest.param((previous(ConditionType.READY, True),), NOW, id="flipped"),
    ],
)
def test_last_transition_time_changes_only_when_status_flips(
    before: tuple[PodCondition, ...], expected_time: datetime
) -> None:
    pod = inputs(APP, statuses=[running("app", ready=False)])
    ready = conditions(pod, before)[ConditionType.READY]
    assert summary(ready) == (False, NOT_READY, "containers with unready status: [app]")
    assert ready.last_transition_time == expected_time


def test_every_condition_keeps_its_own_transition_time() -> None:
    pod = inputs(APP, statuses=[running("app")])
    before = {kind: previous(kind, True) for kind in ConditionType}
    before[ConditionType.INITIALIZED] = previous(ConditionType.INITIALIZED, False, NOT_INITIALIZED)
    found = conditions(pod, list(before.values()))
    times = {kind: c.last_transition_time for kind, c in found.items()}
    assert times == {
        ConditionType.POD_READY_TO_START_CONTAINERS: EARLIER,
        ConditionType.INITIALIZED: NOW,
        ConditionType.READY: EARLIER,
        ConditionType.CONTAINERS_READY: EARLIER,
        ConditionType.POD_SCHEDULED: EARLIER,
    }
