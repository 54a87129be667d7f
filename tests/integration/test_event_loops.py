"""The engine is anyio all the way down: the same lifecycle runs under trio, and on uvloop
(the default loop of ``serve`` and ``run``), which keeps SIGCHLD for itself, so the
runtime's orphan reaper waits on a pipe of its own there (``runtime/local.py``)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import anyio
import psutil
import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.model.spec import (
    Container,
    HTTPGetAction,
    Lifecycle,
    Probe,
    RestartPolicy,
    TCPSocketAction,
)
from minikubelet.model.status import PodPhase, Terminated
from minikubelet.settings import Settings
from minikubelet.testing import container, wait_for, wait_for_file, wait_for_status
from tests.conftest import PYTHON
from tests.helpers.pods import child, pod, py, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture(
    params=["trio", pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop")],
)
def anyio_backend(request: pytest.FixtureRequest) -> object:
    if request.param != "trio":
        pytest.importorskip("uvloop")
    return request.param


async def test_crash_loop(kubelet: Kubelet) -> None:
    worker = await start(kubelet, pod("crash-loop", child("app", "--exit-code", "1")))
    status = await wait_for_status(worker, lambda s: container(s, "app").restart_count >= 2)
    assert status.phase is PodPhase.RUNNING


async def test_graceful_stop_with_pre_stop(kubelet: Kubelet, tmp_path: Path) -> None:
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
    worker = await start(kubelet, pod("graceful-stop", app, grace=1, policy=RestartPolicy.NEVER))
    await wait_for_file(ready)
    worker.terminate()
    await worker.wait_done()
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated)
    assert state.exit_code == 137
    assert marker.read_text() == "ran"


async def test_an_orphan_is_reaped_when_it_exits(kubelet: Kubelet, tmp_path: Path) -> None:
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
    worker = await start(kubelet, pod("orphan", app, grace=1))
    grandchild = int(await wait_for_file(record))
    await wait_for(lambda: not _exists(grandchild), timeout=5)  # a zombie still exists
    worker.terminate()
    await worker.wait_done()


def _exists(pid: int) -> bool:
    try:
        psutil.Process(pid).status()
    except psutil.NoSuchProcess:
        return False
    return True


async def test_containers_spawned_through_the_keeper(settings: Settings) -> None:
    """``serve``'s runtime: the keeper spawns and reaps, exits come over its socket."""
    async with Kubelet(settings, keeper=True) as kubelet:
        worker = await start(kubelet, pod("kept", child("app", "--exit-code", "3")))
        status = await wait_for_status(worker, lambda s: container(s, "app").restart_count >= 2)
        last = container(status, "app").last_state
        assert isinstance(last, Terminated)
        assert last.exit_code == 3
        keeper = kubelet.runtime.table.foster  # type: ignore[attr-defined]
    assert keeper is not None
    pidfd = os.pidfd_open(keeper)  # it is our child: a zombie until reaped, never gone
    try:
        with anyio.fail_after(10):
            await anyio.wait_readable(pidfd)  # it exits once told the pods are stopped
    finally:
        os.close(pidfd)


async def test_http_and_tcp_probes(kubelet: Kubelet, tmp_path: Path) -> None:
    """The probe scheduler and the HTTP fast path, on real sockets."""
    health = tmp_path / "health"
    health.write_text("ok")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    app = child(
        "app",
        "--forever",
        "--http-port",
        str(port),
        "--healthy-file",
        str(health),
        readiness_probe=Probe(HTTPGetAction(port=port, path="/healthz"), period_seconds=1),
        liveness_probe=Probe(TCPSocketAction(port=port), period_seconds=1, failure_threshold=30),
    )
    worker = await start(kubelet, pod("probed", app, grace=1))
    await wait_for_status(worker, lambda s: container(s, "app").ready, timeout=30)
    health.unlink()  # /healthz answers 500 from now on
    await wait_for_status(worker, lambda s: not container(s, "app").ready, timeout=30)
    messages = [e.message for e in kubelet.recorder.events(pod="probed")]
    assert "Readiness probe failed: HTTP probe failed with statuscode: 500" in messages
    assert container(worker.status, "app").restart_count == 0
