"""``…/pods/{name}/exec``: ``kubectl exec`` over the websocket remote-command protocol.

kubectl 1.30+ opens a websocket (``GET`` with ``Upgrade: websocket``) offering the
subprotocols ``v5.channel.k8s.io``, ``v4.channel.k8s.io``, ...; we take the first of ours
it offers (v5, then v4). The query names the command (``command=`` repeated), the
container, and which streams to attach (``stdin``, ``stdout``, ``stderr``, ``tty``).
Every message is binary, its first byte the channel (the apiserver's
``k8s.io/apimachinery/pkg/util/remotecommand`` and the kubelet's
``pkg/kubelet/cri/streaming/remotecommand/websocket.go``):

    0 stdin    client -> server       3 error   server -> client: the exit as a Status
    1 stdout   server -> client       4 resize  client -> server: {"Width":…,"Height":…}
    2 stderr   server -> client     255 close   (v5) client -> server: [255, 0] ends stdin

As the kubelet does, an empty message on the lowest output channel says the session is
up; once the command exited and its output is sent, the error channel carries
``{"status":"Success"}`` or the ``NonZeroExitCode`` Status with the code as its cause
(kubectl prints ``command terminated with exit code N`` and exits with N), and the socket
closes. The command runs in the container's context (``Kubelet.exec_stream``: its
environment, working dir, user, and tag: it is killed with the container); a client that
goes away, or the server stopping, kills it. What it leaves running in the background
when it exits stays in the container, as it would in a container, and dies with it.

Refusals happen before the upgrade, as HTTP answers with a ``Status``: no such pod (404),
no such container (400, the apiserver's ``container x is not valid for pod web``), one
that is not running (400, the kubelet's ``container not found ("web")``), no command
(400). kubectl takes a refused upgrade for a server without websockets and tries again
with SPDY (a ``POST``): that request gets the same checks, so kubectl prints the reason
(``Error from server (BadRequest): …``), then ``Upgrade request required`` (no SPDY
here). The guard (``auth.py``) checks the handshake like any request (token, ``Host``,
``Origin``) before this module sees it.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from minikubelet.errors import RequestError, RuntimeStartError
from minikubelet.kubelet import StreamingExec
from minikubelet.model.launch import ExitStatus
from minikubelet.server.context import Api, json_response
from minikubelet.server.status import status_of

__all__ = [
    "PROTOCOLS",
    "exec_status",
    "exec_upgrade_required",
    "exec_websocket",
    "negotiate",
]

_log = structlog.get_logger("minikubelet.server")

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
_CHANNELS = {"stdout": STDOUT, "stderr": STDERR}
_TRUE = ("true", "1", "True", "TRUE", "t")
_CLOSE_TIMEOUT = 1.0  # seconds the client gets to answer our close frame


def negotiate(offered: list[str]) -> str | None:
    """The subprotocol to speak: the first of ours the client offers (it lists its
    preference first), or None."""
    for protocol in offered:
        if protocol in PROTOCOLS:
            return protocol
    return None


def exec_status(status: ExitStatus, argv: tuple[str, ...]) -> dict[str, Any]:
    """The error channel's last word (``remotecommand`` ``NonZeroExitCode`` for a failure)."""
    if status.exit_code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command "
        f"[{' '.join(argv)}], exit code {status.exit_code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(status.exit_code)}]},
    }


def _failure(message: str) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "message": message}


def _refusal(
    api: Api, namespace: str, name: str, container: str | None, argv: tuple[str, ...]
) -> tuple[RequestError | None, str]:
    """What the apiserver checks before it proxies an exec (``pod/strategy.go``
    ``ExecLocation``): the pod, its container (the only one when none is named), a
    command. Returns (the refusal or None, the container)."""
    pod = api.kubelet.snapshot(namespace, name)
    if pod is None:
        return RequestError(404, f'pods "{name}" not found'), ""
    names = [c.name for c in pod.pod.spec.init_containers + pod.pod.spec.containers]
    if container is None:
        regular = [c.name for c in pod.pod.spec.containers]
        if len(regular) != 1:
            choices = " ".join(regular)
            return (
                RequestError(
                    400,
                    f"a container name must be specified for pod {name}, choose one of: "
                    f"[{choices}]",
                ),
                "",
            )
        container = regular[0]
    if container not in names:
        return RequestError(400, f"container {container} is not valid for pod {name}"), container
    if not argv:
        return RequestError(400, "you must specify at least 1 command"), container
    return None, container


async def exec_upgrade_required(request: Request) -> Response:
    """The exec path without a websocket upgrade (kubectl's SPDY fallback, after a refused
    upgrade): the same checks, so the client hears why; then ``Upgrade request required``."""
    query = request.query_params
    refusal, _ = _refusal(
        request.app.state.api,
        request.path_params["namespace"],
        request.path_params["name"],
        query.get("container") or None,
        tuple(query.getlist("command")),
    )
    if refusal is not None:
        raise refusal
    if request.headers.get("upgrade", "").lower().startswith("spdy"):
        # kubectl before 1.30 execs over SPDY only (1.30+ try websockets first).
        raise RequestError(
            400,
            "unable to upgrade connection: minikubelet speaks the websocket remote-command "
            "protocol (v5.channel.k8s.io, v4), not SPDY: use kubectl 1.30 or later",
        )
    raise RequestError(400, "Upgrade request required")


async def _deny(websocket: WebSocket, error: RequestError) -> None:
    await websocket.send_denial_response(json_response(status_of(error), error.code))


def _command(websocket: WebSocket) -> tuple[tuple[str, ...], str | None, dict[str, bool]]:
    query = websocket.query_params
    argv = tuple(query.getlist("command"))
    streams = {name: query.get(name, "") in _TRUE for name in ("stdin", "stdout", "stderr", "tty")}
    return argv, query.get("container") or None, streams


async def exec_websocket(websocket: WebSocket) -> None:
    api = websocket.app.state.api
    assert isinstance(api, Api)
    namespace = websocket.path_params["namespace"]
    name = websocket.path_params["name"]
    argv, container, streams = _command(websocket)
    refusal, container = _refusal(api, namespace, name, container, argv)
    if refusal is not None:
        await _deny(websocket, refusal)
        return
    protocol = negotiate(list(websocket.scope.get("subprotocols") or ()))
    if protocol is None:
        await _deny(
            websocket,
            RequestError(
                400,
                "unable to upgrade: the client must offer one of the subprotocols "
                + ", ".join(PROTOCOLS),
            ),
        )
        return
    try:
        process = await api.kubelet.exec_stream(
            namespace, name, container, argv, tty=streams["tty"]
        )
    except KeyError:
        await _deny(websocket, RequestError(404, f'pods "{name}" not found'))
        return
    except LookupError:
        await _deny(websocket, RequestError(400, f'container not found ("{container}")'))
        return
    except RuntimeStartError as error:
        await _deny(websocket, RequestError(500, f"failed to exec in container: {error}"))
        return
    _log.info(
        "container.exec",
        pod=f"{namespace}/{name}",
        container=container,
        pid=process.pid,
        argv=list(argv),
        tty=streams["tty"],
    )
    exited = False
    try:
        await websocket.accept(subprotocol=protocol)
        exited = await _session(websocket, api, process, argv, streams, protocol)
    finally:
        if not exited:  # the client went away, or the server stops: the command goes too
            await process.kill()
        # What it started in the background stays, in the container, as in a container.
        process.close()


async def _session(
    websocket: WebSocket,
    api: Api,
    process: StreamingExec,
    argv: tuple[str, ...],
    streams: dict[str, bool],
    protocol: str,
) -> bool:
    """Run the session; True when the command exited (False: it was cut short)."""
    sending = anyio.Lock()
    gone = False

    async def send(channel: int, data: bytes) -> None:
        async with sending:
            await websocket.send_bytes(bytes([channel]) + data)

    async def sink(stream: str, data: bytes) -> None:
        channel = _CHANNELS[stream]
        if streams["tty"] or streams[stream]:
            await send(STDOUT if streams["tty"] else channel, data)

    async def receive() -> None:
        nonlocal gone
        while True:
            try:
                message = await websocket.receive_bytes()
            except (WebSocketDisconnect, KeyError, RuntimeError):
                gone = True  # the client went away (or sent text): the exec goes too
                group.cancel_scope.cancel()
                return
            if not message:
                continue
            channel, payload = message[0], message[1:]
            if channel == STDIN and streams["stdin"]:
                await process.write_stdin(payload)
            elif channel == RESIZE:
                _resize(process, payload)
            elif channel == CLOSE and protocol.startswith("v5") and payload[:1] == b"\x00":
                process.close_stdin()

    async def closing() -> None:
        await api.changes.closing.wait()
        group.cancel_scope.cancel()

    # The kubelet's "connection established": an empty message on the lowest output.
    first = STDOUT if streams["stdout"] else STDERR if streams["stderr"] else ERROR
    await send(first, b"")
    if not streams["stdin"]:
        process.close_stdin()
    status: ExitStatus | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(receive)
        group.start_soon(closing)
        async with anyio.create_task_group() as running:
            running.start_soon(process.pump_output, sink)
            status = await process.wait()
        group.cancel_scope.cancel()
    if gone:
        return status is not None
    report = (
        exec_status(status, argv)
        if status is not None
        else _failure("the server is stopping: the command was killed")
    )
    try:
        await send(ERROR, json.dumps(report).encode())
        await websocket.close(1000)
        # The closing handshake: the client's close frame comes back before the connection
        # goes (over TLS, data after the close_notify is an error on both ends).
        with anyio.move_on_after(_CLOSE_TIMEOUT):
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass
    except (WebSocketDisconnect, RuntimeError):
        pass
    return status is not None


def _resize(process: StreamingExec, payload: bytes) -> None:
    try:
        size = json.loads(payload)
        process.resize(int(size.get("Width", 0)), int(size.get("Height", 0)))
    except (ValueError, TypeError, AttributeError):
        return  # the kubelet ignores a resize it cannot read
