"""ContainerStatus from observed instances.

Follows ``convertToAPIContainerStatuses`` and ``prober_manager.go UpdatePodStatus``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from minikubelet.logic.status import container_status
from minikubelet.model.observed import ContainerRecord
from minikubelet.model.spec import Container, ExecAction, Probe, RestartPolicy
from minikubelet.model.status import (
    ContainerState,
    ContainerStatus,
    Exit,
    Instance,
    Running,
    StartFailure,
    Terminated,
    Waiting,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
PROBE = Probe(handler=ExecAction(("true",)))


# --- builders -------------------------------------------------------------------------


def container(
    name: str = "app", *, startup: bool = False, readiness: bool = False, sidecar: bool = False
) -> Container:
    return Container(
        name=name,
        command=("true",),
        image="local/app",
        startup_probe=PROBE if startup else None,
        readiness_probe=PROBE if readiness else None,
        restart_policy=RestartPolicy.ALWAYS if sidecar else None,
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def instance(
    restart_count: int = 0,
    *,
    started: float | None = 1.0,
    exit_code: int | None = None,
    reason: str = "",
    message: str = "",
    signal: int | None = None,
    post_start_done: bool = True,
) -> Instance:
    """Instance ``restart_count``, started at T0+``started`` s, exited 10 s later if asked."""
    exit_ = None
    if exit_code is not None:
        finished = at((started or 0.0) + 10)
        exit_ = Exit(exit_code, finished, signal=signal, reason=reason, message=message)
    return Instance(
        container_name="app",
        restart_count=restart_count,
        container_id=f"local://app-{restart_count}",
        created_at=T0,
        pid=1000 + restart_count,
        started_at=at(started) if started is not None else None,
        exit=exit_,
        post_start_done=post_start_done,
    )


def record(
    *instances: Instance,
    failure: StartFailure | None = None,
    startup_ok: bool = False,
    readiness_ok: bool = False,
) -> ContainerRecord:
    """A record whose instances are given newest first."""
    return ContainerRecord(
        name="app",
        instances=instances,
        start_failure=failure,
        startup_succeeded=startup_ok,
        readiness_succeeded=readiness_ok,
    )


def status_of(
    rec: ContainerRecord,
    spec: Container | None = None,
    *,
    is_init: bool = False,
    pod_has_init: bool = False,
) -> ContainerStatus:
    return container_status(spec or container(), rec, is_init=is_init, pod_has_init=pod_has_init)


def ended(
    exit_code: int,
    reason: str,
    *,
    started: float = 1.0,
    restart_count: int = 0,
    message: str = "",
    signal: int | None = None,
) -> Terminated:
    """The terminated state ``instance(...)`` with the same arguments should produce."""
    return Terminated(
        exit_code=exit_code,
        reason=reason,
        started_at=at(started),
        finished_at=at(started + 10),
        container_id=f"local://app-{restart_count}",
        message=message,
        signal=signal,
    )


# --- states -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pod_has_init", "reason"),
    [
        pytest.param(False, "ContainerCreating", id="container-creating"),
        pytest.param(True, "PodInitializing", id="pod-initializing"),
    ],
)
def test_no_instance_yet(pod_has_init: bool, reason: str) -> None:
    status = status_of(record(), pod_has_init=pod_has_init)
    assert status == ContainerStatus(
        name="app",
        state=Waiting(reason),
        last_state=None,
        ready=False,
        restart_count=0,
        image="local/app",
        container_id="",
        started=False,
    )


@pytest.mark.parametrize(("is_init", "pod_has_init"), [(False, True), (True, True)])
def test_default_reason_applies_to_both_lists(is_init: bool, pod_has_init: bool) -> None:
    assert status_of(record(), is_init=is_init, pod_has_init=pod_has_init).state == Waiting(
        "PodInitializing"
    )


STATE_CASES = [
    pytest.param(instance(), Running(at(1.0)), id="running"),
    pytest.param(instance(started=None), Waiting("ContainerCreating"), id="created-not-started"),
    pytest.param(
        instance(post_start_done=False), Waiting("ContainerCreating"), id="post-start-pending"
    ),
    pytest.param(instance(exit_code=0), ended(0, "Completed"), id="exit-0-completed"),
    pytest.param(instance(exit_code=1), ended(1, "Error"), id="exit-1-error"),
    pytest.param(
        instance(exit_code=137, signal=9), ended(137, "Error", signal=9), id="sigkill-137"
    ),
    pytest.param(
        instance(exit_code=143, signal=15), ended(143, "Error", signal=15), id="sigterm-143"
    ),
    pytest.param(
        instance(exit_code=128, reason="StartError", message="exec: no such file"),
        ended(128, "StartError", message="exec: no such file"),
        id="start-error-kept",
    ),
    pytest.param(
        instance(exit_code=137, reason="OOMKilled"), ended(137, "OOMKilled"), id="oom-killed-kept"
    ),
]


@pytest.mark.parametrize(("latest", "state"), STATE_CASES)
def test_state_of_the_newest_instance(latest: Instance, state: ContainerState) -> None:
    status = status_of(record(latest))
    assert status.state == state
    assert status.last_state is None
    assert status.container_id == "local://app-0"


def test_last_state_comes_from_the_previous_instance() -> None:
    status = status_of(record(instance(1, started=20.0), instance(0, exit_code=1)))
    assert status.state == Running(at(20.0))
    assert status.last_state == ended(1, "Error")
    assert status.restart_count == 1
    assert status.container_id == "local://app-1"


def test_two_exited_instances() -> None:
    status = status_of(record(instance(1, started=20.0, exit_code=2), instance(0, exit_code=1)))
    assert status.state == ended(2, "Error", started=20.0, restart_count=1)
    assert status.last_state == ended(1, "Error")


BACK_OFF = StartFailure("CrashLoopBackOff", "back-off 10s restarting failed container=app")


def test_crash_loop_back_off_moves_the_terminated_state_to_last_state() -> None:
    rec = record(instance(1, started=20.0, exit_code=1), instance(0, exit_code=1), failure=BACK_OFF)
    status = status_of(rec)
    assert status.state == Waiting(BACK_OFF.reason, BACK_OFF.message)
    assert status.last_state == ended(1, "Error", started=20.0, restart_count=1)
    assert status.restart_count == 1
    assert (status.ready, status.started) == (False, False)


def test_start_failure_before_any_instance() -> None:
    failure = StartFailure("RunContainerError", "executable file not found")
    status = status_of(record(failure=failure))
    assert status.state == Waiting("RunContainerError", "executable file not found")
    assert status.last_state is None


# --- ready and started (UpdatePodStatus) ----------------------------------------------------------

READY_CASES = [
    # (startup probe, startup ok, readiness probe, readiness ok) -> (started, ready)
    pytest.param(False, False, False, False, True, True, id="no-probes"),
    pytest.param(True, False, False, False, False, False, id="startup-pending"),
    pytest.param(True, False, True, True, False, False, id="startup-pending-gates-readiness"),
    pytest.param(True, True, False, False, True, True, id="startup-succeeded"),
    pytest.param(False, False, True, False, True, False, id="readiness-pending"),
    pytest.param(False, False, True, True, True, True, id="readiness-succeeded"),
    pytest.param(True, True, True, False, True, False, id="started-not-ready"),
    pytest.param(True, True, True, True, True, True, id="both-succeeded"),
]


@pytest.mark.parametrize(
    ("startup", "startup_ok", "readiness", "readiness_ok", "started", "ready"), READY_CASES
)
@pytest.mark.parametrize("sidecar", [False, True], ids=["regular", "sidecar"])
def test_started_and_ready_of_a_running_container(
    startup: bool,
    startup_ok: bool,
    readiness: bool,
    readiness_ok: bool,
    started: bool,
    ready: bool,
    sidecar: bool,
) -> None:
    spec = container(startup=startup, readiness=readiness, sidecar=sidecar)
    rec = record(instance(), startup_ok=startup_ok, readiness_ok=readiness_ok)
    status = status_of(rec, spec, is_init=sidecar, pod_has_init=sidecar)
    assert (status.started, status.ready) == (started, ready)


@pytest.mark.parametrize(
    "latest",
    [
        pytest.param(instance(exit_code=0), id="exited"),
        pytest.param(instance(post_start_done=False), id="post-start-pending"),
        pytest.param(instance(started=None), id="created"),
    ],
)
def test_a_container_that_is_not_running_is_neither_started_nor_ready(latest: Instance) -> None:
    rec = record(latest, startup_ok=True, readiness_ok=True)
    status = status_of(rec)
    assert (status.started, status.ready) == (False, False)


@pytest.mark.parametrize(
    ("latest", "failure", "ready", "started"),
    [
        pytest.param(None, None, False, False, id="not-started"),
        pytest.param(instance(), None, False, True, id="running"),
        pytest.param(instance(exit_code=0), None, True, False, id="exited-0"),
        pytest.param(instance(exit_code=1), None, False, False, id="exited-1"),
        pytest.param(instance(exit_code=1), BACK_OFF, False, False, id="crash-loop"),
    ],
)
def test_init_container_is_ready_only_when_exited_0(
    latest: Instance | None, failure: StartFailure | None, ready: bool, started: bool
) -> None:
    rec = record(*(latest,) if latest else (), failure=failure)
    status = status_of(rec, container("setup"), is_init=True, pod_has_init=True)
    assert (status.ready, status.started) == (ready, started)
