"""Container logs on real processes: CRI records, long and unfinished lines, crashes,
and termination messages read back from the log."""

from __future__ import annotations

import os
import re
import textwrap
from dataclasses import replace
from pathlib import Path

import anyio
import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.logfiles import LogReader, record_content, rotated_files
from minikubelet.model.spec import Container, RestartPolicy, TerminationMessagePolicy
from minikubelet.model.status import Terminated
from minikubelet.runtime.logs import (
    MAX_LINE,
    PARTIAL_FLUSH_DELAY,
    CriLogWriter,
    LogRotation,
    pump_stream,
)
from minikubelet.settings import Settings
from minikubelet.testing import container, wait_for, wait_for_status
from tests.conftest import PYTHON
from tests.helpers.pods import child, pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

CRI_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) (F|P) (.*)$")


def records(path: Path) -> list[tuple[str, str, str]]:
    rows = []
    for line in path.read_text().splitlines():
        match = CRI_LINE.match(line)
        assert match is not None, f"not a CRI record: {line[:80]!r}"
        rows.append((match.group(1), match.group(2), match.group(3)))
    return rows


async def test_cri_log_records_both_streams(kubelet: Kubelet) -> None:
    app = child("app", "--print", "one", "--print", "", "--stderr", "oops", "--no-newline", "tail")
    worker = await start(kubelet, pod("logs", app, policy=RestartPolicy.NEVER))
    await worker.wait_done()
    rows = records(worker.log_path("app", 0))
    assert ("stdout", "F", "one") in rows
    assert ("stdout", "F", "") in rows
    assert ("stderr", "F", "oops") in rows
    # A last line without a newline is still written, tagged P as containerd tags it, so
    # it reads back without a newline.
    assert rows[-1] == ("stdout", "P", "tail")


async def test_long_lines_are_split_into_partial_records(kubelet: Kubelet) -> None:
    long = "x" * (MAX_LINE + 100)
    worker = await start(
        kubelet, pod("long", child("app", "--print", long), policy=RestartPolicy.NEVER)
    )
    await worker.wait_done()
    rows = records(worker.log_path("app", 0))
    assert rows == [("stdout", "P", "x" * MAX_LINE), ("stdout", "F", "x" * 100)]


async def test_each_instance_gets_its_own_file(kubelet: Kubelet, tmp_path: Path) -> None:
    again = tmp_path / "again"
    script = f"echo hi; [ -e {again} ] && exec sleep 60; touch {again}; exit 1"
    app = Container(name="app", command=("sh", "-c", script))
    worker = await start(kubelet, pod("files", app))
    await wait_for_status(
        worker, lambda s: container(s, "app").restart_count == 1 and container(s, "app").ready
    )
    assert records(worker.log_path("app", 0)) == [("stdout", "F", "hi")]
    # the running instance's line reaches its file
    await wait_for(lambda: records(worker.log_path("app", 1)) == [("stdout", "F", "hi")])
    assert worker.log_path("app", 0).parent.name == "app"
    assert worker.log_path("app", 0).parent.parent.name == f"default_files_{worker.uid}"


async def test_only_the_last_dead_instance_keeps_its_files(kubelet: Kubelet) -> None:
    """The kubelet's container GC (MaxPerPodContainer 1): the running instance's log and
    the previous one's (``logs --previous``) stay; older ones go; a deleted pod's all go."""
    worker = await start(kubelet, pod("gc", child("app", "--print", "hi", "--exit-code", "1")))
    await wait_for_status(worker, lambda s: container(s, "app").restart_count >= 4)
    latest = worker.records()["app"].latest
    assert latest is not None
    directory = worker.log_path("app", 0).parent
    counts = {int(path.name.split(".")[0]) for path in directory.iterdir()}
    assert min(counts) >= latest.restart_count - 1
    assert latest.restart_count - 1 in counts
    kubelet.delete_pod("default", "gc")
    with anyio.fail_after(10):
        await worker.wait_done()
    await wait_for(lambda: not directory.parent.exists())


async def test_termination_message_from_the_default_file(kubelet: Kubelet, tmp_path: Path) -> None:
    code = (
        "import os; open(os.environ['MINIKUBELET_TERMINATION_LOG'], 'w').write('bye');"
        " raise SystemExit(3)"
    )
    from minikubelet.model.spec import Container
    from tests.conftest import PYTHON

    app = Container(name="app", command=(PYTHON, "-c", code))
    worker = await start(kubelet, pod("message", app, policy=RestartPolicy.NEVER))
    await worker.wait_done()
    state = container(worker.status, "app").state
    assert state.message == "bye"  # type: ignore[union-attr]


def content(live: Path) -> bytes:
    """What ``kubectl logs`` shows: every file of the instance, records joined."""
    reader = LogReader(live)
    try:
        reader.open()
        data = b"".join(iter(reader.read, b""))
    finally:
        reader.close()
    return b"".join(record_content(row) or b"" for row in data.split(b"\n")[:-1])


def script(code: str, *args: str, **fields: object) -> Container:
    return Container(
        name="app",
        command=(PYTHON, "-c", textwrap.dedent(code), *args),
        **fields,  # type: ignore[arg-type]
    )


LONG_LINES = """\
    import os
    out = os.fdopen(1, "wb", buffering=0)
    for size in (200 * 1024, 16384, 16385, 70000):
        out.write(b"%d:" % size + b"y" * (size - len(b"%d:" % size)) + b"\\n")
    out.write(b"z" * 20000)  # no newline at the end, longer than a P record
    """


async def test_lines_longer_than_the_pipe_and_the_cri_limit(kubelet: Kubelet) -> None:
    worker = await start(kubelet, pod("long2", script(LONG_LINES), policy=RestartPolicy.NEVER))
    await worker.wait_done()
    path = worker.log_path("app", 0)
    expected = b""
    for size in (200 * 1024, 16384, 16385, 70000):
        prefix = b"%d:" % size
        expected += prefix + b"y" * (size - len(prefix)) + b"\n"
    expected += b"z" * 20000
    assert content(path) == expected
    rows = records(path)
    tags = "".join(tag for _, tag, _ in rows)
    # 200 KiB = 12 full P records and the rest as F; 16384 fits one F; 16385 is P + F;
    # 70000 is 4 P + F; the unfinished 20000 bytes: P (16384) and P (the rest).
    assert tags == "P" * 12 + "F" + "F" + "PF" + "P" * 4 + "F" + "PP"
    assert all(len(text) == MAX_LINE for _, tag, text in rows[:-1] if tag == "P")


NO_NEWLINE = """\
    import os, sys, time
    sys.stdout.write("waiting for the gate")
    sys.stdout.flush()
    deadline = time.time() + 30
    while not os.path.exists(sys.argv[1]) and time.time() < deadline:
        time.sleep(0.02)
    sys.stdout.write(" ... open\\nbye")
    sys.stdout.flush()
    """


async def test_a_line_without_newline_reaches_the_file(kubelet: Kubelet, tmp_path: Path) -> None:
    """An unfinished line is on disk within PARTIAL_FLUSH_DELAY, as a P record."""
    gate = tmp_path / "gate"
    worker = await start(
        kubelet, pod("nonl", script(NO_NEWLINE, str(gate)), policy=RestartPolicy.NEVER)
    )
    path = worker.log_path("app", 0)
    with anyio.fail_after(PARTIAL_FLUSH_DELAY + 10):
        while True:
            if path.exists() and b"waiting for the gate" in path.read_bytes():
                break
            await anyio.sleep(0.05)
    assert records(path) == [("stdout", "P", "waiting for the gate")]
    gate.write_text("open")
    await worker.wait_done()
    assert records(path) == [
        ("stdout", "P", "waiting for the gate"),
        ("stdout", "F", " ... open"),
        ("stdout", "P", "bye"),
    ]
    assert content(path) == b"waiting for the gate ... open\nbye"


CRASH = """\
    import os, signal, sys
    for i in range(20000):
        sys.stdout.write(f"line {i}\\n")
    sys.stdout.write(sys.argv[1])
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)
    """


@pytest.mark.parametrize("last", ["last words\n", "dying"], ids=["newline", "no newline"])
async def test_the_last_line_before_a_crash(kubelet: Kubelet, last: str) -> None:
    worker = await start(kubelet, pod("crash", script(CRASH, last), policy=RestartPolicy.NEVER))
    await worker.wait_done()
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated)
    assert state.exit_code == 137
    expected = "".join(f"line {i}\n" for i in range(20000)) + last
    assert content(worker.log_path("app", 0)) == expected.encode()
    tag = "F" if last.endswith("\n") else "P"
    assert records(worker.log_path("app", 0))[-1] == ("stdout", tag, last.rstrip("\n"))


# -- termination messages from the log -------------------------------------------------


def shell(command: str) -> Container:
    return Container(
        name="app",
        command=("/bin/sh", "-c", command),
        termination_message_policy=TerminationMessagePolicy.FALLBACK_TO_LOGS_ON_ERROR,
    )


async def message_of(kubelet: Kubelet, app: Container, name: str = "msg") -> str:
    worker = await start(kubelet, pod(name, app, policy=RestartPolicy.NEVER))
    await worker.wait_done()
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated)
    return state.message


async def test_fallback_to_logs_keeps_the_log_as_written(kubelet: Kubelet) -> None:
    """The kubelet's conformance test: ``echo -n DONE; exit 1`` reports ``DONE``."""
    assert await message_of(kubelet, shell("echo -n DONE; exit 1")) == "DONE"


async def test_fallback_to_logs_only_on_error(kubelet: Kubelet) -> None:
    assert await message_of(kubelet, shell("echo -n DONE; exit 0")) == ""


async def test_fallback_prefers_the_file(kubelet: Kubelet) -> None:
    app = shell('echo log; printf OK > "$MINIKUBELET_TERMINATION_LOG"; exit 1')
    assert await message_of(kubelet, app) == "OK"


async def test_fallback_tail_is_80_lines_and_2048_bytes(kubelet: Kubelet) -> None:
    app = shell("i=0; while [ $i -lt 100 ]; do echo line $i; i=$((i+1)); done; exit 2")
    assert await message_of(kubelet, app) == "".join(f"line {i}\n" for i in range(20, 100))
    long = shell("i=0; while [ $i -lt 100 ]; do printf '%099d\\n' $i; i=$((i+1)); done; exit 2")
    message = await message_of(kubelet, long, "long")
    assert len(message) == 2048
    assert message.endswith(f"{99:099d}\n")


async def test_fallback_reads_the_rotated_files(settings: Settings) -> None:
    """A rotation right at the end left the live file empty: the message is still there."""
    every_write = replace(settings, log_rotation=LogRotation(max_size=1, max_files=100))
    async with Kubelet(every_write) as kubelet:
        worker = await start(
            kubelet,
            pod("rot", shell("echo first; echo -n DONE; exit 1"), policy=RestartPolicy.NEVER),
        )
        await worker.wait_done()
    assert worker.log_path("app", 0).read_bytes() == b""
    assert rotated_files(worker.log_path("app", 0))
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated)
    assert state.message == "first\nDONE"


async def test_the_default_message_file_cannot_be_swapped(kubelet: Kubelet, tmp_path: Path) -> None:
    """The default file is a descriptor the container inherits: it can write the message,
    never make minikubelet read another file."""
    secret = tmp_path / "secret"
    secret.write_text("root only")
    secret.chmod(0o600)
    app = shell(
        f't="$MINIKUBELET_TERMINATION_LOG"; printf swapped > "$t"; '
        f'rm -f "$t" 2>/dev/null; ln -s {secret} "$t" 2>/dev/null; exit 1'
    )
    message = await message_of(kubelet, app)
    assert "root only" not in message
    assert message == "swapped"


async def test_an_explicit_message_file_swapped_for_a_symlink_is_not_followed(
    kubelet: Kubelet, tmp_path: Path
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("root only")
    secret.chmod(0o600)
    path = tmp_path / "message"
    app = replace(
        shell(f'rm -f "{path}"; ln -s {secret} "{path}"; exit 1'),
        termination_message_path=str(path),
    )
    message = await message_of(kubelet, app)
    assert "root only" not in message
    assert message.startswith(f"Error on reading termination log {path}: ")
    assert "symlink" in message


async def test_an_explicit_message_fifo_does_not_hang(kubelet: Kubelet, tmp_path: Path) -> None:
    path = tmp_path / "message"
    app = replace(
        shell(f'rm -f "{path}"; mkfifo "{path}"; exit 1'), termination_message_path=str(path)
    )
    with anyio.fail_after(10):
        message = await message_of(kubelet, app)
    assert message == f"Error on reading termination log {path}: {path}: not a regular file"


async def test_log_files_are_owner_only(kubelet: Kubelet) -> None:
    worker = await start(
        kubelet, pod("modes", child("app", "--print", "hi"), policy=RestartPolicy.NEVER)
    )
    await worker.wait_done()
    path = worker.log_path("app", 0)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(path.parent).st_mode & 0o777 == 0o700


async def pump_paced(tmp_path: Path, chunks: list[bytes], pause: float) -> Path:
    """Feed ``chunks`` through a pipe into ``pump_stream``, ``pause`` seconds apart."""
    path = tmp_path / "0.log"
    writer = CriLogWriter(path)
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)

    async def feed() -> None:
        try:
            for chunk in chunks:
                os.write(write_end, chunk)
                await anyio.sleep(pause)
        finally:
            os.close(write_end)

    async with anyio.create_task_group() as group:
        group.start_soon(feed)
        await pump_stream(writer, "stdout", read_end)
    await writer.aclose()
    return path


async def test_reads_that_end_mid_line_are_not_split(tmp_path: Path) -> None:
    """A busy writer's reads end inside lines for longer than PARTIAL_FLUSH_DELAY."""
    count = int(PARTIAL_FLUSH_DELAY / 0.05) * 2
    chunks = [b"%03d-end\n%03d-start " % (i, i + 1) for i in range(count)]
    path = await pump_paced(tmp_path, [b"000-start ", *chunks], 0.05)
    tags = {tag for _, tag, _ in records(path)}
    assert tags == {"F", "P"}  # the last, unfinished line only
    assert records(path)[-1] == ("stdout", "P", f"{count:03d}-start ")
    assert len(records(path)) == count + 1


async def test_a_stale_unfinished_line_is_flushed(tmp_path: Path) -> None:
    path = await pump_paced(tmp_path, [b"progress 1%", b" 2%\n"], PARTIAL_FLUSH_DELAY + 0.3)
    assert records(path) == [("stdout", "P", "progress 1%"), ("stdout", "F", " 2%")]
    assert content(path) == b"progress 1% 2%\n"
