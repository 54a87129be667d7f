"""``minikubelet run`` as a user runs it: a subprocess, real signals, exit statuses."""

from __future__ import annotations

import os
import signal
import subprocess  # noqa: TID251 - the test runs the CLI as a user would
import sys
import textwrap
from pathlib import Path

import anyio
import pytest

from minikubelet.testing import wait_for_file
from tests.conftest import CHILD, PYTHON

pytestmark = [pytest.mark.e2e]

REPO = Path(__file__).parent.parent.parent
MINIKUBELET = [sys.executable, "-m", "minikubelet"]


def run(tmp_path: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MINIKUBELET, "run", "--root-dir", str(tmp_path / "root"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def test_hello_example_succeeds(tmp_path: Path) -> None:
    result = run(tmp_path, "examples/hello.yaml")
    assert result.returncode == 0, result.stderr
    assert "hello/hello | hello from hello\n" in result.stdout
    assert "hello/hello | to stderr\n" in result.stdout
    assert "Started container hello" in result.stderr
    assert "pod hello: Succeeded" in result.stderr


def test_init_and_sidecar_example_succeeds(tmp_path: Path) -> None:
    result = run(tmp_path, "examples/init-and-sidecar.yaml")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines.index("job-with-sidecar/migrate | done") < lines.index(
        "job-with-sidecar/job | working"
    )
    assert lines[-1] == "job-with-sidecar/log-shipper | flushing logs"


def test_failed_pod_exits_one(tmp_path: Path) -> None:
    manifest = write(
        tmp_path / "fail.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: fail}}
        spec:
          restartPolicy: Never
          containers:
            - name: app
              command: ["{PYTHON}", "{CHILD}", "--exit-code", "4"]
        """,
    )
    result = run(tmp_path, str(manifest))
    assert result.returncode == 1
    assert "pod fail: Failed" in result.stderr


def test_bad_manifest_is_refused_before_anything_starts(tmp_path: Path) -> None:
    good = write(
        tmp_path / "good.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: good}}
        spec:
          containers:
            - name: app
              command: ["{PYTHON}", "{CHILD}", "--write-file", "{tmp_path / "started"}", "yes"]
        """,
    )
    bad = write(
        tmp_path / "bad.yaml",
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: bad}
        spec:
          containers:
            - name: app
              comand: ["true"]
        """,
    )
    result = run(tmp_path, str(good), str(bad))
    assert result.returncode == 1
    assert f'{bad}: pod "bad": spec.containers[0].comand: Unknown field' in result.stderr
    assert 'did you mean "command"?' in result.stderr
    assert not (tmp_path / "started").exists()


def test_duplicate_pod_names_are_refused(tmp_path: Path) -> None:
    text = """
        apiVersion: v1
        kind: Pod
        metadata: {name: same}
        spec:
          containers:
            - name: app
              command: ["true"]
        """
    first, second = write(tmp_path / "a.yaml", text), write(tmp_path / "b.yaml", text)
    result = run(tmp_path, str(first), str(second))
    assert result.returncode == 1
    assert "Duplicate value" in result.stderr
    assert str(first) in result.stderr


def test_ctrl_c_stops_gracefully_and_exits_130(tmp_path: Path) -> None:
    ready, record = tmp_path / "ready", tmp_path / "record"
    manifest = write(
        tmp_path / "web.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: web}}
        spec:
          terminationGracePeriodSeconds: 5
          containers:
            - name: app
              command: ["{PYTHON}", "{CHILD}", "--forever", "--sigterm-exit-code", "0",
                        "--ready-file", "{ready}", "--record", "{record}"]
              lifecycle:
                preStop:
                  exec:
                    command: ["{PYTHON}", "-c", "open('{tmp_path / "prestop"}', 'w').write('ran')"]
        """,
    )
    process = subprocess.Popen(
        [*MINIKUBELET, "run", "--root-dir", str(tmp_path / "root"), str(manifest)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        anyio.run(wait_for_file, ready)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    assert (tmp_path / "prestop").read_text() == "ran"
    assert "sigterm" in record.read_text()
    assert "Stopping container app" in stderr
    pid = int(ready.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_trace_shows_the_signal_timeline(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with out.open("w") as stdout:
        process = subprocess.Popen(
            [
                *MINIKUBELET,
                "run",
                "--trace",
                "--root-dir",
                str(tmp_path / "root"),
                "--socket",
                str(tmp_path / "mk.sock"),
                "examples/lessons/ignores-sigterm.yaml",
            ],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        try:
            anyio.run(lambda: wait_for_file(out, timeout=20, contains="worker pids"))
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 130
    steps = [
        line.split()[1:2] + line.split()[3:4]
        for line in out.read_text().splitlines()
        if line.startswith("+")
    ]
    assert [step for step, _ in steps] == [
        "Spawned",
        "Killing",
        "Hook",
        "Signal",
        "Grace",
        "Signal",
        "Exited",
    ]
    lines = [line for line in out.read_text().splitlines() if line.startswith("+")]
    assert lines[1].endswith("preStop sleep 1s (grace period 3s)")
    assert "SIGKILL -> 3 processes" in lines[5]
    assert lines[6].endswith("code 137 (killed by SIGKILL)")
