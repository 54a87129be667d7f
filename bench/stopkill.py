"""When the SIGKILL lands: ``serve`` stopping N pods whose processes ignore SIGTERM.

Starts ``minikubelet serve`` on a temporary root dir with N static pods, each a process
that ignores SIGTERM (``trap '' TERM; exec sleep``) with the given grace period, sends the
daemon SIGTERM, and times each main process's death from that moment, exactly (a pidfd
per process, no polling). The peer harness measures the same by polling ``/proc`` every
5 ms from a thread of its own, which adds about 5 ms to its numbers.

    .venv/bin/python bench/stopkill.py --pods 20 --grace 2 --runs 3
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from keeper import wait

MANIFEST = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  terminationGracePeriodSeconds: {grace}
  containers:
  - name: main
    command: ["/bin/sh", "-c", "trap '' TERM; echo $$$$ > {pid_file}; exec sleep 100000"]
"""  # $$$$: the manifest's escape for the shell's $$


def one_run(binary: str, pods: int, grace: int, base: Path) -> list[float]:
    """The deaths of the pods' main processes, in ms after the daemon's SIGTERM."""
    manifests, pid_dir = base / "manifests", base / "pids"
    manifests.mkdir()
    pid_dir.mkdir()
    for index in range(pods):
        name = f"stubborn-{index:03d}"
        pid_file = pid_dir / name
        text = MANIFEST.format(name=name, grace=grace, pid_file=pid_file)
        (manifests / f"{name}.yaml").write_text(text)
    command = [binary, "serve", "--pod-manifest-path", str(manifests)]
    command += ["--root-dir", str(base / "root"), "--socket", str(base / "api.sock")]
    with open(base / "daemon.log", "wb") as log:
        daemon = subprocess.Popen(command, stdout=log, stderr=log)
    try:

        def all_written() -> list[int] | None:
            files = [pid_dir / f"stubborn-{index:03d}" for index in range(pods)]
            texts = [path.read_text().strip() if path.exists() else "" for path in files]
            return [int(text) for text in texts] if all(texts) else None

        pids = wait(all_written, 60, "every pod to start")
        time.sleep(1.0)  # past the start-up burst
        pidfds = {os.pidfd_open(pid): pid for pid in pids}
        poller = select.poll()
        for pidfd in pidfds:
            poller.register(pidfd, select.POLLIN)
        sent = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        died: list[float] = []
        while len(died) < pods and time.monotonic() - sent < grace + 30:
            for pidfd, _ in poller.poll(1000):
                died.append((time.monotonic() - sent) * 1000)
                poller.unregister(pidfd)
                os.close(pidfd)
        daemon.wait(60)
        if len(died) < pods:
            raise SystemExit(f"only {len(died)} of {pods} processes died")
        return sorted(died)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = shutil.which("minikubelet", path=os.path.dirname(sys.executable))
    parser.add_argument("--minikubelet", default=default, help="the executable to measure")
    parser.add_argument("--pods", type=int, default=20)
    parser.add_argument("--grace", type=int, default=2, help="seconds")
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    if not options.minikubelet:
        parser.error("no minikubelet executable next to this interpreter (--minikubelet)")
    every: list[float] = []
    for run in range(options.runs):
        with tempfile.TemporaryDirectory(prefix="mk-stopkill-") as directory:
            died = one_run(options.minikubelet, options.pods, options.grace, Path(directory))
        every += died
        print(
            f"run {run + 1}: SIGKILLed after {died[0]:.1f} / {statistics.median(died):.1f} / "
            f"{died[-1]:.1f} ms (first / p50 / last)",
            flush=True,
        )
    print(
        f"all {len(every)}: p50 {statistics.median(every):.1f} ms, max {max(every):.1f} ms "
        f"(goal: p50 <= {options.grace * 1000 + 10}, max <= {options.grace * 1000 + 20})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
