"""Lesson 6: a slow starter (run by startup-probe.yaml).

It spends 3 seconds "loading" before it listens at all; after that /healthz always
answers 200. A liveness probe that starts checking at once sees "connection refused" and
kills it before it is ever up; a startup probe holds liveness back until the app is up.

    python3 slow_start.py PORT
"""

import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

PORT = int(sys.argv[1])


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # no access log: the lesson's output stays readable


print("loading the model (3 s)...", flush=True)
time.sleep(3)
server = HTTPServer(("127.0.0.1", PORT), Handler)
print(f"loaded; serving on 127.0.0.1:{PORT}", flush=True)
server.serve_forever()
