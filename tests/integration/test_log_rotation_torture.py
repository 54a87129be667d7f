"""Rotation torture: a container writing numbered lines at full speed, many rotations a
second; then every CRI file is checked line by line.

What it proves: rotated names never collide (so nothing is overwritten), retention keeps
exactly the newest ``containerLogMaxFiles`` (live file included), the kept files hold a
gap-free suffix of the output in order with the right tags, and only the newest rotated
file is left uncompressed.
"""

from __future__ import annotations

import gzip
import re
import stat
import textwrap
from dataclasses import replace
from pathlib import Path

import anyio
import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.logfiles import compressed_path, rotated_files, rotated_path
from minikubelet.model.spec import Container, RestartPolicy
from minikubelet.model.status import Terminated
from minikubelet.runtime.logs import LogRotation
from minikubelet.settings import Settings
from minikubelet.testing import container
from tests.conftest import PYTHON
from tests.helpers.pods import pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

LINES = 200_000  # 100 bytes each: 20 MB of output, 27 MB of CRI records
LINE = 100
MAX_SIZE = 256 * 1024  # about 100 rotations

# Writes LINES numbered lines of exactly LINE bytes (newline included) in big writes,
# as fast as the pipe takes them.
WRITER = textwrap.dedent(
    f"""\
    import os
    out = os.fdopen(1, "wb", buffering=0)
    pad = b"x" * ({LINE} - 10)
    batch = []
    for i in range({LINES}):
        batch.append(b"%08d " % i + pad + b"\\n")
        if len(batch) == 1000:
            out.write(b"".join(batch))
            batch = []
    out.write(b"".join(batch))
    """
)

RECORD = re.compile(rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (stdout|stderr) (F|P) (.*)")


def file_bytes(live: Path, sequence: int | None) -> bytes:
    if sequence is None:
        return live.read_bytes()
    plain = rotated_path(live, sequence)
    if plain.exists():
        return plain.read_bytes()
    return gzip.decompress(compressed_path(live, sequence).read_bytes())


@pytest.mark.parametrize("max_files", [1000, 30, 3], ids=["all kept", "many", "few"])
async def test_rotation_torture(settings: Settings, max_files: int) -> None:
    rotating = replace(settings, log_rotation=LogRotation(max_size=MAX_SIZE, max_files=max_files))
    app = Container(name="app", command=(PYTHON, "-c", WRITER))
    started = anyio.current_time()
    async with Kubelet(rotating) as kubelet:
        worker = await start(kubelet, pod("torture", app, policy=RestartPolicy.NEVER))
        await worker.wait_done()
    elapsed = anyio.current_time() - started
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated)
    assert state.exit_code == 0
    live = worker.log_path("app", 0)
    found = rotated_files(live)
    rotations = max(found)
    # The point of the test: several rotations a second, where names by the second collide.
    assert rotations / elapsed > 1, f"{rotations} rotations in {elapsed:.1f} s"
    assert rotations >= LINES * LINE // MAX_SIZE

    # Retention: exactly the newest max_files - 1 rotated files, plus the live one.
    kept = min(max_files - 1, rotations)
    assert sorted(found) == list(range(rotations - kept + 1, rotations + 1))
    newest = max(found)
    for sequence, item in found.items():
        assert not item.in_progress
        assert item.plain != item.compressed, item  # one copy each
        assert item.plain == (sequence == newest)  # only the newest stays plain
    names = [p for p in live.parent.iterdir() if p.name.startswith("0.log")]
    assert len(names) == kept + 1
    for path in names:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(live.parent.stat().st_mode) == 0o700

    # Every kept file, line by line: whole records, tagged F, numbers consecutive.
    expected_number: int | None = None
    last_stamp = b""
    for kept_file in [*sorted(found), None]:
        data = file_bytes(live, kept_file)
        assert data == b"" or data.endswith(b"\n"), kept_file
        for raw in data.split(b"\n")[:-1]:
            match = RECORD.fullmatch(raw)
            assert match is not None, raw[:120]
            stamp, stream, tag, text = match.groups()
            assert (stream, tag) == (b"stdout", b"F"), raw[:120]
            assert len(text) == LINE - 1
            number = int(text[:8])
            if expected_number is None:
                expected_number = number
            assert number == expected_number, f"file {kept_file}: {number} != {expected_number}"
            assert text == b"%08d " % number + b"x" * (LINE - 10)
            assert stamp >= last_stamp
            last_stamp = stamp
            expected_number += 1
    assert expected_number == LINES  # the last line is there
    if max_files == 1000:
        assert rotations < max_files  # nothing was pruned: every line, from the first
        first = file_bytes(live, 1).split(b"\n", 1)[0]
        assert first.endswith(b" stdout F 00000000 " + b"x" * (LINE - 10))
