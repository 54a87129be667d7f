"""Lesson 7: readiness during warm-up (run by readiness-warmup.yaml).

The server listens at once, but spends its first 2.5 seconds filling a cache: until then
/ready answers 503 with its progress, then 200. It is never unhealthy, only not ready yet.

    python3 warmup.py PORT
"""

import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

PORT = int(sys.argv[1])
WARM_UP = 2.5
started = time.monotonic()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        progress = min((time.monotonic() - started) / WARM_UP, 1.0)
        if progress < 1.0:
            self.reply(503, f"warming up: cache {progress:.0%} full")
        else:
            self.reply(200, "ready")

    def reply(self, code: int, text: str) -> None:
        print(f"GET {self.path} -> {code} {text}", flush=True)
        body = text.encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # reply() prints its own line


server = HTTPServer(("127.0.0.1", PORT), Handler)
print(f"serving on 127.0.0.1:{PORT}, warming up the cache", flush=True)
server.serve_forever()
