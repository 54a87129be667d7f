"""The pod worker on the fake runtime, on virtual time: exact times, no processes.

trio's ``MockClock(autojump_threshold=0)`` jumps to the next deadline whenever every task
is blocked, so a crash loop of several minutes runs in milliseconds and every assertion
on time is an ``==``. The real-process tests (``tests/integration``) check what only real
processes can show (pids gone, exit codes, files written); the timing of the lifecycle is
checked here.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from trio.testing import MockClock

from minikubelet.kubelet import Kubelet
from minikubelet.logic.backoff import BackoffPolicy
from minikubelet.model.probe import ProbeKind
from minikubelet.model.spec import (
    Container,
    ExecAction,
    Lifecycle,
    ObjectMeta,
    Pod,
    PodSpec,
    Probe,
    RestartPolicy,
    SecurityContext,
    SleepAction,
)
from minikubelet.model.status import PodPhase, Running, Terminated, Waiting
from minikubelet.model.trace import Step
from minikubelet.pod_worker import PodWorker
from minikubelet.settings import Settings
from minikubelet.testing import ExecScript, FakeRuntime, Script, container, wait_for_status

pytestmark = pytest.mark.anyio

SIGTERM, SIGKILL = signal.SIGTERM, signal.SIGKILL


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return ("trio", {"clock": MockClock(autojump_threshold=0)})


@pytest.fixture
def runtime() -> FakeRuntime:
    return FakeRuntime()


@pytest.fixture
async def kubelet(runtime: FakeRuntime, tmp_path: Path) -> AsyncIterator[Kubelet]:
    settings = Settings(
        root_dir=tmp_path, backoff=BackoffPolicy(initial=10, maximum=300), minimum_grace_period=2
    )
    async with Kubelet(settings, runtime=runtime) as running:
        yield running


def app(name: str = "app", **fields: Any) -> Container:
    return Container(name=name, command=(name,), **fields)


def pod(
    *containers: Container,
    init: tuple[Container, ...] = (),
    policy: RestartPolicy = RestartPolicy.ALWAYS,
    grace: int = 30,
    deadline: int | None = None,
) -> Pod:
    spec = PodSpec(
        containers=containers,
        init_containers=init,
        restart_policy=policy,
        termination_grace_period_seconds=grace,
        active_deadline_seconds=deadline,
    )
    return Pod(metadata=ObjectMeta(name="web"), spec=spec)


async def run(kubelet: Kubelet, spec: Pod) -> tuple[PodWorker, float]:
    """Add the pod; its worker and the virtual time it was added at."""
    added = anyio.current_time()
    snapshot = await kubelet.add_pod(spec)
    worker = kubelet.worker(*snapshot.key)
    assert worker is not None
    return worker, added


def starts(runtime: FakeRuntime, name: str, since: float) -> list[float]:
    return [round(p.started_at - since, 6) for p in runtime.started(name)]


# -- restarts ------------------------------------------------------------------------


async def test_always_restarts_with_the_kubelets_back_off(
    kubelet: Kubelet, runtime: FakeRuntime
) -> None:
    runtime.script("app", Script(exit_code=1, runs_for=1))
    worker, t0 = await run(kubelet, pod(app()))
    await wait_for_status(worker, lambda s: container(s, "app").restart_count >= 6, timeout=1000)
    # Runs 1 s each. The first restart is immediate, then 10, 20, 40, 80 s after the exit.
    assert starts(runtime, "app", t0)[:6] == [0, 1, 2 + 10, 13 + 20, 34 + 40, 75 + 80]
    state = container(worker.status, "app").state
    assert isinstance(state, Running | Waiting)


async def test_back_off_is_capped_and_resets_after_ten_minutes_of_running(
    kubelet: Kubelet, runtime: FakeRuntime
) -> None:
    quick = Script(exit_code=1, runs_for=1)
    runtime.script("app", quick, quick, quick, Script(exit_code=1, runs_for=700), quick)
    worker, t0 = await run(kubelet, pod(app()))
    await wait_for_status(worker, lambda s: container(s, "app").restart_count >= 5, timeout=2000)
    times = starts(runtime, "app", t0)
    assert times[:4] == [0, 1, 12, 33]
    # The fourth instance ran 700 s (> 600): the back-off was forgotten, so it restarts
    # at once, and the next delay starts again from the initial 10 s.
    assert times[4] == 33 + 700
    assert times[5] == times[4] + 1 + 10


async def test_never_and_on_failure(kubelet: Kubelet, runtime: FakeRuntime) -> None:
    runtime.script("done", Script(exit_code=0, runs_for=3))
    worker, t0 = await run(kubelet, pod(app("done"), policy=RestartPolicy.ON_FAILURE))
    await worker.wait_done()
    assert starts(runtime, "done", t0) == [0]
    assert worker.status.phase is PodPhase.SUCCEEDED


async def test_a_never_pod_fails_without_a_restart(kubelet: Kubelet, runtime: FakeRuntime) -> None:
    runtime.script("app", Script(exit_code=3, runs_for=2))
    worker, t0 = await run(kubelet, pod(app(), policy=RestartPolicy.NEVER))
    await worker.wait_done()
    assert anyio.current_time() - t0 == 2
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated)
    assert (state.exit_code, state.reason) == (3, "Error")
    assert worker.status.phase is PodPhase.FAILED


# -- init containers and sidecars ----------------------------------------------------


async def test_init_containers_run_in_order_before_the_app(
    kubelet: Kubelet, runtime: FakeRuntime
) -> None:
    runtime.script("first", Script(runs_for=2))
    runtime.script("second", Script(runs_for=3))
    spec = pod(app(), init=(app("first"), app("second")))
    worker, t0 = await run(kubelet, spec)
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING, timeout=100)
    assert starts(runtime, "first", t0) == [0]
    assert starts(runtime, "second", t0) == [2]
    assert starts(runtime, "app", t0) == [5]


async def test_a_failed_init_container_fails_a_never_pod(
    kubelet: Kubelet, runtime: FakeRuntime
) -> None:
    runtime.script("setup", Script(exit_code=1, runs_for=1))
    worker, _ = await run(kubelet, pod(app(), init=(app("setup"),), policy=RestartPolicy.NEVER))
    await worker.wait_done()
    assert worker.status.phase is PodPhase.FAILED
    assert runtime.started("app") == []


async def test_a_failed_init_container_is_retried_with_back_off(
    kubelet: Kubelet, runtime: FakeRuntime
) -> None:
    runtime.script("setup", Script(exit_code=1, runs_for=1), Script(exit_code=1, runs_for=1),
                   Script(runs_for=1))  # fmt: skip
    worker, t0 = await run(kubelet, pod(app(), init=(app("setup"),)))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING, timeout=100)
    assert starts(runtime, "setup", t0) == [0, 1, 2 + 10]
    assert starts(runtime, "app", t0) == [13]


async def test_sidecars_start_in_order_and_stop_in_reverse(
    kubelet: Kubelet, runtime: FakeRuntime
) -> None:
    sidecar = {"restart_policy": RestartPolicy.ALWAYS}
    runtime.script("proxy", Script(stops_after=1))
    runtime.script("shipper", Script(stops_after=1))
    runtime.script("app", Script(stops_after=3))
    spec = pod(app(), init=(app("proxy", **sidecar), app("shipper", **sidecar)))
    worker, t0 = await run(kubelet, spec)
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING, timeout=100)
    assert [starts(runtime, n, t0) for n in ("proxy", "shipper", "app")] == [[0], [0], [0]]
    order = [p.launch.container_name for p in runtime.starts]
    assert order == ["proxy", "shipper", "app"]
    stopped = anyio.current_time()
    worker.terminate()
    await worker.wait_done()
    terms = {
        p.launch.container_name: [s.at - stopped for s in runtime.signalled(p.pid)]
        for p in runtime.starts
    }
    # The app first (it takes 3 s), then the last sidecar, then the first one (1 s each).
    assert terms == {"app": [0], "shipper": [3], "proxy": [4]}


# -- termination ---------------------------------------------------------------------


async def test_pre_stop_then_the_signal_then_sigkill_at_the_grace_deadline(
    kubelet: Kubelet, runtime: FakeRuntime
) -> None:
    runtime.script("app", Script(ignores={SIGTERM}))
    runtime.exec_script("drain", ExecScript(runs_for=1.5))
    hooked = app(lifecycle=Lifecycle(pre_stop=ExecAction(("drain",))))
    worker, _ = await run(kubelet, pod(hooked, grace=10))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    stopped = anyio.current_time()
    worker.terminate()
    await worker.wait_done()
    (process,) = runtime.started("app")
    assert [(at - stopped, argv) for at, argv in runtime.execs] == [(0, ("drain",))]
    # preStop took 1.5 s (1 whole second counts): SIGTERM at once after it, SIGKILL when
    # the grace period of 10 s is over.
    assert [(s.at - stopped, s.signum) for s in runtime.signalled(process.pid)] == [(1.5, SIGTERM)]
    assert [(at - stopped, pids) for at, pids in runtime.kills] == [(10.5, (process.pid,))]
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated)
    assert state.exit_code == 137


async def test_a_hung_pre_stop_leaves_the_minimum_window(
    kubelet: Kubelet, runtime: FakeRuntime
) -> None:
    runtime.script("app", Script(ignores={SIGTERM}))
    runtime.exec_script("hang", ExecScript(runs_for=1000))
    hooked = app(lifecycle=Lifecycle(pre_stop=ExecAction(("hang",))))
    worker, _ = await run(kubelet, pod(hooked, grace=5))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    stopped = anyio.current_time()
    worker.terminate()
    await worker.wait_done()
    (process,) = runtime.started("app")
    assert [s.at - stopped for s in runtime.signalled(process.pid)] == [5]
    assert [at - stopped for at, _ in runtime.kills] == [5 + 2]  # the 2 s minimum


async def test_a_container_that_cannot_be_killed_is_given_up(
    kubelet: Kubelet, runtime: FakeRuntime
) -> None:
    runtime.script("app", Script(ignores={SIGTERM}, unkillable=True))
    worker, _ = await run(kubelet, pod(app(), grace=3))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    stopped = anyio.current_time()
    worker.terminate()
    with anyio.fail_after(100):
        await worker.wait_done()
    # grace + minimum window + two kill timeouts, then an ExceededGracePeriod event.
    assert anyio.current_time() - stopped == 3 + 2 + 2 * 5
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated)
    assert state.reason == "ContainerStatusUnknown"
    reasons = [e.reason for e in kubelet.recorder.events()]
    assert "ExceededGracePeriod" in reasons


async def test_active_deadline_fails_the_pod(kubelet: Kubelet, runtime: FakeRuntime) -> None:
    worker, t0 = await run(kubelet, pod(app(), deadline=30))
    await worker.wait_done()
    (process,) = runtime.started("app")
    assert [s.at - t0 for s in runtime.signalled(process.pid)] == [30]
    assert worker.status.phase is PodPhase.FAILED
    assert worker.status.reason == "DeadlineExceeded"


# -- probes --------------------------------------------------------------------------


async def test_a_failing_liveness_probe_restarts_the_container(
    kubelet: Kubelet, runtime: FakeRuntime
) -> None:
    runtime.exec_script("check", ExecScript(exit_code=1))
    probe = Probe(handler=ExecAction(("check",)), period_seconds=10, failure_threshold=3)
    worker, t0 = await run(kubelet, pod(app(liveness_probe=probe), grace=5))
    await wait_for_status(worker, lambda s: container(s, "app").restart_count >= 1, timeout=200)
    # Probes at 0, 10, 20: the third failure kills it (SIGTERM ends it at once), and the
    # first restart is immediate.
    assert [at - t0 for at, _ in runtime.execs[:3]] == [0, 10, 20]
    first = runtime.started("app")[0]
    assert [(s.at - t0, s.signum) for s in runtime.signalled(first.pid)] == [(20, SIGTERM)]
    assert starts(runtime, "app", t0)[:2] == [0, 20]
    killing = [e for e in kubelet.recorder.events() if e.reason == "Killing"]
    assert killing[0].message == "Container app failed liveness probe, will be restarted"


async def test_a_startup_probe_holds_liveness_back(kubelet: Kubelet, runtime: FakeRuntime) -> None:
    runtime.exec_script("started", ExecScript(exit_code=1), ExecScript(exit_code=1), ExecScript())
    runtime.exec_script("alive", ExecScript())
    startup = Probe(handler=ExecAction(("started",)), period_seconds=5, failure_threshold=10)
    liveness = Probe(handler=ExecAction(("alive",)), period_seconds=7)
    worker, t0 = await run(kubelet, pod(app(startup_probe=startup, liveness_probe=liveness)))
    await wait_for_status(worker, lambda s: bool(container(s, "app").started), timeout=100)
    assert anyio.current_time() - t0 == 10  # startup passed on its third run, at 10 s
    await anyio.sleep(20)
    alive = [at - t0 for at, argv in runtime.execs if argv == ("alive",)]
    assert alive == [14, 21, 28]  # liveness's schedule runs from the start; only then probes
    kinds = {s.detail.split()[0] for s in worker.trace if s.step is Step.PROBE}
    assert kinds == {ProbeKind.STARTUP.value.lower()}


# -- starting, one container after the other ----------------------------------------


async def test_a_slow_post_start_delays_the_next_container(
    kubelet: Kubelet, runtime: FakeRuntime
) -> None:
    slow = app("first", lifecycle=Lifecycle(post_start=SleepAction(5)))
    worker, t0 = await run(kubelet, pod(slow, app("second")))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING, timeout=100)
    # kuberuntime_manager.go SyncPod: containers start in spec order, and startContainer
    # returns only once the postStart hook has.
    assert starts(runtime, "first", t0) == [0]
    assert starts(runtime, "second", t0) == [5]


async def test_a_failing_post_start_kills_its_container_before_the_next_starts(
    kubelet: Kubelet, runtime: FakeRuntime
) -> None:
    runtime.exec_script("hook", ExecScript(exit_code=1, runs_for=1))
    runtime.script("first", Script(stops_after=2))
    failing = app("first", lifecycle=Lifecycle(post_start=ExecAction(("hook",))))
    worker, t0 = await run(kubelet, pod(failing, app("second"), policy=RestartPolicy.NEVER))
    await wait_for_status(worker, lambda s: bool(runtime.started("second")), timeout=100)
    (first,) = runtime.started("first")
    # The hook fails at 1 s; the container gets SIGTERM then and takes 2 s to stop.
    assert [(s.at - t0, s.signum) for s in runtime.signalled(first.pid)] == [(1, SIGTERM)]
    assert starts(runtime, "second", t0) == [3]
    events = [(e.reason, e.message) for e in kubelet.recorder.events()]
    assert ("FailedPostStartHook", "PostStartHook failed") in events
    assert ("Killing", "FailedPostStartHook") in events


# -- configuration errors ------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="runAsNonRoot refuses only a root minikubelet")
async def test_a_config_error_waits_until_something_changes(
    kubelet: Kubelet, runtime: FakeRuntime
) -> None:
    refused = app(security_context=SecurityContext(run_as_non_root=True))
    worker, t0 = await run(kubelet, pod(refused))
    await anyio.wait_all_tasks_blocked()
    state = container(worker.status, "app").state
    assert isinstance(state, Waiting)
    assert state.reason == "CreateContainerConfigError"
    assert runtime.starts == []
    await anyio.sleep(600)  # nothing retries on a timer: nothing changed
    failed = [e for e in kubelet.recorder.events() if e.reason == "Failed"]
    assert [e.count for e in failed] == [1]
    assert failed[0].message.startswith("Error: container has runAsNonRoot")
    worker.retry_held()  # what it waited for changed: tried again at once
    await anyio.wait_all_tasks_blocked()
    assert [e.count for e in kubelet.recorder.events() if e.reason == "Failed"] == [2]
    assert anyio.current_time() - t0 == 600
