"""Lesson 5: a deadlocked app rescued by its liveness probe (run by liveness-deadlock.yaml).

A server whose /healthz needs the same lock as its background work. Half a second after
start, two worker threads take two locks in opposite orders and deadlock; from then on /healthz
hangs forever. The process is alive, so only a liveness probe can tell that it is stuck.

    python3 deadlock.py PORT
"""

import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
accounts = threading.Lock()
ledger = threading.Lock()
printing = threading.Lock()


def say(text: str) -> None:
    with printing:  # one line at a time: threads would interleave print()'s parts
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def transfer(first: threading.Lock, second: threading.Lock, name: str) -> None:
    with first:
        time.sleep(0.2)  # long enough for the other thread to take its first lock
        say(f"{name}: waiting for the second lock...")
        with second:  # never acquired: the other thread holds it, waiting for ours
            say(f"{name}: done")


def start_work() -> None:
    time.sleep(0.5)
    say("work: two transfers at once, locks taken in opposite orders")
    threading.Thread(target=transfer, args=(accounts, ledger, "transfer A"), daemon=True).start()
    threading.Thread(target=transfer, args=(ledger, accounts, "transfer B"), daemon=True).start()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        with accounts:  # the health check looks at the accounts: it blocks once deadlocked
            body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # no access log: the lesson's output stays readable


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
server.daemon_threads = True
say(f"pid {os.getpid()} listening on 127.0.0.1:{PORT}")
threading.Thread(target=start_work, daemon=True).start()
server.serve_forever()
