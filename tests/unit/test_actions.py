"""What a pod does next (``computePodActions``, ``computeInitContainerActions``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pytest

from minikubelet.logic.actions import (
    BackingOff,
    KillContainer,
    PodActions,
    PodView,
    StartContainer,
    compute_pod_actions,
    kill_message,
)
from minikubelet.logic.backoff import BackoffEntry, BackoffPolicy
from minikubelet.model.observed import ContainerRecord
from minikubelet.model.spec import Container, ExecAction, PodSpec, Probe, RestartPolicy
from minikubelet.model.status import Exit, Instance

ALWAYS, ON_FAILURE, NEVER = RestartPolicy.ALWAYS, RestartPolicy.ON_FAILURE, RestartPolicy.NEVER
T0 = datetime(2025, 1, 1, tzinfo=UTC)
NOW = 100.0
PROBE = Probe(handler=ExecAction(("true",)))


# --- builders -------------------------------------------------------------------------


def regular(name: str) -> Container:
    return Container(name=name, command=("true",))


def sidecar(name: str, *, startup_probe: bool = False) -> Container:
    return Container(
        name=name,
        command=("true",),
        restart_policy=RestartPolicy.ALWAYS,
        startup_probe=PROBE if startup_probe else None,
    )


def running(
    name: str,
    *,
    post_start_done: bool = True,
    startup_ok: bool = False,
    unhealthy: str | None = None,
) -> ContainerRecord:
    instance = Instance(
        name, 0, f"local://{name}", T0, pid=10, started_at=T0, post_start_done=post_start_done
    )
    return ContainerRecord(
        name=name,
        instances=(instance,),
        startup_succeeded=startup_ok,
        unhealthy=unhealthy,
    )


def exited(name: str, exit_code: int, *, at: float = 90.0, reason: str = "") -> ContainerRecord:
    """A container whose only instance exited with ``exit_code`` at monotonic time ``at``."""
    end = Exit(exit_code, T0, reason=reason, monotonic=at)
    instance = Instance(name, 0, f"local://{name}", T0, started_at=T0, exit=end)
    return ContainerRecord(name=name, instances=(instance,))


def actions(
    containers: Sequence[Container],
    *records: ContainerRecord,
    init: Sequence[Container] = (),
    policy: RestartPolicy = ALWAYS,
    backoff: Mapping[str, BackoffEntry] | None = None,
    has_initialized: bool = False,
) -> PodActions:
    spec = PodSpec(containers=tuple(containers), init_containers=tuple(init), restart_policy=policy)
    view = PodView(
        spec=spec,
        records={r.name: r for r in records},
        backoff=backoff or {},
        policy=BackoffPolicy(),
        now=NOW,
        has_initialized=has_initialized,
    )
    return compute_pod_actions(view)


def starts(*names: str) -> tuple[StartContainer, ...]:
    """First starts (no back-off entry)."""
    return tuple(StartContainer(name) for name in names)


def restart(name: str) -> StartContainer:
    """A restart let through by back-off: the first one, so the initial delay is recorded."""
    return StartContainer(name, BackoffEntry(delay=10.0, last_update=NOW))


APP, WEB = regular("app"), regular("web")
SETUP, MIGRATE = regular("setup"), regular("migrate")
PROXY = sidecar("proxy")
PROBED_PROXY = sidecar("proxy", startup_probe=True)
IN_WINDOW = {"setup": BackoffEntry(delay=20.0, last_update=80.0)}  # exit at 90: wait till 110


# --- scenarios --------------------------------------------------------------------------

SCENARIOS = [
    pytest.param(actions([APP, WEB]), PodActions(start=starts("app", "web")), id="fresh-pod"),
    pytest.param(
        actions([APP, WEB], running("app"), has_initialized=True),
        PodActions(start=starts("web")),
        id="start-what-is-missing",
    ),
    pytest.param(
        actions([APP, WEB], running("app"), running("web"), has_initialized=True),
        PodActions(),
        id="steady",
    ),
    # init containers, one at a time in spec order
    pytest.param(
        actions([APP], init=[SETUP, MIGRATE]), PodActions(start=starts("setup")), id="init-first"
    ),
    pytest.param(
        actions([APP], running("setup"), init=[SETUP, MIGRATE]),
        PodActions(),
        id="init-running-waits",
    ),
    pytest.param(
        actions([APP], exited("setup", 0), init=[SETUP, MIGRATE]),
        PodActions(start=starts("migrate")),
        id="init-second",
    ),
    pytest.param(
        actions([APP, WEB], exited("setup", 0), exited("migrate", 0), init=[SETUP, MIGRATE]),
        PodActions(start=starts("app", "web")),
        id="init-done-starts-all-regular",
    ),
    # failed init containers
    pytest.param(
        actions([APP], exited("setup", 1), init=[SETUP, MIGRATE], policy=NEVER),
        PodActions(kill_pod=True),
        id="init-failed-never-kills-pod",
    ),
    pytest.param(
        actions([APP], exited("setup", 0, reason="OOMKilled"), init=[SETUP], policy=NEVER),
        PodActions(kill_pod=True),
        id="init-oom-killed-is-a-failure",
    ),
    pytest.param(
        actions([APP], exited("setup", 1), init=[SETUP, MIGRATE], policy=ON_FAILURE),
        PodActions(start=(restart("setup"),)),
        id="init-failed-on-failure-restarts",
    ),
    pytest.param(
        actions([APP], exited("setup", 1), init=[SETUP, MIGRATE], backoff=IN_WINDOW),
        PodActions(backing_off=(BackingOff("setup", delay=20.0, until=110.0),)),
        id="init-failed-always-backs-off",
    ),
    # sidecars gate the next init entry once started
    pytest.param(
        actions([APP], init=[PROXY, SETUP]), PodActions(start=starts("proxy")), id="sidecar-first"
    ),
    pytest.param(
        actions([APP], running("proxy", post_start_done=False), init=[PROXY, SETUP]),
        PodActions(),
        id="sidecar-post-start-pending",
    ),
    pytest.param(
        actions([APP], running("proxy"), init=[PROXY, SETUP]),
        PodActions(start=starts("setup")),
        id="sidecar-running-next-init",
    ),
    pytest.param(
        actions([APP], running("proxy"), init=[PROBED_PROXY, SETUP]),
        PodActions(),
        id="sidecar-startup-probe-pending",
    ),
    pytest.param(
        actions([APP], running("proxy", startup_ok=True), init=[PROBED_PROXY, SETUP]),
        PodActions(start=starts("setup")),
        id="sidecar-startup-probe-succeeded",
    ),
    pytest.param(
        actions([APP], running("proxy"), exited("setup", 0), init=[PROXY, SETUP]),
        PodActions(start=starts("app")),
        id="sidecar-and-init-done",
    ),
    pytest.param(
        actions([APP], exited("proxy", 1), init=[PROXY, SETUP], policy=NEVER),
        PodActions(start=(restart("proxy"),)),
        id="sidecar-exited-before-initialization",
    ),
    # after initialization
    pytest.param(
        actions(
            [APP],
            exited("proxy", 0),
            exited("setup", 0),
            running("app"),
            init=[PROXY, SETUP],
            policy=NEVER,
            has_initialized=True,
        ),
        PodActions(start=(restart("proxy"),)),
        id="crashed-sidecar-restarts-whatever-the-policy",
    ),
    pytest.param(
        actions(
            [APP],
            exited("proxy", 1),
            running("app"),
            init=[PROXY],
            backoff={"proxy": BackoffEntry(delay=40.0, last_update=85.0)},
            has_initialized=True,
        ),
        PodActions(backing_off=(BackingOff("proxy", delay=40.0, until=130.0),)),
        id="crashed-sidecar-backs-off",
    ),
    # regular containers that exited
    pytest.param(
        actions([APP], exited("app", 0), policy=NEVER, has_initialized=True),
        PodActions(kill_pod=True),
        id="never-exited-kills-pod",
    ),
    pytest.param(
        actions([APP], exited("app", 1), policy=NEVER, has_initialized=True),
        PodActions(kill_pod=True),
        id="never-failed-kills-pod",
    ),
    pytest.param(
        actions([APP], exited("app", 0), policy=ON_FAILURE, has_initialized=True),
        PodActions(kill_pod=True),
        id="on-failure-exit-0-kills-pod",
    ),
    pytest.param(
        actions([APP], exited("app", 1), policy=ON_FAILURE, has_initialized=True),
        PodActions(start=(restart("app"),)),
        id="on-failure-exit-1-restarts",
    ),
    pytest.param(
        actions([APP], exited("app", 0), policy=ALWAYS, has_initialized=True),
        PodActions(start=(restart("app"),)),
        id="always-exit-0-restarts",
    ),
    pytest.param(
        actions([APP, WEB], exited("app", 0), running("web"), policy=NEVER, has_initialized=True),
        PodActions(),
        id="never-one-exited-one-running",
    ),
    pytest.param(
        actions(
            [APP],
            running("proxy"),
            exited("app", 0),
            init=[PROXY],
            policy=NEVER,
            has_initialized=True,
        ),
        PodActions(kill_pod=True),
        id="job-with-sidecar-completes",
    ),
    pytest.param(
        actions(
            [APP],
            exited("app", 1, at=90.0),
            backoff={"app": BackoffEntry(delay=10.0, last_update=85.0)},
            has_initialized=True,
        ),
        PodActions(start=(StartContainer("app", BackoffEntry(20.0, NOW)),)),
        id="restart-exactly-at-until",
    ),
    pytest.param(
        actions(
            [APP],
            exited("app", 1, at=95.0),
            backoff={"app": BackoffEntry(delay=10.0, last_update=85.0)},
            has_initialized=True,
        ),
        PodActions(backing_off=(BackingOff("app", delay=10.0, until=105.0),)),
        id="crash-loop-back-off-keeps-the-pod",
    ),
    # unhealthy containers
    pytest.param(
        actions([APP], running("app", unhealthy="liveness"), has_initialized=True),
        PodActions(
            kill=(KillContainer("app", "Container app failed liveness probe, will be restarted"),)
        ),
        id="liveness-failure-always",
    ),
    pytest.param(
        actions(
            [APP], running("app", unhealthy="startup"), policy=ON_FAILURE, has_initialized=True
        ),
        PodActions(
            kill=(KillContainer("app", "Container app failed startup probe, will be restarted"),)
        ),
        id="startup-failure-on-failure",
    ),
    pytest.param(
        actions([APP], running("app", unhealthy="liveness"), policy=NEVER, has_initialized=True),
        PodActions(
            kill=(KillContainer("app", "Container app failed liveness probe"),), kill_pod=True
        ),
        id="liveness-failure-never-kills-pod",
    ),
    pytest.param(
        actions(
            [APP, WEB],
            running("app", unhealthy="liveness"),
            running("web"),
            policy=NEVER,
            has_initialized=True,
        ),
        PodActions(kill=(KillContainer("app", "Container app failed liveness probe"),)),
        id="liveness-failure-never-other-running",
    ),
    pytest.param(
        actions(
            [APP],
            running("proxy", unhealthy="liveness"),
            running("app"),
            init=[PROXY],
            policy=NEVER,
            has_initialized=True,
        ),
        PodActions(kill=(KillContainer("proxy", "Init container proxy failed liveness probe"),)),
        id="sidecar-liveness-failure",
    ),
    pytest.param(
        actions([APP], ContainerRecord("app", exited("app", 1).instances, unhealthy="liveness")),
        PodActions(start=(restart("app"),)),
        id="unhealthy-but-already-exited",
    ),
]


@pytest.mark.parametrize(("found", "expected"), SCENARIOS)
def test_compute_pod_actions(found: PodActions, expected: PodActions) -> None:
    assert found == expected


def test_wake_at_is_the_earliest_refused_restart() -> None:
    found = actions(
        [APP, WEB],
        exited("app", 1, at=95.0),
        exited("web", 1, at=92.0),
        backoff={
            "app": BackoffEntry(delay=40.0, last_update=90.0),  # until 135
            "web": BackoffEntry(delay=20.0, last_update=90.0),  # until 112
        },
        has_initialized=True,
    )
    assert {b.name: b.until for b in found.backing_off} == {"app": 135.0, "web": 112.0}
    assert found.wake_at == 112.0
    assert not found.kill_pod


def test_wake_at_is_none_without_back_off() -> None:
    assert actions([APP]).wake_at is None


@pytest.mark.parametrize(
    ("spec", "verdict", "policy", "message"),
    [
        pytest.param(
            APP,
            "liveness",
            ALWAYS,
            "Container app failed liveness probe, will be restarted",
            id="liveness-always",
        ),
        pytest.param(
            APP,
            "liveness",
            ON_FAILURE,
            "Container app failed liveness probe, will be restarted",
            id="liveness-on-failure",
        ),
        pytest.param(
            APP, "liveness", NEVER, "Container app failed liveness probe", id="liveness-never"
        ),
        pytest.param(
            APP,
            "startup",
            ALWAYS,
            "Container app failed startup probe, will be restarted",
            id="startup-always",
        ),
        pytest.param(
            APP, "startup", NEVER, "Container app failed startup probe", id="startup-never"
        ),
        pytest.param(
            PROXY,
            "liveness",
            ALWAYS,
            "Init container proxy failed liveness probe",
            id="sidecar-liveness",
        ),
        pytest.param(
            PROXY,
            "startup",
            NEVER,
            "Init container proxy failed startup probe",
            id="sidecar-startup-never",
        ),
    ],
)
def test_kill_message(spec: Container, verdict: str, policy: RestartPolicy, message: str) -> None:
    assert kill_message(spec, verdict, policy) == message
