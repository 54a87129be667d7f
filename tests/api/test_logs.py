"""Container logs: options, instance selection, errors, and follow across a restart."""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import textwrap
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.logfiles import rotated_files
from minikubelet.model.spec import Container, RestartPolicy
from minikubelet.model.status import PodPhase, PodStatus
from minikubelet.runtime.logs import LogRotation
from minikubelet.server import ApiEndpoints
from minikubelet.server.serving import serve_api
from minikubelet.settings import Settings
from minikubelet.testing import container, wait_for_status
from tests.api.conftest import Server, unix_client
from tests.conftest import PYTHON
from tests.helpers.pods import child, pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

PODS = "/api/v1/namespaces/default/pods"
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"

# Prints "start <pid>" and two more lines. Without the gate file it waits for the gate,
# says "bye <pid>" and exits 1; with the gate already there it stays up (a restart that
# sticks). Exits by itself after 30 s, whatever happens.
SCRIPT = textwrap.dedent(
    """\
    import os, sys, time
    gate = sys.argv[1]
    waited = not os.path.exists(gate)
    print("start", os.getpid(), flush=True)
    print("line 2", flush=True)
    print("oops", file=sys.stderr, flush=True)
    print("line 3", flush=True)
    deadline = time.time() + 30
    while waited and not os.path.exists(gate) and time.time() < deadline:
        time.sleep(0.02)
    if waited:
        print("bye", os.getpid(), flush=True)
        sys.exit(1)
    while time.time() < deadline:
        time.sleep(0.2)
    """
)


def gated(name: str, gate: Path) -> Container:
    return Container(name=name, command=(PYTHON, "-c", SCRIPT, str(gate)))


async def running_pod(server: Server, name: str, *containers: Container) -> None:
    worker = await start(server.kubelet, pod(name, *containers, policy=RestartPolicy.ON_FAILURE))
    names = [c.name for c in containers]
    await wait_for_status(worker, lambda s: all(container(s, n).started for n in names), timeout=10)


async def log(server: Server, name: str, **params: str) -> str:
    response = await server.client.get(f"{PODS}/{name}/log", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def wait_for_log(server: Server, name: str, text: str, **params: str) -> str:
    with anyio.fail_after(10):
        while True:
            got = await log(server, name, **params)
            if text in got:
                return got
            await anyio.sleep(0.02)


async def test_the_log_of_the_only_container(server: Server, tmp_path: Path) -> None:
    await running_pod(server, "one", gated("app", tmp_path / "never"))
    text = await wait_for_log(server, "one", "line 3")
    lines = text.splitlines()
    assert re.fullmatch(r"start \d+", lines[0])
    assert [line for line in lines if line != "oops"][1:] == ["line 2", "line 3"]
    assert "oops" in lines  # stderr, interleaved with stdout in the order it was written
    assert await log(server, "one", container="app") == text


async def test_options(server: Server, tmp_path: Path) -> None:
    await running_pod(server, "opts", gated("app", tmp_path / "never"))
    text = await wait_for_log(server, "opts", "line 3")
    last = text.splitlines()[-1]  # "line 3" or "oops": the two streams race to the file
    assert await log(server, "opts", tailLines="1") == last + "\n"
    assert await log(server, "opts", tailLines="2") == "\n".join(text.splitlines()[-2:]) + "\n"
    assert await log(server, "opts", tailLines="0") == ""
    assert await log(server, "opts", tailLines="100") == text
    assert await log(server, "opts", limitBytes="5") == "start"
    assert await log(server, "opts", stream="Stderr") == "oops\n"
    stamped = await log(server, "opts", timestamps="true", tailLines="1")
    assert re.fullmatch(f"{STAMP} {last}\n", stamped)
    later = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert await log(server, "opts", sinceTime=later) == ""
    assert await log(server, "opts", sinceSeconds="60") == text
    # The kubelet's own path and its legacy tail parameter.
    response = await server.client.get("/containerLogs/default/opts/app", params={"tail": "2"})
    assert response.status_code == 200
    assert response.text.splitlines() == text.splitlines()[-2:]


async def test_container_choice(server: Server, tmp_path: Path) -> None:
    await running_pod(server, "two", gated("web", tmp_path / "g1"), gated("side", tmp_path / "g2"))
    response = await server.client.get(f"{PODS}/two/log")
    assert response.status_code == 400
    assert response.json()["message"] == (
        "a container name must be specified for pod two, choose one of: [web side]"
    )
    response = await server.client.get(f"{PODS}/two/log", params={"container": "nope"})
    assert response.status_code == 400
    assert response.json()["reason"] == "BadRequest"
    assert response.json()["message"] == "container nope is not valid for pod two"
    assert (await wait_for_log(server, "two", "line 3", container="side")).startswith("start")


async def test_previous_without_a_previous_instance(server: Server, tmp_path: Path) -> None:
    await running_pod(server, "fresh", gated("app", tmp_path / "never"))
    response = await server.client.get(f"{PODS}/fresh/log", params={"previous": "true"})
    assert response.status_code == 400
    assert response.json()["message"] == (
        'previous terminated container "app" in pod "fresh" not found'
    )


async def test_a_waiting_container(server: Server) -> None:
    blocker = child("init", "--forever")
    await start(server.kubelet, pod("waits", child("app", "--forever"), init=(blocker,)))
    response = await server.client.get(f"{PODS}/waits/log", params={"container": "app"})
    assert response.status_code == 400
    assert response.json()["message"] == (
        'container "app" in pod "waits" is waiting to start: PodInitializing'
    )
    response = await server.client.get(f"{PODS}/nope/log")
    assert response.status_code == 404
    assert response.json()["message"] == 'pods "nope" not found'


async def test_invalid_options(server: Server, tmp_path: Path) -> None:
    await running_pod(server, "inv", gated("app", tmp_path / "never"))
    response = await server.client.get(f"{PODS}/inv/log", params={"tailLines": "-1"})
    assert response.status_code == 422
    status = response.json()
    assert status["reason"] == "Invalid"
    assert status["message"] == (
        'PodLogOptions "inv" is invalid: tailLines: Invalid value: -1: '
        "must be greater than or equal to 0"
    )
    response = await server.client.get(
        f"{PODS}/inv/log", params={"sinceSeconds": "5", "sinceTime": "2020-01-01T00:00:00Z"}
    )
    assert response.status_code == 422
    for params in ({"follow": "maybe"}, {"limitBytes": "lots"}, {"sinceTime": "yesterday"}):
        response = await server.client.get(f"{PODS}/inv/log", params=params)
        assert response.status_code == 400, params


async def test_follow_ends_when_the_instance_exits(server: Server, tmp_path: Path) -> None:
    """``logs -f`` shows lines as they come and ends at a restart; ``previous`` is that run."""
    gate = tmp_path / "gate"
    worker = await start(
        server.kubelet, pod("crash", gated("app", gate), policy=RestartPolicy.ON_FAILURE)
    )
    await wait_for_status(worker, lambda s: bool(container(s, "app").started))
    await wait_for_log(server, "crash", "line 3")
    received = ""
    with anyio.fail_after(15):
        async with server.client.stream(
            "GET", f"{PODS}/crash/log", params={"follow": "true"}, timeout=None
        ) as response:
            assert response.status_code == 200
            async for chunk in response.aiter_text():
                received += chunk
                if "line 3" in received and not gate.exists():
                    gate.write_text("open")  # now it says bye and exits 1
        # The loop ended: the server closed the stream when that instance exited.
    first_pid = re.match(r"start (\d+)\n", received)
    assert first_pid is not None
    assert received.endswith(f"bye {first_pid[1]}\n")
    assert worker.records()["app"].instances[-1].exit is not None

    def restarted(status: PodStatus) -> bool:
        app = container(status, "app")
        return app.restart_count == 1 and bool(app.started)

    status = await wait_for_status(worker, restarted)
    assert status.phase is PodPhase.RUNNING
    last = container(status, "app").last_state
    assert last is not None
    assert last.container_id == f"process://{first_pid[1]}"
    assert await log(server, "crash", previous="true") == received
    current = await wait_for_log(server, "crash", "line 3")
    assert current.startswith("start ")
    assert f"start {first_pid[1]}" not in current


ROTATING = textwrap.dedent(
    """\
    import os, sys, time
    deadline = time.time() + 30
    while not os.path.exists(sys.argv[1]) and time.time() < deadline:
        time.sleep(0.02)
    for i in range(40):
        print(f"line {i:02d} " + "x" * 40, flush=True)
        time.sleep(0.03)
    """
)


async def test_follow_goes_on_across_rotation(settings: Settings, tmp_path: Path) -> None:
    """A rotated live file is followed into the new one: no line is lost or repeated."""
    rotating = replace(settings, log_rotation=LogRotation(max_size=500, max_files=3))
    gate = tmp_path / "gate"
    app = Container(name="app", command=(PYTHON, "-c", ROTATING, str(gate)))
    sock = Path(tempfile.mkdtemp(prefix="mk", dir="/tmp")) / "mk.sock"
    async with Kubelet(rotating) as kubelet, anyio.create_task_group() as group:
        await group.start(serve_api, kubelet, ApiEndpoints(socket=sock))
        worker = await start(kubelet, pod("rot", app, policy=RestartPolicy.NEVER))
        await wait_for_status(worker, lambda s: bool(container(s, "app").started))
        received = ""
        async with unix_client(sock) as client:
            with anyio.fail_after(20):
                async with client.stream(
                    "GET", f"{PODS}/rot/log", params={"follow": "true"}, timeout=None
                ) as response:
                    gate.write_text("go")
                    async for chunk in response.aiter_text():
                        received += chunk
        group.cancel_scope.cancel()
    sock.parent.rmdir()
    expected = [f"line {i:02d} " + "x" * 40 for i in range(40)]
    assert received.splitlines() == expected
    rotated = list(worker.log_path("app", 0).parent.glob("0.log.*"))
    assert rotated, "the log never rotated: the test proves nothing"


@contextlib.asynccontextmanager
async def rotating_server(settings: Settings, rotation: LogRotation) -> AsyncIterator[Server]:
    socket_dir = Path(tempfile.mkdtemp(prefix="mk", dir="/tmp"))
    try:
        async with (
            Kubelet(replace(settings, log_rotation=rotation)) as kubelet,
            anyio.create_task_group() as group,
        ):
            endpoints = ApiEndpoints(socket=socket_dir / "mk.sock")
            listening = await group.start(serve_api, kubelet, endpoints)
            async with unix_client(socket_dir / "mk.sock") as client:
                yield Server(kubelet, listening, client)
            group.cancel_scope.cancel()
    finally:
        shutil.rmtree(socket_dir, ignore_errors=True)


# The first run prints 300 numbered lines and fails; the second one stays up.
TWO_RUNS = textwrap.dedent(
    """\
    import os, sys, time
    if not os.path.exists(sys.argv[1]):
        for i in range(300):
            print(f"first {i:03d} " + "x" * 40, flush=True)
        open(sys.argv[1], "w").close()
        sys.exit(1)
    print("second run", flush=True)
    time.sleep(30)
    """
)
FIRST = [f"first {i:03d} " + "x" * 40 for i in range(300)]


async def test_previous_tail_and_limits_span_the_rotated_files(
    settings: Settings, tmp_path: Path
) -> None:
    rotation = LogRotation(max_size=1024, max_files=1000)
    app = Container(name="app", command=(PYTHON, "-c", TWO_RUNS, str(tmp_path / "ran")))
    async with rotating_server(settings, rotation) as server:
        worker = await start(server.kubelet, pod("two", app, policy=RestartPolicy.ON_FAILURE))
        await wait_for_status(worker, lambda s: container(s, "app").restart_count == 1, timeout=10)
        assert await wait_for_log(server, "two", "second run") == "second run\n"
        found = rotated_files(worker.log_path("app", 0))
        assert sum(f.compressed for f in found.values()) > 10  # it proves something

        def text(lines: list[str]) -> str:
            return "".join(line + "\n" for line in lines)

        assert await log(server, "two", previous="true") == text(FIRST)
        assert await log(server, "two", previous="true", tailLines="5") == text(FIRST[-5:])
        assert await log(server, "two", previous="true", tailLines="250") == text(FIRST[-250:])
        assert await log(server, "two", previous="true", tailLines="1000") == text(FIRST)
        assert await log(server, "two", previous="true", limitBytes="30") == text(FIRST)[:30]
        assert await log(server, "two", previous="true", sinceSeconds="600") == text(FIRST)
        assert await log(server, "two", previous="true", stream="Stderr") == ""
        stamped = await log(server, "two", previous="true", timestamps="true", tailLines="2")
        assert re.fullmatch(f"{STAMP} {FIRST[-2]}\n{STAMP} {FIRST[-1]}\n", stamped)
        response = await server.client.get(
            "/containerLogs/default/two/app", params={"previous": "true", "tail": "3"}
        )
        assert response.text == text(FIRST[-3:])


async def test_a_log_rotated_at_the_very_end_is_not_empty(settings: Settings) -> None:
    """Every write rotates, so the finished container's live file is empty."""
    rotation = LogRotation(max_size=1, max_files=1000)
    lines = [f"line {i}" for i in range(20)]
    app = child("app", *(arg for line in lines for arg in ("--print", line)))
    async with rotating_server(settings, rotation) as server:
        worker = await start(server.kubelet, pod("end", app, policy=RestartPolicy.NEVER))
        await worker.wait_done()
        assert worker.log_path("app", 0).read_bytes() == b""
        assert await log(server, "end") == "".join(line + "\n" for line in lines)
        assert await log(server, "end", tailLines="3") == "".join(f"{x}\n" for x in lines[-3:])
        assert await log(server, "end", follow="true") == "".join(f"{x}\n" for x in lines)


# Waits for the gate, then writes 3000 numbered lines, a little at a time.
PACED = textwrap.dedent(
    """\
    import os, sys, time
    deadline = time.time() + 30
    while not os.path.exists(sys.argv[1]) and time.time() < deadline:
        time.sleep(0.02)
    for i in range(3000):
        print(f"n {i:04d} " + "y" * 30, flush=True)
        if i % 100 == 99:
            time.sleep(0.01)
    """
)


async def test_follow_gets_every_line_once_across_many_rotations(
    settings: Settings, tmp_path: Path
) -> None:
    rotation = LogRotation(max_size=2048, max_files=1000)
    gate = tmp_path / "gate"
    app = Container(name="app", command=(PYTHON, "-c", PACED, str(gate)))
    async with rotating_server(settings, rotation) as server:
        worker = await start(server.kubelet, pod("paced", app, policy=RestartPolicy.NEVER))
        await wait_for_status(worker, lambda s: bool(container(s, "app").started))
        received = ""
        with anyio.fail_after(30):
            async with server.client.stream(
                "GET", f"{PODS}/paced/log", params={"follow": "true"}, timeout=None
            ) as response:
                gate.write_text("go")
                async for chunk in response.aiter_text():
                    received += chunk
        rotations = max(rotated_files(worker.log_path("app", 0)))
    assert rotations > 20
    assert received.splitlines() == [f"n {i:04d} " + "y" * 30 for i in range(3000)]
