"""Lesson 3: the app behind a shell wrapper (run by shell-wrapper.yaml).

It handles SIGTERM properly: it says goodbye and exits 0. Whether it ever gets the signal
depends on how it was started: behind `sh -c "...; ..."` the shell is the container's
main process and receives the SIGTERM instead; behind `sh -c "exec ..."` the app *is* the
main process.
"""

import os
import signal
import sys
import time


def on_sigterm(signum: int, frame: object) -> None:
    print("app: SIGTERM received, closing connections, bye", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, on_sigterm)
print(f"app: pid {os.getpid()}, parent pid {os.getppid()}", flush=True)
while True:
    time.sleep(1)
