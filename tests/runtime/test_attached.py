"""Attached execs on real processes: a pty that is the controlling terminal, its size,
and an exec that is part of its container (killed with it)."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from minikubelet.model.launch import ExitStatus, Launch
from minikubelet.runtime.local import LocalRuntime
from minikubelet.testing import wait_for_file
from tests.conftest import CHILD, PYTHON

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
async def runtime() -> AsyncIterator[LocalRuntime]:
    local = LocalRuntime()
    async with anyio.create_task_group() as group:
        await group.start(local.run)
        yield local
        group.cancel_scope.cancel()


class Output:
    def __init__(self) -> None:
        self.data = b""
        self.changed = anyio.Event()

    async def sink(self, stream: str, data: bytes) -> None:
        self.data += data
        self.changed.set()
        self.changed = anyio.Event()

    async def until(self, text: bytes) -> None:
        with anyio.fail_after(10):
            while text not in self.data:
                await self.changed.wait()


def launch(tmp_path: Path, code: str, tag: str = "pod/app") -> Launch:
    return Launch(tag=tag, argv=(PYTHON, "-c", code), cwd=str(tmp_path), env={"PATH": "/bin"})


async def test_a_tty_is_the_controlling_terminal_with_the_size_given(
    runtime: LocalRuntime, tmp_path: Path
) -> None:
    code = (
        "import os, sys\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "size = os.get_terminal_size(0)\n"
        "print('tty', os.isatty(0), os.isatty(1), size.columns, size.lines, flush=True)\n"
        "sys.stdin.readline()\n"  # ^C arrives here, as SIGINT from the terminal
    )
    process = await runtime.exec_stream(launch(tmp_path, code), tty=True)
    output = Output()
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(process.pump_output, output.sink)
            await output.until(b"ready")
            process.resize(132, 43)
            await process.write_stdin(b"go\n")
            await output.until(b"tty True True 132 43")
            await process.write_stdin(b"\x03")  # the line discipline turns it into SIGINT
            with anyio.fail_after(10):
                status = await process.wait()
    finally:
        process.close()
    assert status == ExitStatus(130, signal.SIGINT)  # Python re-raises an unhandled SIGINT
    assert b"\r\n" in output.data  # a terminal's line endings: it went through the pty


async def test_an_attached_exec_belongs_to_its_container(
    runtime: LocalRuntime, tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    container = await runtime.start(
        Launch(
            tag="pod/app",
            argv=(PYTHON, CHILD, "--forever", "--ready-file", str(ready)),
            cwd=str(tmp_path),
            env={"PATH": "/bin"},
            log_path=tmp_path / "app" / "0.log",
        )
    )
    await wait_for_file(ready)
    process = await runtime.exec_stream(launch(tmp_path, "import time; time.sleep(60)"))
    try:
        assert process.pid in await container.processes()
        await container.kill_all()  # the container dies: its exec with it
        with anyio.fail_after(10):
            assert await process.wait() == ExitStatus(137, signal.SIGKILL)
        await container.wait()
    finally:
        process.close()
