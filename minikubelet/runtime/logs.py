"""Container log files in the CRI format, written as containerd writes them.

Each record is ``<RFC3339Nano> <stdout|stderr> <F|P> <text>\\n`` (reference §12.2). A
line longer than ``MAX_LINE`` is cut into ``P`` (partial) chunks followed by a final
``F`` chunk, like containerd's 16 KiB buffer; a last line without a newline at EOF is
written as ``F``. Files rotate when they reach ``max_size``: the live file is renamed to
``<N>.log.<YYYYMMDD-HHMMSS>``, older rotated files are gzipped, and at most ``max_files``
files are kept (``containerLogManager``, §12.4). We rotate on write instead of every 10 s,
so a file never grows far past its limit.
"""

from __future__ import annotations

import gzip
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from minikubelet.model.spec import TerminationMessagePolicy
from minikubelet.model.timestamps import format_timestamp

__all__ = [
    "MAX_LINE",
    "CriLogWriter",
    "LogRotation",
    "format_timestamp",
    "parse_cri_line",
    "read_termination_message",
    "tail_log_text",
]

MAX_LINE = 16 * 1024
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC

LineSink = Callable[[str, str], None]  # (stream, text) for each complete line


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
    max_files: int = 5  # containerLogMaxFiles


class CriLogWriter:
    """Appends CRI records for one container instance; shared by its stdout and stderr."""

    def __init__(
        self,
        path: Path,
        rotation: LogRotation | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sink: LineSink | None = None,
    ) -> None:
        self.path = path
        self._rotation = rotation or LogRotation()
        self._clock = clock
        self._sink = sink
        self._pending: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        try:
            self._fd = os.open(path, _OPEN_FLAGS, 0o640)
        except FileNotFoundError:  # the first instance of a container: make its directory
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, _OPEN_FLAGS, 0o640)
        self._size = os.fstat(self._fd).st_size

    def write(self, stream: str, data: bytes) -> None:
        """Record a chunk read from ``stream``; complete lines are written at once."""
        buffer = self._pending[stream] + data
        records: list[bytes] = []
        while True:
            newline = buffer.find(b"\n", 0, MAX_LINE + 1)
            if newline >= 0:
                records.append(self._record(stream, "F", buffer[:newline]))
                buffer = buffer[newline + 1 :]
            elif len(buffer) >= MAX_LINE:
                records.append(self._record(stream, "P", buffer[:MAX_LINE]))
                buffer = buffer[MAX_LINE:]
            else:
                break
        self._pending[stream] = buffer
        self._append(records)

    def close_stream(self, stream: str) -> None:
        """EOF on ``stream``: a last line without a newline is still a full record."""
        rest = self._pending[stream]
        self._pending[stream] = b""
        if rest:
            self._append([self._record(stream, "F", rest)])

    def close(self) -> None:
        for stream in self._pending:
            self.close_stream(stream)
        os.close(self._fd)

    def _record(self, stream: str, tag: str, text: bytes) -> bytes:
        if tag == "F" and self._sink is not None:
            self._sink(stream, text.decode(errors="replace"))
        stamp = format_timestamp(self._clock())
        return f"{stamp} {stream} {tag} ".encode() + text + b"\n"

    def _append(self, records: list[bytes]) -> None:
        if not records:
            return
        payload = b"".join(records)
        os.write(self._fd, payload)
        self._size += len(payload)
        if 0 <= self._rotation.max_size <= self._size:
            self._rotate()

    def _rotate(self) -> None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")  # local clock, as the kubelet
        rotated = self.path.with_name(f"{self.path.name}.{stamp}")
        counter = 0
        while rotated.exists():
            counter += 1
            rotated = self.path.with_name(f"{self.path.name}.{stamp}-{counter}")
        os.close(self._fd)
        self.path.rename(rotated)
        self._compress_and_prune(rotated)
        self._fd = os.open(self.path, _OPEN_FLAGS, 0o640)
        self._size = 0

    def _compress_and_prune(self, newest: Path) -> None:
        prefix = self.path.name + "."
        for old in self.path.parent.glob(prefix + "*"):
            if old == newest or old.suffix in (".gz", ".tmp"):
                continue
            with (
                old.open("rb") as source,
                gzip.open(old.with_name(old.name + ".tmp"), "wb") as sink,
            ):
                shutil.copyfileobj(source, sink)
            old.with_name(old.name + ".tmp").rename(old.with_name(old.name + ".gz"))
            old.unlink()
        rotated = sorted(self.path.parent.glob(prefix + "*"), key=lambda p: p.stat().st_mtime)
        # live file + at most max_files - 1 rotated ones
        for stale in rotated[: max(len(rotated) - (self._rotation.max_files - 1), 0)]:
            stale.unlink(missing_ok=True)


# Termination messages (reference §13, ``kuberuntime_container.go getTerminationMessage``).
MAX_TERMINATION_MESSAGE = 4096
FALLBACK_LINES = 80
FALLBACK_BYTES = 2048


def _tail_bytes(path: Path, limit: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(size - limit, 0))
        return handle.read()


def tail_log_text(path: Path, lines: int, limit: int) -> str:
    """The last ``lines`` lines of a CRI log's content, at most ``limit`` bytes of it."""
    try:
        raw = _tail_bytes(path, limit * 4 + lines * 64)
    except OSError:
        return ""
    texts = []
    for record in raw.decode(errors="replace").splitlines()[-lines:]:
        try:
            _, _, tag, text = parse_cri_line(record)
        except ValueError:
            continue
        texts.append(text if tag == "P" else text + "\n")
    return "".join(texts).encode()[-limit:].decode(errors="replace")


def read_termination_message(
    path: Path, log_path: Path, policy: TerminationMessagePolicy, exit_code: int
) -> str:
    """What ``state.terminated.message`` says about an instance that has exited."""
    try:
        data = _tail_bytes(path, MAX_TERMINATION_MESSAGE)
    except FileNotFoundError:
        data = b""
    except OSError as error:
        return f"Error on reading termination log {path}: {error}"
    if data:
        return data.decode(errors="replace")
    if policy is TerminationMessagePolicy.FALLBACK_TO_LOGS_ON_ERROR and exit_code != 0:
        return tail_log_text(log_path, FALLBACK_LINES, FALLBACK_BYTES)
    return ""
