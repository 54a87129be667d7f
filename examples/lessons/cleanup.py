"""Lesson 12: cleanup code and the stop signal (run by stop-signal.yaml).

The program holds a resource and releases it in a `finally:` block. That
block runs when Python raises an exception - KeyboardInterrupt, for SIGINT - but a
SIGTERM that nobody handles kills the interpreter on the spot: no `finally`, no `atexit`.
"""

import os
import signal
import sys
import time

name = sys.argv[1]
# Python raises KeyboardInterrupt on SIGINT unless it started with SIGINT ignored (as
# under `nohup` or `cmd &` in a script); say so explicitly.
signal.signal(signal.SIGINT, signal.default_int_handler)
print(f"{name}: pid {os.getpid()}, resource acquired", flush=True)
try:
    while True:
        time.sleep(1)
except KeyboardInterrupt:
    print(f"{name}: KeyboardInterrupt (SIGINT)", flush=True)
finally:
    print(f"{name}: cleanup in finally: resource released", flush=True)
sys.exit(0)
