"""What the keeper costs, and how long adoption takes.

Starts ``minikubelet serve`` on a temporary root dir with N static pods (``/bin/sleep``),
then prints the keeper's RSS with no container and with N, the daemon's RSS, and the
time from a restarted daemon's start (after ``kill -9`` of the first) to READY with every
container adopted. Black box: the CLI in a subprocess, facts from /proc and the API.

    .venv/bin/python bench/keeper.py --pods 50
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil


def rss_mib(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def keeper_of(root: Path) -> int | None:
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "minikubelet.runtime.keeper" in cmdline and str(root) in cmdline:
            return process.pid
    return None


def wait(predicate, timeout: float = 60.0, what: str = ""):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise SystemExit(f"timed out waiting for {what}")


class Serve:
    def __init__(self, base: Path) -> None:
        self.root = base / "root"
        self.manifests = base / "manifests"
        self.manifests.mkdir(exist_ok=True)
        self.socket = base / "api.sock"
        self.notify_path = base / "notify"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.notify_path))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start serve; seconds until READY=1."""
        began = time.monotonic()
        env = dict(os.environ, NOTIFY_SOCKET=str(self.notify_path))
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "minikubelet",
                "serve",
                "--root-dir",
                str(self.root),
                "--pod-manifest-path",
                str(self.manifests),
                "--socket",
                str(self.socket),
                "--log-format",
                "json",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.notify.settimeout(120)
        while b"READY=1" not in self.notify.recv(4096):
            pass
        return time.monotonic() - began

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(120)


def sleepers(root: Path) -> list[int]:
    """The containers: /bin/sleep processes carrying a tag, under the keeper."""
    keeper = keeper_of(root)
    if keeper is None:
        return []
    return [p.pid for p in psutil.Process(keeper).children() if p.name() == "sleep"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mk-keeper-", dir="/tmp") as directory:
        serve = Serve(Path(directory))
        serve.start()
        keeper = wait(lambda: keeper_of(serve.root), what="the keeper")
        empty = rss_mib(keeper)
        serve.stop()
        wait(lambda: not psutil.pid_exists(keeper) or keeper_of(serve.root) is None, what="exit")
        for index in range(options.pods):
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"sleeper-{index}"},
                "spec": {"containers": [{"name": "app", "command": ["/bin/sleep", "3600"]}]},
            }
            (serve.manifests / f"sleeper-{index}.yaml").write_text(json.dumps(pod))
        serve.start()
        running = wait(lambda: len(s := sleepers(serve.root)) == options.pods and s, what="pods")
        keeper = keeper_of(serve.root)
        assert keeper is not None
        assert serve.process is not None
        full = rss_mib(keeper)
        daemon = rss_mib(serve.process.pid)
        serve.kill()
        adopt_ready = serve.start()
        survived = sorted(sleepers(serve.root)) == sorted(running)
        serve.stop()
        results = {
            "pods": options.pods,
            "keeper_rss_mib_empty": round(empty, 1),
            "keeper_rss_mib_full": round(full, 1),
            "keeper_kib_per_container": round((full - empty) * 1024 / options.pods, 1),
            "daemon_rss_mib": round(daemon, 1),
            "restart_to_ready_s_with_adoption": round(adopt_ready, 3),
            "same_pids_after_kill_9": survived,
        }
    for key, value in results.items():
        print(f"{key:36} {value}")
    if options.json is not None:
        options.json.write_text(json.dumps(results, indent=2))
    return 0 if survived else 1


if __name__ == "__main__":
    sys.exit(main())
