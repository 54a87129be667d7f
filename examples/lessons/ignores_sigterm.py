"""Lesson 2: a program that ignores SIGTERM (run by ignores-sigterm.yaml).

The main process starts two worker processes, then shrugs off every SIGTERM. Only the
main process is sent SIGTERM; the workers never hear about it. When the grace period runs
out, every process of the container is SIGKILLed at once: exit code 137 (128 + 9).
"""

import os
import signal
import subprocess
import sys
import time

if sys.argv[1:] == ["--worker"]:
    time.sleep(600)  # a worker: busy forever (it is never told to stop)
    sys.exit(0)


def on_sigterm(signum: int, frame: object) -> None:
    print("SIGTERM received... and ignored: still busy", flush=True)


signal.signal(signal.SIGTERM, on_sigterm)
workers = [subprocess.Popen([sys.executable, __file__, "--worker"]) for _ in range(2)]
pids = " ".join(str(worker.pid) for worker in workers)
print(f"main pid {os.getpid()}, worker pids {pids}", flush=True)

while True:
    time.sleep(1)
