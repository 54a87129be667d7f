"""Lesson 9: a crash loop (run by crash-loop.yaml).

An app that needs a database at 127.0.0.1:1, where nothing ever listens: it tries once,
fails, and exits 1. Every restart fails the same way.
"""

import socket
import sys

print("connecting to the database at 127.0.0.1:1 ...", flush=True)
try:
    socket.create_connection(("127.0.0.1", 1), timeout=1).close()
except OSError as error:
    print(f"cannot reach the database: {error}; exit 1", file=sys.stderr, flush=True)
    sys.exit(1)
print("connected", flush=True)
