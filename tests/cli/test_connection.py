"""Finding the daemon, and what the client says when it is not there."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from minikubelet.cli.client.connection import (
    Connection,
    Server,
    StatusError,
    Unreachable,
    default_socket,
    resolve_server,
)
from tests.cli.stub import Reply, StubServer


def test_default_socket() -> None:
    assert default_socket(0, {}) == "/run/minikubelet/minikubelet.sock"
    assert default_socket(1000, {"XDG_RUNTIME_DIR": "/run/user/1000"}) == (
        "/run/user/1000/minikubelet.sock"
    )
    assert default_socket(1000, {}, Path("/home/ada")) == (
        "/home/ada/.local/state/minikubelet/minikubelet.sock"
    )


def test_flag_then_environment_then_default() -> None:
    environ = {"MINIKUBELET_SERVER": "/tmp/env.sock", "XDG_RUNTIME_DIR": "/run/user/7"}
    assert resolve_server("/tmp/flag.sock", environ) == Server(socket="/tmp/flag.sock")
    assert resolve_server(None, environ) == Server(socket="/tmp/env.sock")
    if not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() != 0:
        assert resolve_server(None, {"XDG_RUNTIME_DIR": "/run/user/7"}) == Server(
            socket="/run/user/7/minikubelet.sock"
        )
    assert resolve_server("unix:///tmp/x.sock", {}) == Server(socket="/tmp/x.sock")
    assert resolve_server("http://127.0.0.1:10250/", {}) == Server(url="http://127.0.0.1:10250")


def test_no_socket(tmp_path: Path) -> None:
    path = tmp_path / "minikubelet.sock"
    with pytest.raises(Unreachable) as caught:
        Connection(Server(socket=str(path))).get("/api/v1/pods")
    assert str(caught.value) == (
        f"cannot reach minikubelet at {path}: no such socket "
        "(is 'minikubelet serve' or 'minikubelet run' running?)"
    )


def test_stale_socket_is_refused(short_tmp: Path) -> None:
    path = short_tmp / "stale.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.close()  # the file stays, nobody listens
    with pytest.raises(Unreachable, match="connection refused"):
        Connection(Server(socket=str(path))).get("/api/v1/pods")


def test_tcp_refused() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(Unreachable, match=f"at http://127.0.0.1:{port}: connection refused"):
        Connection(Server(url=f"http://127.0.0.1:{port}")).get("/api/v1/pods")


def test_status_errors_and_plain_errors(stub: StubServer) -> None:
    stub.route("GET", "/plain", Reply(500, "boom", content_type="text/plain"))
    connection = Connection(Server(socket=stub.path))
    with pytest.raises(StatusError) as caught:
        connection.get("/api/v1/namespaces/default/pods/nope")
    assert caught.value.code == 404
    with pytest.raises(StatusError) as caught:
        connection.get("/plain")
    assert caught.value.reason == "InternalError"
    assert caught.value.code == 500


def test_json_round_trip_and_streams(stub: StubServer) -> None:
    import queue

    stub.route("POST", "/echo", lambda request: Reply(201, {"got": request.body}))
    events: queue.Queue[bytes | None] = queue.Queue()
    for item in ({"type": "ADDED", "object": {"a": 1}}, {"type": "DELETED", "object": {"a": 2}}):
        events.put(json.dumps(item).encode()[:5])
        events.put(json.dumps(item).encode()[5:] + b"\n")
    events.put(None)
    stub.route("GET", "/watch", Reply(stream=events))
    connection = Connection(Server(socket=stub.path))
    assert connection.request("POST", "/echo", body={"x": [1]}) == (201, {"got": {"x": [1]}})
    with connection.watch("/watch", {"fieldSelector": "metadata.name=a"}) as stream:
        assert [event["type"] for event in stream] == ["ADDED", "DELETED"]
    assert stub.requests_to("GET", "/watch")[0].query == {
        "fieldSelector": "metadata.name=a",
        "watch": "true",
    }


def test_read_timeout_of_a_stream(stub: StubServer) -> None:
    import queue

    silent: queue.Queue[bytes | None] = queue.Queue()
    stub.route("GET", "/silent", Reply(stream=silent))
    connection = Connection(Server(socket=stub.path))
    with pytest.raises(TimeoutError), connection.stream("/silent", read_timeout=0.2) as chunks:
        list(chunks)
    silent.put(None)


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers ``{}`` to every GET and remembers the headers it was sent."""

    seen: ClassVar[list[dict[str, str]]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.seen.append(dict(self.headers.items()))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def test_the_token_goes_to_a_url_server_only(stub: StubServer) -> None:
    environ = {"MINIKUBELET_TOKEN": "t0ken", "MINIKUBELET_CERTIFICATE_AUTHORITY": "/ca.pem"}
    assert resolve_server("http://127.0.0.1:1", environ) == Server(
        url="http://127.0.0.1:1", token="t0ken", certificate_authority="/ca.pem"
    )
    assert resolve_server("/tmp/x.sock", environ) == Server(socket="/tmp/x.sock")
    assert "t0ken" not in repr(resolve_server("http://127.0.0.1:1", environ))

    _Recorder.seen = []
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder) as tcp:
        thread = threading.Thread(target=tcp.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{tcp.server_address[1]}"
            Connection(resolve_server(url, environ)).get("/api/v1/pods")
            Connection(resolve_server(url, {})).get("/api/v1/pods")
        finally:
            tcp.shutdown()
            thread.join()
    assert _Recorder.seen[0]["Authorization"] == "Bearer t0ken"
    assert "Authorization" not in _Recorder.seen[1]


def test_a_bad_certificate_authority_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    server = resolve_server("https://127.0.0.1:1", {"MINIKUBELET_CERTIFICATE_AUTHORITY": str(bad)})
    with pytest.raises(Unreachable, match=f"CERTIFICATE_AUTHORITY {bad}: not a PEM"):
        Connection(server).get("/api/v1/pods")
