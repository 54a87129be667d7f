"""The keeper's loop: one daemon connection, spawns, reaps, and the pipes it holds.

One thread, blocking only where it cannot wait long: a ``selectors`` loop over the
listening socket, the daemon's connection and the signal wake-up pipe (SIGCHLD). It
sleeps until one of them is ready, with a deadline only while it waits for a daemon to
take exits (``linger``) or for the first one to connect.

On cgroup v1 a spawn names the container's ``tasks`` files: it is forked from a thread
parked there (``runtime/parking.py``), one per container, kept until the daemon releases
it (the cgroup is about to be removed), the daemon stops, or it idles out. The loop waits
for the fork (a millisecond); children of every thread are ours to reap.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import struct
import subprocess  # noqa: TID251 - Popen objects of the processes spawned here
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from minikubelet.errors import CgroupError, RuntimeStartError
from minikubelet.logic.adoption import start_ticks_of
from minikubelet.model.keeper import (
    FRAME_LIMIT,
    KeptProcess,
    SpawnRequest,
    WireError,
    decode_frame,
    encode_frame,
    kept_json,
    spawn_from_json,
    tasks_files,
)
from minikubelet.runtime.keeper import KEEPER_SOCKET, socket_address
from minikubelet.runtime.parking import ParkedSpawner
from minikubelet.runtime.spawning import become_subreaper, start_process

__all__ = ["DEFAULT_LINGER", "FIRST_CONNECT_TIMEOUT", "Keeper"]

T = TypeVar("T")

# How long exits no daemon has taken are kept once no container is alive: a daemon that
# crashed is restarted within seconds (systemd's RestartSec), one that is gone for good
# should not leave the keeper behind forever.
DEFAULT_LINGER = 300.0
FIRST_CONNECT_TIMEOUT = 30.0  # the daemon that started us died before it connected
_SEND_TIMEOUT = 5.0  # a daemon that does not read for this long is taken as gone
_MAX_FDS = 4
# A container that has not restarted for this long gives its thread back (its stack is a
# few tens of KiB of memory, times hundreds of sleepers); its next start parks a new one.
_PARKED_IDLE = 10.0


@dataclass
class _Child:
    popen: subprocess.Popen[bytes]  # kept referenced: a collected Popen would reap it
    kept: KeptProcess
    pipes: tuple[int, int]  # our copies of its stdout and stderr read ends


def _log(event: str, **values: Any) -> None:
    """One JSON line on stderr (the keeper's log file under the root dir)."""
    line = {"timestamp": time.time(), "event": event, **values}
    with contextlib.suppress(OSError):
        sys.stderr.write(json.dumps(line) + "\n")
        sys.stderr.flush()


def _has_children() -> bool:
    """Whether any process is still our child: a container, or an orphan re-parented to
    us (each thread has its own list: the parked threads fork too)."""
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/children", "rb") as handle:
                if handle.read().split():
                    return True
        except OSError:
            continue  # a parked thread that just exited
    return False


class _Parked:
    """The keeper's parked threads, one per container cgroup (by its ``tasks`` files)."""

    def __init__(self) -> None:
        self._threads: dict[tuple[str, ...], tuple[ParkedSpawner, threading.Lock]] = {}

    def run(self, tasks: tuple[str, ...], job: Callable[[], T]) -> T:
        """``job`` on the thread parked in ``tasks`` (parked now if there is none: that
        waits for the kernel, once); raises CgroupError if it cannot join them."""
        spawner, lock = self._threads.get(tasks, (None, threading.Lock()))
        with lock:  # the thread retires only while it can take this and nothing is queued
            if spawner is None or spawner.retired:
                names = [Path(path) for path in tasks]
                spawner = ParkedSpawner(f"cgroup:{tasks[0]}", names, lock, _PARKED_IDLE)
                self._threads[tasks] = (spawner, lock)
            future = spawner.submit(job)
        return future.result()

    def release(self, tasks: tuple[str, ...]) -> None:
        entry = self._threads.pop(tasks, None)
        if entry is not None:
            entry[0].stop()  # it leaves the cgroups as it exits

    def release_all(self) -> None:
        for tasks in list(self._threads):
            self.release(tasks)


class Keeper:
    def __init__(self, root_dir: Path, *, linger: float = DEFAULT_LINGER) -> None:
        self.path = root_dir / KEEPER_SOCKET
        self.linger = linger
        self.children: dict[int, _Child] = {}
        self.conn: socket.socket | None = None
        self.served = False  # a daemon has connected at least once
        self.stopping = False
        self.alone_since = time.monotonic()  # noqa: TID251 - the keeper has no event loop
        self._selector = selectors.DefaultSelector()
        self._parked = _Parked()

    # -- the loop --------------------------------------------------------------------

    def run(self) -> int:
        os.umask(0o077)  # the socket is the daemon's alone: 0600
        become_subreaper()
        wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # not the terminal's: its own session
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a dead keeper's: the daemon found nobody answering there
        with socket_address(self.path.parent) as address:
            listener.bind(address)
        listener.listen(4)
        self._selector.register(listener, selectors.EVENT_READ, "listener")
        self._selector.register(wake_read, selectors.EVENT_READ, "signal")
        _log("keeper.started", pid=os.getpid(), socket=str(self.path))
        self._ready()
        try:
            while not self._done():
                for key, _ in self._selector.select(self._timeout()):
                    if key.data == "listener":
                        self._accept(listener)
                    elif key.data == "signal":
                        with contextlib.suppress(BlockingIOError):
                            while os.read(wake_read, 512):
                                pass
                        self._reap()
                    else:
                        self._receive()
                self._reap()  # a SIGCHLD between the wake-up and the select is not lost
        finally:
            self._drop_connection()
            listener.close()
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self._parked.release_all()
            for child in self.children.values():
                for fd in child.pipes:
                    os.close(fd)
            _log("keeper.stopped", unacknowledged=sorted(self.children))
        return 0

    def _ready(self) -> None:
        """Tell the daemon that started us that the socket listens (a line on stdout),
        then let go of stdout: it is the daemon's pipe."""
        with contextlib.suppress(OSError):
            os.write(1, b"ready\n")
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)

    def _done(self) -> bool:
        if self.conn is not None and not self.stopping:
            return False
        if _has_children():
            return False  # a container (or an orphan of one) is alive
        if self.stopping:
            return True  # the daemon stopped its pods
        if self.served and not self.children:
            return True  # the daemon is gone and nothing is left to tell the next one
        return self._timeout() == 0  # waiting for a (next) daemon: until the deadline

    def _timeout(self) -> float | None:
        if self.conn is not None:
            return None
        if not self.served:
            limit = FIRST_CONNECT_TIMEOUT
        elif self.children and not _has_children():
            limit = self.linger
        else:
            return None  # live containers: wait for them or for a daemon, however long
        elapsed = time.monotonic() - self.alone_since  # noqa: TID251 - see __init__
        return max(limit - elapsed, 0.0)

    # -- the connection --------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        conn, _ = listener.accept()
        # The socket is 0600 in a 0700 directory; the peer's credentials are checked too,
        # since whoever talks here can spawn anything as anyone we may become.
        credentials = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _, peer_uid, _ = struct.unpack("3i", credentials)
        if peer_uid not in (os.geteuid(), 0):
            _log("keeper.peer_refused", uid=peer_uid)
            conn.close()
            return
        if self.conn is not None:  # only one daemon per root dir: the new one is it
            _log("keeper.daemon_replaced")
            self._drop_connection()
        conn.settimeout(_SEND_TIMEOUT)
        self.conn = conn
        self.served = True
        self.stopping = False
        self._selector.register(conn, selectors.EVENT_READ, "daemon")
        _log("keeper.daemon_connected", children=len(self.children))

    def _drop_connection(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            self._selector.unregister(conn)
            conn.close()
            self.alone_since = time.monotonic()  # noqa: TID251 - see __init__

    def _send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        conn = self.conn
        if conn is None:
            return
        try:
            socket.send_fds(conn, [encode_frame(message)], fds or [])
        except OSError as error:
            _log("keeper.daemon_lost", error=str(error))
            self._drop_connection()

    def _receive(self) -> None:
        conn = self.conn
        assert conn is not None
        try:
            data, fds, flags, _ = socket.recv_fds(conn, FRAME_LIMIT + 8, _MAX_FDS)
        except OSError as error:
            _log("keeper.daemon_lost", error=str(error))
            self._drop_connection()
            return
        if not data:
            _log("keeper.daemon_gone", stopping=self.stopping)
            self._drop_connection()
            return
        try:
            if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
                raise WireError("a message was cut short")
            message = decode_frame(data, len(fds))
            self._handle(message, fds)
        except WireError as error:
            for fd in fds:
                os.close(fd)
            _log("keeper.bad_message", error=str(error))
            self._drop_connection()

    def _handle(self, message: dict[str, Any], fds: list[int]) -> None:
        match message["op"]:
            case "hello":
                for child in list(self.children.values()):
                    self._send({"op": "child", "fds": 2, **kept_json(child.kept)}, [*child.pipes])
                self._send({"op": "welcome", "pid": os.getpid(), "children": len(self.children)})
            case "spawn":
                self._spawn(spawn_from_json(message), fds)
            case "ack":
                acknowledged = self.children.pop(int(message.get("pid", 0)), None)
                if acknowledged is not None:
                    for fd in acknowledged.pipes:
                        os.close(fd)
            case "release":
                self._parked.release(tasks_files(message.get("cgroup")))
                self._send({"op": "released", "request": message.get("request")})
            case "stopping":
                self.stopping = True
                self._parked.release_all()  # the daemon removes its cgroups next
                _log("keeper.stopping", live=_has_children())
            case op:
                raise WireError(f"unknown op {op!r}")

    # -- spawning and reaping --------------------------------------------------------

    def _spawn(self, request: SpawnRequest, fds: list[int]) -> None:
        received = list(fds)
        stdin = received.pop(0) if request.stdin else None
        message_fd = received.pop(0) if request.message_variable is not None else None
        env = dict(request.env)
        if request.message_variable is not None:
            env[request.message_variable] = f"/dev/fd/{message_fd}"
        identity = request.user
        out_read, out_write = os.pipe2(os.O_CLOEXEC)
        err_read, err_write = os.pipe2(os.O_CLOEXEC)

        def start() -> subprocess.Popen[bytes]:
            return start_process(
                request.argv,
                cwd=request.cwd,
                env=env,
                tag=request.tag,
                stdout=out_write,
                stderr=err_write,
                identity=identity,
                pass_fds=() if message_fd is None else (message_fd,),
                stdin=stdin,
                program=request.program,
            )

        try:
            popen = self._parked.run(request.cgroup, start) if request.cgroup else start()
        except (RuntimeStartError, CgroupError) as error:
            os.close(out_read)
            os.close(err_read)
            if isinstance(error, CgroupError):
                error = RuntimeStartError(f"cannot place the process in its cgroup: {error}")
            self._send({"op": "spawn_failed", "request": request.request, "error": str(error)})
            return
        finally:
            for fd in (out_write, err_write, *fds):
                os.close(fd)
        try:
            with open(f"/proc/{popen.pid}/stat") as stat:  # not reaped yet: still readable
                ticks = start_ticks_of(stat.read())
        except (OSError, ValueError):
            ticks = 0
        kept = KeptProcess(popen.pid, request.tag, ticks)
        self.children[popen.pid] = _Child(popen, kept, (out_read, err_read))
        reply = {"op": "spawned", "request": request.request, "fds": 2, **kept_json(kept)}
        self._send(reply, [out_read, err_read])

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self.children.get(pid)
            if child is None:
                continue  # an orphan re-parented to us: reaped, nothing to tell
            child.kept = replace(child.kept, wait_status=status)
            child.popen.returncode = os.waitstatus_to_exitcode(status)
            self._send({"op": "exit", "pid": pid, "waitStatus": status})
