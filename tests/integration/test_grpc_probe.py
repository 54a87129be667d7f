"""gRPC probes against real gRPC servers on real sockets, under asyncio and trio.

The servers are grpcio's (a test-only dependency), run in threads of the test process on
port 0, so every test runs unchanged under both event loops. The probe itself needs no
grpcio: ``test_the_probe_needs_no_grpcio``. The expected messages are the kubelet's
(``pkg/probe/grpc/grpc.go``); every outcome is a failure, never an error (Unknown).
"""

from __future__ import annotations

import ast
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import grpc
import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from minikubelet.kubelet import Kubelet
from minikubelet.model.probe import ProbeOutcome, ProbeResult
from minikubelet.model.spec import Container, GRPCAction, Probe
from minikubelet.prober import Prober
from minikubelet.prober.grpc import grpc_probe
from minikubelet.runtime.base import Launch
from minikubelet.runtime.local import LocalRuntime
from minikubelet.testing import container, wait_for, wait_for_file, wait_for_status
from tests.conftest import PYTHON
from tests.helpers.pods import child, pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

PACKAGE = Path(__file__).parents[2] / "minikubelet"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def failure(output: str) -> ProbeOutcome:
    return ProbeOutcome(ProbeResult.FAILURE, output)


# --- servers ----------------------------------------------------------------------------


class GoHealth(health_pb2_grpc.HealthServicer):
    """Answers as grpc-go's health server (``health/server.go``) does: an unknown service
    is ``NotFound`` with the message ``unknown service``."""

    def __init__(self, statuses: Mapping[str, int]) -> None:
        self.statuses = statuses

    def Check(self, request: Any, context: Any) -> Any:
        if request.service not in self.statuses:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        return health_pb2.HealthCheckResponse(status=self.statuses[request.service])


class StuckHealth(health_pb2_grpc.HealthServicer):
    """Takes the call and never answers it (until the test ends)."""

    def __init__(self) -> None:
        self.called = threading.Event()
        self.release = threading.Event()

    def Check(self, request: Any, context: Any) -> Any:
        self.called.set()
        self.release.wait(30)
        return health_pb2.HealthCheckResponse(status=SERVING)


def serve(*servicers: health_pb2_grpc.HealthServicer) -> tuple[grpc.Server, int]:
    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    for servicer in servicers:
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


@pytest.fixture
def health_port() -> Iterator[int]:
    """grpc.health.v1 with a few services: "" and "serving" SERVING, "resting"
    NOT_SERVING, "odd" with a status the enum does not name; anything else unknown."""
    statuses = {"": SERVING, "serving": SERVING, "resting": NOT_SERVING, "odd": 7}
    server, port = serve(GoHealth(statuses))
    try:
        yield port
    finally:
        server.stop(None).wait()


@pytest.fixture
def grpcio_health_port() -> Iterator[int]:
    """grpcio's own health servicer: an unknown service is NOT_FOUND without a message."""
    servicer = health.HealthServicer()
    servicer.set("", SERVING)
    server, port = serve(servicer)
    try:
        yield port
    finally:
        server.stop(None).wait()


@pytest.fixture
def stuck() -> Iterator[tuple[StuckHealth, int]]:
    servicer = StuckHealth()
    server, port = serve(servicer)
    try:
        yield servicer, port
    finally:
        servicer.release.set()
        server.stop(None).wait()


@pytest.fixture
def bare_port() -> Iterator[int]:
    """A gRPC server without the health service."""
    server, port = serve()
    try:
        yield port
    finally:
        server.stop(None).wait()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound by nobody listening: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (in the kernel's backlog) and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


@pytest.fixture
def http1_port() -> Iterator[int]:
    """An HTTP/1.1 server: it answers the HTTP/2 preface with a 400 and closes."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.recv(4096)
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


# --- outcomes -------------------------------------------------------------------------


async def test_serving_passes(health_port: int) -> None:
    for service in (None, "", "serving"):
        outcome = await grpc_probe(GRPCAction(port=health_port, service=service), 1.0)
        assert outcome == ProbeOutcome(ProbeResult.SUCCESS, "service healthy")


async def test_not_serving_fails(health_port: int) -> None:
    outcome = await grpc_probe(GRPCAction(port=health_port, service="resting"), 1.0)
    assert outcome == failure('service unhealthy (responded with "NOT_SERVING")')


async def test_a_status_without_a_name_is_shown_as_its_number(health_port: int) -> None:
    outcome = await grpc_probe(GRPCAction(port=health_port, service="odd"), 1.0)
    assert outcome == failure('service unhealthy (responded with "7")')


async def test_unknown_service(health_port: int, grpcio_health_port: int) -> None:
    outcome = await grpc_probe(GRPCAction(port=health_port, service="nope"), 1.0)
    assert outcome == failure(
        "error: health rpc probe failed: rpc error: code = NotFound desc = unknown service"
    )
    outcome = await grpc_probe(GRPCAction(port=grpcio_health_port, service="nope"), 1.0)
    assert outcome == failure("error: health rpc probe failed: rpc error: code = NotFound desc = ")


async def test_server_without_the_health_service(bare_port: int) -> None:
    outcome = await grpc_probe(GRPCAction(port=bare_port), 1.0)
    assert outcome == failure(
        "error: this server does not implement the grpc health protocol "
        "(grpc.health.v1.Health): Method not found!"  # grpcio's message for UNIMPLEMENTED
    )


async def test_closed_port_fails_after_the_timeout(closed_port: int) -> None:
    # grpc.WithBlock(): a refused connection is retried until the deadline.
    started = anyio.current_time()
    outcome = await grpc_probe(GRPCAction(port=closed_port), 0.5)
    elapsed = anyio.current_time() - started
    assert outcome == failure(
        f'timeout: failed to connect service "127.0.0.1:{closed_port}" within 500ms: '
        "context deadline exceeded"
    )
    assert elapsed >= 0.45  # held until the deadline (the probe itself returned)


async def test_closed_port_that_opens_during_the_timeout_passes(health_port: int) -> None:
    # The back-off's first retry comes 1 s after the refusal: a server that starts
    # listening meanwhile is reached within a 3 s timeout, as grpc-go's would be.
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
        statuses = {"": SERVING}
        server = grpc.server(ThreadPoolExecutor(max_workers=2))
        health_pb2_grpc.add_HealthServicer_to_server(GoHealth(statuses), server)
        placeholder.close()  # nobody listens: refused, until the server takes the port
        async with anyio.create_task_group() as group:

            async def start_later() -> None:
                await anyio.sleep(0.3)
                assert server.add_insecure_port(f"127.0.0.1:{port}") == port
                server.start()

            group.start_soon(start_later)
            outcome = await grpc_probe(GRPCAction(port=port), 3.0)
        server.stop(None).wait()
    assert outcome == ProbeOutcome(ProbeResult.SUCCESS, "service healthy")


async def test_server_that_never_answers_is_a_connect_timeout(silent_port: int) -> None:
    # No SETTINGS from the server: grpc-go's connection never became READY.
    outcome = await grpc_probe(GRPCAction(port=silent_port), 0.5)
    assert outcome == failure(
        f'timeout: failed to connect service "127.0.0.1:{silent_port}" within 500ms: '
        "context deadline exceeded"
    )


async def test_server_that_does_not_speak_http2_is_a_connect_timeout(http1_port: int) -> None:
    outcome = await grpc_probe(GRPCAction(port=http1_port), 0.5)
    assert outcome == failure(
        f'timeout: failed to connect service "127.0.0.1:{http1_port}" within 500ms: '
        "context deadline exceeded"
    )


async def test_health_rpc_that_never_completes_is_an_rpc_timeout(
    stuck: tuple[StuckHealth, int],
) -> None:
    servicer, port = stuck
    started = anyio.current_time()
    outcome = await grpc_probe(GRPCAction(port=port), 0.5)
    elapsed = anyio.current_time() - started
    assert outcome == failure("timeout: health rpc did not complete within 500ms")
    assert servicer.called.is_set()
    assert elapsed >= 0.45  # held until the deadline (the probe itself returned)


async def test_through_the_prober(health_port: int, tmp_path: Path) -> None:
    """``Prober.probe`` hands a grpc handler to the gRPC probe with its timeout."""
    prober = Prober(LocalRuntime())
    launch = Launch(tag="test/app", argv=(), cwd=str(tmp_path), env={})
    app = Container(name="app", command=("true",))
    for service, expected in (
        ("serving", ProbeOutcome(ProbeResult.SUCCESS, "service healthy")),
        ("resting", failure('service unhealthy (responded with "NOT_SERVING")')),
    ):
        action = GRPCAction(port=health_port, service=service)
        outcome = await prober.probe(action, container=app, launch=launch, timeout=1.0)
        assert outcome == expected


async def test_probes_in_flight_take_no_thread(silent_port: int) -> None:
    # The test runner's trio runs in guest mode, whose I/O waits take one thread: a
    # first probe starts it, so that the 20 below would show any thread of their own.
    await grpc_probe(GRPCAction(port=silent_port), 0.05)
    before = set(threading.enumerate())
    started: list[threading.Thread] = []

    async def watch() -> None:
        await anyio.sleep(0.2)  # every probe is waiting on its socket by now
        started.extend(set(threading.enumerate()) - before)

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(grpc_probe, GRPCAction(port=silent_port), 0.4)
        group.start_soon(watch)
    assert started == []


WITHOUT_GRPCIO = """\
import sys, anyio
class Missing:  # what an absent package looks like to an import
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"grpc", "grpc_health"} or name.startswith("google.protobuf"):
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, Missing())
from minikubelet.model.spec import GRPCAction
from minikubelet.prober.grpc import grpc_probe
outcome = anyio.run(grpc_probe, GRPCAction(port=int(sys.argv[1]), service="resting"), 5.0,
                    backend=sys.argv[2])
print(outcome.result.value, outcome.output)
"""


async def test_the_probe_needs_no_grpcio(health_port: int, anyio_backend: str) -> None:
    argv = [PYTHON, "-c", WITHOUT_GRPCIO, str(health_port), anyio_backend]
    result = await anyio.run_process(argv, check=False)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode() == 'failure service unhealthy (responded with "NOT_SERVING")\n'
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in {"grpc", "grpc_health"}, path
                assert not name.startswith("google.protobuf"), path


# --- the transport, against a scripted HTTP/2 server ----------------------------------


@dataclass
class Scripted:
    """An HTTP/2 server (h2, in a thread) that answers each call with ``reply``, a
    function of the h2 connection that sends frames on stream 1; it keeps the request
    headers it saw."""

    port: int = 0
    requests: list[dict[bytes, bytes]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)


Reply = Callable[[h2.connection.H2Connection], None]


@contextlib.contextmanager
def scripted_server(reply: Reply) -> Iterator[Scripted]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    seen = Scripted(port=listener.getsockname()[1])
    stop = threading.Event()

    def one(connection: socket.socket) -> None:
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        h2c = h2.connection.H2Connection(config)
        h2c.initiate_connection()
        connection.sendall(h2c.data_to_send())
        body = b""
        while True:
            data = connection.recv(65536)
            if not data:
                return
            for event in h2c.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    seen.requests.append(dict(event.headers or []))
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data or b""
                elif isinstance(event, h2.events.StreamEnded):
                    seen.bodies.append(body)
                    reply(h2c)
            connection.sendall(h2c.data_to_send())

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection, contextlib.suppress(OSError, h2.exceptions.ProtocolError):
                connection.settimeout(5)
                try:
                    one(connection)
                except OSError:
                    _hang_up_cleanly(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()
        listener.close()


def _hang_up_cleanly(connection: socket.socket) -> None:
    """Close as a server that hangs up does: FIN first, then read what the client still
    sends until it closes too. Closing with its data unread would make the kernel send a
    reset, which the client reads as "connection reset by peer" instead of EOF."""
    connection.shutdown(socket.SHUT_WR)
    connection.settimeout(2)
    while connection.recv(65536):
        pass


def _headers(h2c: h2.connection.H2Connection, *fields: tuple[bytes, bytes], end: bool) -> None:
    h2c.send_headers(1, list(fields), end_stream=end)


RESPONSE_HEADERS = ((b":status", b"200"), (b"content-type", b"application/grpc"))


def _answer(message: bytes, *trailers: tuple[bytes, bytes], flag: bytes = b"\x00") -> Reply:
    def reply(h2c: h2.connection.H2Connection) -> None:
        _headers(h2c, *RESPONSE_HEADERS, end=False)
        h2c.send_data(1, flag + len(message).to_bytes(4, "big") + message)
        _headers(h2c, *(trailers or ((b"grpc-status", b"0"),)), end=True)

    return reply


def _no_trailers(h2c: h2.connection.H2Connection) -> None:
    _headers(h2c, *RESPONSE_HEADERS, end=False)
    h2c.send_data(1, b"\x00\x00\x00\x00\x02\x08\x01", end_stream=True)


def _reset(h2c: h2.connection.H2Connection) -> None:
    h2c.reset_stream(1, h2.errors.ErrorCodes.REFUSED_STREAM)


def _not_found_page(h2c: h2.connection.H2Connection) -> None:
    _headers(h2c, (b":status", b"404"), (b"content-type", b"text/html"), end=True)


def _going_away(h2c: h2.connection.H2Connection) -> None:
    h2c.close_connection(last_stream_id=0)


def _hang_up(h2c: h2.connection.H2Connection) -> None:
    raise OSError("the server closes the connection")


def _ok_without_a_message(h2c: h2.connection.H2Connection) -> None:
    _headers(h2c, *RESPONSE_HEADERS, (b"grpc-status", b"0"), end=True)  # Trailers-Only


HEALTH_CHECK_FAILED = "error: health rpc probe failed: rpc error: "
TRANSPORT_CASES: list[tuple[str, Reply, str]] = [
    ("trailers", _answer(b"\x08\x01"), "service healthy"),
    (
        "grpc-message",
        _answer(b"", (b"grpc-status", b"14"), (b"grpc-message", b"going%20down%3A%20%C3%BC")),
        HEALTH_CHECK_FAILED + "code = Unavailable desc = going down: ü",
    ),
    (
        "no trailers",
        _no_trailers,
        HEALTH_CHECK_FAILED
        + "code = Internal desc = server closed the stream without sending trailers",
    ),
    (
        "reset",
        _reset,
        HEALTH_CHECK_FAILED
        + "code = Unavailable desc = stream terminated by RST_STREAM with error code: "
        "REFUSED_STREAM",
    ),
    (
        "HTTP 404",
        _not_found_page,
        "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): "
        "unexpected HTTP status code received from server: 404 (Not Found); "
        'transport: received unexpected content-type "text/html"',
    ),
    (
        "GOAWAY",
        _going_away,
        HEALTH_CHECK_FAILED + "code = Unavailable desc = the stream is rejected because server "
        "is draining the connection",
    ),
    (
        "hang up",
        _hang_up,
        HEALTH_CHECK_FAILED + "code = Unavailable desc = error reading from server: EOF",
    ),
    (
        "compressed",
        _answer(b"\x08\x01", flag=b"\x01"),
        HEALTH_CHECK_FAILED
        + "code = Internal desc = grpc: compressed flag set with identity or empty encoding",
    ),
    (
        "not protobuf",
        _answer(b"\x08"),
        HEALTH_CHECK_FAILED + "code = Internal desc = grpc: failed to unmarshal the received "
        "message: proto: cannot parse invalid wire-format data",
    ),
    (
        "no message",
        _ok_without_a_message,
        HEALTH_CHECK_FAILED + "code = Internal desc = cardinality violation: received no "
        "response message from non-server-streaming RPC",
    ),
]


@pytest.mark.parametrize(
    ("reply", "output"), [case[1:] for case in TRANSPORT_CASES], ids=[c[0] for c in TRANSPORT_CASES]
)
async def test_transport_outcomes(reply: Reply, output: str) -> None:
    with scripted_server(reply) as seen:
        outcome = await grpc_probe(GRPCAction(port=seen.port, service="api"), 1.0)
        verdict = ProbeResult.SUCCESS if output == "service healthy" else ProbeResult.FAILURE
        assert outcome == ProbeOutcome(verdict, output)


async def test_request_as_grpc_go_sends_it() -> None:
    with scripted_server(_answer(b"\x08\x01")) as seen:
        await grpc_probe(GRPCAction(port=seen.port, service="api"), 1.0)
        [headers] = seen.requests
        timeout = headers.pop(b"grpc-timeout")
        assert headers == {
            b":method": b"POST",
            b":scheme": b"http",
            b":path": b"/grpc.health.v1.Health/Check",
            b":authority": f"127.0.0.1:{seen.port}".encode(),
            b"content-type": b"application/grpc",
            b"user-agent": b"kube-probe/1.34",
            b"te": b"trailers",
        }
        assert timeout.endswith(b"u")
        assert 900_000 < int(timeout[:-1]) <= 1_000_000  # the time left, in microseconds
        assert seen.bodies == [b"\x00\x00\x00\x00\x05\x0a\x03api"]


# --- through the engine -------------------------------------------------------------------


async def test_liveness_on_a_closed_port_restarts_the_container(
    kubelet: Kubelet, closed_port: int
) -> None:
    probe = Probe(handler=GRPCAction(port=closed_port), period_seconds=1, failure_threshold=1)
    app = child("app", "--forever", liveness_probe=probe)
    worker = await start(kubelet, pod("grpc-closed", app, grace=1))
    await wait_for_status(worker, lambda s: container(s, "app").restart_count >= 1, timeout=30)
    messages = [e.message for e in kubelet.recorder.events(pod="grpc-closed")]
    assert (
        f'Liveness probe failed: timeout: failed to connect service "127.0.0.1:{closed_port}" '
        "within 1s: context deadline exceeded"
    ) in messages
    assert "Container app failed liveness probe, will be restarted" in messages


SERVER = """\
import sys, threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
servicer = health.HealthServicer()
servicer.set("", health_pb2.HealthCheckResponse.SERVING)
server = grpc.server(ThreadPoolExecutor(max_workers=2))
health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
port = server.add_insecure_port("127.0.0.1:0")
server.start()
open(sys.argv[1] + ".tmp", "w").write(str(port))
__import__("os").rename(sys.argv[1] + ".tmp", sys.argv[1])
threading.Event().wait(60)  # a safety timeout: a leaked server ends by itself
"""


async def test_liveness_of_a_serving_container_keeps_it_running(
    kubelet: Kubelet, tmp_path: Path
) -> None:
    """A container that serves grpc.health.v1 is probed and left alone."""
    port_file = tmp_path / "port"
    # The server picks its port (0) and says it in a file, so it runs as a pod of its
    # own and the probed pod comes second; both are real containers.
    server = Container(name="server", command=(PYTHON, "-c", SERVER, str(port_file)))
    await start(kubelet, pod("grpc-server", server, grace=1))
    port = int(await wait_for_file(port_file, timeout=20))
    probe = Probe(handler=GRPCAction(port=port), period_seconds=1, failure_threshold=1)
    worker = await start(
        kubelet, pod("grpc-live", child("app", "--forever", liveness_probe=probe), grace=1)
    )
    await wait_for(lambda: _probes_run(kubelet, "grpc-live") >= 3, timeout=30)
    assert container(worker.status, "app").restart_count == 0
    failed = [e for e in kubelet.recorder.events(pod="grpc-live") if "probe failed" in e.message]
    assert not failed


def _probes_run(kubelet: Kubelet, pod_name: str) -> int:
    return sum(n for (labels, _), n in kubelet.probe_stats.totals.items() if labels.pod == pod_name)
