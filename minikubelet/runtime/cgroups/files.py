"""Reading and writing cgroupfs files: one ``os.open``/``os.read``/``os.close`` each, no buffering.

cgroupfs files are small and generated at read time, so a single ``read`` of 64 KiB returns
the whole content, and a value is written with a single ``write`` (the kernel parses it per
call). Errors become ``CgroupError`` naming the file, except where the caller wants the
``OSError`` itself (``rmdir`` semantics, ``ENOENT`` of a removed cgroup).

Everything here blocks on kernel work (cgroupfs calls can wait for an RCU grace period or the
cgroup mutex): run it in a worker thread, never in the event loop.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

from minikubelet.errors import CgroupError

__all__ = [
    "find_key",
    "read_bytes",
    "read_int",
    "read_key",
    "read_procs",
    "remove_dir",
    "write_value",
]

_CHUNK = 65536


def read_bytes(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, _CHUNK)
        if len(data) == _CHUNK:  # memory.stat with many NUMA lines, or a huge procs list
            chunks = [data]
            while chunk := os.read(fd, _CHUNK):
                chunks.append(chunk)
            data = b"".join(chunks)
        return data
    finally:
        os.close(fd)


def read_int(path: Path) -> int:
    return int(read_bytes(path))


def read_key(path: Path, key: bytes) -> int | None:
    """The value of ``key`` in a flat-keyed file (``memory.stat``, ``cpu.stat``...)."""
    return find_key(read_bytes(path), key)


def find_key(data: bytes, key: bytes) -> int | None:
    """The value of ``key`` in flat-keyed content (``key value`` lines); None if absent."""
    # Keys start a line: search with the newline and the space around the key, so that
    # "inactive_file" matches neither "total_inactive_file" nor "inactive_file_x".
    needle = key + b" "
    if data.startswith(needle):
        start = len(needle)
    else:
        at = data.find(b"\n" + needle)
        if at < 0:
            return None
        start = at + 1 + len(needle)
    end = data.find(b"\n", start)
    return int(data[start:] if end < 0 else data[start:end])


def read_procs(path: Path) -> set[int]:
    """The pids in a ``cgroup.procs`` file; an empty set if the cgroup is gone."""
    try:
        return {int(pid) for pid in read_bytes(path).split()}
    except FileNotFoundError:
        return set()


def write_value(path: str | Path, value: str | int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, str(value).encode())
        finally:
            os.close(fd)
    except OSError as error:
        raise CgroupError(f"cannot write {value!r} to {path}: {error.strerror}") from error


def remove_dir(path: Path, timeout: float) -> None:
    """``rmdir`` a cgroup, retrying while it is busy (a task still exiting); gone is fine.

    A cgroup can be removed once no live task is in it (zombies do not count); a task that
    was just killed or a thread that just exited may still be listed for a moment, hence the
    retries, with a short back-off, until ``timeout``.
    """
    deadline = time.monotonic() + timeout  # noqa: TID251 - blocking by design: the driver runs in a worker thread
    delay = 0.0005
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as error:
            if error.errno != errno.EBUSY or time.monotonic() >= deadline:  # noqa: TID251 - blocking by design: the driver runs in a worker thread
                raise CgroupError(f"cannot remove {path}: {error.strerror}") from error
        time.sleep(delay)  # noqa: TID251 - blocking by design: the driver runs in a worker thread
        delay = min(delay * 2, 0.02)
