"""Termination message limits, as the kubelet applies them, with tables from its tests."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from minikubelet.logfiles import compressed_path, rotated_path
from minikubelet.logic.termination_message import (
    MAX_CONTAINER_TERMINATION_MESSAGE_LENGTH,
    MAX_POD_TERMINATION_MESSAGE_LOG_LENGTH,
    bytes_per_status,
    decode_like_go,
    limit_pod_messages,
    truncate_message,
)
from minikubelet.model.spec import Container, PodSpec, TerminationMessagePolicy
from minikubelet.model.status import ContainerStatus, PodPhase, PodStatus, Running, Terminated
from minikubelet.runtime.logs import (
    CriLogWriter,
    LogRotation,
    read_at_most,
    read_termination_message,
    tail_log_text,
)

FALLBACK = TerminationMessagePolicy.FALLBACK_TO_LOGS_ON_ERROR
FILE = TerminationMessagePolicy.FILE
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def spec(containers: int, init: int = 0) -> PodSpec:
    return PodSpec(
        containers=tuple(Container(name=f"c{i}", command=("true",)) for i in range(containers)),
        init_containers=tuple(Container(name=f"i{i}", command=("true",)) for i in range(init)),
    )


@pytest.mark.parametrize(
    ("containers", "init", "expected"),
    [
        (0, 0, 12288),  # an empty spec, as in the kubelet's own test: the whole 12 KiB
        (1, 0, 12288),
        (2, 1, 4096),
        (5, 0, 2457),  # integer division
        (16, 32, 256),
    ],
)
def test_bytes_per_status(containers: int, init: int, expected: int) -> None:
    assert bytes_per_status(spec(containers, init)) == expected


@pytest.mark.parametrize(
    ("message", "limit", "expected"),
    [
        ("short", 100, "short"),
        ("exactly", 7, "exactly"),
        ("abcdef", 3, "abc"),  # the head is kept (``Message[:bytesPerStatus]``)
        ("h\u00e9llo", 2, "h\ufffd"),  # a character cut in half: U+FFFD for the byte left
        ("\u20ac\u20ac", 4, "\u20ac\ufffd"),
        ("\u20ac", 2, "\ufffd\ufffd"),  # each byte of the cut sequence, as Go
        ("anything", 0, ""),
    ],
)
def test_truncate_message(message: str, limit: int, expected: str) -> None:
    assert truncate_message(message, limit) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"plain", "plain"),
        ("caf\u00e9".encode(), "caf\u00e9"),
        (b"a\xffb", "a\ufffdb"),
        (b"\xa9bc", "\ufffdbc"),  # a tail read that starts inside a character
        (b"\xe2\x82", "\ufffd\ufffd"),
        (b"\xed\xa0\x80", "\ufffd\ufffd\ufffd"),  # a surrogate is invalid UTF-8 for Go too
        (b"", ""),
    ],
)
def test_decode_like_go(data: bytes, expected: str) -> None:
    assert decode_like_go(data) == expected


def status_with(messages: list[str], split: int) -> PodStatus:
    statuses = tuple(
        ContainerStatus(
            name=f"container{i}",
            state=Running(started_at=WHEN),
            last_state=Terminated(1, "Error", WHEN, WHEN, f"process://{i}", message=message),
            ready=False,
            restart_count=1,
            image="",
        )
        for i, message in enumerate(messages)
    )
    return PodStatus(
        phase=PodPhase.RUNNING,
        init_container_statuses=statuses[:split],
        container_statuses=statuses[split:],
    )


def last_messages(status: PodStatus) -> list[str]:
    out = []
    for container in (*status.init_container_statuses, *status.container_statuses):
        assert container.last_state is not None
        out.append(container.last_state.message)
    return out


def test_status_normalization_enforces_max_bytes() -> None:
    """kubelet status_manager_test.go TestStatusNormalizationEnforcesMaxBytes."""
    messages = ["abcdefgh" * (24 + i % 3) for i in range(48)]
    result = limit_pod_messages(status_with(messages, 16), PodSpec(containers=()))
    lengths = [len(m) for m in last_messages(result)[:16]]
    assert all(192 <= length <= 256 for length in lengths), lengths
    assert sum(lengths) <= MAX_POD_TERMINATION_MESSAGE_LOG_LENGTH


@pytest.mark.parametrize(
    ("containers", "size", "expected"),
    [
        (1, 5000, 5000),  # one container may use all 12 KiB (4 KiB from a file, more with
        (3, 5000, 4096),  # a runtime message in front)
        (4, 4096, 3072),
        (48, 300, 256),
    ],
)
def test_the_pod_shares_12_kib(containers: int, size: int, expected: int) -> None:
    messages = ["m" * size] * containers
    split = containers // 3
    result = limit_pod_messages(status_with(messages, split), spec(containers - split, split))
    cut = last_messages(result)
    assert [len(m) for m in cut] == [expected] * containers
    assert sum(len(m.encode()) for m in cut) <= MAX_POD_TERMINATION_MESSAGE_LOG_LENGTH


def test_state_and_last_state_are_both_cut() -> None:
    terminated = Terminated(1, "Error", WHEN, WHEN, "process://1", message="x" * 20000)
    status = PodStatus(
        phase=PodPhase.FAILED,
        container_statuses=(ContainerStatus("c0", terminated, terminated, False, 1, ""),),
    )
    result = limit_pod_messages(status, spec(1))
    (only,) = result.container_statuses
    assert isinstance(only.state, Terminated)
    assert only.last_state is not None
    assert len(only.state.message) == len(only.last_state.message) == 12288
    assert limit_pod_messages(result, spec(1)) is result  # nothing left to cut


BLOCK = 1024  # pkg/util/tail blockSize


@pytest.mark.parametrize(
    ("limit", "expected"),
    [  # kubelet pkg/util/tail/tail_test.go TestReadAtMost
        (-1, b""),
        (0, b""),
        (1, b"a"),
        (BLOCK, b"a" * (BLOCK // 2 - 1) + b"\n" + b"a" * (BLOCK // 2)),
        (4613, None),  # more than the file: all of it
    ],
)
def test_read_at_most(tmp_path: Path, limit: int, expected: bytes | None) -> None:
    line = b"a" * BLOCK
    data = (line + b"\n") * 4 + line[BLOCK // 2 :]  # an incomplete last line
    path = tmp_path / "file"
    path.write_bytes(data)
    assert read_at_most(path, limit) == (data if expected is None else expected)


def log_of(tmp_path: Path, *chunks: bytes, rotation: LogRotation | None = None) -> Path:
    path = tmp_path / "0.log"
    writer = CriLogWriter(path, rotation)
    for chunk in chunks:
        writer.write("stdout", chunk)
    writer.run_maintenance()
    writer.close()
    return path


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        pytest.param([b"DONE"], "DONE", id="echo -n DONE: no newline added"),
        pytest.param([b"DONE\n"], "DONE\n", id="echo DONE"),
        pytest.param(
            [b"".join(b"line %d\n" % i for i in range(100))],
            "".join(f"line {i}\n" for i in range(20, 100)),
            id="the last 80 lines",
        ),
        pytest.param(
            [b"".join(b"%099d\n" % i for i in range(50))],
            "".join(f"{i:099d}\n" for i in range(50))[-2048:],
            id="at most the last 2048 bytes",
        ),
        pytest.param(
            [b"a" * 20000 + b"\nend"],
            ("a" * 20000 + "\nend")[-2048:],
            id="a long line read back whole",
        ),
    ],
)
def test_tail_log_text(tmp_path: Path, chunks: list[bytes], expected: str) -> None:
    assert tail_log_text(log_of(tmp_path, *chunks), 80, 2048) == expected


def test_tail_log_text_spans_rotated_and_compressed_files(tmp_path: Path) -> None:
    record = b"2026-01-01T00:00:00.000000000Z stdout F line %d\n"
    path = tmp_path / "0.log"
    compressed_path(path, 1).write_bytes(gzip.compress(b"".join(record % i for i in range(50))))
    rotated_path(path, 2).write_bytes(b"".join(record % i for i in range(50, 70)))
    path.write_bytes(b"")  # rotated right at the end
    assert tail_log_text(path, 80, 2048) == "".join(f"line {i}\n" for i in range(70))
    assert tail_log_text(path, 30, 2048) == "".join(f"line {i}\n" for i in range(40, 70))


@pytest.mark.parametrize(
    ("file", "policy", "exit_code", "expected"),
    [
        pytest.param(b"bye", FILE, 3, "bye", id="the file"),
        pytest.param(b"", FILE, 3, "", id="File policy never reads the log"),
        pytest.param(None, FILE, 3, "", id="no file"),
        pytest.param(b"OK", FALLBACK, 0, "OK", id="fallback: the file wins, exit 0"),
        pytest.param(b"OK", FALLBACK, 1, "OK", id="fallback: the file wins, exit 1"),
        pytest.param(b"", FALLBACK, 1, "DONE", id="fallback: empty file, failed"),
        pytest.param(None, FALLBACK, 1, "DONE", id="fallback: missing file, failed"),
        pytest.param(b"", FALLBACK, 0, "", id="fallback: succeeded"),
        pytest.param(
            b"x" * 5000 + b"END", FILE, 1, ("x" * 5000 + "END")[-4096:], id="last 4096 bytes"
        ),
    ],
)
def test_read_termination_message(
    tmp_path: Path,
    file: bytes | None,
    policy: TerminationMessagePolicy,
    exit_code: int,
    expected: str,
) -> None:
    log = log_of(tmp_path, b"DONE")
    message = tmp_path / "termination-log"
    if file is not None:
        message.write_bytes(file)
    assert read_termination_message(message, log, policy, exit_code) == expected
    assert len(expected.encode()) <= MAX_CONTAINER_TERMINATION_MESSAGE_LENGTH


def test_a_symlinked_message_file_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("root only")
    message = tmp_path / "termination-log"
    message.symlink_to(secret)
    got = read_termination_message(message, log_of(tmp_path, b"DONE"), FALLBACK, 1)
    assert got == (
        f"Error on reading termination log {message}: open {message}:"
        " too many levels of symbolic links"
    )


def test_a_missing_log(tmp_path: Path) -> None:
    got = read_termination_message(tmp_path / "none", tmp_path / "0.log", FALLBACK, 1)
    assert got.startswith("Error on reading termination message from logs: ")
