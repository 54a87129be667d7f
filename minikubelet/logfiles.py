"""The files of one container instance's log, and reading them as one ordered stream.

Layout, for the instance with restart count ``N`` (``pod_dir/<container>/``)::

    N.log                 the live file: the only one that grows
    N.log.00000001        rotated files, numbered 1, 2, 3 ... in the order they were live
    N.log.00000002.gz     a rotated file, compressed
    N.log.00000003.gz.tmp a compression in progress (a leftover one is deleted)

Why numbers and not the kubelet's ``N.log.<YYYYMMDD-HHMMSS>``
(``pkg/kubelet/logs/container_log_manager.go rotateLatestLog``): a name with a one-second
resolution is reused when a container rotates more than once a second, and the older file
was overwritten. A sequence number, as ``svlogd`` and ``s6-log`` use, never repeats, and
sorts the files without trusting their mtimes.

Two invariants make concurrent reading safe, and the writer (``runtime/logs.py``) keeps both:

* Retention deletes the oldest rotated files first and always keeps the newest one, so
  the largest number present is always the last one used: the live file, seen while the
  largest number is ``m``, becomes ``m + 1`` when it is rotated.
* Compression creates ``<name>.gz`` (complete, under its final name) before it deletes
  ``<name>``: at every instant one of the two exists, and both hold the same records.

A reader holds open descriptors, so a file renamed, compressed or deleted under it is
still read to its end; a file that is no longer the live one never grows again (the
writer closes it before the rename), which is how the reader knows it is complete.
"""

from __future__ import annotations

import gzip
import os
import re
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "LogReader",
    "RotatedFile",
    "compressed_path",
    "record_content",
    "rotated_files",
    "rotated_path",
]

_READ_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW
_BLOCK = 64 * 1024
_STABLE_ATTEMPTS = 20  # rotations are milliseconds apart at the very least


def rotated_path(live: Path, sequence: int) -> Path:
    """The name the live file gets at its ``sequence``-th rotation."""
    return live.with_name(f"{live.name}.{sequence:08d}")


def compressed_path(live: Path, sequence: int) -> Path:
    return live.with_name(f"{live.name}.{sequence:08d}.gz")


@dataclass
class RotatedFile:
    """What exists on disk for one rotation number."""

    sequence: int
    plain: bool = False
    compressed: bool = False
    in_progress: bool = False  # a ``.gz.tmp``


# One pattern for every live file (a pattern per file name would fill re's cache, one
# compiled pattern per container restart, and push everyone else's out).
_ROTATED = re.compile(r"(?P<live>.+)\.(\d+)(\.gz(\.tmp)?)?")


def rotated_files(live: Path) -> dict[int, RotatedFile]:
    """The rotated files of ``live``, by number (``.gz.tmp`` leftovers included)."""
    found: dict[int, RotatedFile] = {}
    try:
        entries = list(os.scandir(live.parent))
    except FileNotFoundError:
        return found
    for entry in entries:
        match = _ROTATED.fullmatch(entry.name)
        if match is None or match["live"] != live.name:
            continue
        sequence = int(match[2])
        item = found.setdefault(sequence, RotatedFile(sequence))
        if match[4]:
            item.in_progress = True
        elif match[3]:
            item.compressed = True
        else:
            item.plain = True
    return found


def record_content(record: bytes) -> bytes | None:
    """What one CRI record contributes to the log (``kuberuntime/logs.parseCRILog``).

    ``F`` ends a line (its newline is part of the content), ``P`` is a piece of a longer
    line (no newline). Only the first of ``:``-separated tags counts. Not a CRI record:
    None (the kubelet skips such lines).
    """
    parts = record.rstrip(b"\n").split(b" ", 3)
    if len(parts) == 3:
        parts.append(b"")
    if len(parts) != 4 or parts[1] not in (b"stdout", b"stderr"):
        return None
    partial = parts[2].split(b":")[0] == b"P"
    return parts[3] if partial else parts[3] + b"\n"


@dataclass
class _Segment:
    sequence: int  # its rotation number; for the live file, the one it will get
    file: BinaryIO  # the bytes in order (a GzipFile for a compressed one)
    raw: BinaryIO  # the descriptor underneath
    inode: tuple[int, int]  # (st_dev, st_ino) of ``raw``

    def close(self) -> None:
        self.file.close()
        self.raw.close()


def _open(path: Path, sequence: int, *, compressed: bool) -> _Segment | None:
    try:
        fd = os.open(path, _READ_FLAGS | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    raw = os.fdopen(fd, "rb")
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raw.close()
        return None
    os.set_blocking(fd, True)
    file: BinaryIO = raw
    if compressed:
        file = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
    return _Segment(sequence, file, raw, (info.st_dev, info.st_ino))


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return info.st_dev, info.st_ino


def _count_back(file: BinaryIO, lines: int) -> tuple[int, int]:
    """(offset, found): where the last ``lines`` records of a plain file begin.

    Like ``pkg/util/tail.FindTailLineStartIndex``; a final newline ends the last record
    and does not start another. ``found`` is less than ``lines`` when the file has fewer.
    """
    size = file.seek(0, os.SEEK_END)
    if lines == 0 or size == 0:
        return size, 0
    position, found = size, 0
    skip_last = True
    while position > 0:
        step = min(_BLOCK, position)
        position -= step
        file.seek(position)
        block = file.read(step)
        index = len(block)
        while True:
            index = block.rfind(b"\n", 0, index)
            if index < 0:
                break
            if skip_last and position + index == size - 1:
                skip_last = False
                continue
            skip_last = False
            found += 1
            if found == lines:
                return position + index + 1, found
    return 0, found + 1  # the first record has no newline before it


def _count_forward(file: BinaryIO, lines: int) -> tuple[int, int]:
    """The same for a stream that can only be read forward (a compressed file)."""
    total, ends_with_newline, size = 0, True, 0
    while block := file.read(_BLOCK):
        total += block.count(b"\n")
        ends_with_newline = block.endswith(b"\n")
        size += len(block)
    if lines == 0:
        return size, 0
    if size and not ends_with_newline:
        total += 1
    if total <= lines:
        return 0, total
    skip = total - lines  # records to step over from the start
    file.seek(0)
    position = 0
    while block := file.read(_BLOCK):
        count = block.count(b"\n")
        if count < skip:
            skip -= count
            position += len(block)
            continue
        index = -1
        for _ in range(skip):
            index = block.index(b"\n", index + 1)
        return position + index + 1, lines
    return size, 0


class LogReader:
    """One instance's log as one stream of bytes: rotated files in order, then the live one.

    ``read`` returns b"" when it has reached the end of the live file; more may come
    later (the caller decides whether to wait). Rotations while reading are followed:
    each byte is returned once, in order. Synchronous: ``open`` may decompress a file, so
    async callers run it in a worker thread; ``read`` handles one block at a time.
    """

    def __init__(self, live: Path) -> None:
        self.live = live
        self._current: _Segment | None = None
        self._waiting: dict[int, _Segment] = {}  # opened ahead, by rotation number
        self._next = 1  # the rotation number to look for when nothing is current
        self._last_newline = True  # the last byte returned ended a record
        self.skipped = 0  # rotated files deleted by retention before we got to them

    def open(self, tail: int | None = None) -> None:
        """Start at the beginning, or where the last ``tail`` records begin."""
        live, rotated = self._open_live()
        newest = max(rotated, default=0)
        if tail is None:
            if live is not None:
                self._waiting[live.sequence] = live
            self._start_at(min(rotated, default=newest + 1))
            return
        # Newest first, until the files walked hold ``tail`` records.
        walked: list[_Segment] = []
        start: tuple[_Segment, int] | None = None
        remaining = tail
        order: list[_Segment | int] = [live] if live is not None else []
        order.extend(sorted(rotated, reverse=True))
        for item in order:
            segment = item if isinstance(item, _Segment) else self._open_sequence(item)
            if segment is None:
                continue
            walked.append(segment)
            offset, found = _count(segment, remaining)
            if found >= remaining:
                start = segment, offset
                break
            remaining -= found
        if start is None and walked:
            start = walked[-1], 0  # fewer records than asked for: all of them
        for segment in walked:
            segment.file.seek(0)
            self._waiting[segment.sequence] = segment
        if start is None:
            self._start_at(newest + 1)
            return
        start[0].file.seek(start[1])
        self._start_at(start[0].sequence)

    def read(self, size: int = _BLOCK) -> bytes:
        while True:
            if self._current is None and not self._advance():
                return b""
            assert self._current is not None
            data = _read(self._current, size)
            if data:
                self._last_newline = data.endswith(b"\n")
                return data
            if _identity(self.live) == self._current.inode:
                return b""  # the live file: the end, for now
            # Renamed away: the writer closed it first, so what a second read finds is
            # the last of it.
            data = _read(self._current, size)
            if data:
                self._last_newline = data.endswith(b"\n")
                return data
            self._next = self._current.sequence + 1
            self._current.close()
            self._current = None
            if not self._last_newline:
                self._last_newline = True
                return b"\n"  # a damaged file must not glue its last record to the next

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None
        for segment in self._waiting.values():
            segment.close()
        self._waiting.clear()

    # -- finding the files -----------------------------------------------------------

    def _open_live(self) -> tuple[_Segment | None, set[int]]:
        """The live file and the rotation numbers present, seen at one instant.

        The live file is opened, the directory listed, and the live name checked to
        still be that file: then it was live while the largest number was ``m``, and it
        is (or will be) ``m + 1``.
        """
        for attempt in range(_STABLE_ATTEMPTS):
            live = _open(self.live, 0, compressed=False)
            rotated = _present(self.live)
            identity = _identity(self.live)
            if live is None and identity is None:
                return None, rotated
            if live is not None and (identity == live.inode or attempt == _STABLE_ATTEMPTS - 1):
                live.sequence = max(rotated, default=0) + 1
                return live, rotated
            if live is not None:
                live.close()
        return None, _present(self.live)

    def _open_sequence(self, sequence: int) -> _Segment | None:
        waiting = self._waiting.pop(sequence, None)
        if waiting is not None:
            return waiting
        segment = _open(rotated_path(self.live, sequence), sequence, compressed=False)
        if segment is None:  # compressed in the meantime, or never plain
            segment = _open(compressed_path(self.live, sequence), sequence, compressed=True)
        return segment

    def _start_at(self, sequence: int) -> None:
        self._next = sequence
        self._advance()

    def _advance(self) -> bool:
        """Make the file numbered ``self._next`` (or the first one after it) current."""
        sequence = self._next
        segment = self._open_sequence(sequence)
        if segment is None:
            live, rotated = self._open_live()
            for candidate in sorted(s for s in rotated | self._waiting.keys() if s > sequence):
                segment = self._open_sequence(candidate)
                if segment is not None:
                    self.skipped += candidate - sequence
                    break
            if segment is None:
                segment = live
            elif live is not None:
                self._keep(live)
        if segment is None:
            return False
        for stale in [s for s in self._waiting if s < segment.sequence]:
            self._waiting.pop(stale).close()
        self._current = segment
        return True

    def _keep(self, segment: _Segment) -> None:
        if segment.sequence in self._waiting:
            segment.close()  # the same file, opened earlier: that one has the position
        else:
            self._waiting[segment.sequence] = segment


def _present(live: Path) -> set[int]:
    return {s for s, f in rotated_files(live).items() if f.plain or f.compressed}


def _read(segment: _Segment, size: int) -> bytes:
    try:
        return segment.file.read(size)
    except (EOFError, gzip.BadGzipFile, zlib.error):
        return b""  # a damaged compressed file ends where it breaks


def _count(segment: _Segment, lines: int) -> tuple[int, int]:
    if isinstance(segment.file, gzip.GzipFile):
        return _count_forward(segment.file, lines)
    return _count_back(segment.file, lines)
