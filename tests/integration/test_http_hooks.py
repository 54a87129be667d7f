"""httpGet lifecycle hooks on real sockets: the prober's request, the lifecycle's rules.

``pkg/kubelet/lifecycle/handlers.go``: only a transport error fails the hook (the status
code is ignored), the User-Agent is ``kube-lifecycle/<version>``, and an HTTPS hook that
reaches a plain HTTP server is retried over HTTP without its Authorization header.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme

from minikubelet.kubelet import Kubelet
from minikubelet.lifecycle import run_hook
from minikubelet.model.launch import Launch
from minikubelet.model.spec import Container, HTTPGetAction, HTTPHeader, Lifecycle
from minikubelet.runtime.fake import FakeRuntime
from minikubelet.testing import container, wait_for_status
from tests.helpers.pods import child, pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

APP = Container(name="app", command=("app",))
LAUNCH = Launch(tag="uid/app", argv=(), cwd="/")
POD = "web_default(uid)"


@dataclass
class Seen:
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[tuple[int, Seen]]:
    """A plain HTTP server answering ``status`` (the test's parameter, 200 by default)."""
    status = getattr(request, "param", 200)
    seen = Seen()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.requests.append((self.path, dict(self.headers.items())))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], seen
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Seen]]:
    authority = trustme.CA()
    cert = authority.issue_cert("127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    seen = Seen()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.requests.append((self.path, dict(self.headers.items())))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], seen
    finally:
        httpd.shutdown()
        httpd.server_close()


async def hook(action: HTTPGetAction) -> tuple[bool, str, tuple[str, str] | None]:
    result = await run_hook(action, APP, FakeRuntime(), LAUNCH, POD)
    return result.ok, result.detail, result.warning


@pytest.mark.parametrize("server", [200, 500, 404], indirect=True)
async def test_any_status_is_a_success(server: tuple[int, Seen]) -> None:
    port, seen = server
    assert await hook(HTTPGetAction(port=port, path="/quit")) == (True, "", None)
    ((path, headers),) = seen.requests
    assert path == "/quit"
    assert headers["User-Agent"] == "kube-lifecycle/1.34"


@pytest.fixture
def closed_port() -> int:
    """A port nobody listens on (bound, then closed: refused at once)."""
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port: int = placeholder.getsockname()[1]
    return port


async def test_a_transport_error_fails(closed_port: int) -> None:
    ok, detail, _ = await hook(HTTPGetAction(port=closed_port, path="/quit"))
    assert not ok
    assert detail == (
        f'HTTP lifecycle hook (/quit) for Container "app" in Pod "{POD}" failed - error: '
        f'Get "http://127.0.0.1:{closed_port}/quit": dial tcp 127.0.0.1:{closed_port}: '
        "connect: connection refused"
    )


async def test_https_without_verification(tls_server: tuple[int, Seen]) -> None:
    port, seen = tls_server
    assert await hook(HTTPGetAction(port=port, scheme="HTTPS")) == (True, "", None)
    assert len(seen.requests) == 1


async def test_https_to_a_plain_server_falls_back_to_http(server: tuple[int, Seen]) -> None:
    port, seen = server
    secret = HTTPHeader("Authorization", "Bearer s3cret")
    ok, _, warning = await hook(HTTPGetAction(port=port, scheme="HTTPS", http_headers=(secret,)))
    assert ok
    assert warning == (
        "LifecycleHTTPFallback",
        f"request to HTTPS lifecycle hook 127.0.0.1:{port} got HTTP response, "
        "retry with HTTP succeeded",
    )
    ((_, headers),) = seen.requests  # the TLS attempt never reached the handler
    assert "Authorization" not in headers  # never sent in the clear


async def test_the_fallback_is_an_event_on_the_pod(
    kubelet: Kubelet, server: tuple[int, Seen]
) -> None:
    port, _ = server
    post_start = HTTPGetAction(port=port, scheme="HTTPS")
    worker = await start(
        kubelet,
        pod("hooked", child("app", "--forever", lifecycle=Lifecycle(post_start=post_start))),
    )
    await wait_for_status(worker, lambda s: container(s, "app").ready)
    fallbacks = [
        e for e in kubelet.recorder.events(pod="hooked") if e.reason == "LifecycleHTTPFallback"
    ]
    assert [(e.type.value, e.field_path) for e in fallbacks] == [("Warning", "")]
    worker.terminate()
    await worker.wait_done()
