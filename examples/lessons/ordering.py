"""Lesson 8: init container, sidecar, app (run by sidecar-ordering.yaml).

One program, three roles, each printing what it does and when:

    python3 ordering.py init      a one-off setup step: works 0.5 s, exits 0
    python3 ordering.py sidecar   a helper that runs beside the app until told to stop;
                                  on SIGTERM it flushes what it holds and exits 0
    python3 ordering.py app       the job itself: works 1 s, exits 0
"""

import signal
import sys
import time

role = sys.argv[1]


def say(text: str) -> None:
    print(f"{role}: {text}", flush=True)


if role == "init":
    say("migrating the database...")
    time.sleep(0.5)
    say("migration done, exit 0")
elif role == "sidecar":
    shipped = 0

    def on_sigterm(signum: int, frame: object) -> None:
        say(f"SIGTERM received: flushing, {shipped} lines shipped, exit 0")
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    say("shipping logs")
    while True:
        time.sleep(0.25)
        shipped += 1
elif role == "app":
    say("working...")
    time.sleep(1)
    say("finished, exit 0")
else:
    sys.exit(f"unknown role {role!r}")
