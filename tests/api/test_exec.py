"""``pods/{name}/exec`` over websockets: our client (v5, the unix socket) and the official
Python client (TCP with TLS and the token): stdout, stderr, stdin, the exit code, a tty,
and the refusals before the upgrade."""

from __future__ import annotations

import functools
import json
import urllib.parse
from typing import Any

import anyio
import pytest
from kubernetes import client as k8s
from kubernetes.stream import stream

from minikubelet.cli.client.connection import Connection, StatusError
from minikubelet.cli.client.connection import Server as Address
from minikubelet.cli.client.websocket import WebSocketClosed, open_websocket
from minikubelet.model.status import PodPhase
from minikubelet.testing import wait_for_status
from tests.api.conftest import Server
from tests.helpers.pods import child, pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
EXEC = "/api/v1/namespaces/default/pods/{}/exec"


def session(
    server: Server,
    name: str,
    command: list[str],
    stdin: bytes | None = None,
    resize: tuple[int, int] | None = None,
    **flags: str,
) -> dict[str, Any]:
    """One exec over the unix socket with our client: what came on each channel."""
    connection = Connection(Address(socket=str(server.socket)))
    query = [("command", part) for part in command]
    query += [("container", "app"), ("stdout", "true"), ("stderr", "true")]
    query += [("stdin", "true")] if stdin is not None else []
    query += list(flags.items())
    socket = open_websocket(connection, EXEC.format(name), urllib.parse.urlencode(query), PROTOCOLS)
    assert socket.protocol == "v5.channel.k8s.io"
    if resize is not None:
        socket.send(b"\x04" + json.dumps({"Width": resize[0], "Height": resize[1]}).encode())
    if stdin is not None:
        socket.send(b"\x00" + stdin)
        socket.send(b"\xff\x00")  # v5: stdin is done
    received: dict[str, Any] = {"frames": [], "stdout": b"", "stderr": b""}
    try:
        while True:
            message = socket.receive()
            received["frames"].append(message[:1])
            if message[:1] == b"\x01":
                received["stdout"] += message[1:]
            elif message[:1] == b"\x02":
                received["stderr"] += message[1:]
            elif message[:1] == b"\x03" and message[1:]:
                received["status"] = json.loads(message[1:])
    except WebSocketClosed:
        pass
    finally:
        socket.close()
    return received


@pytest.fixture
async def web(server: Server) -> str:
    worker = await start(server.kubelet, pod("web", child("app", "--forever"), grace=5))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    return "web"


async def test_stdout_stderr_and_the_exit_code(server: Server, web: str) -> None:
    script = "echo out; echo err >&2; echo $HOSTNAME; exit 3"
    received = await anyio.to_thread.run_sync(session, server, web, ["sh", "-c", script])
    assert received["frames"][0] == b"\x01"  # the kubelet's "connected": an empty stdout
    assert received["stdout"] == b"out\nweb\n"  # in the container's env: HOSTNAME is the pod
    assert received["stderr"] == b"err\n"
    status = received["status"]
    assert status["status"] == "Failure"
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    ok = await anyio.to_thread.run_sync(session, server, web, ["true"])
    assert ok["status"] == {"metadata": {}, "status": "Success"}


async def test_stdin_until_it_is_closed(server: Server, web: str) -> None:
    received = await anyio.to_thread.run_sync(
        functools.partial(session, server, web, ["sh", "-c", "cat; echo done"], stdin=b"in\n")
    )
    assert received["stdout"] == b"in\ndone\n"
    assert received["status"]["status"] == "Success"


async def test_a_tty(server: Server, web: str) -> None:
    received = await anyio.to_thread.run_sync(
        functools.partial(
            session, server, web, ["sh", "-c", "test -t 0 && echo terminal"], tty="true"
        )
    )
    assert received["stdout"] == b"terminal\r\n"  # through the pty's line discipline
    assert received["status"]["status"] == "Success"


async def test_a_tty_takes_the_size_the_client_sends(server: Server, web: str) -> None:
    received = await anyio.to_thread.run_sync(
        functools.partial(
            session,
            server,
            web,
            ["sh", "-c", "read line; stty size"],
            stdin=b"go\n",
            resize=(132, 43),
            tty="true",
        )
    )
    assert b"43 132" in received["stdout"]


async def test_refusals_come_before_the_upgrade(server: Server, web: str) -> None:
    def refused(name: str, command: list[str], container: str = "app") -> dict[str, Any]:
        connection = Connection(Address(socket=str(server.socket)))
        query = urllib.parse.urlencode(
            [("container", container), ("stdout", "true")] + [("command", c) for c in command]
        )
        with pytest.raises(StatusError) as caught:
            open_websocket(connection, EXEC.format(name), query, PROTOCOLS)
        return caught.value.status

    missing = await anyio.to_thread.run_sync(refused, "nope", ["true"])
    assert (missing["code"], missing["message"]) == (404, 'pods "nope" not found')
    wrong = await anyio.to_thread.run_sync(refused, web, ["true"], "other")
    assert (wrong["code"], wrong["message"]) == (400, "container other is not valid for pod web")
    bad = await anyio.to_thread.run_sync(refused, web, ["/no/such/program"])
    assert bad["code"] == 500
    assert "executable file not found" in bad["message"] or "no such" in bad["message"]
    plain = await server.client.post(f"{EXEC.format(web)}?command=true")
    assert plain.status_code == 400
    assert plain.json()["message"] == "Upgrade request required"


async def test_the_official_client_execs_over_tls(server: Server, web: str) -> None:
    configuration = k8s.Configuration(
        host=server.url,
        api_key={"authorization": server.token},
        api_key_prefix={"authorization": "Bearer"},
    )
    configuration.ssl_ca_cert = str(server.ca_file)
    api = k8s.CoreV1Api(k8s.ApiClient(configuration))

    def run() -> tuple[str, int]:
        client = stream(
            api.connect_get_namespaced_pod_exec,
            web,
            "default",
            command=["sh", "-c", "echo from-python; pwd; exit 2"],
            container="app",
            stderr=True,
            stdin=False,
            stdout=True,
            tty=False,
            _preload_content=False,
        )
        try:
            client.run_forever(timeout=10)
            output: str = client.read_stdout()
            code: int = client.returncode
        finally:
            client.close()
            if client.sock is not None:  # close() returns early once the server closed
                client.sock.shutdown()
        return output, code

    try:
        output, code = await anyio.to_thread.run_sync(run)
    finally:
        api.api_client.close()
    assert output.startswith("from-python\n")
    assert code == 2  # read from the error channel's Status, as kubectl reads it


async def test_what_an_exec_leaves_running_stays_in_the_container(server: Server, web: str) -> None:
    import psutil

    received = await anyio.to_thread.run_sync(
        session, server, web, ["sh", "-c", "sleep 60 > /dev/null 2>&1 & echo $!"]
    )
    assert received["status"]["status"] == "Success"
    left = psutil.Process(int(received["stdout"]))
    assert left.is_running()
    worker = server.kubelet.worker("default", web)
    assert worker is not None
    assert left.pid in await worker.processes()["app"].processes()
    response = await server.client.delete(f"/api/v1/namespaces/default/pods/{web}")
    assert response.status_code == 200
    await worker.wait_done()
    _, alive = await anyio.to_thread.run_sync(lambda: psutil.wait_procs([left], timeout=10))
    assert not alive  # killed with its container
