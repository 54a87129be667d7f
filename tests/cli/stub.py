"""A scripted Kubernetes-shaped API on a unix socket, to test the client commands alone.

Routes answer with ``Reply`` objects (JSON, text, or a chunked stream fed as the test goes)
and every request is recorded, so a test checks both what the command printed and what
it asked. Streams read from a ``queue.Queue``: ``None`` ends the response.
"""

from __future__ import annotations

import http.server
import json
import queue
import socketserver
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Reply", "Request", "StubServer", "not_found"]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    stream: queue.Queue[bytes | None] | None = None
    content_type: str = "application/json"


Handler = Callable[[Request], Reply]


def not_found(name: str, kind: str = "pods") -> Reply:
    return Reply(
        404,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f'{kind} "{name}" not found',
            "reason": "NotFound",
            "details": {"name": name, "kind": kind},
            "code": 404,
        },
    )


@dataclass
class _Routes:
    handlers: dict[tuple[str, str], Handler] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    routes: _Routes

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _handle(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        request = Request(self.command, url.path, query, body)
        with self.routes.lock:
            self.routes.requests.append(request)
            handler = self.routes.handlers.get((self.command, url.path))
        reply = handler(request) if handler else not_found(url.path, "paths")
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        if reply.stream is not None:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            while (chunk := reply.stream.get()) is not None:
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            self.close_connection = True
            return
        if isinstance(reply.body, bytes | str):
            data = reply.body.encode() if isinstance(reply.body, str) else reply.body
        else:
            data = json.dumps(reply.body).encode()
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle_quietly(self) -> None:
        try:
            self._handle()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away first, as clients may

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle_quietly


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False


class StubServer:
    """Use as a context manager; ``route`` scripts answers, ``requests`` records questions."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._routes = _Routes()
        handler = type("Handler", (_Handler,), {"routes": self._routes})
        self._server = _Server(path, handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def route(self, method: str, path: str, answer: Reply | Handler | list[Reply]) -> None:
        """Answer ``method path`` with a fixed reply, replies in turn (the last repeats), or
        a function of the request. A streamed reply can only be used once: route a function
        that makes a fresh one for streams requested more than once."""
        handler: Handler
        if isinstance(answer, Reply | list):
            replies = [answer] if isinstance(answer, Reply) else list(answer)

            def handler(request: Request) -> Reply:
                return replies.pop(0) if len(replies) > 1 else replies[0]

        else:
            handler = answer
        with self._routes.lock:
            self._routes.handlers[(method, path)] = handler

    @property
    def requests(self) -> list[Request]:
        with self._routes.lock:
            return list(self._routes.requests)

    def requests_to(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path == path]
