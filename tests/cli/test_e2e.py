"""The client commands as a user runs them: subprocesses against ``minikubelet run``'s API.

Each test starts ``python -m minikubelet run --socket ...`` with its own manifest, waits for
facts (the API answering, a pod status) rather than for time, drives the CLI as
subprocesses with ``--server`` pointing at the socket, and stops ``run`` with SIGINT.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess  # noqa: TID251 - the test runs the CLI as a user would
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from minikubelet.cli.client.connection import Connection, Server, StatusError, Unreachable
from tests.conftest import CHILD, PYTHON

MINIKUBELET = [sys.executable, "-m", "minikubelet"]
REPO = Path(__file__).parent.parent.parent


pytestmark = [pytest.mark.e2e]


def wait_for(check: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout  # noqa: TID251 - a synchronous wait for a fact, under a deadline
    while True:
        try:
            result = check()
        except (StatusError, Unreachable):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:  # noqa: TID251 - a synchronous wait for a fact, under a deadline
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)  # noqa: TID251 - a synchronous wait for a fact, under a deadline


@dataclass
class Daemon:
    socket: Path
    process: subprocess.Popen[str]
    tmp: Path

    @property
    def api(self) -> Connection:
        return Connection(Server(socket=str(self.socket)))

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*MINIKUBELET, *args, "--server", str(self.socket)],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=REPO,
            input=input,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*MINIKUBELET, *args, "--server", str(self.socket)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )

    def pod(self, name: str) -> dict[str, Any]:
        return self.api.get(f"/api/v1/namespaces/default/pods/{name}")

    def container(self, pod: str, name: str) -> dict[str, Any]:
        status = self.pod(pod)["status"]
        for candidate in status.get("containerStatuses", []):
            if candidate["name"] == name:
                return dict(candidate)
        raise AssertionError(f"no container {name} in {status}")


def child(*flags: str) -> str:
    """The test child's argv as a YAML flow sequence (JSON is YAML)."""
    return json.dumps([PYTHON, CHILD, *flags])


def manifest(tmp: Path, text: str) -> Path:
    path = tmp / "pods.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def start(short_tmp: Path, tmp_path: Path) -> Iterator[Callable[[str], Daemon]]:
    """Start ``minikubelet run`` on a manifest; stopped with SIGINT at the end of the test."""
    started: list[Daemon] = []

    def launch(text: str) -> Daemon:
        socket = short_tmp / "mk.sock"
        process = subprocess.Popen(
            [
                *MINIKUBELET,
                "run",
                "--socket",
                str(socket),
                "--root-dir",
                str(tmp_path / "root"),
                # A first restart is immediate; the next waits 5 s, time enough to look.
                "--initial-container-restart-period",
                "5s",
                "--max-container-restart-period",
                "5s",
                str(manifest(tmp_path, text)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        daemon = Daemon(socket, process, tmp_path)
        started.append(daemon)
        wait_for(
            lambda: process.poll() is not None or daemon.api.get("/api/v1/pods")["items"],
            what="the API",
        )
        assert process.poll() is None, process.communicate()
        return daemon

    yield launch
    for daemon in started:
        if daemon.process.poll() is None:
            daemon.process.send_signal(signal.SIGINT)
        try:
            daemon.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.process.kill()
            daemon.process.communicate()
            raise


WEB_AND_CRASHER = f"""
    apiVersion: v1
    kind: Pod
    metadata: {{name: web, labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
        - name: web
          image: python:3.12
          command: {child("--forever", "--print", "hello from web")}
          readinessProbe:
            exec: {{command: ["true"]}}
            periodSeconds: 1
        - name: crasher
          command: {child("--print", "crashing now", "--exit-code", "3")}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {{name: keeper}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
        - name: keeper
          command: {child("--forever")}
"""


def restarted(daemon: Daemon, pod: str, container: str, times: int = 1) -> bool:
    return int(daemon.container(pod, container)["restartCount"]) >= times


def backing_off(daemon: Daemon, pod: str, container: str) -> bool:
    """Crashed twice and now waiting out the back-off (5 s, so the CLI sees this state)."""
    state = daemon.container(pod, container)["state"]
    return bool(state.get("waiting", {}).get("reason") == "CrashLoopBackOff")


def test_get_pods_shows_kubectls_columns(start: Callable[[str], Daemon]) -> None:
    daemon = start(WEB_AND_CRASHER)
    wait_for(lambda: daemon.container("web", "web")["ready"], what="web ready")
    wait_for(lambda: backing_off(daemon, "web", "crasher"), what="a crash loop")
    result = daemon.cli("get", "pods")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows["keeper"].split()[1:3] == ["1/1", "Running"]
    web = rows["web"].split()  # web 1/2 CrashLoopBackOff 1 (2s ago) 9s
    assert web[1:4] == ["1/2", "CrashLoopBackOff", "1"]
    assert (web[4][0], web[5]) == ("(", "ago)")
    wide = daemon.cli("get", "pod", "keeper", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[-6:] == ["IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"]
    assert "127.0.0.1" in wide[1]
    names = daemon.cli("get", "pods", "-o", "name").stdout.split()
    assert sorted(names) == ["pod/keeper", "pod/web"]
    missing = daemon.cli("get", "pod", "nope")
    assert (missing.returncode, missing.stderr) == (
        1,
        'Error from server (NotFound): pods "nope" not found\n',
    )


def test_describe_shows_states_probes_and_events(start: Callable[[str], Daemon]) -> None:
    daemon = start(WEB_AND_CRASHER)
    wait_for(lambda: backing_off(daemon, "web", "crasher"), what="a crash loop")
    result = daemon.cli("describe", "pod", "web")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("Name:         web\nNamespace:    default\n")
    assert "Labels:       app=web\n" in text
    assert (
        "    Readiness:      exec [true] delay=0s timeout=1s period=1s #success=1 #failure=3\n"
        in (text)
    )
    assert "    Last State:     Terminated\n      Reason:       Error\n      Exit Code:    3\n" in (
        text
    )
    assert "Conditions:\n  Type                        Status\n" in text
    events = text[text.index("Events:") :]
    assert events.splitlines()[1].split() == ["Type", "Reason", "Age", "From", "Message"]
    assert "Started container web" in events
    assert "Back-off restarting failed container crasher" in events
    assert "(x2 over" in events  # crasher started twice: one event, counted


def test_logs_previous_timestamps_and_container_choice(start: Callable[[str], Daemon]) -> None:
    daemon = start(WEB_AND_CRASHER)
    # The daemon answers as soon as the pods exist: the line comes when the container runs.
    wait_for(lambda: daemon.cli("logs", "web").stdout == "hello from web\n", what="web's line")
    assert daemon.cli("logs", "web").stderr == ('Defaulted container "web" out of: web, crasher\n')
    wait_for(lambda: restarted(daemon, "web", "crasher"), what="a restart")
    previous = daemon.cli("logs", "web", "-c", "crasher", "--previous")
    assert (previous.returncode, previous.stdout) == (0, "crashing now\n"), previous.stderr
    stamped = daemon.cli("logs", "web", "-c", "web", "--timestamps").stdout
    assert stamped.endswith(" hello from web\n")
    assert stamped[:4].isdigit()
    bad = daemon.cli("logs", "web", "-c", "nope")
    assert (bad.returncode, bad.stderr) == (1, "error: container nope is not valid for pod web\n")


def test_logs_follow_streams_output_written_after_it_started(
    start: Callable[[str], Daemon], short_tmp: Path
) -> None:
    go = short_tmp / "go"
    script = (
        "import os, time\n"
        "print('one', flush=True)\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.02)\n"
        "print('two', flush=True)\n"
    )
    daemon = start(
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: talker}}
        spec:
          restartPolicy: Never
          containers:
            - name: talker
              command: {json.dumps([PYTHON, "-c", script])}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {{name: keeper}}
        spec:
          containers:
            - name: keeper
              command: {child("--forever")}
        """
    )
    wait_for(lambda: daemon.cli("logs", "talker").stdout == "one\n", what="the first line")
    follower = daemon.popen("logs", "talker", "-f")
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline() == "one\n"
        go.write_text("")
        assert follower.stdout.readline() == "two\n"
        # The container exits after its second line: the server ends the stream, rc 0.
        assert follower.wait(timeout=15) == 0
    finally:
        if follower.poll() is None:
            follower.kill()
        follower.communicate()


def test_delete_waits_until_the_pod_is_gone(start: Callable[[str], Daemon]) -> None:
    daemon = start(WEB_AND_CRASHER)
    wait_for(lambda: daemon.container("web", "web")["ready"], what="web ready")
    watcher = daemon.popen("get", "pods", "-w")
    try:
        assert watcher.stdout is not None
        assert watcher.stdout.readline().split()[:2] == ["NAME", "READY"]
        result = daemon.cli("delete", "pod", "web", "--grace-period", "2")
        assert (result.returncode, result.stdout) == (0, 'pod "web" deleted\n'), result.stderr
        gone = daemon.cli("get", "pod", "web")
        assert gone.stderr == 'Error from server (NotFound): pods "web" not found\n'
        seen: list[str] = []
        while not any("Terminating" in line for line in seen):
            seen.append(watcher.stdout.readline())
        assert seen[-1].split()[0] == "web"
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.communicate(timeout=10)
    assert watcher.returncode == 130
    again = daemon.cli("delete", "pod", "web")
    assert (again.returncode, again.stderr) == (
        1,
        'Error from server (NotFound): pods "web" not found\n',
    )


def test_apply_creates_then_leaves_unchanged_then_configures(
    start: Callable[[str], Daemon], tmp_path: Path
) -> None:
    daemon = start(WEB_AND_CRASHER)
    api = tmp_path / "api.yaml"
    text = textwrap.dedent(
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: api}}
        spec:
          terminationGracePeriodSeconds: 2
          containers:
            - name: api
              command: {child("--forever", "--print", "version one")}
        """
    )
    api.write_text(text)
    assert daemon.cli("apply", "-f", str(api)).stdout == "pod/api created\n"
    wait_for(lambda: daemon.cli("logs", "api").stdout == "version one\n", what="api's log")
    assert daemon.cli("apply", "-f", str(api)).stdout == "pod/api unchanged\n"
    changed = text.replace("version one", "version two")
    result = daemon.cli("apply", "-f", "-", input=changed)
    assert (result.returncode, result.stdout) == (0, "pod/api configured\n"), result.stderr
    wait_for(lambda: daemon.cli("logs", "api").stdout == "version two\n", what="the new api")
    listed = daemon.cli("get", "pods").stdout
    assert "api " in listed


def test_top_pods(start: Callable[[str], Daemon]) -> None:
    daemon = start(WEB_AND_CRASHER)
    wait_for(lambda: daemon.container("keeper", "keeper")["state"].get("running"), what="keeper")
    result = daemon.cli("top", "pods")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    keeper = next(line.split() for line in lines if line.startswith("keeper"))
    assert keeper[1].endswith("m")
    assert keeper[2].endswith("Mi")
    assert int(keeper[2][:-2]) > 0
    per_container = daemon.cli("top", "pods", "keeper", "--containers").stdout.splitlines()
    assert per_container[0].split() == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert per_container[1].split()[:2] == ["keeper", "keeper"]


def test_no_daemon_is_a_clear_error(short_tmp: Path) -> None:
    socket = short_tmp / "minikubelet.sock"
    result = subprocess.run(
        [*MINIKUBELET, "get", "pods"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "MINIKUBELET_SERVER": str(socket)},
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"error: cannot reach minikubelet at {socket}: no such socket "
        "(is 'minikubelet serve' or 'minikubelet run' running?)\n"
    )


def exec_in(
    daemon: Daemon, *args: str, command: tuple[str, ...], input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``minikubelet exec ARGS --server S -- COMMAND`` (options before the ``--``)."""
    return subprocess.run(
        [*MINIKUBELET, "exec", *args, "--server", str(daemon.socket), "--", *command],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
        input=input,
    )


def test_exec_label_annotate_and_get_events(start: Callable[[str], Daemon]) -> None:
    daemon = start(WEB_AND_CRASHER)
    wait_for(lambda: daemon.container("web", "web").get("ready"), what="web ready")
    result = exec_in(
        daemon, "web", "-c", "web", command=("sh", "-c", "echo $HOSTNAME; echo oops >&2; exit 5")
    )
    assert result.returncode == 5, result.stderr
    assert result.stdout == "web\n"
    assert result.stderr == "oops\ncommand terminated with exit code 5\n"
    piped = exec_in(daemon, "-i", "web", "-c", "web", command=("sh",), input="echo from-stdin\n")
    assert (piped.returncode, piped.stdout) == (0, "from-stdin\n")
    missing = exec_in(daemon, "nope", command=("true",))
    assert missing.returncode == 1
    assert missing.stderr == 'Error from server (NotFound): pods "nope" not found\n'

    uid = daemon.pod("web")["metadata"]["uid"]
    assert daemon.cli("label", "pod", "web", "tier=front").stdout == "pod/web labeled\n"
    assert daemon.cli("annotate", "pod", "web", "note=hi").stdout == "pod/web annotated\n"
    metadata = daemon.pod("web")["metadata"]
    assert metadata["uid"] == uid  # changed in place: the pod kept running
    assert metadata["labels"] == {"app": "web", "tier": "front"}
    assert metadata["annotations"]["note"] == "hi"

    events = daemon.cli("get", "events")
    assert events.returncode == 0, events.stderr
    lines = events.stdout.splitlines()
    assert lines[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert any("Started" in line and "pod/web" in line for line in lines[1:])
