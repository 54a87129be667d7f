"""``?watch=true``: newline-delimited ``WatchEvent``s, as the apiserver streams them.

* ``resourceVersion`` absent, ``""`` or ``"0"``: first a synthetic ``ADDED`` for every
  object that matches now, then every later change (kubectl drops the first event of a
  ``rv=0`` watch, expecting exactly this).
* ``resourceVersion=N``: every kept change after N, then the live ones; N older than the
  history (or from another daemon run) gets one ``ERROR`` event carrying a 410 ``Expired``
  Status, and the stream ends, so the client relists.
* ``timeoutSeconds``: the stream ends after that long; it also ends when the server stops.
  Otherwise it stays open as long as the client does.

Each event is one JSON object and a newline, sent (and flushed) as soon as it happens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import anyio

from minikubelet.server.changes import ChangeLog, Snapshot, encode
from minikubelet.server.status import ApiError, bad_request, status_json
from minikubelet.server.streaming import StreamResponse, Write

__all__ = ["watch_response"]

JSON = dict[str, Any]


def _line(type: str, data: bytes) -> bytes:
    return b'{"type":"' + type.encode() + b'","object":' + data + b"}\n"


def _expired(version: int, oldest: int) -> bytes:
    status = status_json(410, f"too old resource version: {version} ({oldest})", "Expired")
    return _line("ERROR", encode(status))


def watch_response(
    changes: ChangeLog,
    resource: str,
    current: Callable[[], Iterable[Snapshot]],
    matches: Callable[[JSON], bool],
    query: dict[str, str],
) -> StreamResponse:
    """A watch on ``resource`` ("pods" or "events"); ``current`` lists the objects now."""
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
        raise ApiError(422, f"timeoutSeconds: Invalid value: {timeout_text}: must be non-negative")

    # Taken now, in the request's step: nothing can change between the snapshot and its
    # version, since changes happen in this same event loop.
    initial: list[Snapshot] = []
    if start == 0:
        initial = [snapshot for snapshot in current() if matches(snapshot.obj)]
        start = changes.version

    async def produce(write: Write) -> None:
        with anyio.move_on_after(timeout if timeout else float("inf")):
            if initial:
                await write(b"".join(_line("ADDED", snapshot.data) for snapshot in initial))
            seen = start
            while not changes.closing.is_set():
                batch = changes.since(seen)
                if batch is None:
                    await write(_expired(seen, changes.version))
                    return
                lines = [
                    _line(change.type, change.snapshot.data)
                    for change in batch
                    if change.resource == resource and matches(change.snapshot.obj)
                ]
                if batch:
                    seen = batch[-1].version
                if lines:
                    await write(b"".join(lines))
                await changes.wait(seen)

    return StreamResponse(produce, media_type="application/json")
