"""The dashboard in a real terminal (tmux), driven as a person would: keys in, screen out.

``minikubelet ui`` against a daemon (quitting leaves the pods running), and ``run --ui``
(quitting stops the pods gracefully, quitting twice kills them, exit status 130 as after
Ctrl-C).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess  # noqa: TID251 - tmux and minikubelet run as a person runs them
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.serve.daemon import REPO, Daemon, wait_for
from tests.ui.dashboard import child_pod_json, create_pod

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


class Tmux:
    """One tmux server of our own (``-L``), one 80x24 window running ``command``."""

    def __init__(self) -> None:
        self.name = f"mk-{uuid.uuid4().hex[:8]}"
        self.server_pid: int | None = None

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.name, *args], capture_output=True, text=True, check=True
        )
        return done.stdout

    def start(self, command: str, width: int = 80, height: int = 24, env: str = "") -> None:
        shell = f"cd {REPO} && {env} {command}; echo EXITED $?; sleep 120"
        self.tmux("new-session", "-d", "-x", str(width), "-y", str(height), "-s", "t", shell)
        self.server_pid = int(self.tmux("display-message", "-p", "#{pid}").strip())

    def screen(self, escapes: bool = False) -> str:
        """The pane's text; with ``escapes``, its colours and attributes as SGR sequences."""
        return self.tmux("capture-pane", "-p", *(["-e"] if escapes else []), "-t", "t")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "t", *keys)

    def wait(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout  # noqa: TID251 - a synchronous wait for the screen, under a deadline
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:  # noqa: TID251 - a synchronous wait for the screen, under a deadline
                raise AssertionError(f"{text!r} never showed; the screen:\n{screen}")
            time.sleep(0.1)  # noqa: TID251 - a synchronous wait for the screen, under a deadline

    def first_key(self, key: str, *shows: str) -> None:
        """Type ``key`` until the screen shows one of ``shows``: the first key typed while
        Textual still reads the terminal's answers to its start-up queries can be lost."""
        for _ in range(3):
            self.keys(key)
            deadline = time.monotonic() + 3  # noqa: TID251 - a synchronous wait for the screen, under a deadline
            while time.monotonic() < deadline:  # noqa: TID251 - a synchronous wait for the screen, under a deadline
                screen = self.screen()
                if any(text in screen for text in shows):
                    return
                time.sleep(0.1)  # noqa: TID251 - a synchronous wait for the screen, under a deadline
        raise AssertionError(f"{key!r} did nothing; the screen:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.name, "kill-server"], capture_output=True, check=False)
        if self.server_pid is not None:
            pid = self.server_pid
            wait_for(lambda: gone(pid), what="the tmux server to exit")


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    terminal = Tmux()
    yield terminal
    terminal.close()


@pytest.fixture
def daemon(tmp_path: Path, short_tmp: Path) -> Iterator[Daemon]:
    running = Daemon(tmp_path, short_tmp)
    yield running
    running.close()


def test_ui_in_a_terminal_quits_without_stopping_the_pods(daemon: Daemon, tmux: Tmux) -> None:
    daemon.start().wait_ready()
    create_pod(daemon.socket, child_pod_json("web", "--forever", "--print", "hello from web"))
    create_pod(daemon.socket, child_pod_json("other", "--forever"))
    tmux.start(f"{sys.executable} -m minikubelet ui --server {daemon.socket}")
    tmux.wait("Running")
    screen = tmux.wait("quit")
    assert "connected" in screen
    lines = screen.splitlines()
    assert "web" in screen
    assert len(lines) == 24
    assert "quit" in lines[23]  # the key line, on the last of 24 rows

    tmux.first_key("/", "filter: name, or labels")  # filter by name, as typed
    tmux.keys("-l", "web")
    tmux.keys("Enter")
    screen = tmux.wait("filter: web")
    assert "other" not in screen

    tmux.keys("2")  # the logs pane of the selected (the only shown) pod
    tmux.wait("hello from web")

    tmux.keys("?")
    tmux.wait("ctrl+k")
    tmux.keys("q")  # closes the help (Escape would too, but ESC then q reads as alt+q)
    wait_for(lambda: "ctrl+k" not in tmux.screen(), what="the help to close")

    tmux.keys("q")
    tmux.wait("EXITED 0")
    transport = httpx.HTTPTransport(uds=str(daemon.socket))
    with httpx.Client(transport=transport, base_url="http://minikubelet") as client:
        web = client.get("/api/v1/namespaces/default/pods/web").json()
    assert web["status"]["phase"] == "Running"  # quitting the dashboard left it alone


def _colours(screen: str) -> set[str]:
    """The colour parameters of every SGR sequence on the screen (30-37, 38;2;r;g;b, ...)."""
    found = set()
    for sequence in re.findall(r"\x1b\[([0-9;]*)m", screen):
        parts = sequence.split(";")
        index = 0
        while index < len(parts):
            part = parts[index]
            if part in ("38", "48"):  # extended: 5;n or 2;r;g;b
                width = 3 if parts[index + 1 : index + 2] == ["5"] else 5
                found.add(";".join(parts[index : index + width]))
                index += width
                continue
            if (
                part
                and (30 <= int(part) <= 49 or 90 <= int(part) <= 107)
                and part not in ("39", "49")
            ):
                found.add(part)
            index += 1
    return found


@pytest.mark.parametrize("no_color", [False, True], ids=["ansi", "NO_COLOR"])
def test_the_terminals_own_colours_or_none(daemon: Daemon, tmux: Tmux, no_color: bool) -> None:
    daemon.start().wait_ready()
    create_pod(daemon.socket, child_pod_json("crash", "--exit-code", "1"))
    env = "NO_COLOR=1" if no_color else ""
    tmux.start(f"{sys.executable} -m minikubelet ui --server {daemon.socket}", env=env)
    tmux.wait("quit")
    tmux.wait("crash")
    colours = _colours(tmux.screen(escapes=True))
    if no_color:
        assert colours == set()
    else:
        assert colours  # there are colours, and each is one of the terminal's 16
        assert all(";" not in colour for colour in colours), colours


def _run_ui(tmp_path: Path, short_tmp: Path, tmux: Tmux, *flags: str) -> Path:
    manifest = tmp_path / "app.json"
    pid_file = tmp_path / "pid"
    pod = child_pod_json("app", "--forever", "--ready-file", str(pid_file), *flags, grace=30)
    manifest.write_text(json.dumps(pod))
    tmux.start(
        f"{sys.executable} -m minikubelet run --ui --root-dir {tmp_path / 'root'} "
        f"--socket {short_tmp / 'run.sock'} --initial-container-restart-period 1s {manifest}"
    )
    tmux.wait("Running")
    wait_for(lambda: pid_file.exists() and pid_file.read_text(), what="the pid file")
    return pid_file


def test_run_ui_quit_stops_the_pods_gracefully(tmp_path: Path, short_tmp: Path, tmux: Tmux) -> None:
    record = tmp_path / "record"
    pid_file = _run_ui(
        tmp_path, short_tmp, tmux, "--sigterm-exit-code", "0", "--record", str(record)
    )
    pid = int(pid_file.read_text())
    tmux.first_key("q", "stopping pods gracefully", "EXITED")
    screen = tmux.wait("EXITED 130")  # as after Ctrl-C
    assert "pod app: Succeeded" in screen
    assert "sigterm" in record.read_text()  # stopped with its stop signal, not killed
    wait_for(lambda: gone(pid), what="the container to be gone")


def test_run_ui_quit_twice_kills_the_pods(tmp_path: Path, short_tmp: Path, tmux: Tmux) -> None:
    pid_file = _run_ui(tmp_path, short_tmp, tmux, "--ignore-sigterm")
    pid = int(pid_file.read_text())
    tmux.first_key("q", "stopping pods gracefully")  # the dashboard stays, showing the stop
    assert not gone(pid)  # it ignores SIGTERM and has 30 s of grace
    tmux.keys("q")
    screen = tmux.wait("EXITED 130", timeout=15)
    assert "pod app: Failed" in screen
    assert gone(pid)
