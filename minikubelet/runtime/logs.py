"""Container log files in the CRI format, written as containerd writes them.

Each record is ``<RFC3339Nano> <stdout|stderr> <F|P> <text>\\n``. A line longer than
``MAX_LINE`` is cut into ``P`` (partial) records of exactly ``MAX_LINE`` bytes and a final
``F``; what is left when a stream ends without a newline is a ``P`` record, so it reads
back without a newline (containerd ``internal/cri/io/logger.go redirectLogs``: "readLine
only returns error when the message doesn't end with a newline, in that case it should
be treated as a partial line"). Unlike containerd, the ``\\r`` of ``\\r\\n`` is kept: every
byte the container wrote is in the file.

One difference on purpose: a line that stays unfinished for ``PARTIAL_FLUSH_DELAY``
(a prompt, a progress bar, a process that is about to die) is written as a ``P`` record
then instead of waiting, in memory, for its newline. Readers join ``P`` records, so the
content is the same; the bytes reach the disk, ``logs -f`` and a crash of the daemon.

Rotation (``pkg/kubelet/logs/container_log_manager.go``, here on write instead of every
10 s): when the live file reaches ``max_size`` it is closed and renamed to the next
``N.log.<sequence>`` (``logfiles.py`` explains the names), and a new live file is opened,
all on the event loop (two syscalls). The slow part, compressing older rotated files and
deleting the ones past ``max_files``, is *maintenance*: ``maintenance_due`` says there is
some, and the log pump awaits ``maintain()``, which runs it in a worker thread (a 10 MiB
gzip takes about 100 ms). As the kubelet leaves it, the newest rotated file stays
uncompressed, and ``max_files`` counts the live file.

Write errors (a full disk, a quota) never stop the container: the records are dropped,
the file is cut back to its last whole record, the failure is logged once and handed to
``on_problem`` (for a Warning event), and writing resumes as soon as a write succeeds.

Files are created 0600, directories 0700; with ``owner`` the files belong to that
``(uid, gid)`` (a container running as another user owns its logs).
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import math
import os
import shutil
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import anyio
import anyio.to_thread
import structlog

from minikubelet.errors import RuntimeStartError
from minikubelet.logfiles import (
    LogReader,
    compressed_path,
    record_content,
    rotated_files,
    rotated_path,
)
from minikubelet.logic.termination_message import (
    MAX_CONTAINER_TERMINATION_MESSAGE_LENGTH,
    MAX_CONTAINER_TERMINATION_MESSAGE_LOG_LENGTH,
    MAX_CONTAINER_TERMINATION_MESSAGE_LOG_LINES,
    decode_like_go,
)
from minikubelet.model.spec import TerminationMessagePolicy
from minikubelet.model.timestamps import format_timestamp
from minikubelet.runtime.base import LogProblem, ProblemSink

__all__ = [
    "LOG_ROTATE_FAILED",
    "LOG_WRITE_FAILED",
    "LOG_WRITE_RESUMED",
    "MAX_LINE",
    "PARTIAL_FLUSH_DELAY",
    "CriLogWriter",
    "LogProblem",
    "LogRotation",
    "format_timestamp",
    "parse_cri_line",
    "pump_stream",
    "read_at_most",
    "read_termination_message",
    "tail_log_text",
]

MAX_LINE = 16 * 1024  # containerd's max_container_log_line_size
PARTIAL_FLUSH_DELAY = 1.0  # seconds an unfinished line waits in memory before it is written
_SINK_LINE = 4 * MAX_LINE  # the line sink gets long lines in pieces of at most this
_READ_SIZE = 64 * 1024
_LIVE_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW
_COMPRESS_LEVEL = 6  # Go's gzip.DefaultCompression, which the kubelet uses

# LogProblem reasons, as event reasons.
LOG_WRITE_FAILED = "LogWriteFailed"
LOG_WRITE_RESUMED = "LogWriteResumed"
LOG_ROTATE_FAILED = "LogRotateFailed"

LineSink = Callable[[str, str], None]  # (stream, text) for each complete line

_log = structlog.get_logger("minikubelet.logs")


def parse_cri_line(line: str) -> tuple[str, str, str, str]:
    """Split one CRI record into (timestamp, stream, tag, text); raises ValueError."""
    parts = line.rstrip("\n").split(" ", 3)
    if len(parts) == 3:
        parts.append("")  # an empty line: "<ts> stdout F "
    if len(parts) != 4 or parts[1] not in ("stdout", "stderr"):
        raise ValueError(f"not a CRI log line: {line!r}")
    timestamp, stream, tag, text = parts
    return timestamp, stream, tag.split(":")[0], text


@dataclass(frozen=True)
class LogRotation:
    max_size: int = 10 * 1024 * 1024  # containerLogMaxSize 10Mi; negative disables rotation
    max_files: int = 5  # containerLogMaxFiles, the live file included


def _make_directories(directory: Path) -> None:
    """``mkdir -p`` whose new directories are 0700 whatever the umask."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue  # another writer made it in the meantime: not ours to chmod
        os.chmod(path, 0o700)


def _describe(error: OSError) -> str:
    return error.strerror or str(error)


class CriLogWriter:
    """Appends CRI records for one container instance; shared by its stdout and stderr.

    ``write`` and ``close`` run on the event loop (or in the thread that creates the
    container); ``run_maintenance`` is the only method meant for a worker thread.
    """

    def __init__(
        self,
        path: Path,
        rotation: LogRotation | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sink: LineSink | None = None,
        on_problem: ProblemSink | None = None,
        owner: tuple[int, int] | None = None,
    ) -> None:
        self.path = path
        self._rotation = rotation or LogRotation()
        self._clock = clock
        self._sink = sink
        self._on_problem = on_problem
        self._owner = owner
        self._pending: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        self._sink_line: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        self._failure: OSError | None = None  # the write error of the current episode
        self._lost_bytes = 0
        self._lost_records = 0
        self._maintaining = False  # touched on the event loop only
        self._maintenance_lock = threading.Lock()
        _make_directories(path.parent)
        present = rotated_files(path)
        self._next_sequence = max(present, default=0) + 1
        # Work a crash left behind (a .tmp, a file not yet compressed) is done at the
        # first maintenance.
        self._maintenance_due = bool(present)
        self._fd: int | None = self._open_live()
        self._size = os.fstat(self._fd).st_size
        self._rotate_at = self._rotation.max_size  # moved on when a rename fails
        self._terminate_last_record()

    # -- the public surface ------------------------------------------------------------

    @property
    def maintenance_due(self) -> bool:
        return self._maintenance_due

    def holds_partial(self, stream: str) -> bool:
        """Whether ``stream`` has an unfinished line in memory."""
        return bool(self._pending[stream])

    def write(self, stream: str, data: bytes) -> int:
        """Record a chunk read from ``stream``; complete lines are written at once.

        Returns the number of records it made (an unfinished line left in memory after
        some is newer than they are).
        """
        buffer = self._pending[stream] + data
        records: list[bytes] = []
        # One reading of the clock per chunk: its lines arrived together.
        header = self._header(stream)
        start, end = 0, len(buffer)
        while True:
            # A line of exactly MAX_LINE bytes is one F record, as in containerd: cut only
            # once more than MAX_LINE bytes are waiting without a newline.
            newline = buffer.find(b"\n", start, start + MAX_LINE + 1)
            if newline >= 0:
                records.append(self._record(header, stream, "F", buffer[start:newline]))
                start = newline + 1
            elif end - start > MAX_LINE:
                records.append(self._record(header, stream, "P", buffer[start : start + MAX_LINE]))
                start += MAX_LINE
            else:
                break
        buffer = buffer[start:]
        self._pending[stream] = buffer
        self._append(records)
        return len(records)

    def flush_partial(self, stream: str) -> None:
        """Write an unfinished line as a ``P`` record now (see ``PARTIAL_FLUSH_DELAY``)."""
        rest, self._pending[stream] = self._pending[stream], b""
        if rest:
            self._append([self._record(self._header(stream), stream, "P", rest)])

    def close_stream(self, stream: str) -> None:
        """EOF on ``stream``: what is left is a ``P`` record, as containerd writes it."""
        self.flush_partial(stream)
        rest, self._sink_line[stream] = self._sink_line[stream], b""
        if rest and self._sink is not None:
            self._sink(stream, rest.decode(errors="replace"))

    def close(self) -> None:
        for stream in self._pending:
            self.close_stream(stream)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    async def aclose(self) -> None:
        """``close``, then the maintenance still due (shielded: it is short)."""
        self.close()
        with anyio.CancelScope(shield=True):
            await self.maintain()

    async def maintain(self) -> None:
        """Compress and prune rotated files in a worker thread; report what went wrong.

        A no-op when nothing is due or when the other stream's pump is already at it
        (that one goes on until nothing is due).
        """
        if not self._maintenance_due or self._maintaining:
            return
        self._maintaining = True
        try:
            problems = await anyio.to_thread.run_sync(self.run_maintenance)
        finally:
            self._maintaining = False
        for problem in problems:
            self._report(problem)

    def run_maintenance(self) -> list[LogProblem]:
        """The maintenance itself, synchronous; safe in a worker thread."""
        problems: list[LogProblem] = []
        with self._maintenance_lock:
            while self._maintenance_due:
                self._maintenance_due = False
                problems.extend(self._compress_and_prune())
        return problems

    # -- records -------------------------------------------------------------------------

    def _header(self, stream: str) -> bytes:
        return f"{format_timestamp(self._clock())} {stream} ".encode()

    def _record(self, header: bytes, stream: str, tag: str, text: bytes) -> bytes:
        if self._sink is not None:
            self._to_sink(stream, tag, text)
        return b"%s%s %s\n" % (header, b"F" if tag == "F" else b"P", text)

    def _to_sink(self, stream: str, tag: str, text: bytes) -> None:
        assert self._sink is not None
        line = self._sink_line[stream] + text
        if tag == "P" and len(line) < _SINK_LINE:
            self._sink_line[stream] = line
            return
        self._sink_line[stream] = b""
        self._sink(stream, line.decode(errors="replace"))

    # -- the live file -------------------------------------------------------------------

    def _open_live(self) -> int:
        try:
            fd = os.open(self.path, _LIVE_FLAGS | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            fd = os.open(self.path, _LIVE_FLAGS)  # this instance's, from before a restart
            if os.fstat(fd).st_mode & 0o077:
                os.fchmod(fd, 0o600)  # written by an older minikubelet
            return fd
        os.fchmod(fd, 0o600)
        if self._owner is not None:
            try:
                os.fchown(fd, *self._owner)
            except OSError as error:
                _log.warning(
                    "container.log_chown_failed",
                    path=str(self.path),
                    owner=self._owner,
                    error=_describe(error),
                )
        return fd

    def _terminate_last_record(self) -> None:
        """A file cut short by a crash must not glue its last record to our first."""
        if self._size == 0 or self._fd is None:
            return
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        try:
            last = os.pread(fd, 1, self._size - 1)
        finally:
            os.close(fd)
        if last != b"\n":
            self._append([b"\n"])

    def _append(self, records: list[bytes]) -> None:
        """Write records in order, rotating between two records when the file is full.

        A pipe read can bring 64 KiB of records; cutting them at the limit keeps every
        file within one record of ``max_size``.
        """
        batch: list[bytes] = []
        batch_size = 0
        for index, record in enumerate(records):
            batch.append(record)
            batch_size += len(record)
            full = self._rotation.max_size >= 0 and self._size + batch_size >= self._rotate_at
            if full or index == len(records) - 1:
                if not self._write(batch):
                    rest = records[index + 1 :]
                    self._failed(None, sum(map(len, rest)), len(rest))
                    return
                batch, batch_size = [], 0

    def _write(self, batch: list[bytes]) -> bool:
        """Append one batch; rotate if the file is full. False if it could not be written."""
        payload = b"".join(batch)
        try:
            if self._fd is None:  # the last rotation could not open a new file
                self._fd = self._open_live()
                self._size = os.fstat(self._fd).st_size
            written = 0
            while written < len(payload):
                written += os.write(self._fd, payload[written:])
        except OSError as error:
            self._cut_back()
            self._failed(error, len(payload), len(batch))
            return False
        self._size += len(payload)
        if self._failure is not None:
            self._resumed()
        if self._rotation.max_size >= 0 and self._size >= self._rotate_at:
            self._rotate()
        return True

    def _cut_back(self) -> None:
        """Drop a record written in part (the disk filled up in the middle of it)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, self._size)

    def _failed(self, error: OSError | None, lost_bytes: int, lost_records: int) -> None:
        """Count what is lost; the first error of an episode is logged and reported."""
        self._lost_bytes += lost_bytes
        self._lost_records += lost_records
        if self._failure is not None or error is None:
            return
        self._failure = error
        _log.warning(
            "container.log_write_failed",
            path=str(self.path),
            error=_describe(error),
            errno=errno.errorcode.get(error.errno or 0, error.errno),
        )
        self._report(
            LogProblem(
                LOG_WRITE_FAILED,
                f"Failed to write container log {self.path}: {_describe(error)};"
                " output is dropped until writing works again",
                self.path,
            )
        )

    def _resumed(self) -> None:
        lost_bytes, lost_records = self._lost_bytes, self._lost_records
        self._failure, self._lost_bytes, self._lost_records = None, 0, 0
        _log.info(
            "container.log_write_resumed",
            path=str(self.path),
            lost_bytes=lost_bytes,
            lost_records=lost_records,
        )
        self._report(
            LogProblem(
                LOG_WRITE_RESUMED,
                f"Writing container log {self.path} again; {lost_records} records"
                f" ({lost_bytes} bytes) were lost",
                self.path,
            )
        )

    def _report(self, problem: LogProblem) -> None:
        if self._on_problem is None:
            return
        try:
            self._on_problem(problem)
        except Exception:  # the owner's bug must not stop the container's log
            _log.exception("container.log_problem_callback_failed", path=str(self.path))

    def _rotate(self) -> None:
        """Rename the live file to the next number and open a new one (both cheap)."""
        assert self._fd is not None
        while (
            rotated_path(self.path, self._next_sequence).exists()
            or compressed_path(self.path, self._next_sequence).exists()
        ):
            self._next_sequence += 1  # never over an existing file
        target = rotated_path(self.path, self._next_sequence)
        os.close(self._fd)  # before the rename: readers take a renamed file as complete
        self._fd = None
        try:
            os.rename(self.path, target)
        except OSError as error:
            # Go on in the same file, and try again one max_size later, not at every write.
            self._rotate_at = self._size + max(self._rotation.max_size, 1)
            _log.warning("container.log_rotate_failed", path=str(self.path), error=str(error))
            self._report(
                LogProblem(
                    LOG_ROTATE_FAILED,
                    f"Failed to rotate container log {self.path}: {_describe(error)}",
                    self.path,
                )
            )
        else:
            self._next_sequence += 1
            self._maintenance_due = True
            self._rotate_at = self._rotation.max_size
        try:
            self._fd = self._open_live()
            self._size = os.fstat(self._fd).st_size
        except OSError as error:  # retried at the next write
            self._failed(error, 0, 0)

    # -- maintenance (worker thread) -------------------------------------------------------

    def _compress_and_prune(self) -> list[LogProblem]:
        problems: list[LogProblem] = []
        present = rotated_files(self.path)
        for item in present.values():
            if item.in_progress:  # a compression that did not finish: start again
                _unlink(compressed_path(self.path, item.sequence).with_suffix(".gz.tmp"))
            if item.plain and item.compressed:  # the .gz is complete (it is made whole)
                _unlink(rotated_path(self.path, item.sequence))
                item.plain = False
        numbers = sorted(s for s, f in present.items() if f.plain or f.compressed)
        keep = max(self._rotation.max_files - 1, 1)  # the live file counts as one
        for sequence in numbers[:-keep]:
            _unlink(rotated_path(self.path, sequence))
            _unlink(compressed_path(self.path, sequence))
        kept = numbers[-keep:]
        for sequence in kept[:-1]:  # the newest rotated file stays plain, as the kubelet
            if present[sequence].plain:
                try:
                    self._compress(sequence)
                except OSError as error:
                    _log.warning(
                        "container.log_compress_failed",
                        path=str(rotated_path(self.path, sequence)),
                        error=_describe(error),
                    )
                    problems.append(
                        LogProblem(
                            LOG_ROTATE_FAILED,
                            f"Failed to compress container log"
                            f" {rotated_path(self.path, sequence)}: {_describe(error)}",
                            self.path,
                        )
                    )
                    self._maintenance_due = True  # try again after the next rotation
                    break
        return problems

    def _compress(self, sequence: int) -> None:
        """``N.log.<seq>`` → ``N.log.<seq>.gz``, through a ``.tmp``, never over a file."""
        source_path = rotated_path(self.path, sequence)
        target = compressed_path(self.path, sequence)
        temporary = target.with_name(target.name + ".tmp")
        try:
            source_fd = os.open(source_path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except FileNotFoundError:
            return  # pruned or compressed by someone else in the meantime
        with os.fdopen(source_fd, "rb") as source:
            info = os.fstat(source_fd)
            if not stat.S_ISREG(info.st_mode):
                return
            fd = os.open(
                temporary,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW,
                0o600,
            )
            try:
                os.fchmod(fd, 0o600)
                if (info.st_uid, info.st_gid) != (os.geteuid(), os.getegid()):
                    with contextlib.suppress(PermissionError):
                        os.fchown(fd, info.st_uid, info.st_gid)  # the owner of the log
                with os.fdopen(fd, "wb", closefd=False) as raw:
                    with gzip.GzipFile(
                        filename=source_path.name,
                        mode="wb",
                        fileobj=raw,
                        compresslevel=_COMPRESS_LEVEL,
                        mtime=int(info.st_mtime),
                    ) as packed:
                        shutil.copyfileobj(source, packed, 1024 * 1024)
                    raw.flush()
                    os.fsync(fd)
            except BaseException:
                os.close(fd)
                _unlink(temporary)
                raise
            os.close(fd)
        try:
            os.link(temporary, target)  # fails rather than replace an existing file
        except FileExistsError:
            pass  # compressed before a crash: that copy is whole
        except OSError:  # a file system without hard links
            if not target.exists():
                os.rename(temporary, target)
        _unlink(source_path)
        _unlink(temporary)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


async def pump_stream(writer: CriLogWriter, stream: str, fd: int) -> None:
    """Copy a container's ``stream`` pipe into its log until EOF; closes ``fd``.

    The pipe is always drained, whatever happens to the file. An unfinished line is
    written as ``P`` once it is ``PARTIAL_FLUSH_DELAY`` old; maintenance (compression)
    is awaited here, in a worker thread, so it never blocks the event loop.
    """
    partial_since: float | None = None
    try:
        while True:
            deadline = math.inf
            if partial_since is not None:
                deadline = partial_since + PARTIAL_FLUSH_DELAY
            with anyio.move_on_at(deadline):
                await anyio.wait_readable(fd)
            try:
                data = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                # Flush only when nothing is waiting: after a stall, the rest of the line
                # may be in the pipe already.
                if anyio.current_time() >= deadline:
                    writer.flush_partial(stream)
                    partial_since = None
                continue
            if not data:
                break
            made = writer.write(stream, data)
            if not writer.holds_partial(stream):
                partial_since = None
            elif made or partial_since is None:  # the unfinished line is a new one
                partial_since = anyio.current_time()
            if writer.maintenance_due:
                await writer.maintain()
    finally:
        os.close(fd)
    writer.close_stream(stream)


# -- reading ------------------------------------------------------------------------------


Opener = Callable[[Path], int]  # a path -> an open, readable descriptor; raises OSError


def _open_no_follow(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)


def read_at_most(path: Path, limit: int, opener: Opener = _open_no_follow) -> bytes:
    """The last ``limit`` bytes of a regular file (``pkg/util/tail.ReadAtMost``).

    Never follows a symlink (``O_NOFOLLOW``: a container could swap its message file for
    a link to a file it may not read) and never blocks on a FIFO; raises OSError.
    ``opener`` opens the file (the runtime's, for a path a manifest chose).
    """
    fd = opener(path)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if limit <= 0 or info.st_size == 0:
            return b""
        handle.seek(max(info.st_size - limit, 0))
        return handle.read(limit)


def _go_error(path: Path, error: OSError) -> str:
    """An OSError as Go prints an ``*os.PathError``: ``open <path>: <lower-case reason>``."""
    reason = _describe(error)
    return f"open {path}: {reason[:1].lower()}{reason[1:]}"


def tail_log_text(path: Path, lines: int, limit: int) -> str:
    """The last ``lines`` records of an instance's log, as read back, at most ``limit`` bytes.

    ``readLastStringFromContainerLogs``: ``ReadLogs`` with ``TailLines`` into a circular
    buffer that keeps the last bytes. Spans the rotated files; raises OSError when the
    instance has no log at all.
    """
    if limit <= 0:
        return ""
    reader = LogReader(path)
    try:
        reader.open(tail=lines)
        kept = bytearray()
        pending = b""
        while block := reader.read():
            records = (pending + block).split(b"\n")
            pending = records.pop()
            for record in records:
                content = record_content(record)
                if content is not None:
                    kept += content
            if len(kept) > limit:
                del kept[:-limit]
        if pending:
            kept += record_content(pending) or b""
    finally:
        reader.close()
    if not path.exists() and not rotated_files(path):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
    return decode_like_go(bytes(kept[-limit:]))


def read_termination_message(
    path: Path,
    log_path: Path,
    policy: TerminationMessagePolicy,
    exit_code: int,
    opener: Opener = _open_no_follow,
) -> str:
    """What ``state.terminated.message`` says about an instance that has exited.

    ``kuberuntime_container.go getTerminationMessage`` and ``convertToKubeContainerStatus``:
    the last 4096 bytes of the message file; with ``FallbackToLogsOnError``, a failed
    instance whose file is missing or empty gets the tail of its log instead (80 lines,
    2048 bytes), exactly as it was written (no newline added to a last line without one).
    """
    try:
        data = read_at_most(path, MAX_CONTAINER_TERMINATION_MESSAGE_LENGTH, opener)
    except FileNotFoundError:
        data = b""
    except OSError as error:
        return f"Error on reading termination log {path}: {_go_error(path, error)}"
    except RuntimeStartError as error:  # the runtime refused the path (a symlink, ...)
        return f"Error on reading termination log {path}: {error}"
    if data:
        return decode_like_go(data)
    if policy is not TerminationMessagePolicy.FALLBACK_TO_LOGS_ON_ERROR or exit_code == 0:
        return ""
    try:
        return tail_log_text(
            log_path,
            MAX_CONTAINER_TERMINATION_MESSAGE_LOG_LINES,
            MAX_CONTAINER_TERMINATION_MESSAGE_LOG_LENGTH,
        )
    except OSError as error:
        return (
            "Error on reading termination message from logs: failed to open log file"
            f' "{log_path}": {_go_error(log_path, error)}'
        )
