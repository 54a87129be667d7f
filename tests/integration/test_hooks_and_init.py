"""postStart hooks, init containers and sidecars, on real processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.model.spec import Lifecycle, RestartPolicy
from minikubelet.model.status import PodPhase, Running, Terminated, Waiting
from minikubelet.testing import container, wait_for_file, wait_for_status
from tests.helpers.pods import child, pod, py, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def starts(path: Path) -> list[tuple[str, str, float]]:
    """(container, event, time) lines written by each container's --record."""
    rows = []
    for line in path.read_text().splitlines():
        name, event, stamp = line.split()
        rows.append((name, event, float(stamp)))
    return rows


def recorder(log: Path, name: str) -> tuple[str, ...]:
    """Flags that make the child append ``<name> start|sigterm|exit <time>`` to ``log``."""
    return ("--record", str(log.with_name(f"{log.name}.{name}")))


def merged(log: Path, *names: str) -> list[tuple[str, str, float]]:
    rows = []
    for name in names:
        for line in log.with_name(f"{log.name}.{name}").read_text().splitlines():
            event, stamp, _ = line.split()
            rows.append((name, event, float(stamp)))
    return sorted(rows, key=lambda row: row[2])


async def test_post_start_success(kubelet: Kubelet, tmp_path: Path) -> None:
    marker = tmp_path / "post-start"
    hook = py(f"open({str(marker)!r}, 'w').write('ran')")
    worker = await start(
        kubelet, pod("hooked", child("app", "--forever", lifecycle=Lifecycle(post_start=hook)))
    )
    status = await wait_for_status(worker, lambda s: isinstance(container(s, "app").state, Running))
    assert marker.read_text() == "ran"
    assert container(status, "app").ready


async def test_post_start_failure_kills_and_restarts(kubelet: Kubelet) -> None:
    hook = py("raise SystemExit(3)")
    worker = await start(
        kubelet,
        pod("badhook", child("app", "--forever", lifecycle=Lifecycle(post_start=hook)), grace=1),
    )
    await wait_for_status(worker, lambda s: container(s, "app").restart_count >= 1)
    reasons = {(e.reason, e.message) for e in kubelet.recorder.events(pod="badhook")}
    assert ("FailedPostStartHook", "PostStartHook failed") in reasons
    assert ("Killing", "FailedPostStartHook") in reasons


async def test_init_containers_run_in_order_then_app(kubelet: Kubelet, tmp_path: Path) -> None:
    log = tmp_path / "rec"
    init = (child("first", *recorder(log, "first")), child("second", *recorder(log, "second")))
    worker = await start(
        kubelet,
        pod("inits", child("app", *recorder(log, "app")), init=init, policy=RestartPolicy.NEVER),
    )
    await worker.wait_done()
    assert worker.status.phase is PodPhase.SUCCEEDED
    order = [(name, event) for name, event, _ in merged(log, "first", "second", "app")]
    assert order == [
        ("first", "start"),
        ("first", "ready"),
        ("first", "exit"),
        ("second", "start"),
        ("second", "ready"),
        ("second", "exit"),
        ("app", "start"),
        ("app", "ready"),
        ("app", "exit"),
    ]
    assert all(s.restart_count == 0 for s in worker.status.init_container_statuses)


async def test_failed_init_under_never_fails_the_pod(kubelet: Kubelet) -> None:
    worker = await start(
        kubelet,
        pod(
            "initfail",
            child("app"),
            init=(child("setup", "--exit-code", "1"),),
            policy=RestartPolicy.NEVER,
        ),
    )
    await worker.wait_done()
    status = worker.status
    assert status.phase is PodPhase.FAILED
    app = container(status, "app")
    assert app.state == Waiting(reason="PodInitializing")
    assert app.container_id == ""  # never started
    initialized = next(c for c in status.conditions if c.type.value == "Initialized")
    assert (initialized.status, initialized.reason) == (False, "ContainersNotInitialized")
    assert initialized.message == "containers with incomplete status: [setup]"


async def test_failed_init_under_always_is_retried(kubelet: Kubelet) -> None:
    worker = await start(
        kubelet, pod("initloop", child("app"), init=(child("setup", "--exit-code", "1"),))
    )
    status = await wait_for_status(worker, lambda s: container(s, "setup").restart_count >= 2)
    assert status.phase is PodPhase.PENDING
    assert container(status, "app").state == Waiting(reason="PodInitializing")


async def test_sidecars_start_in_order_and_stop_in_reverse(
    kubelet: Kubelet, tmp_path: Path
) -> None:
    log = tmp_path / "rec"
    sidecars = tuple(
        child(
            name,
            "--forever",
            "--sigterm-exit-code",
            "0",
            *recorder(log, name),
            restart_policy=RestartPolicy.ALWAYS,
        )
        for name in ("proxy", "shipper")
    )
    worker = await start(
        kubelet,
        pod(
            "sidecars",
            child("app", "--sleep", "0.2", *recorder(log, "app")),
            init=sidecars,
            policy=RestartPolicy.NEVER,
        ),
    )
    await worker.wait_done()
    assert worker.status.phase is PodPhase.SUCCEEDED
    # Started in spec order: a sidecar counts as started once it runs (no startup probe),
    # so the order is the order of the processes' start times, as the kubelet reports them.
    states = [container(worker.status, name).state for name in ("proxy", "shipper", "app")]
    started = [s.started_at for s in states if isinstance(s, Running | Terminated) and s.started_at]
    assert len(started) == 3
    assert started == sorted(started)
    # Stopped in reverse, after the app: each sidecar waits for the next one to exit.
    stops = [
        (n, e) for n, e, _ in merged(log, "proxy", "shipper", "app") if e in ("exit", "sigterm")
    ]
    assert stops == [
        ("app", "exit"),
        ("shipper", "sigterm"),
        ("shipper", "exit"),
        ("proxy", "sigterm"),
        ("proxy", "exit"),
    ]
    for name in ("proxy", "shipper"):
        state = container(worker.status, name).state
        assert isinstance(state, Terminated)
        assert state.exit_code == 0


async def test_containers_start_one_by_one_after_each_post_start(
    kubelet: Kubelet, tmp_path: Path
) -> None:
    """``SyncPod`` starts containers in spec order; ``startContainer`` returns only when
    the postStart hook has: the second container is spawned after the first one's hook."""
    hook_done = tmp_path / "hook-done"
    hook = py(f"import time, pathlib; time.sleep(0.5); pathlib.Path({str(hook_done)!r}).touch()")
    log = tmp_path / "rec"
    first = child(
        "first", "--forever", *recorder(log, "first"), lifecycle=Lifecycle(post_start=hook)
    )
    second = child("second", "--forever", *recorder(log, "second"))
    worker = await start(kubelet, pod("ordered", first, second, grace=1))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    await wait_for_file(log.with_name(f"{log.name}.second"), contains="start")
    (second_start,) = [t for name, event, t in merged(log, "second") if event == "start"]
    assert second_start >= hook_done.stat().st_mtime
    worker.terminate()
    await worker.wait_done()


async def test_a_failing_post_start_kills_its_container_before_the_next_one(
    kubelet: Kubelet, tmp_path: Path
) -> None:
    log = tmp_path / "rec"
    failing = child(
        "first",
        "--forever",
        *recorder(log, "first"),
        lifecycle=Lifecycle(post_start=py("raise SystemExit(3)")),
    )
    second = child("second", *recorder(log, "second"))
    worker = await start(
        kubelet, pod("failing", failing, second, policy=RestartPolicy.NEVER, grace=1)
    )
    await worker.wait_done()
    # The first one never records its exit (SIGTERM ends it): its killing shows in the trace.
    steps = [(e.container, e.step.value) for e in worker.trace]
    assert steps.index(("first", "Exited")) < steps.index(("second", "Spawned"))
    state = container(worker.status, "first").state
    assert isinstance(state, Terminated)
    assert state.exit_code == 143
    assert worker.status.phase is PodPhase.FAILED
