"""Container logs: CRI format on disk, both streams, partial lines, one file per instance."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.model.spec import RestartPolicy
from minikubelet.runtime.logs import MAX_LINE
from minikubelet.testing import container, wait_for_status
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
    assert rows[-1] == ("stdout", "F", "tail")  # a last line without newline is still written


async def test_long_lines_are_split_into_partial_records(kubelet: Kubelet) -> None:
    long = "x" * (MAX_LINE + 100)
    worker = await start(
        kubelet, pod("long", child("app", "--print", long), policy=RestartPolicy.NEVER)
    )
    await worker.wait_done()
    rows = records(worker.log_path("app", 0))
    assert rows == [("stdout", "P", "x" * MAX_LINE), ("stdout", "F", "x" * 100)]


async def test_each_instance_gets_its_own_file(kubelet: Kubelet) -> None:
    worker = await start(kubelet, pod("files", child("app", "--print", "hi", "--exit-code", "1")))
    await wait_for_status(worker, lambda s: container(s, "app").restart_count >= 2)
    for restart in (0, 1):
        assert records(worker.log_path("app", restart)) == [("stdout", "F", "hi")]
    assert worker.log_path("app", 0).parent.name == "app"
    assert worker.log_path("app", 0).parent.parent.name == f"default_files_{worker.uid}"


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
