"""Changes to a file or a directory, from the kernel's inotify, awaited through anyio.

One mechanism for every watch minikubelet keeps: a log follower watches its instance's
directory (one watch sees the live file and its rotations: the kubelet uses fsnotify for
the same job, ``kuberuntime/logs/logs.go``), the static pod source watches the manifest
directory (the kubelet's ``config/file_linux.go``). ``inotify_simple`` wraps the three
syscalls and parses the events; the descriptor is awaited with ``anyio.wait_readable``,
under asyncio and trio alike, so nothing runs until the kernel has something to say: no
thread, no polling step, no wake-up when nothing changes.

Where inotify is unavailable (another OS, or the per-user watch limit is reached),
``Watch`` raises ``OSError``; ``FileWatch`` (the log follower's) then falls back to
sleeping ``POLL_INTERVAL`` between checks.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import anyio
from inotify_simple import INotify, flags

__all__ = ["DIRECTORY_CHANGES", "FILE_CHANGES", "POLL_INTERVAL", "Change", "FileWatch", "Watch"]

POLL_INTERVAL = 0.25  # seconds between checks, only without inotify

# A file written, renamed or removed, and the watched path itself moved or deleted.
FILE_CHANGES = (
    flags.MODIFY
    | flags.ATTRIB
    | flags.CLOSE_WRITE
    | flags.MOVED_TO
    | flags.CREATE
    | flags.DELETE_SELF
    | flags.MOVE_SELF
)
# ... and, in a watched directory, an entry removed or renamed away.
DIRECTORY_CHANGES = FILE_CHANGES | flags.DELETE | flags.MOVED_FROM
# The watch itself is over (the path is gone or was replaced): watch again.
_GONE = flags.DELETE_SELF | flags.MOVE_SELF | flags.IGNORED | flags.Q_OVERFLOW


class Change:
    """One inotify event: the entry's ``name`` ("" for the watched path itself) and
    whether the watch has ended (``gone``: watch the path again)."""

    __slots__ = ("gone", "name")

    def __init__(self, name: str, mask: int) -> None:
        self.name = name
        self.gone = bool(mask & _GONE)


class Watch:
    """inotify on one path; ``changes()`` waits for the next batch. A context manager.

    Raises ``OSError`` when the path cannot be watched (missing, or no watches left).
    """

    def __init__(self, path: Path, mask: int = DIRECTORY_CHANGES) -> None:
        self._inotify: INotify | None = INotify(nonblocking=True)
        try:
            self._inotify.add_watch(os.fsencode(path), mask)
        except OSError:
            self._inotify.close()
            self._inotify = None
            raise

    async def changes(self) -> Sequence[Change]:
        """The next batch of changes, as soon as the kernel reports one."""
        inotify = self._inotify
        assert inotify is not None, "the watch is closed"
        while True:
            await anyio.wait_readable(inotify.fileno())
            events = inotify.read(timeout=0)
            if events:
                return [Change(event.name, event.mask) for event in events]

    def close(self) -> None:
        if self._inotify is not None:
            inotify, self._inotify = self._inotify, None
            anyio.notify_closing(inotify.fileno())
            inotify.close()

    def __enter__(self) -> Watch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class FileWatch:
    """A log follower's watch: ``wait()`` returns after the next change to the path, or
    after ``POLL_INTERVAL`` where inotify cannot watch it. A context manager."""

    def __init__(self, path: Path) -> None:
        try:
            self._watch: Watch | None = Watch(path, FILE_CHANGES)
        except OSError:
            self._watch = None

    async def wait(self) -> None:
        if self._watch is None:
            await anyio.sleep(POLL_INTERVAL)
            return
        await self._watch.changes()

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None

    def __enter__(self) -> FileWatch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
