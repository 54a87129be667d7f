"""Lesson 11: exit codes and signals (run by exit-codes.yaml).

    python3 exit_codes.py exit N    exits with code N: the program's own choice
    python3 exit_codes.py segfault  reads memory at address 0: the kernel sends SIGSEGV
    python3 exit_codes.py abort     calls abort(), as a failed C assertion does: SIGABRT
    python3 exit_codes.py kill      sends itself SIGKILL, as the OOM killer would

A process killed by signal N has no exit code of its own; Kubernetes reports 128 + N.
"""

import ctypes
import os
import resource
import signal
import sys

how = sys.argv[1]
print(f"pid {os.getpid()}: {' '.join(sys.argv[1:])}", flush=True)
# SIGSEGV and SIGABRT dump core by default: no core file in the lessons directory, please.
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
if how == "exit":
    sys.exit(int(sys.argv[2]))
elif how == "segfault":
    ctypes.string_at(0)  # a null pointer dereference
elif how == "abort":
    os.abort()
elif how == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
sys.exit(f"unknown action {how!r}")
