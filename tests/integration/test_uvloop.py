"""The engine on uvloop, the default event loop of ``serve`` and ``run``.

uvloop keeps SIGCHLD for itself, so the runtime's orphan reaper waits on a pipe of its
own there (``runtime/local.py``): orphans re-parented to us must still be reaped at once.
"""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.model.spec import Container, Lifecycle, RestartPolicy
from minikubelet.model.status import PodPhase, Terminated
from minikubelet.testing import container, wait_for, wait_for_file, wait_for_status
from tests.conftest import PYTHON
from tests.helpers.pods import child, pod, py, start

pytest.importorskip("uvloop")

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    return "asyncio", {"use_uvloop": True}


async def test_crash_loop_on_uvloop(kubelet: Kubelet) -> None:
    worker = await start(kubelet, pod("uv-loop", child("app", "--exit-code", "1")))
    status = await wait_for_status(worker, lambda s: container(s, "app").restart_count >= 2)
    assert status.phase is PodPhase.RUNNING


async def test_an_orphan_is_reaped_on_uvloop(kubelet: Kubelet, tmp_path: Path) -> None:
    """A double-forked grandchild is re-parented to us (the subreaper); its exit is reaped
    when it comes, not left a zombie."""
    record = tmp_path / "grandchild"
    script = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        time.sleep(0.3)\n"
        "        os._exit(0)\n"
        f"    open({str(record)!r} + '.tmp', 'w').write(str(pid))\n"
        f"    os.rename({str(record)!r} + '.tmp', {str(record)!r})\n"
        "    os._exit(0)\n"
        "os.wait()\n"
        "time.sleep(60)\n"
    )
    app = Container(name="app", command=(PYTHON, "-c", script))
    worker = await start(kubelet, pod("uv-orphan", app, grace=1))
    grandchild = int(await wait_for_file(record))
    await wait_for(lambda: not _exists(grandchild), timeout=5)  # a zombie still exists
    worker.terminate()
    await worker.wait_done()


async def test_graceful_stop_kills_a_double_fork_on_uvloop(
    kubelet: Kubelet, tmp_path: Path
) -> None:
    ready, marker = tmp_path / "ready", tmp_path / "prestop"
    hook = py(f"open({str(marker)!r}, 'w').write('ran')")
    app = child(
        "app",
        "--forever",
        "--ignore-sigterm",
        "--spawn",
        "double-fork",
        "--ready-file",
        str(ready),
        lifecycle=Lifecycle(pre_stop=hook),
    )
    worker = await start(kubelet, pod("uv-stop", app, grace=1, policy=RestartPolicy.NEVER))
    await wait_for_file(ready)
    worker.terminate()
    await worker.wait_done()
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated)
    assert state.exit_code == 137
    assert marker.read_text() == "ran"


def _exists(pid: int) -> bool:
    try:
        psutil.Process(pid).status()
    except psutil.NoSuchProcess:
        return False
    return True
