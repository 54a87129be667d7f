"""``?watch=true``: newline-delimited ``WatchEvent``s, as the apiserver streams them.

* ``resourceVersion`` absent, ``""`` or ``"0"``: first a synthetic ``ADDED`` for every
  object that matches now, then every later change (kubectl drops the first event of a
  ``rv=0`` watch, expecting exactly this).
* ``resourceVersion=N``: every kept change after N, then the live ones; N older than the
  history (or from another daemon run) gets one ``ERROR`` event carrying a 410 ``Expired``
  Status, and the stream ends, so the client relists.
* Each event's object is the resource's JSON, or, when the client asked for a Table
  (``kubectl get -w``), a one-row ``Table``: the first frame carries the column
  definitions, later ones none (the apiserver's ``watchEmbeddedEncoder``).
* ``allowWatchBookmarks=true``: a ``BOOKMARK`` every ``BOOKMARK_INTERVAL`` seconds, an
  object of the resource's kind holding only ``metadata.resourceVersion`` (where a
  resumed watch may start from), as the cacher sends them.
* ``timeoutSeconds``: the stream ends after that long; it also ends when the server stops.
  Otherwise it stays open as long as the client does.

Each event is one JSON object and a newline, sent (and flushed) as soon as it happens.

**A watcher never holds the engine back, nor memory without bound.** Changes are kept
once, in the change log's bounded history, which every watch reads at its own pace: the
engine only appends to it. What one watch holds is its position and at most one write of
``MAX_WRITE`` bytes in flight (plus the transport's buffers). A watcher that is slower
than the changes falls behind the history's start and gets the 410 ``Expired`` Status, as
a watcher of the apiserver's cache that cannot keep up is terminated; one that reads
nothing at all (its socket buffers full) cannot take a write for ``SEND_TIMEOUT``
seconds and is cut off the same way: the Status is queued for it and the stream is
abandoned (``api.watch_cut_off``), without the final chunk it could not take either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import anyio
import structlog

from minikubelet.api.types import JSON
from minikubelet.errors import RequestError
from minikubelet.server.changes import ChangeLog, Snapshot, encode
from minikubelet.server.status import bad_request, status_json
from minikubelet.server.streaming import Abandon, StreamResponse, Write

__all__ = [
    "BOOKMARK_INTERVAL",
    "MAX_WRITE",
    "SEND_TIMEOUT",
    "Frame",
    "WatchOptions",
    "is_watch",
    "plain_frame",
    "watch_options",
    "watch_response",
]

# (event type, the object at its version, whether it is the stream's first object) -> JSON
Frame = Callable[[str, Snapshot, bool], bytes]

_log = structlog.get_logger("minikubelet.server")

BOOKMARK_INTERVAL = 60.0  # seconds, about the cacher's bookmark frequency
SEND_TIMEOUT = 10.0  # seconds one write may wait for a client that does not read
MAX_WRITE = 256 * 1024  # bytes of events sent in one write, at most (one event may be more)
_STATUS_TIMEOUT = 1.0  # seconds to queue the cut-off Status


def is_watch(value: str | None) -> bool:
    """A ``watch`` query value as the apiserver's parser takes it (``strconv.ParseBool``)."""
    return value in ("true", "1", "True", "TRUE", "t", "T")


@dataclass(frozen=True)
class WatchOptions:
    """The query parameters of a watch, checked."""

    resource_version: int  # 0: the synthetic ADDED first
    timeout: float | None
    bookmarks: bool


def watch_options(query: dict[str, str]) -> WatchOptions:
    """``resourceVersion``, ``timeoutSeconds``, ``allowWatchBookmarks``; 400/422 when bad."""
    version_text = query.get("resourceVersion") or "0"
    try:
        start = int(version_text)
    except ValueError:
        raise bad_request(f'invalid resource version "{version_text}"') from None
    timeout_text = query.get("timeoutSeconds")
    try:
        timeout = float(timeout_text) if timeout_text else None
    except ValueError:
        raise bad_request(f'invalid timeoutSeconds "{timeout_text}"') from None
    if timeout is not None and timeout < 0:
        raise RequestError(
            422, f"timeoutSeconds: Invalid value: {timeout_text}: must be non-negative"
        )
    return WatchOptions(start, timeout or None, is_watch(query.get("allowWatchBookmarks")))


def _line(type: str, data: bytes) -> bytes:
    return b'{"type":"' + type.encode() + b'","object":' + data + b"}\n"


def _expired(version: int, oldest: int) -> bytes:
    status = status_json(410, f"too old resource version: {version} ({oldest})", "Expired")
    return _line("ERROR", encode(status))


def plain_frame(type: str, snapshot: Snapshot, first: bool) -> bytes:
    return snapshot.data


def watch_response(
    changes: ChangeLog,
    resource: str,
    current: Callable[[], Iterable[Snapshot]],
    matches: Callable[[JSON], bool],
    query: dict[str, str],
    *,
    kind: str = "",
    frame: Frame = plain_frame,
) -> StreamResponse:
    """A watch on ``resource`` (``pods``, ``events``, ...); ``current`` lists the objects now.

    ``kind`` is the resource's kind (for bookmarks); ``frame`` renders an event's object
    (the plain object, or a one-row Table).
    """
    options = watch_options(query)
    # Taken now, in the request's step: nothing can change between the snapshot and its
    # version, since changes happen in this same event loop.
    start = options.resource_version
    initial: list[Snapshot] = []
    if start == 0:
        initial = [snapshot for snapshot in current() if matches(snapshot.obj)]
        start = changes.version

    async def produce(write: Write) -> None:
        changes.watchers += 1
        try:
            await _stream(write, start)
        finally:
            changes.watchers -= 1

    async def _stream(write: Write, seen: int) -> None:
        first = True
        sender = _Sender(write)

        def render(type: str, snapshot: Snapshot) -> bytes:
            nonlocal first
            data = _line(type, frame(type, snapshot, first))
            first = False
            return data

        with anyio.move_on_after(options.timeout if options.timeout else float("inf")):
            await sender.send([render("ADDED", snapshot) for snapshot in initial])
            next_bookmark = anyio.current_time() + BOOKMARK_INTERVAL
            while not changes.closing.is_set():
                batch = changes.since(seen)
                if batch is None:
                    await sender.send([_expired(seen, changes.oldest)])
                    return
                lines = [
                    render(change.type, change.snapshot)
                    for change in batch
                    if change.resource == resource and matches(change.snapshot.obj)
                ]
                if batch:
                    seen = batch[-1].version
                await sender.send(lines)
                if options.bookmarks and anyio.current_time() >= next_bookmark:
                    await sender.send([_bookmark(kind, seen)])
                    next_bookmark = anyio.current_time() + BOOKMARK_INTERVAL
                wait = next_bookmark - anyio.current_time() if options.bookmarks else None
                with anyio.move_on_after(wait if wait is not None else float("inf")):
                    await changes.wait(seen)

    return StreamResponse(produce, media_type="application/json")


def _bookmark(kind: str, version: int) -> bytes:
    obj = {"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": str(version)}}
    return _line("BOOKMARK", encode(obj))


class _Sender:
    """Writes of at most ``MAX_WRITE`` bytes, each within ``SEND_TIMEOUT``, or the cut-off."""

    def __init__(self, write: Write) -> None:
        self._write = write

    async def send(self, lines: list[bytes]) -> None:
        chunk: list[bytes] = []
        size = 0
        for line in lines:
            chunk.append(line)
            size += len(line)
            if size >= MAX_WRITE:
                await self._timed(b"".join(chunk))
                chunk, size = [], 0
        if chunk:
            await self._timed(b"".join(chunk))

    async def _timed(self, data: bytes) -> None:
        with anyio.move_on_after(SEND_TIMEOUT) as scope:
            await self._write(data)
        if not scope.cancelled_caught:
            return
        _log.warning(
            "api.watch_cut_off",
            reason=f"the client did not read its watch for {SEND_TIMEOUT:g}s: the stream is closed",
        )
        status = status_json(
            410,
            "the watch was closed: the client did not keep up with the changes",
            "Expired",
        )
        with anyio.move_on_after(_STATUS_TIMEOUT):
            await self._write(_line("ERROR", encode(status)))
        raise Abandon
