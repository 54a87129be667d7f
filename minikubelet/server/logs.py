"""Container logs over HTTP: ``pods/{name}/log`` and the kubelet's ``/containerLogs``.

Follows the apiserver and the kubelet (``pkg/kubelet/server/server.go getContainerLogs``,
``kubelet_pods.go validateContainerLogStatus``, ``kuberuntime/logs/logs.go ReadLogs``):

* The request is ``PodLogOptions``: ``container``, ``follow``, ``previous``, ``timestamps``,
  ``tailLines`` (legacy alias ``tail``, ``tail=all``), ``sinceSeconds`` / ``sinceTime``,
  ``limitBytes``, ``stream`` (All|Stdout|Stderr). Values that do not parse are a 400;
  values out of range are a 422 ``PodLogOptions "<pod>" is invalid`` with causes.
* No ``container`` picks the only container; several ask the client to choose (400), an
  unknown one is ``container c is not valid for pod x`` (400).
* The instance is chosen as ``validateContainerLogStatus`` does: ``previous`` → the one in
  ``lastState.terminated``; else the running one; else the terminated one; a container
  still waiting answers ``container "c" in pod "x" is waiting to start: <reason>`` (400).
* The selected instance's whole log is read, record by record: its rotated files
  (compressed ones included) in order, then the live one (``logfiles.py``), so a
  finished container's log is there even when it rotated right at the end. The kubelet
  reads the live file only (its ``ReadLogs`` says so: "It will not retrieve logs in
  rotated log file"); we read what we kept. ``tailLines`` counts records from the end,
  across files; ``sinceTime`` drops older records; ``timestamps`` prefixes each new line
  with the record's time in the fixed 9-digit form; ``limitBytes`` caps everything
  written, prefixes included.
* ``follow`` keeps the response open while that instance runs, woken by inotify when its
  directory changes (a write, a rotation) and by the pod worker's status change when the
  instance exits; then it sends what is left and ends, as the kubelet does, so
  ``kubectl logs -f`` ends at a restart. Rotations are followed into the next file: each
  line is sent once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import anyio
import anyio.to_thread

from minikubelet.errors import FieldError
from minikubelet.inotify import FileWatch
from minikubelet.logfiles import LogReader
from minikubelet.logic.status import terminated_state
from minikubelet.model.snapshot import PodSnapshot
from minikubelet.model.status import Instance, Running, Terminated, Waiting
from minikubelet.server.status import bad_request, invalid
from minikubelet.server.streaming import Write

__all__ = [
    "LogRequest",
    "LogSource",
    "LogTarget",
    "PodFeed",
    "parse_log_request",
    "select_log",
    "stream_log",
]

_CHUNK = 64 * 1024
_RECHECK = 1.0  # seconds: the kubelet re-checks "still running?" every second while following
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_STREAMS = {"All": None, "Stdout": b"stdout", "Stderr": b"stderr"}
_TIMESTAMP = re.compile(
    rb"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$"
)


@dataclass(frozen=True)
class LogRequest:
    container: str | None = None
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    since: datetime | None = None
    limit_bytes: int | None = None
    stream: bytes | None = None  # b"stdout" / b"stderr" / None for both


def _bool(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name)
    if value is None or value == "":
        return False
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise bad_request(f'strconv.ParseBool: parsing "{value}": invalid syntax (in {name})')


def _int(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise bad_request(
            f'strconv.ParseInt: parsing "{value}": invalid syntax (in {name})'
        ) from None


def parse_time(text: str) -> datetime:
    """RFC 3339 with an optional fraction of up to 9 digits; raises ValueError."""
    match = _TIMESTAMP.match(text.encode())
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    return _to_datetime(match)


def _to_datetime(match: re.Match[bytes]) -> datetime:
    year, month, day, hour, minute, second = (int(match[i]) for i in range(1, 7))
    micros = int((match[7] or b"0").ljust(9, b"0")[:6])
    zone = match[8]
    moment = datetime(year, month, day, hour, minute, second, micros, tzinfo=UTC)
    if zone != b"Z":
        sign = 1 if zone[:1] == b"+" else -1
        moment -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return moment


def parse_log_request(query: Mapping[str, str], pod: str, now: datetime) -> LogRequest:
    """``PodLogOptions`` from a query string; raises ``RequestError`` (400 or 422)."""
    tail_lines = _int(query, "tailLines")
    if tail_lines is None and query.get("tail") not in (None, "", "all", "-1"):
        tail_lines = _int(query, "tail")  # the kubelet's legacy name
    since_seconds = _int(query, "sinceSeconds")
    since_time = None
    if query.get("sinceTime"):
        try:
            since_time = parse_time(query["sinceTime"])
        except ValueError as error:
            raise bad_request(f"parsing sinceTime: {error}") from None
    limit_bytes = _int(query, "limitBytes")
    stream_name = query.get("stream") or "All"
    errors = []
    if tail_lines is not None and tail_lines < 0:
        errors.append(
            FieldError(
                "tailLines", "Invalid value", "must be greater than or equal to 0", tail_lines, True
            )
        )
    if limit_bytes is not None and limit_bytes < 1:
        errors.append(
            FieldError("limitBytes", "Invalid value", "must be greater than 0", limit_bytes, True)
        )
    if since_seconds is not None and since_time is not None:
        errors.append(
            FieldError(
                "", "Forbidden", "at most one of `sinceTime` or `sinceSeconds` may be specified"
            )
        )
    elif since_seconds is not None and since_seconds < 1:
        errors.append(
            FieldError(
                "sinceSeconds", "Invalid value", "must be greater than 0", since_seconds, True
            )
        )
    if stream_name not in _STREAMS:
        errors.append(
            FieldError(
                "stream",
                "Unsupported value",
                'supported values: "All", "Stderr", "Stdout"',
                stream_name,
                True,
            )
        )
    if errors:
        raise invalid("PodLogOptions", pod, errors)
    since = since_time
    if since_seconds is not None:
        since = now - timedelta(seconds=since_seconds)
    return LogRequest(
        container=query.get("container") or None,
        follow=_bool(query, "follow"),
        previous=_bool(query, "previous"),
        timestamps=_bool(query, "timestamps"),
        tail_lines=tail_lines,
        since=since,
        limit_bytes=limit_bytes,
        stream=_STREAMS[stream_name],
    )


class LogTarget(Protocol):
    """What the reading code needs from an instance: its log and whether it still runs."""

    @property
    def path(self) -> Path: ...

    def is_running(self) -> bool: ...

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` when the instance may have changed; returns an unsubscribe."""
        ...


class PodFeed(Protocol):
    """Where a follower learns whether the instance still runs (the kubelet)."""

    def current(self, uid: str) -> PodSnapshot | None: ...

    def on_change(
        self, uid: str, listener: Callable[[PodSnapshot], None]
    ) -> Callable[[], None]: ...


@dataclass(frozen=True)
class LogSource:
    """The instance chosen by ``select_log``: a ``LogTarget`` backed by the pod's feed."""

    feed: PodFeed
    uid: str
    container: str
    instance: Instance
    path: Path

    def is_running(self) -> bool:
        pod = self.feed.current(self.uid)
        record = pod.records.get(self.container) if pod is not None else None
        if record is None:
            return False
        for candidate in record.instances:
            if candidate.restart_count == self.instance.restart_count:
                return candidate.exit is None
        return False

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        return self.feed.on_change(self.uid, lambda _: listener())


def _container_name(pod: PodSnapshot, requested: str | None) -> str:
    spec, name = pod.pod.spec, pod.pod.name
    if requested is None:
        if len(spec.containers) == 1:
            return spec.containers[0].name
        if not spec.containers:
            raise bad_request(f"a container name must be specified for pod {name}")
        message = (
            f"a container name must be specified for pod {name}, choose one of: "
            f"[{' '.join(c.name for c in spec.containers)}]"
        )
        if spec.init_containers:
            init = " ".join(c.name for c in spec.init_containers)
            message += f" or one of the init containers: [{init}]"
        raise bad_request(message)
    if all(c.name != requested for c in spec.init_containers + spec.containers):
        raise bad_request(f"container {requested} is not valid for pod {name}")
    return requested


def select_log(snapshot: PodSnapshot, request: LogRequest, feed: PodFeed) -> LogSource:
    """The instance whose log is asked for (``validateContainerLogStatus``); raises RequestError."""
    name = _container_name(snapshot, request.container)
    pod = snapshot.pod.name
    status = snapshot.status
    found = [
        s for s in (*status.container_statuses, *status.init_container_statuses) if s.name == name
    ]
    record = snapshot.records.get(name)
    if not found or record is None:
        raise bad_request(f'container "{name}" in pod "{pod}" is not available')
    container_status = found[0]
    last, state = container_status.last_state, container_status.state

    def instance_of(terminated: Terminated) -> Instance | None:
        for candidate in record.instances:
            if terminated_state(candidate) == terminated:
                return candidate
        return None

    chosen: Instance | None = None
    if request.previous:
        if last is None or not last.container_id:
            raise bad_request(f'previous terminated container "{name}" in pod "{pod}" not found')
        chosen = instance_of(last)
    elif isinstance(state, Running):
        chosen = record.latest
    elif isinstance(state, Terminated):
        if state.container_id:
            chosen = instance_of(state)
        elif last is not None and last.container_id:
            chosen = instance_of(last)
        else:
            raise bad_request(f'container "{name}" in pod "{pod}" is terminated')
    elif last is not None:
        if not last.container_id:
            raise bad_request(f'container "{name}" in pod "{pod}" is terminated')
        chosen = instance_of(last)
    else:
        assert isinstance(state, Waiting)
        raise bad_request(f'container "{name}" in pod "{pod}" is waiting to start: {state.reason}')
    if chosen is None:  # its record is gone: two restarts since the status was read
        raise bad_request(f'previous terminated container "{name}" in pod "{pod}" not found')
    path = snapshot.log_path(name, chosen.restart_count)
    return LogSource(feed, snapshot.uid, name, chosen, path)


class _Formatter:
    """CRI records in, the bytes kubectl expects out (``kuberuntime/logs.ReadLogs``)."""

    def __init__(self, request: LogRequest) -> None:
        self._request = request
        self._remaining = request.limit_bytes
        self._new_line = True  # the previous record ended a line: prefix the next one

    @property
    def full(self) -> bool:
        return self._remaining is not None and self._remaining <= 0

    def format(self, record: bytes) -> bytes:
        parts = record.split(b" ", 3)
        if len(parts) == 3:
            parts.append(b"")
        if len(parts) != 4 or parts[1] not in (b"stdout", b"stderr"):
            return b""  # not a CRI record (the kubelet skips these too)
        stamp, stream, tag, text = parts
        match = _TIMESTAMP.match(stamp)
        if match is None:
            return b""
        if self._request.stream is not None and stream != self._request.stream:
            return b""
        since = self._request.since
        if since is not None and _to_datetime(match) < since:
            return b""
        partial = tag.split(b":")[0] == b"P"
        line = text if partial else text + b"\n"
        if self._request.timestamps and self._new_line:
            line = _stamp_out(match) + b" " + line
        self._new_line = not partial
        if self._remaining is not None:
            line = line[: self._remaining]
            self._remaining -= len(line)
        return line


def _stamp_out(match: re.Match[bytes]) -> bytes:
    """``2006-01-02T15:04:05.000000000Z07:00`` in UTC: always nine digits of fraction."""
    fraction = (match[7] or b"").ljust(9, b"0")
    return _to_datetime(match).strftime("%Y-%m-%dT%H:%M:%S.").encode() + fraction + b"Z"


async def stream_log(
    source: LogTarget, request: LogRequest, write: Write, closing: anyio.Event
) -> None:
    """Write the selected log to ``write``; with ``follow``, until the instance exits."""
    formatter = _Formatter(request)
    reader = LogReader(source.path)
    try:
        # Finding the tail may decompress a rotated file: not on the event loop.
        await anyio.to_thread.run_sync(reader.open, request.tail_lines)
        if not (request.follow and source.is_running()):
            await _copy(reader, formatter, write, b"", final=True)
            return
        await _follow(source, reader, formatter, write, closing)
    finally:
        reader.close()


async def _copy(
    reader: LogReader, formatter: _Formatter, write: Write, pending: bytes, *, final: bool
) -> bytes:
    """Send every complete record up to the end of the live file; return an unfinished one."""
    while not formatter.full:
        block = reader.read(_CHUNK)
        if not block:
            break
        records = (pending + block).split(b"\n")
        pending = records.pop()
        await write(b"".join(formatter.format(record) for record in records))
    if final and pending and not formatter.full:
        await write(formatter.format(pending))
        pending = b""
    return pending


class _Wake:
    """Set by the file watch, the pod worker and the server closing; reset by each wait."""

    def __init__(self) -> None:
        self._event = anyio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> None:
        with anyio.move_on_after(timeout):
            await self._event.wait()
        self._event = anyio.Event()


async def _forward(watch: FileWatch, closing: anyio.Event, wake: _Wake) -> None:
    async with anyio.create_task_group() as group:

        async def on_closing() -> None:
            await closing.wait()
            wake.set()

        group.start_soon(on_closing)
        while True:
            await watch.wait()
            wake.set()


async def _follow(
    source: LogTarget,
    reader: LogReader,
    formatter: _Formatter,
    write: Write,
    closing: anyio.Event,
) -> None:
    wake = _Wake()
    unsubscribe = source.subscribe(wake.set)
    try:
        # The directory, not the file: one watch sees the writes to whichever file is
        # live and the rotations between them.
        with FileWatch(source.path.parent) as watch:
            async with anyio.create_task_group() as group:
                group.start_soon(_forward, watch, closing, wake)
                pending = b""
                while not formatter.full and not closing.is_set():
                    pending = await _copy(reader, formatter, write, pending, final=False)
                    if not source.is_running():
                        # Its log pump finished before the exit was recorded: what is on
                        # disk now is everything the instance wrote.
                        await _copy(reader, formatter, write, pending, final=True)
                        break
                    await wake.wait(_RECHECK)
                group.cancel_scope.cancel()
    finally:
        unsubscribe()
