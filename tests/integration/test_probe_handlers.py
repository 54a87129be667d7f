"""Probe handlers against real servers and real processes (``pkg/probe/{exec,http,tcp}``).

Servers run in threads of the test process on port 0, so every test runs unchanged under
asyncio and trio. A port that refuses is a bound socket that does not listen; a server
that "accepts but never answers" is a listening socket that never calls accept() (the
kernel completes the handshake into the backlog).
"""

from __future__ import annotations

import http.server
import os
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import psutil
import pytest

from minikubelet.model.probe import ProbeOutcome, ProbeResult
from minikubelet.model.spec import (
    Container,
    ContainerPort,
    EnvVar,
    ExecAction,
    GRPCAction,
    HTTPGetAction,
    HTTPHeader,
    ProbeHandler,
    TCPSocketAction,
)
from minikubelet.prober import Prober
from minikubelet.runtime.base import Launch
from minikubelet.runtime.local import LocalRuntime
from tests.conftest import CHILD, PYTHON

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

TIMEOUT = 1.0


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def runtime() -> LocalRuntime:
    return LocalRuntime()


@pytest.fixture
def prober(runtime: LocalRuntime) -> Prober:
    return Prober(runtime)


@pytest.fixture
def launch(tmp_path: Path) -> Launch:
    return Launch(tag="test/app", argv=(), cwd=str(tmp_path), env=dict(os.environ))


APP = Container(name="app", command=("true",))


async def run(
    prober: Prober,
    handler: ProbeHandler,
    launch: Launch,
    *,
    container: Container = APP,
    timeout: float = TIMEOUT,
) -> ProbeOutcome:
    return await prober.probe(handler, container=container, launch=launch, timeout=timeout)


# --- servers ----------------------------------------------------------------------------


@dataclass
class Seen:
    """What the HTTP server received: (path, headers as (name, value) pairs) per request."""

    requests: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)

    def headers(self, index: int = -1) -> dict[str, str]:
        return {name.lower(): value for name, value in self.requests[index][1]}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: Seen
    other_host: str  # an absolute URL prefix on a different host name, same server

    def do_GET(self) -> None:
        self.seen.requests.append((self.path, list(self.headers.items())))
        path = self.path
        if path == "/ok":
            self._answer(200, b"fine")
        elif path == "/fail":
            self._answer(500, b"secret details")
        elif path == "/to-ok":
            self._answer(302, b"", location="/ok")
        elif path == "/to-fail":
            self._answer(301, b"", location="/fail")
        elif path == "/elsewhere":
            self._answer(302, b"gone fishing", location=f"{self.other_host}/ok")
        elif path == "/elsewhere-big":
            self._answer(302, b"x" * 20_000, location=f"{self.other_host}/ok")
        elif path.startswith("/chain/"):  # /chain/N: N redirects, then 200
            left = int(path.rsplit("/", 1)[1])
            if left:
                self._answer(307, b"", location=f"/chain/{left - 1}")
            else:
                self._answer(200, b"end")
        elif path.startswith("/loop/"):
            self._answer(302, b"", location=f"/loop/{int(path.rsplit('/', 1)[1]) + 1}")
        else:
            self._answer(404, b"not found")

    def _answer(self, status: int, body: bytes, *, location: str | None = None) -> None:
        self.send_response(status)
        if location is not None:
            self.send_header("Location", location)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Server:
    port: int
    seen: Seen


def _serve(context: ssl.SSLContext | None = None) -> Iterator[Server]:
    seen = Seen()
    handler = type("Handler", (_Handler,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    port = server.server_address[1]
    scheme = "https" if context else "http"
    setattr(handler, "other_host", f"{scheme}://localhost:{port}")  # noqa: B010 - a class made at run time
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield Server(port, seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def server() -> Iterator[Server]:
    yield from _serve()


@pytest.fixture
def tls_server() -> Iterator[Server]:
    trustme = pytest.importorskip("trustme")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(context)
    yield from _serve(context)


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A port bound by nobody listening: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (in the kernel) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


@dataclass
class RawServer:
    """Answers every request with ``reply`` as raw bytes, then closes the connection or,
    with ``hold``, keeps it open (without a word more) until the test ends."""

    reply: bytes
    hold: bool = False
    port: int = 0

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.02)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        held = []
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            connection.settimeout(1)
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(4096)
            connection.sendall(self.reply)
            if self.hold:
                held.append(connection)
            else:
                connection.close()
        for connection in held:
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._listener.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    servers: list[RawServer] = []

    def make(reply: bytes, *, hold: bool = False) -> RawServer:
        servers.append(RawServer(reply, hold))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


# --- httpGet ----------------------------------------------------------------------------


async def test_http_success(prober: Prober, launch: Launch, server: Server) -> None:
    outcome = await run(prober, HTTPGetAction(port=server.port, path="/ok"), launch)
    assert outcome == ProbeOutcome(ProbeResult.SUCCESS)
    path, _ = server.seen.requests[0]
    assert path == "/ok"


async def test_http_error_status_fails_without_body(
    prober: Prober, launch: Launch, server: Server
) -> None:
    outcome = await run(prober, HTTPGetAction(port=server.port, path="/fail"), launch)
    assert outcome == ProbeOutcome(ProbeResult.FAILURE, "HTTP probe failed with statuscode: 500")


async def test_http_named_port(prober: Prober, launch: Launch, server: Server) -> None:
    container = Container(
        name="app",
        command=("true",),
        ports=(ContainerPort(container_port=server.port, name="http-health"),),
    )
    action = HTTPGetAction(port="http-health", path="/ok")
    outcome = await run(prober, action, launch, container=container)
    assert outcome.result is ProbeResult.SUCCESS


async def test_http_unknown_port_name_is_an_error(prober: Prober, launch: Launch) -> None:
    outcome = await run(prober, HTTPGetAction(port="nope", path="/ok"), launch)
    assert outcome == ProbeOutcome(ProbeResult.UNKNOWN, "couldn't find port: nope in app")


async def test_http_default_headers(prober: Prober, launch: Launch, server: Server) -> None:
    action = HTTPGetAction(
        port=server.port, path="/ok", http_headers=(HTTPHeader("X-Custom", "yes"),)
    )
    assert (await run(prober, action, launch)).result is ProbeResult.SUCCESS
    headers = server.seen.headers()
    assert headers["x-custom"] == "yes"
    assert headers["user-agent"] == "kube-probe/1.34"
    assert headers["accept"] == "*/*"
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert headers["connection"] == "close"
    assert "accept-encoding" not in headers


async def test_http_user_headers_override_defaults(
    prober: Prober, launch: Launch, server: Server
) -> None:
    action = HTTPGetAction(
        port=server.port,
        path="/ok",
        http_headers=(
            HTTPHeader("user-agent", "my-agent"),
            HTTPHeader("Accept", ""),
            HTTPHeader("Host", "example.test"),
        ),
    )
    assert (await run(prober, action, launch)).result is ProbeResult.SUCCESS
    headers = server.seen.headers()
    assert headers["user-agent"] == "my-agent"
    assert "accept" not in headers  # an empty value removes the default
    assert headers["host"] == "example.test"


async def test_http_empty_user_agent_removes_it(
    prober: Prober, launch: Launch, server: Server
) -> None:
    action = HTTPGetAction(
        port=server.port, path="/ok", http_headers=(HTTPHeader("User-Agent", ""),)
    )
    assert (await run(prober, action, launch)).result is ProbeResult.SUCCESS
    assert "user-agent" not in server.seen.headers()


async def test_http_same_host_redirect_to_success(
    prober: Prober, launch: Launch, server: Server
) -> None:
    outcome = await run(prober, HTTPGetAction(port=server.port, path="/to-ok"), launch)
    assert outcome == ProbeOutcome(ProbeResult.SUCCESS)
    assert [path for path, _ in server.seen.requests] == ["/to-ok", "/ok"]
    assert server.seen.headers(1)["user-agent"] == "kube-probe/1.34"


async def test_http_same_host_redirect_to_failure(
    prober: Prober, launch: Launch, server: Server
) -> None:
    outcome = await run(prober, HTTPGetAction(port=server.port, path="/to-fail"), launch)
    assert outcome == ProbeOutcome(ProbeResult.FAILURE, "HTTP probe failed with statuscode: 500")


async def test_http_redirect_to_another_host_is_a_warning(
    prober: Prober, launch: Launch, server: Server
) -> None:
    outcome = await run(prober, HTTPGetAction(port=server.port, path="/elsewhere"), launch)
    assert outcome == ProbeOutcome(
        ProbeResult.WARNING, "Probe terminated redirects, Response body: gone fishing"
    )
    assert len(server.seen.requests) == 1  # not followed


async def test_http_body_is_capped_at_10_kib(
    prober: Prober, launch: Launch, server: Server
) -> None:
    outcome = await run(prober, HTTPGetAction(port=server.port, path="/elsewhere-big"), launch)
    assert outcome.result is ProbeResult.WARNING
    prefix = "Probe terminated redirects, Response body: "
    assert outcome.output == prefix + "x" * 10 * 1024


async def test_http_follows_up_to_ten_requests(
    prober: Prober, launch: Launch, server: Server
) -> None:
    # Go's client sends at most 10 requests: 9 redirects are followed, a 10th is not.
    ok = await run(prober, HTTPGetAction(port=server.port, path="/chain/9"), launch)
    assert ok == ProbeOutcome(ProbeResult.SUCCESS)
    too_many = await run(prober, HTTPGetAction(port=server.port, path="/chain/10"), launch)
    assert too_many == ProbeOutcome(
        ProbeResult.FAILURE, 'Get "/chain/0": stopped after 10 redirects'
    )


async def test_http_redirect_loop_fails(prober: Prober, launch: Launch, server: Server) -> None:
    outcome = await run(prober, HTTPGetAction(port=server.port, path="/loop/0"), launch)
    assert outcome == ProbeOutcome(
        ProbeResult.FAILURE, 'Get "/loop/10": stopped after 10 redirects'
    )
    assert len(server.seen.requests) == 10


async def test_http_timeout_when_the_server_never_answers(
    prober: Prober, launch: Launch, silent_port: int
) -> None:
    started = anyio.current_time()
    outcome = await run(
        prober, HTTPGetAction(port=silent_port, path="/healthz"), launch, timeout=0.3
    )
    elapsed = anyio.current_time() - started
    assert outcome == ProbeOutcome(
        ProbeResult.FAILURE,
        f'Get "http://127.0.0.1:{silent_port}/healthz": context deadline exceeded '
        "(Client.Timeout exceeded while awaiting headers)",
    )
    assert elapsed >= 0.3  # the whole timeout was given, and the probe did not hang


async def test_http_timeout_while_reading_the_body_is_an_error(
    prober: Prober, launch: Launch, raw_server: Callable[..., RawServer]
) -> None:
    # http.go returns a body read error as an error (discarded), not as a failure.
    server = raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", hold=True)
    outcome = await run(prober, HTTPGetAction(port=server.port), launch, timeout=0.3)
    assert outcome == ProbeOutcome(
        ProbeResult.UNKNOWN,
        "context deadline exceeded (Client.Timeout or context cancellation while reading body)",
    )


async def test_http_server_closes_without_answering(
    prober: Prober, launch: Launch, raw_server: Callable[..., RawServer]
) -> None:
    server = raw_server(b"")
    outcome = await run(prober, HTTPGetAction(port=server.port, path="/x"), launch)
    assert outcome == ProbeOutcome(
        ProbeResult.FAILURE, f'Get "http://127.0.0.1:{server.port}/x": EOF'
    )


async def test_http_malformed_response(
    prober: Prober, launch: Launch, raw_server: Callable[..., RawServer]
) -> None:
    server = raw_server(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    outcome = await run(prober, HTTPGetAction(port=server.port), launch)
    assert outcome.result is ProbeResult.FAILURE
    assert outcome.output.startswith(
        f'Get "http://127.0.0.1:{server.port}/": net/http: HTTP/1.x transport connection broken'
    )


async def test_http_connection_refused(prober: Prober, launch: Launch, refusing_port: int) -> None:
    outcome = await run(prober, HTTPGetAction(port=refusing_port, path="/healthz"), launch)
    assert outcome == ProbeOutcome(
        ProbeResult.FAILURE,
        f'Get "http://127.0.0.1:{refusing_port}/healthz": '
        f"dial tcp 127.0.0.1:{refusing_port}: connect: connection refused",
    )


async def test_https_without_verification(
    prober: Prober, launch: Launch, tls_server: Server
) -> None:
    action = HTTPGetAction(port=tls_server.port, path="/to-ok", scheme="HTTPS")
    assert await run(prober, action, launch) == ProbeOutcome(ProbeResult.SUCCESS)
    assert [path for path, _ in tls_server.seen.requests] == ["/to-ok", "/ok"]


async def test_https_probe_of_a_plain_http_server(
    prober: Prober, launch: Launch, server: Server
) -> None:
    action = HTTPGetAction(port=server.port, path="/ok", scheme="HTTPS")
    outcome = await run(prober, action, launch)
    assert outcome == ProbeOutcome(
        ProbeResult.FAILURE,
        f'Get "https://127.0.0.1:{server.port}/ok": '
        "http: server gave HTTP response to HTTPS client",
    )


# --- tcpSocket --------------------------------------------------------------------------


async def test_tcp_open_port(prober: Prober, launch: Launch, silent_port: int) -> None:
    outcome = await run(prober, TCPSocketAction(port=silent_port), launch)
    assert outcome == ProbeOutcome(ProbeResult.SUCCESS)


async def test_tcp_named_port(prober: Prober, launch: Launch, silent_port: int) -> None:
    container = Container(
        name="app", command=("true",), ports=(ContainerPort(silent_port, name="db"),)
    )
    outcome = await run(prober, TCPSocketAction(port="db"), launch, container=container)
    assert outcome == ProbeOutcome(ProbeResult.SUCCESS)


async def test_tcp_closed_port(prober: Prober, launch: Launch, refusing_port: int) -> None:
    outcome = await run(prober, TCPSocketAction(port=refusing_port), launch)
    assert outcome == ProbeOutcome(
        ProbeResult.FAILURE, f"dial tcp 127.0.0.1:{refusing_port}: connect: connection refused"
    )


# --- exec -------------------------------------------------------------------------------


def child(*flags: str) -> ExecAction:
    return ExecAction((PYTHON, CHILD, *flags))


async def test_exec_success(prober: Prober, launch: Launch) -> None:
    outcome = await run(prober, child("--print", "all good"), launch)
    assert outcome == ProbeOutcome(ProbeResult.SUCCESS, "all good\n")


async def test_exec_failure_keeps_the_output(prober: Prober, launch: Launch) -> None:
    action = child("--print", "out", "--stderr", "err", "--exit-code", "3")
    outcome = await run(prober, action, launch)
    assert outcome.result is ProbeResult.FAILURE
    assert sorted(outcome.output.split()) == ["err", "out"]


async def test_exec_expands_only_literal_env_values(prober: Prober, launch: Launch) -> None:
    container = Container(
        name="app",
        command=("true",),
        env=(
            EnvVar("GREETING", "hello"),
            EnvVar("POD_NAME", field_path="metadata.name"),
        ),
    )
    action = child("--print", "$(GREETING)/$(POD_NAME)/$(UNDEFINED)/$$(GREETING)")
    outcome = await run(prober, action, launch, container=container)
    # valueFrom variables expand to "" (only static values), unknown ones stay.
    assert outcome == ProbeOutcome(ProbeResult.SUCCESS, "hello//$(UNDEFINED)/$(GREETING)\n")


async def test_exec_timeout_kills_the_whole_tree(
    prober: Prober, launch: Launch, runtime: LocalRuntime, tmp_path: Path
) -> None:
    pids_file = tmp_path / "pids"
    action = child("--spawn", "grandchild", "--pids-file", str(pids_file), "--forever")
    outcome = await run(prober, action, launch, timeout=1.0)
    argv = " ".join(action.command)
    assert outcome == ProbeOutcome(ProbeResult.FAILURE, f'command "{argv}" timed out')
    grandchild = int(pids_file.read_text())
    runtime.reap_orphans()
    with pytest.raises(psutil.NoSuchProcess):
        psutil.Process(grandchild).status()


async def test_exec_that_cannot_start_is_an_error(prober: Prober, launch: Launch) -> None:
    outcome = await run(prober, ExecAction(("/nonexistent/probe",)), launch)
    assert outcome.result is ProbeResult.UNKNOWN
    assert "/nonexistent/probe" in outcome.output


# --- grpc -------------------------------------------------------------------------------


@pytest.fixture
def grpc_port() -> Iterator[int]:
    grpc = pytest.importorskip("grpc")
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    server = grpc.server(ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    servicer.set("serving", health_pb2.HealthCheckResponse.SERVING)
    servicer.set("resting", health_pb2.HealthCheckResponse.NOT_SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield port
    finally:
        server.stop(None).wait()


@pytest.fixture
def bare_grpc_port() -> Iterator[int]:
    """A gRPC server without the health service."""
    grpc = pytest.importorskip("grpc")
    server = grpc.server(ThreadPoolExecutor(max_workers=1))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield port
    finally:
        server.stop(None).wait()


async def test_grpc_serving(prober: Prober, launch: Launch, grpc_port: int) -> None:
    for service in (None, "serving"):
        outcome = await run(prober, GRPCAction(port=grpc_port, service=service), launch)
        assert outcome == ProbeOutcome(ProbeResult.SUCCESS, "service healthy")


async def test_grpc_not_serving(prober: Prober, launch: Launch, grpc_port: int) -> None:
    outcome = await run(prober, GRPCAction(port=grpc_port, service="resting"), launch)
    assert outcome == ProbeOutcome(
        ProbeResult.FAILURE, 'service unhealthy (responded with "NOT_SERVING")'
    )


async def test_grpc_unknown_service(prober: Prober, launch: Launch, grpc_port: int) -> None:
    outcome = await run(prober, GRPCAction(port=grpc_port, service="nope"), launch)
    assert outcome.result is ProbeResult.FAILURE
    assert outcome.output.startswith("error: health rpc probe failed: rpc error: code = NotFound")


async def test_grpc_without_health_service(
    prober: Prober, launch: Launch, bare_grpc_port: int
) -> None:
    outcome = await run(prober, GRPCAction(port=bare_grpc_port), launch)
    assert outcome.result is ProbeResult.FAILURE
    assert outcome.output.startswith(
        "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): "
    )


async def test_grpc_no_server(prober: Prober, launch: Launch, refusing_port: int) -> None:
    pytest.importorskip("grpc")
    started = anyio.current_time()
    outcome = await run(prober, GRPCAction(port=refusing_port), launch, timeout=0.5)
    assert outcome == ProbeOutcome(
        ProbeResult.FAILURE,
        f'timeout: failed to connect service "127.0.0.1:{refusing_port}" within 500ms: '
        "context deadline exceeded",
    )
    assert anyio.current_time() - started >= 0.5  # retried until the deadline, no longer
