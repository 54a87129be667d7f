"""``exec POD [-c C] [-i] [-t] -- CMD...``: run a command in a container, as kubectl does.

The same websocket remote-command protocol as ``kubectl exec`` (``v5.channel.k8s.io``,
``server/exec.py``), over the daemon's unix socket or its TCP listener. The command's
exit code is ours (``command terminated with exit code N`` on stderr, as kubectl prints
it); ``-i`` feeds our stdin to it (end of input closes its stdin); ``-t`` gives it a
terminal: ours goes raw while it runs, and its size follows ours (SIGWINCH).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import click

from minikubelet.cli.client.commands import common

__all__ = ["exec_command"]

_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


@contextlib.contextmanager
def _raw_terminal(enabled: bool) -> Iterator[None]:
    if not enabled or not os.isatty(sys.stdin.fileno()):
        yield
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _exit_code(status: dict[str, Any]) -> tuple[int, str]:
    """(exit code, message to print) of the error channel's Status."""
    if status.get("status") == "Success":
        return 0, ""
    details = status.get("details")
    details = details if isinstance(details, dict) else {}
    if status.get("reason") == "NonZeroExitCode":
        for cause in details.get("causes") or ():
            if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
                try:
                    code = int(cause.get("message", ""))
                except ValueError:
                    break
                return code, f"command terminated with exit code {code}"
    return 1, f"error: {status.get('message') or 'the command failed'}"


@click.command("exec", context_settings={"ignore_unknown_options": True})
@click.argument("pod")
@click.argument("command", nargs=-1, required=True, metavar="-- COMMAND [ARGS]...")
@click.option("--container", "-c", help="The container (default: the pod's only or first one).")
@click.option("--stdin", "-i", "stdin", is_flag=True, help="Pass stdin to the command.")
@click.option("--tty", "-t", is_flag=True, help="Give the command a terminal.")
@common.namespace_option
@common.server_option
@common.handles_errors
def exec_command(
    pod: str,
    command: tuple[str, ...],
    container: str | None,
    stdin: bool,
    tty: bool,
    namespace: str,
    server: str | None,
) -> None:
    """Run COMMAND in a container of POD: its environment, working dir and user."""
    from minikubelet.cli.client.websocket import WebSocketClosed, open_websocket

    name = pod.removeprefix("pod/").removeprefix("pods/")
    terminal = tty and stdin and os.isatty(sys.stdin.fileno())
    if tty and not terminal:
        click.echo(
            "Unable to use a TTY - input is not a terminal or the right kind of file", err=True
        )
        tty = False
    with common.connect(server) as connection:
        if container is None:
            spec = connection.get(common.pod_path(namespace, name)).get("spec") or {}
            names = [c.get("name") for c in spec.get("containers") or () if isinstance(c, dict)]
            if names:
                container = str(names[0])
                if len(names) > 1:
                    listed = ", ".join(str(n) for n in names)
                    click.echo(f'Defaulted container "{container}" out of: {listed}', err=True)
        query = [("command", part) for part in command]
        query += [("container", container or ""), ("stdout", "true")]
        query += [("stdin", "true")] if stdin else []
        query += [("tty", "true")] if tty else [("stderr", "true")]
        socket = open_websocket(
            connection,
            f"{common.pod_path(namespace, name)}/exec",
            urllib.parse.urlencode(query),
            _PROTOCOLS,
        )
    v5 = socket.protocol.startswith("v5")

    def resize(*_: object) -> None:
        with contextlib.suppress(OSError):
            size = os.get_terminal_size(sys.stdout.fileno())
            payload = json.dumps({"Width": size.columns, "Height": size.lines}).encode()
            socket.send(bytes([RESIZE]) + payload)

    def feed() -> None:
        fd = sys.stdin.fileno()
        with contextlib.suppress(OSError, WebSocketClosed):
            while True:
                data = os.read(fd, 65536)
                if not data:
                    break
                socket.send(bytes([STDIN]) + data)
            if v5:
                socket.send(bytes([CLOSE, STDIN]))

    status: dict[str, Any] = {}
    out, err = sys.stdout.buffer, sys.stderr.buffer
    with _raw_terminal(terminal):
        if tty:
            signal.signal(signal.SIGWINCH, resize)
            resize()
        if stdin:
            threading.Thread(target=feed, daemon=True).start()
        try:
            while True:
                message = socket.receive()
                if not message:
                    continue
                channel, payload = message[0], message[1:]
                if channel == STDOUT:
                    out.write(payload)
                    out.flush()
                elif channel == STDERR:
                    err.write(payload)
                    err.flush()
                elif channel == ERROR and payload:
                    with contextlib.suppress(ValueError):
                        status = json.loads(payload)
        except WebSocketClosed:
            pass
        finally:
            socket.close()
    if not status:
        common.fail("error: the connection to the server was lost before the command ended")
    code, text = _exit_code(status)
    if text:
        click.echo(text, err=True)
    sys.exit(code)
