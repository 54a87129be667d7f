"""The keeper-backed local runtime's adoption, on real processes: what it refuses dies."""

from __future__ import annotations

import contextlib
import os
import subprocess  # noqa: TID251 - a stray tagged process, as a dead keeper leaves one
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from minikubelet.logic.adoption import AdoptionRefused, ProcessIdentity
from minikubelet.model.launch import Launch
from minikubelet.runtime.cgroups import V1Container
from minikubelet.runtime.local import LocalContainer, LocalRuntime
from minikubelet.runtime.process import TAG_VARIABLE

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

CONTAINMENTS = ["none", "auto"]


async def read_when_written(path: Path, timeout: float = 10.0) -> str:
    """``path``'s content once it exists (the writer renames it into place)."""
    written = anyio.Path(path)
    with anyio.fail_after(timeout):
        while not await written.exists():  # noqa: ASYNC110 - a file another process writes
            await anyio.sleep(0.005)
    return await written.read_text()


def ticks_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19])


@contextlib.asynccontextmanager
async def running(runtime: LocalRuntime) -> AsyncIterator[LocalRuntime]:
    """Run ``runtime``; once it is stopped, wait for its keeper to exit."""
    async with anyio.create_task_group() as group:
        await group.start(runtime.run)
        keeper = runtime.table.foster
        yield runtime
        group.cancel_scope.cancel()
    assert keeper is not None
    with contextlib.suppress(ProcessLookupError):
        pidfd = os.pidfd_open(keeper)
        try:
            with anyio.fail_after(10):
                await anyio.wait_readable(pidfd)
        finally:
            os.close(pidfd)


@pytest.mark.parametrize("containment", CONTAINMENTS)
async def test_a_stray_tagged_process_is_killed_when_its_container_is_not_adopted(
    containment: str, short_tmp: Path, tmp_path: Path
) -> None:
    """A process carrying a container's tag outside any keeper (a dead keeper's orphan)."""
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    env = dict(os.environ, **{TAG_VARIABLE: "strayuid/app"})
    stray = subprocess.Popen(sleeper, env=env, start_new_session=True)  # noqa: ASYNC220 - a fork
    try:
        launch = Launch(tag="strayuid/app", argv=("x",), cwd="/", log_path=tmp_path / "0.log")
        runtime = LocalRuntime(keeper=short_tmp, containment=containment)  # type: ignore[arg-type]
        async with running(runtime):
            identity = ProcessIdentity(stray.pid, ticks_of(stray.pid))
            refused = await runtime.adopt(launch, identity, 0.0)
            assert isinstance(refused, AdoptionRefused)
            assert "no process of the keeper" in refused.reason
            # Killed already (it would sleep for a minute); the runtime's orphan reaper,
            # in this process (its parent), may have taken the status before Popen.
            assert stray.poll() is not None
    finally:
        if stray.poll() is None:
            stray.kill()
            stray.wait()


@pytest.mark.parametrize("containment", CONTAINMENTS)
async def test_nothing_held_means_nothing_adopted_and_nothing_killed(
    containment: str, short_tmp: Path, tmp_path: Path
) -> None:
    launch = Launch(tag="uid/app", argv=("x",), cwd="/", log_path=tmp_path / "0.log")
    runtime = LocalRuntime(keeper=short_tmp, containment=containment)  # type: ignore[arg-type]
    async with running(runtime):
        me = ProcessIdentity(os.getpid(), ticks_of(os.getpid()))
        refused = await runtime.adopt(launch, me, 0.0)
        assert isinstance(refused, AdoptionRefused)
        assert await runtime.kill_unadopted() == []


async def test_an_adopted_container_goes_on_and_its_dead_daemon_s_execs_are_killed(
    short_tmp: Path, tmp_path: Path
) -> None:
    """Without cgroups a runtime can hand over in-process: stopped, it leaves its keeper
    running the container; the next one adopts it (and kills an orphaned probe)."""
    sleeper = (sys.executable, "-c", "import time; time.sleep(60)")
    launch = Launch(tag="uid/app", argv=sleeper, cwd="/", env={}, log_path=tmp_path / "0.log")
    earlier = LocalRuntime(keeper=short_tmp, containment="none")
    async with anyio.create_task_group() as group:
        await group.start(earlier.run)
        process = await earlier.start(launch)
        group.cancel_scope.cancel()
    env = dict(os.environ, **{TAG_VARIABLE: "uid/app/exec/7"})
    probe = subprocess.Popen(sleeper, env=env, start_new_session=True)  # noqa: ASYNC220
    try:
        later = LocalRuntime(keeper=short_tmp, containment="none")
        async with running(later):
            identity = ProcessIdentity(process.pid, ticks_of(process.pid))
            adopted = await later.adopt(launch, identity, anyio.current_time())
            assert not isinstance(adopted, AdoptionRefused)
            assert adopted.pid == process.pid
            assert probe.poll() is not None  # the orphaned probe: killed
            assert await later.kill_unadopted() == []
            assert adopted.signal_main(15)
            with anyio.fail_after(10):
                status = await adopted.wait()
            assert status.signal == 15
            await adopted.kill_all()
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.wait()


async def test_on_cgroup_v1_the_keeper_forks_inside_the_container_s_cgroups(
    short_tmp: Path, tmp_path: Path
) -> None:
    """No migration at start: the keeper's own thread, parked in the container's cgroups,
    forks the process; the keeper is never listed as the container's (nor killed with it),
    and its thread is let go when the pod's cgroups are removed."""
    runtime = LocalRuntime(keeper=short_tmp, containment="v1")
    seen = tmp_path / "cgroup"
    script = f"cat /proc/self/cgroup > {seen}.tmp && mv {seen}.tmp {seen} && exec sleep 60"
    launch = Launch(
        tag="keptuid/app", argv=("/bin/sh", "-c", script), cwd="/", log_path=tmp_path / "0.log"
    )
    async with running(runtime):
        await runtime.prepare_pod("keptuid", {})
        container = await runtime.start(launch)
        keeper = runtime.table.foster
        assert keeper is not None
        cgroup = container.cgroup
        assert isinstance(cgroup, V1Container)
        # What the container's first child saw of itself, in every hierarchy used
        lines = (await read_when_written(seen)).splitlines()
        memberships = {line.split(":")[1]: line.split(":")[2] for line in lines}
        assert memberships["memory"].endswith("/podkeptuid/app")
        procs = {int(pid) for pid in (cgroup.dirs["memory"] / "cgroup.procs").read_text().split()}
        assert keeper in procs  # its parked thread
        assert keeper not in cgroup.pids()
        assert container.pid in cgroup.pids()
        report = await container.kill_all()
        assert container.pid in report.killed
        assert keeper not in report.killed
        await container.wait()
        assert Path(f"/proc/{keeper}").is_dir()  # noqa: ASYNC240 - procfs
        await runtime.remove_pod("keptuid")
        assert not cgroup.dirs["memory"].exists()
        assert os.listdir(f"/proc/{keeper}/task") == [str(keeper)]  # the thread is gone


async def test_a_burst_of_spawns_larger_than_the_socket_buffer_all_start(
    short_tmp: Path, tmp_path: Path
) -> None:
    """A hundred spawns at once, each carrying 16 KiB of environment, cannot all go into
    the keeper's socket at once: what does not fit waits, and every one starts."""
    runtime = LocalRuntime(keeper=short_tmp, containment="none")
    env = {"PADDING": "x" * 16384, "PATH": os.environ["PATH"]}

    def launch(index: int) -> Launch:
        return Launch(
            tag=f"burst{index}/app",
            argv=("sleep", "60"),
            cwd="/",
            env=env,
            log_path=tmp_path / f"{index}.log",
        )

    async with running(runtime):
        started: list[LocalContainer] = []

        async def start(index: int) -> None:
            started.append(await runtime.start(launch(index)))

        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                for index in range(100):
                    group.start_soon(start, index)
        try:
            assert len({container.pid for container in started}) == 100
            assert all(alive(container.pid) for container in started)
        finally:
            for container in started:
                await container.kill_all()
                await container.wait()


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
