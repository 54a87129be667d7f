"""The daemon's side of the keeper (see the package): connect or start it, spawn through
it, hear its exits.

``KeeperClient.connect`` finds the keeper of the root dir (or starts one, detached in its
own session, and waits for its ``ready`` line) and says ``hello``: the keeper answers with
every process it holds, each with fresh copies of its pipes' read ends. ``serve`` then reads
the keeper's messages until the connection is lost: spawn replies and exits. A process the
keeper spawned is a ``KeptChild``, with ``ChildProcess``'s interface: its ``wait`` ends on
the keeper's exit message (the keeper is the parent that reaps it), and it is signalled
through a pidfd of its own, so a pid reused after the exit is never signalled.

If the keeper goes away (killed), the daemon keeps supervising what it has: each
process's exit is then seen on its pidfd, without a status (reported as SIGKILL, as a
child reaped elsewhere); the runtime starts a new keeper for what starts next.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel
import structlog

from minikubelet.errors import KeeperError, RuntimeStartError
from minikubelet.model.keeper import (
    FRAME_LIMIT,
    KeptProcess,
    SpawnRequest,
    WireError,
    decode_frame,
    encode_frame,
    kept_from_json,
    spawn_json,
)
from minikubelet.model.launch import ExitStatus
from minikubelet.runtime.keeper import KEEPER_LOG, KEEPER_SOCKET, socket_address
from minikubelet.runtime.process import exit_status

__all__ = ["KEEPER_START_TIMEOUT", "Held", "KeeperClient", "KeptChild"]

_log = structlog.get_logger("minikubelet.keeper")

KEEPER_START_TIMEOUT = 15.0
_LOST_STATUS = 0x0009  # a wait status of "killed by SIGKILL": the status is unknown
_MAX_FDS = 4


@dataclass(frozen=True)
class Held:
    """A process the keeper holds, with the daemon's copies of its pipes' read ends."""

    kept: KeptProcess
    stdout: int
    stderr: int


class KeptChild:
    """A container's main process, spawned and reaped by the keeper."""

    def __init__(self, client: KeeperClient, kept: KeptProcess) -> None:
        self._client = client
        self.pid = kept.pid
        self.tag = kept.tag
        self.start_ticks = kept.start_ticks
        self._status: ExitStatus | None = None
        self._pidfd: int | None = None
        self._acknowledged = False
        if kept.wait_status is not None:  # it exited while no daemon ran
            self._status = exit_status(kept.wait_status)
        else:
            with contextlib.suppress(ProcessLookupError):
                self._pidfd = os.pidfd_open(self.pid)

    @property
    def status(self) -> ExitStatus | None:
        return self._status

    async def wait(self) -> ExitStatus:
        """The exit status, once the keeper reaped the process; only then may the keeper
        forget it (until a ``wait`` returns, a next daemon would still hear of it)."""
        if self._status is None:
            wait_status = await self._client.exit_of(self.pid, self._pidfd)
            self._status = exit_status(wait_status)
            if self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None
        else:
            await anyio.lowlevel.checkpoint()
        if not self._acknowledged:
            self._acknowledged = True
            self._client.ack(self.pid)
        return self._status

    def send_signal(self, signum: int) -> bool:
        """Signal this process only (through its pidfd); False if it has already exited."""
        if self._status is not None or self._pidfd is None:
            return False
        try:
            signal.pidfd_send_signal(self._pidfd, signum)
        except ProcessLookupError:
            return False
        return True


class KeeperClient:
    def __init__(self, root_dir: Path) -> None:
        self.root_dir = root_dir
        self.path = root_dir / KEEPER_SOCKET
        self.pid: int | None = None
        self._sock: socket.socket | None = None
        self._requests = itertools.count(1)
        self._replies: dict[int, tuple[anyio.Event, list[Any]]] = {}
        self._exits: dict[int, int] = {}
        self._exit_events: dict[int, anyio.Event] = {}
        self._lost = False
        # Packets (with copies of their descriptors) the socket could not take at once
        self._backlog: collections.deque[tuple[bytes, list[int]]] = collections.deque()
        self._backlog_added = anyio.Event()

    # -- connecting ------------------------------------------------------------------

    async def connect(self) -> list[Held]:
        """Reach the root dir's keeper, starting it if none answers; what it holds.

        A keeper that dies as we connect (its socket still took the connection) is taken
        as none: a new one is started, once."""
        started = False
        while True:
            try:
                self._sock = self._open()
            except (FileNotFoundError, ConnectionRefusedError) as error:
                if started:
                    raise KeeperError(f"{self.path}: cannot reach the keeper: {error}") from None
                await self._start_keeper()
                started = True
                continue
            except OSError as error:
                raise KeeperError(f"{self.path}: cannot reach the keeper: {error}") from None
            try:
                held = await self._greet()
            except (OSError, EOFError, WireError) as error:
                self.close()
                if started:
                    raise KeeperError(f"{self.path}: the keeper did not answer: {error}") from None
                await self._start_keeper()
                started = True
                continue
            _log.info("keeper.connected", pid=self.pid, holds=len(held))
            return held

    async def _greet(self) -> list[Held]:
        """``hello``, and what the keeper answers: a ``child`` per process, ``welcome``."""
        self._send({"op": "hello"})
        held: list[Held] = []
        try:
            with anyio.fail_after(KEEPER_START_TIMEOUT):
                while True:
                    message, fds = await self._receive()
                    if message["op"] == "welcome":
                        self.pid = int(message["pid"])
                        return held
                    if message["op"] == "child" and len(fds) == 2:
                        held.append(Held(kept_from_json(message), fds[0], fds[1]))
                    else:
                        self._dispatch(message, fds)
        except BaseException:
            for entry in held:
                os.close(entry.stdout)
                os.close(entry.stderr)
            raise

    def _open(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        try:
            with socket_address(self.root_dir) as address:
                sock.connect(address)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        return sock

    async def _start_keeper(self) -> None:
        """Start the keeper in a session of its own, stdout a pipe for its ``ready`` line.

        ``posix_spawn``, not ``Popen``: it is no child to wait for (the runtime's orphan
        reaper takes it when it exits, long after this daemon perhaps).
        """
        log_path = self.root_dir / KEEPER_LOG
        try:
            self.root_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise KeeperError(f"{log_path}: cannot open the keeper's log: {error}") from None
        null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        ready, said_ready = os.pipe2(os.O_CLOEXEC)
        env = {key: value for key, value in os.environ.items() if key != "NOTIFY_SOCKET"}
        argv = [
            sys.executable,
            "-m",
            "minikubelet.runtime.keeper",
            "--root-dir",
            str(self.root_dir),
        ]
        try:
            pid = os.posix_spawn(  # noqa: ASYNC221 - a fork and exec: it returns at once
                sys.executable,
                argv,
                env,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, null, 0),
                    (os.POSIX_SPAWN_DUP2, said_ready, 1),
                    (os.POSIX_SPAWN_DUP2, log, 2),
                ],
                setsid=True,  # not in the daemon's session: a Ctrl-C is not its
            )
        except OSError as error:
            os.close(ready)
            raise KeeperError(f"cannot start the keeper: {error}") from None
        finally:
            for fd in (log, null, said_ready):
                os.close(fd)
        os.set_blocking(ready, False)
        said = b""
        try:
            with anyio.fail_after(KEEPER_START_TIMEOUT):
                while b"\n" not in said:
                    await anyio.wait_readable(ready)
                    with contextlib.suppress(BlockingIOError):
                        chunk = os.read(ready, 64)
                        if not chunk:
                            raise KeeperError(f"the keeper exited at once (its log: {log_path})")
                        said += chunk
        except TimeoutError:
            raise KeeperError(f"the keeper did not start in time (its log: {log_path})") from None
        finally:
            os.close(ready)
        _log.info("keeper.started", pid=pid, log=str(log_path))

    # -- the connection's life -------------------------------------------------------

    async def serve(self) -> None:
        """Read the keeper's messages until the connection is lost (then return) or this
        is cancelled; meanwhile, send what the socket could not take at once."""
        async with anyio.create_task_group() as group:
            group.start_soon(self._send_backlog)
            error = await self._read_until_lost()
            group.cancel_scope.cancel()
        _log.error(
            "keeper.lost",
            pid=self.pid,
            error=str(error) or "the keeper closed the connection",
            effect="exits are seen on pidfds, without their status",
        )
        self._lose()

    async def _read_until_lost(self) -> Exception:
        """Dispatch the keeper's messages; the error that ended the connection.

        The error is returned, not raised: raised in a task group, it would reach
        ``serve`` wrapped in an exception group."""
        try:
            while True:
                message, fds = await self._receive()
                self._dispatch(message, fds)
        except (OSError, WireError, EOFError) as error:
            return error

    def _lose(self) -> None:
        self._lost = True
        self._drop_backlog()
        for event in self._exit_events.values():
            event.set()
        for event, reply in self._replies.values():
            reply.append({"op": "spawn_failed", "error": "the keeper is gone"})
            event.set()

    def _dispatch(self, message: dict[str, Any], fds: list[int]) -> None:
        match message["op"]:
            case "spawned" | "spawn_failed" | "released":
                waiting = self._replies.pop(int(message.get("request", 0)), None)
                if waiting is None:
                    for fd in fds:
                        os.close(fd)
                    return
                event, reply = waiting
                reply.extend((message, fds))
                event.set()
            case "exit":
                pid = int(message["pid"])
                self._exits[pid] = int(message["waitStatus"])
                if pid in self._exit_events:
                    self._exit_events.pop(pid).set()
            case _:
                for fd in fds:
                    os.close(fd)

    async def _receive(self) -> tuple[dict[str, Any], list[int]]:
        sock = self._sock
        if sock is None:
            raise EOFError
        while True:
            await anyio.wait_readable(sock)
            try:
                data, fds, flags, _ = socket.recv_fds(sock, FRAME_LIMIT + 8, _MAX_FDS)
            except BlockingIOError:
                continue
            if not data:
                raise EOFError
            if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
                for fd in fds:
                    os.close(fd)
                raise WireError("a message from the keeper was cut short")
            return decode_frame(data, len(fds)), fds

    def _send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        """Send one message, in order. A burst (hundreds of spawns at start-up, while the
        keeper parks a thread for each) can fill the socket's buffer: what it cannot take
        at once waits in the backlog, with copies of its descriptors, for ``serve`` to send
        as the keeper reads. Raises OSError if the keeper is gone."""
        sock = self._sock
        if sock is None or self._lost:
            raise OSError("the keeper is gone")
        packet = encode_frame(message)
        if not self._backlog:
            try:
                socket.send_fds(sock, [packet], fds or [])
                return
            except BlockingIOError:
                pass
        self._backlog.append((packet, [os.dup(fd) for fd in fds or []]))
        self._backlog_added.set()

    async def _send_backlog(self) -> None:
        sock = self._sock
        assert sock is not None
        while True:
            while self._backlog:
                packet, fds = self._backlog[0]
                await anyio.wait_writable(sock)
                try:
                    socket.send_fds(sock, [packet], fds)
                except BlockingIOError:
                    continue
                except OSError:  # the keeper is gone: the reader hears of it
                    await anyio.sleep_forever()
                self._backlog.popleft()
                for fd in fds:
                    os.close(fd)
            await self._backlog_added.wait()
            self._backlog_added = anyio.Event()

    def _drop_backlog(self) -> None:
        while self._backlog:
            for fd in self._backlog.popleft()[1]:
                os.close(fd)

    # -- requests --------------------------------------------------------------------

    async def spawn(self, request: SpawnRequest, fds: list[int]) -> Held:
        """Have the keeper spawn ``request`` (``fds``: its stdin, then its message file);
        raises RuntimeStartError as an in-process spawn would, and KeeperError when the
        request could not even be sent (the keeper is gone: nothing was spawned)."""
        request = SpawnRequest(**{**request.__dict__, "request": next(self._requests)})
        event, reply = anyio.Event(), list[Any]()
        self._replies[request.request] = (event, reply)
        try:
            self._send(spawn_json(request), fds)
        except OSError as error:  # not delivered: nothing was spawned
            self._replies.pop(request.request, None)
            raise KeeperError(f"the keeper cannot be asked to spawn: {error}") from None
        with anyio.CancelScope(shield=True):  # once asked, the process is ours to receive
            await event.wait()
        message, received = reply[0], (reply[1] if len(reply) > 1 else [])
        if message["op"] != "spawned" or len(received) != 2:
            for fd in received:
                os.close(fd)
            raise RuntimeStartError(str(message.get("error", "the keeper could not spawn")))
        return Held(kept_from_json(message), received[0], received[1])

    async def release(self, tasks: tuple[str, ...]) -> None:
        """Have the keeper let go of the thread it parked in the cgroups whose ``tasks``
        files these are (cgroup v1), so they can be removed; returns once it has, at once
        if the keeper is gone (its threads went with it), or after a deadline."""
        number = next(self._requests)
        event, reply = anyio.Event(), list[Any]()
        self._replies[number] = (event, reply)
        try:
            self._send({"op": "release", "request": number, "cgroup": list(tasks)})
        except OSError:
            self._replies.pop(number, None)
            return
        with anyio.CancelScope(shield=True) as scope:
            scope.deadline = anyio.current_time() + KEEPER_START_TIMEOUT
            await event.wait()
        if scope.cancelled_caught:
            self._replies.pop(number, None)
            _log.warning("keeper.release_unanswered", cgroup=tasks[0] if tasks else None)

    async def exit_of(self, pid: int, pidfd: int | None) -> int:
        """The ``waitpid`` status of ``pid`` once the keeper reaped it."""
        while pid not in self._exits:
            if self._lost:
                if pidfd is not None:
                    await anyio.wait_readable(pidfd)
                return _LOST_STATUS
            event = self._exit_events.setdefault(pid, anyio.Event())
            await event.wait()
        return self._exits[pid]

    def ack(self, pid: int) -> None:
        """The daemon has taken ``pid``'s exit: the keeper may forget it."""
        self._exits.pop(pid, None)
        with contextlib.suppress(OSError):
            self._send({"op": "ack", "pid": pid})

    def stopping(self) -> None:
        """The daemon stops (gracefully): the keeper ends once its containers are gone."""
        with contextlib.suppress(OSError):
            self._send({"op": "stopping"})

    def close(self) -> None:
        """Close the connection, after what the backlog still holds (the last acks, the
        ``stopping``: without them the keeper would wait for a next daemon)."""
        sock = self._sock
        if sock is not None and self._backlog and not self._lost:
            sock.settimeout(KEEPER_START_TIMEOUT)  # a keeper that reads on: a moment
            with contextlib.suppress(OSError):
                while self._backlog:
                    packet, fds = self._backlog[0]
                    socket.send_fds(sock, [packet], fds)
                    self._backlog.popleft()
                    for fd in fds:
                        os.close(fd)
        self._drop_backlog()
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
