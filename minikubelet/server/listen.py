"""The API's listening sockets, bound by us before the HTTP server gets them.

Why not let hypercorn bind them: the unix socket must never be reachable with looser
permissions than 0600, a socket file left by a crashed daemon must be replaced while one
of a live daemon must not be, and ``--port 0`` must report the port the kernel chose.
So the socket is bound, ``chmod``-ed to 0600, and only then ``listen``-ed (connecting to
a socket that is not listening is refused, so there is no window with other permissions).
A missing parent directory is created with mode 0700; an existing one is left as it is
(``--socket /tmp/x.sock`` must not turn /tmp private).

A socket file that exists is probed with ``connect``: refused means stale (its daemon
died), so it is removed; accepted means another daemon lives there: ``SocketInUseError``.
On close, the socket file is removed only if it is still the one we bound.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
from dataclasses import dataclass, field
from pathlib import Path

from minikubelet.errors import ConfigError, SocketInUseError

__all__ = ["BACKLOG", "MAX_SOCKET_PATH", "Listeners", "SocketInUseError", "open_listeners"]

BACKLOG = 128
MAX_SOCKET_PATH = 107  # sun_path is 108 bytes, with the terminating NUL


@dataclass
class Listeners:
    """Bound, listening sockets: the unix socket and/or the TCP one."""

    unix: socket.socket | None = None
    unix_path: Path | None = None
    tcp: socket.socket | None = None
    address: str | None = None
    port: int | None = None
    _inode: int | None = field(default=None, repr=False)

    @property
    def sockets(self) -> list[socket.socket]:
        return [s for s in (self.unix, self.tcp) if s is not None]

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        if self.unix_path is not None and self._inode is not None:
            with contextlib.suppress(OSError):
                if os.lstat(self.unix_path).st_ino == self._inode:
                    self.unix_path.unlink()
        self.unix = self.tcp = None


def open_listeners(socket_path: Path | None, address: str, port: int | None) -> Listeners:
    """Bind and listen; raises SocketInUseError, ConfigError or OSError (nothing is left open)."""
    listeners = Listeners()
    try:
        if socket_path is not None:
            listeners.unix, listeners._inode = _unix_socket(socket_path)
            listeners.unix_path = socket_path
        if port is not None:
            listeners.tcp = _tcp_socket(address, port)
            listeners.address = address
            listeners.port = listeners.tcp.getsockname()[1]
    except BaseException:
        listeners.close()
        raise
    return listeners


def _unix_socket(path: Path) -> tuple[socket.socket, int]:
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise ConfigError(
            f"--socket {path}: the path is {len(os.fsencode(path))} bytes long; "
            f"a unix socket path may have at most {MAX_SOCKET_PATH}"
        )
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
        path.parent.chmod(0o700)  # mkdir's mode is filtered by the umask
    _remove_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        os.chmod(path, 0o600)
        sock.listen(BACKLOG)
        inode = os.lstat(path).st_ino
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock, inode


def _remove_stale(path: Path) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ConfigError(f"--socket {path}: the path exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except ConnectionRefusedError:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # stale: nobody listens (the daemon that made it is gone)
        return
    except FileNotFoundError:
        return
    except TimeoutError:
        pass  # a live daemon too busy to accept: in use all the same
    finally:
        probe.close()
    raise SocketInUseError(path)


def _tcp_socket(address: str, port: int) -> socket.socket:
    family, type_, proto, _, sockaddr = socket.getaddrinfo(
        address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, type_, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(sockaddr)
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock
