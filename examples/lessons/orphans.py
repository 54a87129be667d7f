"""Lesson 10: a process that leaves orphans behind (run by orphans.yaml).

The main process starts two helpers that try to get away, then waits for SIGTERM:

* a "worker" in a new session (setsid): it is still our child, but no longer in our
  process group, so `kill -TERM -<pgid>` would miss it;
* a "daemon", double-forked the classic way: its parent exits at once, so it is not even
  our descendant any more - it is re-parented to the nearest subreaper (minikubelet).

On SIGTERM the main process exits 0 and forgets both. Each helper prints its pid, parent
pid and session id, so you can check with `ps -o pid,ppid,sid,args -p PID` while it runs.
"""

import os
import signal
import subprocess
import sys
import time


def helper(name: str) -> None:
    """Report who we are and who our parent is, then linger (never told to stop)."""
    print(f"{name}: pid {os.getpid()}, parent {os.getppid()}, session {os.getsid(0)}", flush=True)
    time.sleep(600)
    os._exit(0)


if sys.argv[1:] == ["--worker"]:
    helper("worker")

report_read, report_write = os.pipe()
if os.fork() == 0:  # first fork: a child that starts a new session and forks again
    os.setsid()
    middle = os.getpid()
    if os.fork() == 0:  # second fork: the daemon
        os.close(report_read)
        while os.getppid() == middle:  # wait until re-parented
            time.sleep(0.01)
        os.close(report_write)  # tells the main process we are orphaned
        helper("daemon")
    os._exit(0)  # the intermediate child exits: the daemon is an orphan now
os.close(report_write)
os.read(report_read, 1)  # EOF once the daemon is re-parented
os.wait()

worker = subprocess.Popen([sys.executable, __file__, "--worker"], start_new_session=True)


def on_sigterm(signum: int, frame: object) -> None:
    print("main: SIGTERM received, exit 0 (and the helpers? not my problem)", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, on_sigterm)
print(f"main: pid {os.getpid()}, session {os.getsid(0)}; helpers started", flush=True)
while True:
    time.sleep(1)
