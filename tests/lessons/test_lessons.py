"""Every lesson of examples/lessons/ runs here and shows the outcome it teaches.

Each test loads the lesson's manifest exactly as a user would run it and checks what the
tutorial (docs/signals.md) promises: the exit code, which signals went to which pids in
which order (from the worker's trace), what the program wrote, and that nothing was left
behind (the autouse leak check, plus explicit pid checks where the lesson is about it).

Only the engine's flags are shortened, through the ``settings`` fixture (crash-loop
back-off 0.1 s doubling to 0.4 s, a 0.2 s minimum stop window); the manifests' own
timings (grace periods, probe periods) are the learner's. Long-running lessons are stopped
with ``worker.terminate()`` - what Ctrl-C does - once a fact (a log line, a status) shows
they are in the state the lesson is about.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.manifest import load_file
from minikubelet.model.snapshot import PodSnapshot
from minikubelet.model.spec import Pod
from minikubelet.model.status import ConditionType, PodPhase, Running, Terminated, Waiting
from minikubelet.model.trace import Step, TraceEntry
from minikubelet.pod_worker import PodWorker
from minikubelet.testing import container, wait_for_file, wait_for_status
from tests.helpers.pods import start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

LESSONS = Path(__file__).resolve().parents[2] / "examples" / "lessons"


# -- helpers ---------------------------------------------------------------------------


def lesson(file: str) -> Pod:
    """The lesson's only pod, loaded as ``minikubelet run`` loads it (no warning expected)."""
    result = load_file(LESSONS / file)
    assert not result.warnings, result.warnings
    [pod] = result.pods
    return pod


@contextlib.contextmanager
def holding_ports(*ports: int) -> Iterator[None]:
    """Hold a lock per fixed port a lesson listens on, so concurrent test runs take turns.

    A lesson's HTTP port is in its manifest (a Pod has no "any free port"); two test runs
    on one machine would otherwise race for it.
    """
    with contextlib.ExitStack() as stack:
        for port in ports:
            path = Path(tempfile.gettempdir()) / f"minikubelet-lesson-port-{port}.lock"
            handle = stack.enter_context(path.open("a"))
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        yield


def log_lines(worker: PodWorker, name: str, restart_count: int = 0) -> list[str]:
    """The text of each line container ``name`` wrote (CRI: ``<ts> <stream> <tag> <text>``)."""
    path = worker.log_path(name, restart_count)
    if not path.exists():
        return []
    return [line.split(" ", 3)[3] for line in path.read_text().splitlines()]


async def wait_for_log(
    worker: PodWorker, name: str, text: str, restart_count: int = 0, timeout: float = 10.0
) -> list[str]:
    """Wait until the container has written ``text``; return its lines so far."""
    await wait_for_file(worker.log_path(name, restart_count), timeout=timeout, contains=text)
    return log_lines(worker, name, restart_count)


def line_with(lines: list[str], text: str) -> str:
    [found] = [line for line in lines if text in line]
    return found


def steps(entries: list[TraceEntry]) -> list[tuple[Step, str]]:
    return [(entry.step, entry.detail) for entry in entries]


def trace_of(worker: PodWorker, name: str) -> list[TraceEntry]:
    return [entry for entry in worker.trace if entry.container == name]


def spawned_pids(worker: PodWorker, name: str) -> list[int]:
    """The main pid of each instance of container ``name``, from its Spawned steps."""
    return [
        int(entry.detail.split()[1].rstrip(":"))
        for entry in trace_of(worker, name)
        if entry.step is Step.SPAWNED
    ]


def terminated(worker: PodWorker, name: str) -> Terminated:
    state = container(worker.status, name).state
    assert isinstance(state, Terminated), state
    return state


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def stopped_by_sigterm(name: str, pid: int, code: str, grace: int) -> list[tuple[Step, str]]:
    """The trace of a stop without preStop that needed no SIGKILL."""
    return [
        (Step.KILLING, f"Stopping container {name} (grace period {grace}s)"),
        (Step.SIGNAL, f"SIGTERM -> pid {pid}"),
        (Step.EXITED, code),
    ]


# -- the lessons, in the tutorial's order ----------------------------------------------


async def test_01_graceful_shutdown_finishes_the_job_in_flight(kubelet: Kubelet) -> None:
    worker = await start(kubelet, lesson("graceful-shutdown.yaml"))
    await wait_for_log(worker, "worker", "job 1: started")
    [pid] = spawned_pids(worker, "worker")
    worker.terminate()
    await worker.wait_done()

    stop = worker.last_termination["worker"]
    assert steps(stop) == stopped_by_sigterm("worker", pid, "code 0", grace=5)
    assert stop[-1].at - stop[0].at < 3.0  # about the job's second: the 5 s grace is a bound
    lines = log_lines(worker, "worker")
    handled = lines.index(line_with(lines, "SIGTERM received"))
    assert lines[handled + 1 :] == ["job 1: done", "stopped after 1 jobs, nothing lost: exit 0"]
    assert terminated(worker, "worker").exit_code == 0
    assert worker.status.phase is PodPhase.SUCCEEDED


async def test_02_ignoring_sigterm_ends_in_sigkill_of_every_process(kubelet: Kubelet) -> None:
    """The issue's timeline, event by event, on the manifest's own 3 s grace period."""
    worker = await start(kubelet, lesson("ignores-sigterm.yaml"))
    lines = await wait_for_log(worker, "app", "worker pids")
    [pid] = spawned_pids(worker, "app")
    numbers = [int(n) for n in re.findall(r"\d+", line_with(lines, "worker pids"))]
    assert numbers[0] == pid
    every = sorted(numbers)
    worker.terminate()
    await worker.wait_done()

    stop = worker.last_termination["app"]
    assert steps(stop) == [
        (Step.KILLING, "preStop sleep 1s (grace period 3s)"),
        (Step.HOOK, "preStop succeeded"),
        (Step.SIGNAL, f"SIGTERM -> pid {pid}"),
        (Step.GRACE, "2s elapsed, process still alive"),
        (Step.SIGNAL, f"SIGKILL -> 3 processes (pids {' '.join(map(str, every))})"),
        (Step.EXITED, "code 137 (killed by SIGKILL)"),
    ]
    # The exact schedule is checked on virtual time (tests/component/test_pod_worker.py);
    # here: the steps came in order, and no sooner than the manifest says.
    at = [entry.at - stop[0].at for entry in stop]
    assert at == sorted(at)
    assert at[1] >= 1.0  # the preStop sleep
    assert at[3] >= 3.0  # the grace period, counted from Killing
    assert "SIGTERM received... and ignored: still busy" in log_lines(worker, "app")
    state = terminated(worker, "app")
    assert (state.exit_code, state.signal) == (137, 9)
    assert all(gone(n) for n in every)


async def test_03_shell_wrapper_swallows_sigterm_and_exec_fixes_it(kubelet: Kubelet) -> None:
    worker = await start(kubelet, lesson("shell-wrapper.yaml"))
    wrapped_lines = await wait_for_log(worker, "wrapped", "app: pid")
    await wait_for_log(worker, "exec", "app: pid")
    [shell] = spawned_pids(worker, "wrapped")
    [exec_pid] = spawned_pids(worker, "exec")
    app, parent = map(int, re.findall(r"\d+", line_with(wrapped_lines, "app: pid")))
    assert parent == shell != app  # behind the shell, the app is not the main process
    assert f"app: pid {exec_pid}," in line_with(log_lines(worker, "exec"), "app: pid")
    worker.terminate()
    await worker.wait_done()

    # The shell gets the SIGTERM and dies of it; the app never hears of it and is
    # SIGKILLed with the rest of the container. (On a node the shell is PID 1 and ignores
    # SIGTERM: there it ends in SIGKILL after the grace period, 137.)
    wrapped = worker.last_termination["wrapped"]
    assert steps(wrapped) == [
        *stopped_by_sigterm("wrapped", shell, "code 143 (killed by SIGTERM)", grace=3),
        (Step.SIGNAL, f"SIGKILL -> 1 process left behind (pids {app})"),
    ]
    assert log_lines(worker, "wrapped") == ["preparing", f"app: pid {app}, parent pid {shell}"]
    assert gone(app)
    assert terminated(worker, "wrapped").signal == 15
    # With exec the app is the main process: it gets SIGTERM and says goodbye.
    assert steps(worker.last_termination["exec"]) == stopped_by_sigterm(
        "exec", exec_pid, "code 0", grace=3
    )
    assert log_lines(worker, "exec")[-1] == "app: SIGTERM received, closing connections, bye"
    assert terminated(worker, "exec").exit_code == 0


async def test_04_prestop_drains_before_sigterm(kubelet: Kubelet) -> None:
    with holding_ports(18471):
        worker = await start(kubelet, lesson("prestop-drain.yaml"))
        await wait_for_status(worker, lambda s: container(s, "server").ready)
        await wait_for_log(worker, "server", "started")  # a request is in flight
        [pid] = spawned_pids(worker, "server")
        worker.terminate()
        await worker.wait_done()

    stop = worker.last_termination["server"]
    # Readiness goes on being probed during termination: it may fail while draining.
    without_probes = [entry for entry in stop if entry.step is not Step.PROBE]
    assert steps(without_probes) == [
        (Step.KILLING, "preStop httpGet :http/drain (grace period 5s)"),
        (Step.HOOK, "preStop succeeded"),
        (Step.SIGNAL, f"SIGTERM -> pid {pid}"),
        (Step.EXITED, "code 0"),
    ]
    assert [e.detail for e in stop if e.step is Step.PROBE] in (
        [],
        ["readiness probe: failure"],
    )
    lines = log_lines(worker, "server")
    draining = lines.index("preStop: draining, no new requests")
    finished = [line for line in lines[draining:] if line.endswith(": done")]
    assert len(finished) == 1  # the request in flight was finished...
    assert not [line for line in lines[draining:] if line.endswith(": started")]  # ...no new one
    assert lines[-2:] == [
        "preStop: drained, nothing in flight",
        "SIGTERM received: 0 requests in flight, exiting",
    ]
    assert terminated(worker, "server").exit_code == 0


async def test_05_liveness_probe_restarts_a_deadlocked_app(kubelet: Kubelet) -> None:
    with holding_ports(18472):
        worker = await start(kubelet, lesson("liveness-deadlock.yaml"))
        await wait_for_status(worker, lambda s: container(s, "app").restart_count >= 1)
        await wait_for_log(worker, "app", "listening", restart_count=1)
        worker.terminate()
        await worker.wait_done()

    first, second = spawned_pids(worker, "app")[:2]
    trace = trace_of(worker, "app")
    assert steps(trace[: trace.index(_spawned(trace, second))]) == [
        (Step.SPAWNED, f"pid {first}: python3 deadlock.py 18472"),
        (Step.PROBE, "liveness probe: failure"),
        (
            Step.KILLING,
            "Container app failed liveness probe, will be restarted (grace period 2s)",
        ),
        (Step.SIGNAL, f"SIGTERM -> pid {first}"),
        (Step.EXITED, "code 143 (killed by SIGTERM)"),
        (Step.RESTART, "now (restart #1)"),
    ]
    lines = log_lines(worker, "app")
    assert "transfer A: waiting for the second lock..." in lines
    assert "transfer A: done" not in lines
    unhealthy = [
        event.message
        for event in kubelet.recorder.events(pod="liveness-deadlock")
        if event.reason == "Unhealthy"
    ]
    assert any("Client.Timeout exceeded" in message for message in unhealthy)


def _spawned(trace: list[TraceEntry], pid: int) -> TraceEntry:
    [entry] = [e for e in trace if e.step is Step.SPAWNED and e.detail.startswith(f"pid {pid}:")]
    return entry


async def test_06_startup_probe_protects_a_slow_starter(kubelet: Kubelet) -> None:
    with holding_ports(18473, 18474):
        worker = await start(kubelet, lesson("startup-probe.yaml"))
        await wait_for_status(
            worker,
            lambda s: (
                bool(container(s, "protected").ready)
                and container(s, "unprotected").restart_count >= 1
            ),
        )
        worker.terminate()
        await worker.wait_done()

    protected = trace_of(worker, "protected")
    assert steps(protected)[:2] == [
        (
            Step.SPAWNED,
            f"pid {spawned_pids(worker, 'protected')[0]}: python3 slow_start.py 18473",
        ),
        (Step.PROBE, "startup probe: success"),
    ]
    assert protected[1].at - protected[0].at >= 3.0  # it took its time, and was let be
    assert container(worker.status, "protected").restart_count == 0
    assert "loaded; serving on 127.0.0.1:18473" in log_lines(worker, "protected")

    kills = [e.detail for e in trace_of(worker, "unprotected") if e.step is Step.KILLING]
    assert kills[0] == (
        "Container unprotected failed liveness probe, will be restarted (grace period 2s)"
    )
    # Container GC keeps the newest dead instance's files (MaxPerPodContainer 1): read that
    # one, which ran until its liveness probe killed it.
    last_dead = container(worker.status, "unprotected").restart_count - 1
    assert log_lines(worker, "unprotected", last_dead) == ["loading the model (3 s)..."]


async def test_07_readiness_waits_for_the_warm_up(kubelet: Kubelet) -> None:
    seen: list[tuple[bool, bool]] = []  # (running, ready) of each status

    def record(snapshot: PodSnapshot) -> None:
        status = container(snapshot.status, "server")
        seen.append((isinstance(status.state, Running), status.ready))

    with holding_ports(18475):
        worker = await start(kubelet, lesson("readiness-warmup.yaml"))
        worker.on_status(record)
        status = await wait_for_status(worker, lambda s: container(s, "server").ready)
        ready = [c for c in status.conditions if c.type is ConditionType.READY]
        assert [c.status for c in ready] == [True]
        worker.terminate()
        await worker.wait_done()

    assert (True, False) in seen  # running, not ready: warming up
    trace = trace_of(worker, "server")
    probes = [e for e in trace if e.step is Step.PROBE]
    assert probes[0].detail == "readiness probe: success"
    assert probes[0].at - trace[0].at >= 2.5  # the warm-up
    assert not [e for e in trace if e.step is Step.RESTART]  # not ready is not restarted
    lines = log_lines(worker, "server")
    assert any(re.fullmatch(r"GET /ready -> 503 warming up: cache \d+% full", x) for x in lines)
    assert "GET /ready -> 200 ready" in lines
    messages = [e.message for e in kubelet.recorder.events(pod="readiness-warmup")]
    assert "Readiness probe failed: HTTP probe failed with statuscode: 503" in messages


async def test_08_init_then_sidecar_then_app_and_sidecar_stops_last(kubelet: Kubelet) -> None:
    worker = await start(kubelet, lesson("sidecar-ordering.yaml"))
    await worker.wait_done()

    order = [
        (entry.container, entry.step, entry.detail.split(" -> ")[0])
        for entry in worker.trace
        if entry.step in (Step.SPAWNED, Step.EXITED, Step.KILLING, Step.SIGNAL)
    ]
    order = [(name, step, "" if step is Step.SPAWNED else d) for name, step, d in order]
    assert order == [
        ("migrate", Step.SPAWNED, ""),
        ("migrate", Step.EXITED, "code 0"),
        ("log-shipper", Step.SPAWNED, ""),
        ("job", Step.SPAWNED, ""),
        ("job", Step.EXITED, "code 0"),
        ("log-shipper", Step.KILLING, "Stopping container log-shipper (grace period 2s)"),
        ("log-shipper", Step.SIGNAL, "SIGTERM"),
        ("log-shipper", Step.EXITED, "code 0"),
    ]
    assert log_lines(worker, "migrate")[-1] == "init: migration done, exit 0"
    assert log_lines(worker, "job")[-1] == "app: finished, exit 0"
    assert "flushing" in log_lines(worker, "log-shipper")[-1]
    assert worker.status.phase is PodPhase.SUCCEEDED


async def test_09_crash_loop_backs_off_longer_each_time(kubelet: Kubelet) -> None:
    # The fixture's engine flags: back-off 0.1 s doubling up to 0.4 s (kubelet: 10 s .. 300 s).
    worker = await start(kubelet, lesson("crash-loop.yaml"))
    waiting: list[str] = []

    def record(snapshot: PodSnapshot) -> None:
        state = container(snapshot.status, "app").state
        if isinstance(state, Waiting):
            waiting.append(state.reason)

    worker.on_status(record)
    await wait_for_status(worker, lambda s: container(s, "app").restart_count >= 5)
    worker.terminate()
    await worker.wait_done()

    restarts = [e for e in trace_of(worker, "app") if e.step is Step.RESTART]
    assert [e.detail for e in restarts[:8]] == [
        "now (restart #1)",
        "in 100ms (crash-loop back-off)",
        "now (restart #2)",
        "in 200ms (crash-loop back-off)",
        "now (restart #3)",
        "in 400ms (crash-loop back-off)",
        "now (restart #4)",
        "in 400ms (crash-loop back-off)",  # the cap
    ]
    for decided, restarted, delay in zip(
        restarts[1:6:2], restarts[2:7:2], (0.1, 0.2, 0.4), strict=True
    ):
        assert restarted.at - decided.at >= delay - 0.01
    exits = [e.detail for e in trace_of(worker, "app") if e.step is Step.EXITED]
    assert exits[:5] == ["code 1"] * 5
    assert "CrashLoopBackOff" in waiting
    last_dead = container(worker.status, "app").restart_count - 1  # GC keeps this one
    assert log_lines(worker, "app", last_dead)[-1].startswith("cannot reach the database: ")
    backoffs = [e for e in kubelet.recorder.events(pod="crash-loop") if e.reason == "BackOff"]
    assert backoffs
    assert backoffs[0].count >= 3


async def test_10_orphans_are_killed_with_their_container(kubelet: Kubelet) -> None:
    worker = await start(kubelet, lesson("orphans.yaml"))
    await wait_for_log(worker, "app", "daemon: pid")
    lines = await wait_for_log(worker, "app", "worker: pid")
    [main] = spawned_pids(worker, "app")
    daemon, daemon_parent, _ = map(int, re.findall(r"\d+", line_with(lines, "daemon: pid")))
    helper, helper_parent, helper_session = map(
        int, re.findall(r"\d+", line_with(lines, "worker: pid"))
    )
    # The daemon escaped the main process's tree: re-parented to us, the child subreaper.
    assert daemon_parent == os.getpid()
    assert daemon not in {p.pid for p in psutil.Process(main).children(recursive=True)}
    # The worker escaped its process group and session, though it is still a child.
    assert helper_parent == main
    assert helper_session == helper != os.getsid(main)
    assert not gone(daemon)
    assert not gone(helper)
    worker.terminate()
    await worker.wait_done()

    left = " ".join(map(str, sorted([daemon, helper])))
    assert steps(worker.last_termination["app"]) == [
        *stopped_by_sigterm("app", main, "code 0", grace=3),
        (Step.SIGNAL, f"SIGKILL -> 2 processes left behind (pids {left})"),
    ]
    assert log_lines(worker, "app")[-1].startswith("main: SIGTERM received, exit 0")
    # The main process exited cleanly, and what it left behind went with it at once.
    assert gone(daemon)
    assert gone(helper)


async def test_11_signals_make_exit_codes_of_128_plus_n(kubelet: Kubelet) -> None:
    worker = await start(kubelet, lesson("exit-codes.yaml"))
    await worker.wait_done()

    expected = {"exit-3": (3, None), "segfault": (139, 11), "abort": (134, 6), "sigkill": (137, 9)}
    for name, (code, signum) in expected.items():
        state = terminated(worker, name)
        assert (state.exit_code, state.signal, state.reason) == (code, signum, "Error")
        exits = [e.detail for e in trace_of(worker, name) if e.step is Step.EXITED]
        assert exits == [f"code {code}" + (f" (killed by {_signame(signum)})" if signum else "")]
        [pid] = spawned_pids(worker, name)
        assert log_lines(worker, name)[0].startswith(f"pid {pid}: ")
    # Nobody stopped them: they died on their own.
    assert not [e for e in worker.trace if e.step in (Step.KILLING, Step.SIGNAL)]
    assert worker.status.phase is PodPhase.FAILED


def _signame(signum: int) -> str:
    return signal.Signals(signum).name


async def test_12_stop_signal_sigint_lets_python_clean_up(kubelet: Kubelet) -> None:
    worker = await start(kubelet, lesson("stop-signal.yaml"))
    await wait_for_log(worker, "sigterm", "resource acquired")
    await wait_for_log(worker, "sigint", "resource acquired")
    [term_pid] = spawned_pids(worker, "sigterm")
    [int_pid] = spawned_pids(worker, "sigint")
    worker.terminate()
    await worker.wait_done()

    assert steps(worker.last_termination["sigterm"]) == stopped_by_sigterm(
        "sigterm", term_pid, "code 143 (killed by SIGTERM)", grace=3
    )
    assert not [line for line in log_lines(worker, "sigterm") if "cleanup" in line]
    assert steps(worker.last_termination["sigint"]) == [
        (Step.KILLING, "Stopping container sigint (grace period 3s)"),
        (Step.SIGNAL, f"SIGINT -> pid {int_pid}"),
        (Step.EXITED, "code 0"),
    ]
    assert log_lines(worker, "sigint")[1:] == [
        "sigint: KeyboardInterrupt (SIGINT)",
        "sigint: cleanup in finally: resource released",
    ]
