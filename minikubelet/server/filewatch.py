"""Wake up when a log file grows: inotify where the kernel has it, a slow poll elsewhere.

Watch a file, or a directory to see changes to the files in it (a log follower watches
the instance's directory, so one watch covers the live file and its rotations).

``logs -f`` must show a new line as soon as the container writes it, without a busy
loop. The kubelet uses fsnotify for the same job (``kuberuntime/logs/logs.go``); we call
the kernel's inotify through ctypes (no dependency for three syscalls) and wait for the
descriptor with ``anyio.wait_readable``, which works under asyncio and trio alike.
Where inotify is unavailable (another OS, or the per-user watch limit is reached),
``wait`` falls back to sleeping ``POLL_INTERVAL``; the follower then re-checks the file
size, so a line shows up at most that late.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from types import TracebackType

import anyio

__all__ = ["POLL_INTERVAL", "FileWatch"]

POLL_INTERVAL = 0.25  # seconds; only without inotify

_IN_MODIFY = 0x00000002
_IN_ATTRIB = 0x00000004
_IN_CLOSE_WRITE = 0x00000008
_IN_MOVED_TO = 0x00000080  # these two only happen in a watched directory
_IN_CREATE = 0x00000100
_IN_DELETE_SELF = 0x00000400
_IN_MOVE_SELF = 0x00000800
_MASK = (
    _IN_MODIFY
    | _IN_ATTRIB
    | _IN_CLOSE_WRITE
    | _IN_MOVED_TO
    | _IN_CREATE
    | _IN_DELETE_SELF
    | _IN_MOVE_SELF
)


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.inotify_init1  # noqa: B018 - probe for the symbol
        libc.inotify_add_watch  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


class FileWatch:
    """Changes to one file or directory (writes, renames, deletion); use as a context."""

    def __init__(self, path: Path) -> None:
        self._fd: int | None = None
        if _LIBC is None:
            return
        fd = _LIBC.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            return
        if _LIBC.inotify_add_watch(fd, os.fsencode(path), _MASK) < 0:
            os.close(fd)
            return
        self._fd = fd

    async def wait(self) -> None:
        """Return after the next change (or after ``POLL_INTERVAL`` without inotify)."""
        if self._fd is None:
            await anyio.sleep(POLL_INTERVAL)
            return
        await anyio.wait_readable(self._fd)
        try:
            while os.read(self._fd, 4096):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            anyio.notify_closing(fd)
            os.close(fd)

    def __enter__(self) -> FileWatch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
