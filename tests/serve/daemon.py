"""``minikubelet serve`` as systemd runs it: a subprocess with a real NOTIFY_SOCKET."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess  # noqa: TID251 - the test runs the CLI as a user would
import sys
import time
from pathlib import Path
from typing import Any

import httpx

__all__ = ["Daemon", "wait_for"]

REPO = Path(__file__).parent.parent.parent


def wait_for(predicate: Any, timeout: float = 15.0, what: str = "") -> Any:
    """Poll ``predicate()`` until it returns something true; return that."""
    deadline = time.monotonic() + timeout  # noqa: TID251 - a synchronous wait for a fact, under a deadline
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:  # noqa: TID251 - a synchronous wait for a fact, under a deadline
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.02)  # noqa: TID251 - a synchronous wait for a fact, under a deadline


class Daemon:
    """One daemon: its directories, its notify socket, its JSON log lines."""

    def __init__(self, tmp_path: Path, short_tmp: Path) -> None:
        self.root = tmp_path / "root"
        self.manifests = tmp_path / "manifests"
        self.manifests.mkdir(exist_ok=True)
        self.facts = tmp_path / "facts"
        self.facts.mkdir(exist_ok=True)
        self.socket = short_tmp / "api.sock"
        self.notify_path = short_tmp / "notify"
        self.log_path = tmp_path / "daemon.log"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.notify_path))
        self.messages: list[str] = []
        self.process: subprocess.Popen[bytes] | None = None

    def start(
        self, *args: str, env: dict[str, str] | None = None, manifests_flag: bool = True
    ) -> Daemon:
        """Start ``serve`` with the test's directories (``args`` may add a ``--config``)."""
        self._drain()
        environ = dict(os.environ, NOTIFY_SOCKET=str(self.notify_path), **(env or {}))
        command = [
            sys.executable,
            "-m",
            "minikubelet",
            "serve",
            "--root-dir",
            str(self.root),
            *(["--pod-manifest-path", str(self.manifests)] if manifests_flag else []),
            "--socket",
            str(self.socket),
            "--log-format",
            "json",
            "--log-level",
            "info",
            # Long: whatever the daemon picks up during a test came through inotify.
            "--file-check-frequency",
            "5m",
            *args,
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=environ, stdout=log, stderr=log, stdin=subprocess.DEVNULL
            )
        return self

    def _drain(self) -> None:
        """Forget the messages of an earlier run."""
        self.messages.clear()
        self.notify.setblocking(False)
        try:
            while True:
                self.notify.recv(4096)
        except BlockingIOError:
            pass
        finally:
            self.notify.setblocking(True)

    def wait_message(self, prefix: str, timeout: float = 20.0) -> str:
        """The next sd_notify line starting with ``prefix`` (earlier ones are kept)."""
        for line in self.messages:
            if line.startswith(prefix):
                self.messages.remove(line)
                return line
        deadline = time.monotonic() + timeout  # noqa: TID251 - a synchronous wait for a fact, under a deadline
        while True:
            remaining = deadline - time.monotonic()  # noqa: TID251 - a synchronous wait for a fact, under a deadline
            if remaining <= 0:
                raise AssertionError(f"no {prefix!r} from the daemon; log:\n{self.log_text()}")
            self.notify.settimeout(remaining)
            try:
                datagram = self.notify.recv(4096).decode()
            except TimeoutError:
                continue
            lines = datagram.split("\n")
            found = next((line for line in lines if line.startswith(prefix)), None)
            self.messages.extend(line for line in lines if line is not found)
            if found is not None:
                return found

    def wait_ready(self) -> Daemon:
        self.wait_message("READY=1")
        return self

    def send(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Signal the daemon and wait for it to exit; its exit status."""
        assert self.process is not None
        self.process.send_signal(signum)
        code = self.process.wait(timeout)
        self.process = None
        return code

    def client(self) -> httpx.Client:
        """An HTTP client of the daemon's API over its unix socket."""
        transport = httpx.HTTPTransport(uds=str(self.socket))
        return httpx.Client(transport=transport, base_url="http://minikubelet", timeout=10)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.stop(timeout=30)
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.notify.close()

    def log_text(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def logs(self, event: str | None = None) -> list[dict[str, Any]]:
        """The daemon's JSON log lines (all, or those of one event name)."""
        lines = []
        for text in self.log_text().splitlines():
            with contextlib.suppress(ValueError):
                line = json.loads(text)
                if isinstance(line, dict) and (event is None or line.get("event") == event):
                    lines.append(line)
        return lines

    def fact(self, name: str) -> str:
        path = self.facts / name
        return path.read_text() if path.exists() else ""

    def wait_fact(self, name: str, differs_from: str = "", contains: str = "") -> str:
        return str(
            wait_for(
                lambda: (
                    (text := self.fact(name)) and text != differs_from and contains in text and text
                ),
                what=f"{name} (log:\n{self.log_text()})",
            )
        )
