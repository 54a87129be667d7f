"""Lesson 4: preStop drains the app before SIGTERM (run by prestop-drain.yaml).

A server that is always in the middle of a 1.5 s request. Its preStop hook calls
GET /drain: the app stops taking new requests, reports itself not ready, and answers only
once the request in flight is finished. SIGTERM comes after the hook has returned, so by
then there is nothing left to lose and the app exits 0 at once.

    python3 drain.py PORT
"""

import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
state = threading.Condition()
printing = threading.Lock()
draining = False
in_flight = 0


def say(text: str) -> None:
    with printing:  # one line at a time: the threads would interleave print()'s parts
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def serve_requests() -> None:
    """Stands in for clients: one 1.5 s request after another, until draining."""
    global in_flight
    number = 0
    while True:
        with state:
            if draining:
                return
            in_flight += 1
        number += 1
        say(f"request {number}: started")
        time.sleep(1.5)
        say(f"request {number}: done")
        with state:
            in_flight -= 1
            state.notify_all()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        global draining
        if self.path == "/ready":
            with state:
                ready = not draining
            self.reply(200 if ready else 503, "ready" if ready else "draining")
        elif self.path == "/drain":
            say("preStop: draining, no new requests")
            with state:
                draining = True
                state.wait_for(lambda: in_flight == 0)
            say("preStop: drained, nothing in flight")
            self.reply(200, "drained")
        else:
            self.reply(404, "not found")

    def reply(self, code: int, text: str) -> None:
        body = text.encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # no access log: the lesson's output stays readable


def on_sigterm(signum: int, frame: object) -> None:
    with state:
        left = in_flight
    say(f"SIGTERM received: {left} requests in flight, exiting")
    sys.exit(0)


signal.signal(signal.SIGTERM, on_sigterm)
server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
say(f"listening on 127.0.0.1:{PORT}")
threading.Thread(target=serve_requests, daemon=True).start()
while True:
    time.sleep(1)
