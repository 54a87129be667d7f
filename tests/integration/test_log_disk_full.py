"""A full disk under a running container: reported, the container keeps running (its pipe
is drained), and logging resumes when space returns. On a tmpfs the test mounts itself."""

from __future__ import annotations

import contextlib
import os
import subprocess  # noqa: TID251 - the test mounts its own tmpfs
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest
import structlog.testing

from minikubelet.kubelet import Kubelet
from minikubelet.logfiles import LogReader, record_content
from minikubelet.model.spec import Container, RestartPolicy
from minikubelet.model.status import Running
from minikubelet.runtime.logs import LogRotation
from minikubelet.settings import Settings
from minikubelet.testing import container
from tests.conftest import PYTHON
from tests.helpers.pods import pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

# Prints a numbered line every 2 ms and records the last number in a file elsewhere: if
# its pipe were not drained, print would block and the number would stop growing.
CHATTY = textwrap.dedent(
    """\
    import os, sys, time
    beat = sys.argv[1]
    deadline = time.time() + 40
    i = 0
    while time.time() < deadline:
        print(f"beat {i:07d} " + "z" * 60, flush=True)
        with open(beat + ".tmp", "w") as handle:
            handle.write(str(i))
        os.replace(beat + ".tmp", beat)
        i += 1
        time.sleep(0.002)
    """
)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount_point)],
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


def beats(path: Path) -> int:
    try:
        return int(path.read_text() or -1)
    except (FileNotFoundError, ValueError):
        return -1


async def wait_until(fact: object, timeout: float = 15) -> None:
    with anyio.fail_after(timeout):
        while True:
            if fact():  # type: ignore[operator]
                return
            await anyio.sleep(0.02)


def logged(captured: Sequence[Mapping[str, Any]], event: str) -> list[Mapping[str, Any]]:
    return [entry for entry in captured if entry["event"] == event]


def numbers(live: Path) -> list[int]:
    reader = LogReader(live)
    try:
        reader.open()
        data = b"".join(iter(reader.read, b""))
    finally:
        reader.close()
    found = []
    for row in data.split(b"\n")[:-1]:
        text = record_content(row)
        assert text is not None, row  # every record on disk is whole
        found.append(int(text.split()[1]))
    return found


async def test_a_full_disk_does_not_stop_the_container(
    settings: Settings, small_disk: Path, tmp_path: Path
) -> None:
    beat = tmp_path / "beat"
    on_disk = replace(
        settings,
        root_dir=small_disk / "root",
        log_rotation=LogRotation(max_size=256 * 1024, max_files=3),
    )
    app = Container(name="app", command=(PYTHON, "-c", CHATTY, str(beat)))
    with structlog.testing.capture_logs() as captured:
        async with Kubelet(on_disk) as kubelet:
            worker = await start(kubelet, pod("full", app, policy=RestartPolicy.NEVER))
            live = worker.log_path("app", 0)
            await wait_until(lambda: beats(beat) > 50)

            filler = fill(small_disk)
            await wait_until(lambda: bool(logged(captured, "container.log_write_failed")))
            failed_at = beats(beat)
            # Its output goes nowhere, but it keeps running and writing (drained pipe).
            await wait_until(lambda: beats(beat) > failed_at + 200)
            assert isinstance(container(worker.status, "app").state, Running)
            assert len(logged(captured, "container.log_write_failed")) == 1  # not per line

            filler.unlink()
            freed_at = beats(beat)
            await wait_until(lambda: bool(logged(captured, "container.log_write_resumed")))
            await wait_until(lambda: numbers(live)[-1] > freed_at + 50)
            worker.terminate(grace=1)
            await worker.wait_done()

    failure = logged(captured, "container.log_write_failed")[0]
    assert failure["error"] == "No space left on device"
    resumed = logged(captured, "container.log_write_resumed")[0]
    assert int(resumed["lost_records"]) > 0
    found = numbers(live)
    assert found == sorted(found)  # in order; the lines of the full-disk time are missing
    assert found[-1] > freed_at
