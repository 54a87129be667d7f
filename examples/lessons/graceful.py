"""Lesson 1: graceful shutdown done right (run by graceful-shutdown.yaml).

A worker that takes jobs one at a time; each job takes a second. SIGTERM does not stop it
mid-job: the handler only sets a flag, the job in flight runs to its end, no new job is
taken, and the process exits 0 long before the grace period is over.
"""

import signal
import sys
import time

stopping = False


def on_sigterm(signum: int, frame: object) -> None:
    global stopping
    stopping = True
    print("SIGTERM received: finishing the job in flight, taking no new one", flush=True)


# Install the handler first, then say we are up: a SIGTERM can come at any moment after.
signal.signal(signal.SIGTERM, on_sigterm)
print("worker started", flush=True)

job = 0
while not stopping:
    job += 1
    print(f"job {job}: started", flush=True)
    time.sleep(1.0)  # the work; a signal runs the handler, then the sleep goes on (PEP 475)
    print(f"job {job}: done", flush=True)

print(f"stopped after {job} jobs, nothing lost: exit 0", flush=True)
sys.exit(0)
