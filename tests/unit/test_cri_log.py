"""The CRI log writer and reader on files: records, rotation, retention, modes, full disks."""

from __future__ import annotations

import contextlib
import gzip
import os
import stat
import subprocess  # noqa: TID251 - the test mounts its own tmpfs
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from minikubelet.logfiles import (
    LogReader,
    compressed_path,
    record_content,
    rotated_files,
    rotated_path,
)
from minikubelet.runtime.logs import (
    LOG_WRITE_FAILED,
    LOG_WRITE_RESUMED,
    MAX_LINE,
    CriLogWriter,
    LogProblem,
    LogRotation,
)

NOBODY = 65534


def clock() -> datetime:
    return datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def writer(path: Path, **options: object) -> CriLogWriter:
    return CriLogWriter(path, clock=clock, **options)  # type: ignore[arg-type]


def records(data: bytes) -> list[tuple[str, str, bytes]]:
    """(stream, tag, text) of each CRI record in ``data``."""
    rows = []
    for line in data.split(b"\n")[:-1]:
        stamp, stream, tag, text = line.split(b" ", 3)
        assert stamp == b"2026-01-02T03:04:05.123456000Z"
        rows.append((stream.decode(), tag.decode(), text))
    return rows


def read_all(live: Path, tail: int | None = None) -> bytes:
    reader = LogReader(live)
    try:
        reader.open(tail)
        return b"".join(iter(reader.read, b""))
    finally:
        reader.close()


def content(live: Path, tail: int | None = None) -> bytes:
    """The log as ``kubectl logs`` shows it (``ReadLogs`` without options)."""
    rows = read_all(live, tail).split(b"\n")[:-1]
    return b"".join(record_content(row) or b"" for row in rows)


X = b"x"


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        pytest.param([b"a\n"], [("F", b"a")], id="a line"),
        pytest.param([b"\n"], [("F", b"")], id="an empty line"),
        pytest.param([b"a\r\n"], [("F", b"a\r")], id="every byte is kept"),
        pytest.param([X * MAX_LINE + b"\n"], [("F", X * MAX_LINE)], id="exactly the limit"),
        pytest.param(
            [X * (MAX_LINE + 1) + b"\n"], [("P", X * MAX_LINE), ("F", X)], id="one byte over"
        ),
        pytest.param(
            [X * (2 * MAX_LINE + 5)],
            [("P", X * MAX_LINE), ("P", X * MAX_LINE), ("P", X * 5)],
            id="no newline at EOF: P, as containerd",
        ),
        pytest.param([b"ab", b"c\nd"], [("F", b"abc"), ("P", b"d")], id="split across reads"),
        pytest.param(
            [X * MAX_LINE, b"\n"], [("F", X * MAX_LINE)], id="the limit, newline read later"
        ),
    ],
)
def test_records_as_containerd_writes_them(
    tmp_path: Path, chunks: list[bytes], expected: list[tuple[str, bytes]]
) -> None:
    path = tmp_path / "0.log"
    log = writer(path)
    for chunk in chunks:
        log.write("stdout", chunk)
    log.close()
    assert [(tag, text) for _, tag, text in records(path.read_bytes())] == expected
    assert content(path) == b"".join(chunks)  # read back as written, newline or not


def test_an_old_unfinished_line_is_written_as_partial(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    log = writer(path)
    log.write("stderr", b"Password: ")
    assert log.holds_partial("stderr")
    assert path.read_bytes() == b""
    log.flush_partial("stderr")
    assert records(path.read_bytes()) == [("stderr", "P", b"Password: ")]
    log.write("stderr", b"ok\n")
    log.close()
    assert content(path) == b"Password: ok\n"


def test_the_line_sink_gets_whole_lines(tmp_path: Path) -> None:
    lines: list[tuple[str, str]] = []
    log = writer(tmp_path / "0.log", sink=lambda stream, text: lines.append((stream, text)))
    log.write("stdout", b"one\ntw")
    log.flush_partial("stdout")
    log.write("stdout", b"o\n" + X * (MAX_LINE + 3) + b"\nlast")
    log.close()
    assert lines == [
        ("stdout", "one"),
        ("stdout", "two"),
        ("stdout", "x" * (MAX_LINE + 3)),
        ("stdout", "last"),
    ]


def numbered(count: int, start: int = 0) -> list[bytes]:
    return [b"line %06d " % i + X * 80 for i in range(start, start + count)]


def test_rotation_never_reuses_a_name(tmp_path: Path) -> None:
    """Many rotations within one second: each file keeps its own number, all kept."""
    path = tmp_path / "0.log"
    log = writer(path, rotation=LogRotation(max_size=1000, max_files=1000))
    lines = numbered(500)
    for line in lines:
        log.write("stdout", line + b"\n")
    log.run_maintenance()
    log.close()
    found = rotated_files(path)
    assert sorted(found) == list(range(1, len(found) + 1))
    assert len(found) >= 40
    assert content(path) == b"".join(line + b"\n" for line in lines)


def test_retention_keeps_the_newest_files(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    log = writer(path, rotation=LogRotation(max_size=1000, max_files=4))
    lines = numbered(500)
    for line in lines:
        log.write("stdout", line + b"\n")
        log.run_maintenance()
    log.close()
    found = rotated_files(path)
    newest = max(found)
    assert sorted(found) == [newest - 2, newest - 1, newest]  # 3 rotated + the live one
    assert [found[s].compressed for s in sorted(found)] == [True, True, False]
    assert not any(f.plain and f.compressed for f in found.values())
    text = content(path)
    assert text.endswith(lines[-1] + b"\n")
    first = int(text.split(b" ", 2)[1])
    assert text == b"".join(line + b"\n" for line in lines[first:])  # a suffix, no gap


def test_compression_never_replaces_an_existing_file(tmp_path: Path) -> None:
    """After a crash between the .gz and the unlink, the whole .gz wins; .tmp goes."""
    path = tmp_path / "0.log"
    record = b"2026-01-02T03:04:05.123456000Z stdout F old\n"
    rotated_path(path, 1).write_bytes(record)
    compressed_path(path, 1).write_bytes(gzip.compress(record))
    before = compressed_path(path, 1).read_bytes()
    rotated_path(path, 2).write_bytes(record)
    leftover = compressed_path(path, 2).with_name("0.log.00000002.gz.tmp")
    leftover.write_bytes(b"half a gzip")
    rotated_path(path, 3).write_bytes(record)
    log = writer(path, rotation=LogRotation(max_size=1 << 20, max_files=5))
    assert log.maintenance_due  # leftovers are found when the writer opens
    assert log.run_maintenance() == []
    log.close()
    assert compressed_path(path, 1).read_bytes() == before
    assert not rotated_path(path, 1).exists()
    assert not leftover.exists()
    assert gzip.decompress(compressed_path(path, 2).read_bytes()) == record
    assert rotated_path(path, 3).exists()  # the newest rotated file stays plain
    assert content(path) == b"old\n" * 3


def test_a_new_writer_goes_on_numbering(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    rotation = LogRotation(max_size=100, max_files=50)
    first = writer(path, rotation=rotation)
    first.write("stdout", b"a" * 120 + b"\n")
    first.close()
    second = writer(path, rotation=rotation)  # the daemon restarted, same instance
    second.write("stdout", b"b" * 120 + b"\n")
    second.close()
    assert sorted(rotated_files(path)) == [1, 2]
    assert content(path) == b"a" * 120 + b"\n" + b"b" * 120 + b"\n"


def test_a_record_cut_by_a_crash_is_ended(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(b"2026-01-02T03:04:05.123456000Z stdout F cut sh")
    log = writer(path)
    log.write("stdout", b"next\n")
    log.close()
    assert content(path) == b"cut sh\nnext\n"


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "root" / "pods" / "ns_pod_uid" / "app" / "0.log"
    (tmp_path / "root").mkdir(mode=0o755)
    with umask(0):  # whatever the daemon's umask
        log = writer(path, rotation=LogRotation(max_size=100, max_files=5))
        for line in numbered(10):
            log.write("stdout", line + b"\n")
        log.run_maintenance()
        log.close()
    assert mode(tmp_path / "root") == 0o755  # not created by the writer: untouched
    for directory in (path.parent, path.parent.parent, path.parent.parent.parent):
        assert mode(directory) == 0o700, directory
    files = list(path.parent.iterdir())
    assert any(f.name.endswith(".gz") for f in files)
    assert sorted({mode(f) for f in files}) == [0o600]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another user needs root")
def test_files_belong_to_the_containers_user(tmp_path: Path) -> None:
    path = tmp_path / "app" / "0.log"
    log = writer(path, rotation=LogRotation(max_size=100, max_files=5), owner=(NOBODY, NOBODY))
    for line in numbered(10):
        log.write("stdout", line + b"\n")
    log.run_maintenance()
    log.close()
    files = list(path.parent.iterdir())
    assert any(f.name.endswith(".gz") for f in files)
    assert {(f.stat().st_uid, f.stat().st_gid) for f in files} == {(NOBODY, NOBODY)}
    assert path.parent.stat().st_uid == 0  # the directory stays the daemon's


def test_a_symlink_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("keep\n")
    (tmp_path / "0.log").symlink_to(target)
    with pytest.raises(OSError, match="symbolic links"):
        writer(tmp_path / "0.log")
    assert target.read_text() == "keep\n"


# -- reading -----------------------------------------------------------------------------

STAMPS = [
    b"2020-09-27T11:18:01.00000000Z",
    b"2020-09-27T11:18:02.00000000Z",
    b"2020-09-27T11:18:03.00000000Z",
]


def three_files(tmp_path: Path) -> Path:
    """``line1`` compressed, ``line2`` rotated, ``line3`` live (kubelet TestReadLogs)."""
    path = tmp_path / "0.log"
    lines = [stamp + b" stdout F line%d\n" % (i + 1) for i, stamp in enumerate(STAMPS)]
    compressed_path(path, 4).write_bytes(gzip.compress(lines[0]))
    rotated_path(path, 5).write_bytes(lines[1])
    path.write_bytes(lines[2])
    return path


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        pytest.param(None, b"line1\nline2\nline3\n", id="all lines, across the files"),
        pytest.param(2, b"line2\nline3\n", id="tail 2"),
        pytest.param(3, b"line1\nline2\nline3\n", id="tail 3 reaches the compressed file"),
        pytest.param(4, b"line1\nline2\nline3\n", id="tail 4: all there is"),
        pytest.param(0, b"", id="tail 0"),
        pytest.param(1, b"line3\n", id="tail 1"),
    ],
)
def test_reading_spans_the_rotated_files(tmp_path: Path, tail: int | None, expected: bytes) -> None:
    assert content(three_files(tmp_path), tail) == expected


def test_reading_when_the_live_file_is_empty(tmp_path: Path) -> None:
    """Rotated right at the end: the log is still there, tail included."""
    path = three_files(tmp_path)
    path.write_bytes(b"")
    assert content(path) == b"line1\nline2\n"
    assert content(path, 1) == b"line2\n"


@pytest.mark.parametrize(
    ("record", "expected"),
    [  # kubelet kuberuntime/logs TestParseLog, CRI cases
        (b"2016-10-20T18:39:20.57606443Z stdout F cri stdout test log\n", b"cri stdout test log\n"),
        (b"2016-10-20T18:39:20.57606443Z stderr F cri stderr test log\n", b"cri stderr test log\n"),
        (b"2016-10-20T18:39:20.57606443Z stdout P cri partial\n", b"cri partial"),
        (b"2016-10-20T18:39:20.57606443Z stdout P:TAG1:TAG2 tagged\n", b"tagged"),
        (b"2016-10-20T18:39:20.57606443Z stdout F \n", b"\n"),
        (b"unsupported log format test log\n", None),
    ],
)
def test_record_content(record: bytes, expected: bytes | None) -> None:
    assert record_content(record) == expected


def test_a_reader_follows_rotations_each_byte_once(tmp_path: Path) -> None:
    """Reads interleaved with rotations, compression and pruning: nothing lost or repeated."""
    path = tmp_path / "0.log"
    log = writer(path, rotation=LogRotation(max_size=2000, max_files=3))
    reader = LogReader(path)
    reader.open()
    got = b""
    lines = numbered(300)
    for index, line in enumerate(lines):
        log.write("stdout", line + b"\n")
        if index % 7 == 0:
            log.run_maintenance()
        if index % 3 == 0:  # a reader slower than the writer, but within retention
            got += reader.read(500)
    log.run_maintenance()
    got += b"".join(iter(reader.read, b""))
    reader.close()
    log.close()
    assert reader.skipped == 0
    assert b"".join(record_content(r) or b"" for r in got.split(b"\n")[:-1]) == b"".join(
        line + b"\n" for line in lines
    )


def test_a_reader_too_slow_for_retention_skips_whole_files(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    log = writer(path, rotation=LogRotation(max_size=1000, max_files=2))
    reader = LogReader(path)
    reader.open()
    for line in numbered(200):
        log.write("stdout", line + b"\n")
        log.run_maintenance()
    got = b"".join(iter(reader.read, b""))
    log.close()
    reader.close()
    assert reader.skipped > 0
    texts = [record_content(r) for r in got.split(b"\n")[:-1]]
    numbers = [int(t.split(b" ")[1]) for t in texts if t]
    assert numbers == sorted(set(numbers))  # in order, never twice
    assert numbers[-1] == 199


# -- a full disk -------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs the test mounts itself (root only)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip() or done.returncode}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path) -> Path:
    """Take every free byte of ``directory``'s file system."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_is_reported_and_writing_resumes(small_disk: Path) -> None:
    problems: list[LogProblem] = []
    path = small_disk / "app" / "0.log"
    log = writer(path, on_problem=problems.append)
    log.write("stdout", b"before\n")
    filler = fill(small_disk)
    for line in numbered(50):
        log.write("stdout", line + b"\n" + X * 5000 + b"\n")  # more than any slack
    assert [p.reason for p in problems] == [LOG_WRITE_FAILED]  # once, not per write
    assert "No space left on device" in problems[0].message
    assert path.read_bytes().endswith(b"\n")  # a record cut in half was taken back
    filler.unlink()
    log.write("stdout", b"after\n")
    log.close()
    assert [p.reason for p in problems] == [LOG_WRITE_FAILED, LOG_WRITE_RESUMED]
    assert "records" in problems[1].message
    text = content(path)
    assert text.startswith(b"before\n")
    assert text.endswith(b"after\n")
    for row in read_all(path).split(b"\n")[:-1]:
        assert record_content(row) is not None  # every record whole


def test_timestamps_are_rfc3339_nano(tmp_path: Path) -> None:
    moments = iter([datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC) + timedelta(microseconds=7)])
    log = CriLogWriter(tmp_path / "0.log", clock=lambda: next(moments))
    log.write("stdout", b"t\n")
    log.close()
    assert (tmp_path / "0.log").read_bytes() == b"2026-01-02T03:04:05.000007000Z stdout F t\n"
