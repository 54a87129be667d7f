"""What the daemon and its keeper say to each other (``runtime/keeper``), and what they say
it about.

The keeper is the process that spawns the daemon's containers and outlives the daemon
(``runtime/keeper/__init__.py`` explains why). They talk over a ``SOCK_SEQPACKET`` Unix
socket: one packet is one message, a frame of a 4-byte big-endian length and that many
bytes of a JSON object; file descriptors travel with the packet (``SCM_RIGHTS``) and the
message says how many (``"fds"``), so a packet cut short or fds dropped by the kernel are
errors, never half a message. The frame is pure data: both sides encode and decode it
here, and the I/O is theirs.

Messages, by ``"op"``:

* daemon → keeper: ``hello`` (answered by one ``child`` per process the keeper holds,
  with the two read ends of its stdout and stderr pipes, then ``welcome`` with the
  keeper's pid), ``spawn`` (a ``SpawnRequest``; fds: its stdin when ``stdin``, its
  termination-message file when ``message_variable``), ``ack`` (an ``exit`` was taken:
  the keeper forgets that process and closes its pipe ends), ``stopping`` (the daemon
  stops its pods: the keeper exits once it has no live child left);
* keeper → daemon: ``child``, ``welcome``, ``spawned`` (pid, start ticks, the two read
  ends), ``spawn_failed`` (the error, as ``RuntimeStartError`` says it), ``exit`` (pid and
  its ``waitpid`` status, until acknowledged, again to every daemon that says ``hello``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "FRAME_LIMIT",
    "KeptProcess",
    "SpawnRequest",
    "SpawnUser",
    "WireError",
    "decode_frame",
    "encode_frame",
    "kept_from_json",
    "kept_json",
    "spawn_from_json",
    "spawn_json",
    "tasks_files",
]

# One message's limit: a spawn carries the container's environment. The socket's send
# buffer bounds a packet too (about 200 KiB by default); the keeper raises its own.
FRAME_LIMIT = 1 << 20
_HEADER = 4


class WireError(ValueError):
    """A packet that is not one whole message: cut short, too long, not a JSON object,
    a field of the wrong type, or not as many fds as it says. The connection is broken."""


def encode_frame(message: Mapping[str, Any]) -> bytes:
    """``message`` as one packet; raises WireError when it is over ``FRAME_LIMIT``."""
    body = json.dumps(message, separators=(",", ":")).encode()
    if len(body) > FRAME_LIMIT:
        raise WireError(f"a {message.get('op')!r} message of {len(body)} bytes is too long")
    return len(body).to_bytes(_HEADER, "big") + body


def decode_frame(packet: bytes, fds: int = 0) -> dict[str, Any]:
    """The message of one packet that came with ``fds`` file descriptors."""
    if len(packet) < _HEADER:
        raise WireError(f"a packet of {len(packet)} bytes has no frame header")
    length = int.from_bytes(packet[:_HEADER], "big")
    body = packet[_HEADER:]
    if length != len(body):
        raise WireError(f"the frame says {length} bytes, the packet holds {len(body)}")
    try:
        message = json.loads(body)
    except ValueError as error:
        raise WireError(f"the frame is not JSON: {error}") from None
    if not isinstance(message, dict) or not isinstance(message.get("op"), str):
        raise WireError("the frame is not a message (an object with an op)")
    expected = message.get("fds", 0)
    if expected != fds:
        raise WireError(f"the {message['op']!r} message says {expected} fds, {fds} came")
    return message


@dataclass(frozen=True)
class KeptProcess:
    """A container's main process as the keeper holds it.

    ``start_ticks``: when it started, in clock ticks after boot (``/proc/<pid>/stat``
    field 22): with the pid, the process's identity (a pid alone may be reused).
    ``wait_status``: its ``waitpid`` status once it exited and was reaped; None while it
    runs.
    """

    pid: int
    tag: str
    start_ticks: int
    wait_status: int | None = None


def kept_json(kept: KeptProcess) -> dict[str, Any]:
    return {
        "pid": kept.pid,
        "tag": kept.tag,
        "startTicks": kept.start_ticks,
        "waitStatus": kept.wait_status,
    }


def kept_from_json(message: Mapping[str, Any]) -> KeptProcess:
    status = message.get("waitStatus")
    return KeptProcess(
        pid=_int(message, "pid"),
        tag=_text(message, "tag"),
        start_ticks=_int(message, "startTicks"),
        wait_status=None if status is None else _int(message, "waitStatus"),
    )


class SpawnUser(NamedTuple):
    """Who the process runs as: uid, gid and supplementary groups."""

    uid: int
    gid: int
    groups: tuple[int, ...] = ()


@dataclass(frozen=True)
class SpawnRequest:
    """One container instance to spawn, prepared to the last argument by the daemon.

    ``stdin``: the request carries the child's stdin (a cgroup gate's pipe).
    ``message_variable``: the request carries the termination-message file, to be passed
    to the child and named in this environment variable as ``/dev/fd/N``.
    ``cgroup``: cgroup v1 ``tasks`` files the forking thread must be in, so that the child
    starts in the container's cgroups (the keeper parks a thread there for it).
    """

    request: int
    argv: tuple[str, ...]
    cwd: str
    env: Mapping[str, str]
    tag: str
    program: str | None = None
    user: SpawnUser | None = None
    stdin: bool = False
    message_variable: str | None = None
    cgroup: tuple[str, ...] = ()

    @property
    def fds(self) -> int:
        return int(self.stdin) + int(self.message_variable is not None)


def spawn_json(spawn: SpawnRequest) -> dict[str, Any]:
    return {
        "op": "spawn",
        "fds": spawn.fds,
        "request": spawn.request,
        "argv": list(spawn.argv),
        "cwd": spawn.cwd,
        "env": dict(spawn.env),
        "tag": spawn.tag,
        "program": spawn.program,
        "user": None
        if spawn.user is None
        else [spawn.user.uid, spawn.user.gid, list(spawn.user.groups)],
        "stdin": spawn.stdin,
        "messageVariable": spawn.message_variable,
        "cgroup": list(spawn.cgroup),
    }


def spawn_from_json(message: Mapping[str, Any]) -> SpawnRequest:
    env = message.get("env")
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise WireError("env is not an object of strings")
    user = message.get("user")
    identity: SpawnUser | None = None
    if user is not None:
        if not (isinstance(user, list) and len(user) == 3 and isinstance(user[2], list)):
            raise WireError("user is not [uid, gid, [groups]]")
        identity = SpawnUser(_number(user[0]), _number(user[1]), tuple(map(_number, user[2])))
    program = message.get("program")
    variable = message.get("messageVariable")
    return SpawnRequest(
        request=_int(message, "request"),
        argv=tuple(_strings(message.get("argv"), "argv")),
        cwd=_text(message, "cwd"),
        env=env,
        tag=_text(message, "tag"),
        program=program if isinstance(program, str) else None,
        user=identity,
        stdin=message.get("stdin") is True,
        message_variable=variable if isinstance(variable, str) else None,
        cgroup=tasks_files(message.get("cgroup", [])),
    )


def tasks_files(value: object) -> tuple[str, ...]:
    """cgroup v1 ``tasks`` files, as a ``spawn`` or ``release`` message names them."""
    paths = _strings(value, "cgroup")
    for path in paths:
        if not path.startswith("/") or not path.endswith("/tasks"):
            raise WireError(f"cgroup: {path!r} is not the absolute path of a tasks file")
    return tuple(paths)


def _number(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise WireError(f"{value!r} is not an integer")
    return value


def _int(message: Mapping[str, Any], key: str) -> int:
    value = message.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise WireError(f"{key} is missing or not an integer")
    return value


def _text(message: Mapping[str, Any], key: str) -> str:
    value = message.get(key)
    if not isinstance(value, str):
        raise WireError(f"{key} is missing or not a string")
    return value


def _strings(value: object, key: str) -> Sequence[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise WireError(f"{key} is not a list of strings")
    return value
