"""Containment through the engine, on real processes and the machine's own cgroups.

A cgroup per container (whatever this machine's driver is: v1 on the hybrid layout of the
development machines, v2 where delegated): OOMKilled with its event and restarts, a CPU
quota that holds, an escaping process found and killed, cgroups removed after the pod and
after the daemon, ``top pods`` against the kernel's counters, runAsUser inside a cgroup,
exec hooks in the container's cgroup. The tests that need the kernel to enforce skip with
the reason detection gave where it cannot; the sampling fallback (``containment none``) is
tested here on every machine, and chosen by itself when the cgroups are read-only.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess  # noqa: TID251 - the test runs unshare and the CLI as a user would
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import anyio
import psutil
import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.manifest.quantity import parse_quantity
from minikubelet.model.containment import ContainmentMode
from minikubelet.model.events import EventType
from minikubelet.model.launch import Launch
from minikubelet.model.spec import (
    Container,
    ExecAction,
    Lifecycle,
    ResourceRequirements,
    RestartPolicy,
    SecurityContext,
)
from minikubelet.model.status import PodPhase, PodStatus, Running, Terminated, Waiting
from minikubelet.pod_worker import PodWorker
from minikubelet.runtime.cgroups import ContainerCgroup, V1Container, V2Container
from minikubelet.runtime.cgroups.files import find_key, read_bytes, read_int
from minikubelet.runtime.containment import Cgroups, subtree_for
from minikubelet.runtime.local import LocalRuntime
from minikubelet.runtime.process import ProcessTable
from minikubelet.runtime.stats import sample_memory_many
from minikubelet.settings import Settings
from minikubelet.testing import container, wait_for, wait_for_file, wait_for_status
from tests.api.conftest import TOKEN, unix_client
from tests.conftest import CHILD, PYTHON
from tests.helpers.pods import child, pod, start
from tests.serve.daemon import Daemon

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

MI = 2**20
REPO = Path(__file__).parent.parent.parent
# Allocate and touch N MiB of anonymous memory, then linger (the kernel kills it first).
ALLOCATE = (
    "import sys, time\n"
    "block = bytearray(int(sys.argv[1]) * 2**20)\n"
    "for i in range(0, len(block), 4096): block[i] = 1\n"
    "time.sleep(30)\n"
)
# Spin until argv[1] seconds have passed; touch argv[2] once spinning.
BUSY = (
    "import sys, time\n"
    "end = time.monotonic() + float(sys.argv[1])\n"
    "open(sys.argv[2], 'a').close()\n"
    "while time.monotonic() < end: pass\n"
)
# Clears its environment, then setsid + double-fork: the daemon it leaves has no tag at all.
ESCAPER = ("env", "-i", PYTHON, CHILD, "--spawn", "double-fork", "--forever", "--safety", "30")


def limits(**values: str) -> ResourceRequirements:
    return ResourceRequirements(limits={name: parse_quantity(v) for name, v in values.items()})


def hog(name: str = "hog", megabytes: int = 300, memory: str = "64Mi") -> Container:
    return Container(
        name=name, command=(PYTHON, "-c", ALLOCATE, str(megabytes)), resources=limits(memory=memory)
    )


def cgroups_of(kubelet: Kubelet) -> Cgroups:
    runtime = kubelet.runtime
    assert isinstance(runtime, LocalRuntime)
    assert runtime.cgroups is not None
    return runtime.cgroups


def cgroup_of(kubelet: Kubelet, worker: PodWorker, name: str) -> ContainerCgroup:
    made = cgroups_of(kubelet).made(worker.uid, name)
    assert made is not None, f"no cgroup for {name}"
    return made


def pod_dirs(kubelet: Kubelet, uid: str) -> list[Path]:
    """Every directory of the pod's cgroup, in every hierarchy the driver uses."""
    driver = cgroups_of(kubelet).driver
    roots = driver.directories if hasattr(driver, "directories") else [driver.root]
    return [root / f"pod{uid}" for root in roots]


def oom_killed(name: str) -> Callable[[PodStatus], bool]:
    def done(status: PodStatus) -> bool:
        last = container(status, name).last_state
        state = container(status, name).state
        return any(isinstance(s, Terminated) and s.reason == "OOMKilled" for s in (last, state))

    return done


def oom_events(kubelet: Kubelet, pod_name: str) -> list[str]:
    return [
        e.message
        for e in kubelet.recorder.events(pod=pod_name)
        if e.reason == "OOMKilled" and e.type is EventType.WARNING
    ]


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
async def contained(settings: Settings) -> AsyncIterator[Kubelet]:
    """The default kubelet, if this machine enforces limits with cgroups (else skip)."""
    async with Kubelet(settings) as kubelet:
        info = kubelet.containment
        if info.mode is ContainmentMode.NONE or not info.enforces_memory:
            pytest.skip(f"the kernel cannot enforce limits here: {info.reason}")
        yield kubelet
    assert not await anyio.Path(str(info.location)).exists(), "the runtime's cgroups outlived it"


@pytest.fixture
async def sampled(settings: Settings) -> AsyncIterator[Kubelet]:
    """A kubelet whose runtime uses no cgroup: memory limits enforced by sampling."""
    runtime = LocalRuntime(
        settings.log_rotation, containment="none", cgroup_subtree=subtree_for(settings.root_dir)
    )
    async with Kubelet(settings, runtime=runtime) as kubelet:
        assert kubelet.containment.mode is ContainmentMode.NONE
        yield kubelet


# --- OOM ---------------------------------------------------------------------------------


async def test_a_main_container_over_its_memory_limit_is_oom_killed_and_restarted(
    contained: Kubelet,
) -> None:
    worker = await start(contained, pod("oom", hog(), policy=RestartPolicy.ON_FAILURE))
    status = await wait_for_status(
        worker, lambda s: container(s, "hog").restart_count >= 1 and oom_killed("hog")(s), 60
    )
    last = container(status, "hog").last_state
    assert isinstance(last, Terminated)
    assert (last.reason, last.exit_code, last.signal) == ("OOMKilled", 137, signal.SIGKILL)
    (message, *_) = oom_events(contained, "oom")
    assert "the kernel's OOM killer killed 1 process of container hog" in message
    assert "memory limit 64Mi" in message
    # the limit was the kernel's, in the container's own cgroup
    cgroup = cgroup_of(contained, worker, "hog")
    assert cgroup.oom_kills() >= 1
    if isinstance(cgroup, V1Container):
        assert read_int(cgroup.dirs["memory"] / "memory.limit_in_bytes") == 64 * MI


async def test_restart_policy_never_leaves_the_oom_killed_pod_failed(contained: Kubelet) -> None:
    worker = await start(contained, pod("once", hog(), policy=RestartPolicy.NEVER))
    await worker.wait_done()
    state = container(worker.status, "hog").state
    assert isinstance(state, Terminated)
    assert (state.reason, state.exit_code) == ("OOMKilled", 137)
    assert worker.status.phase is PodPhase.FAILED
    assert container(worker.status, "hog").restart_count == 0
    assert len(oom_events(contained, "once")) == 1


async def test_an_init_container_is_oom_killed_and_retried(contained: Kubelet) -> None:
    app = child("app", "--forever")
    worker = await start(contained, pod("init", app, init=(hog("setup"),)))
    status = await wait_for_status(
        worker, lambda s: container(s, "setup").restart_count >= 1 and oom_killed("setup")(s), 60
    )
    assert status.phase is PodPhase.PENDING
    assert isinstance(container(status, "app").state, Waiting)  # never started
    assert oom_events(contained, "init")


async def test_an_init_container_oom_killed_with_exit_0_has_failed(contained: Kubelet) -> None:
    """A wrapper whose child the kernel killed exits 0: the init container still failed, so
    it runs again and the app never starts (``isInitContainerFailed`` checks the reason)."""
    wrapper = replace(
        hog("setup"),
        command=("sh", "-c", '"$0" -c "$1" 300; echo "child: $?"; exit 0', PYTHON, ALLOCATE),
    )
    app = child("app", "--forever")
    worker = await start(
        contained, pod("wrapped", app, init=(wrapper,), policy=RestartPolicy.ON_FAILURE)
    )
    status = await wait_for_status(worker, lambda s: container(s, "setup").restart_count >= 1, 60)
    last = container(status, "setup").last_state
    assert isinstance(last, Terminated)
    assert (last.reason, last.exit_code) == ("OOMKilled", 0)  # containerd keeps the code
    assert isinstance(container(status, "app").state, Waiting)
    assert worker.log_path("setup", 0).read_text().rstrip().endswith("child: 137")


async def test_the_sampled_limit_kills_a_container_over_it(sampled: Kubelet) -> None:
    """Without cgroups the runtime samples the tree's memory and kills it, OOMKilled."""
    worker = await start(sampled, pod("sampled", hog(), policy=RestartPolicy.NEVER))
    await worker.wait_done()
    state = container(worker.status, "hog").state
    assert isinstance(state, Terminated)
    assert (state.reason, state.exit_code, state.signal) == ("OOMKilled", 137, signal.SIGKILL)
    (message,) = oom_events(sampled, "sampled")
    assert "exceeded its limit of 64Mi (sampled; no cgroup enforces the limit here)" in message


async def test_the_sampled_limit_leaves_a_container_within_it_alone(sampled: Kubelet) -> None:
    small = hog("small", megabytes=16, memory="256Mi")
    worker = await start(sampled, pod("fits", small))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    # Nothing announces "not killed": several sampling intervals (up to 1 s each) pass.
    await anyio.sleep(2.5)
    assert isinstance(container(worker.status, "small").state, Running)
    assert not oom_events(sampled, "fits")


# --- CPU ---------------------------------------------------------------------------------


async def test_a_cpu_limit_of_500m_caps_a_busy_loop(contained: Kubelet, tmp_path: Path) -> None:
    if not contained.containment.enforces_cpu:
        pytest.skip(f"no cpu controller: {contained.containment.reason}")
    ready = tmp_path / "ready"
    # two spinning processes could use both cores; the quota allows half of one
    script = f'"$0" -c "$1" 30 {ready}.1 & "$0" -c "$1" 30 {ready}.2 & wait'
    busy = Container(
        name="busy", command=("sh", "-c", script, PYTHON, BUSY), resources=limits(cpu="500m")
    )
    worker = await start(contained, pod("busy", busy))
    await wait_for_file(Path(f"{ready}.1"))
    await wait_for_file(Path(f"{ready}.2"))
    cgroup = cgroup_of(contained, worker, "busy")
    throttled = _throttled(cgroup)
    before, began = cgroup.usage().cpu_ns, anyio.current_time()
    await anyio.sleep(3.0)  # the measurement window, not a wait for a fact
    after, ended = cgroup.usage().cpu_ns, anyio.current_time()
    assert before is not None
    assert after is not None
    share = (after - before) / 1e9 / (ended - began)
    assert share < 0.5 * 1.2, f"the container used {share:.2f} of a core, above its 0.5 quota"
    assert share > 0.1, f"the busy loop barely ran ({share:.2f} of a core): is the machine busy?"
    assert _throttled(cgroup) > throttled  # the kernel throttled it: the quota capped it


def _throttled(cgroup: ContainerCgroup) -> int:
    if isinstance(cgroup, V1Container):
        return find_key(read_bytes(cgroup.dirs["cpu"] / "cpu.stat"), b"nr_throttled") or 0
    assert isinstance(cgroup, V2Container)
    return find_key(read_bytes(cgroup.dir / "cpu.stat"), b"nr_throttled") or 0


# --- nothing escapes ---------------------------------------------------------------------


async def test_an_escaping_process_is_found_and_killed_with_its_pod(
    contained: Kubelet, tmp_path: Path
) -> None:
    """It clears its environment, calls setsid and double-forks: the cgroup still has it."""
    pids_file = tmp_path / "pids"
    app = Container(name="app", command=(*ESCAPER, "--pids-file", str(pids_file)))
    worker = await start(contained, pod("escape", app))
    escaped = int(await wait_for_file(pids_file))
    main = container(worker.status, "app")
    assert isinstance(main.state, Running)
    assert os.getsid(escaped) != os.getsid(worker.processes()["app"].pid)
    environ = await anyio.Path(f"/proc/{escaped}/environ").read_bytes()
    assert b"MINIKUBELET_CONTAINER" not in environ
    assert escaped in await worker.processes()["app"].processes()
    contained.delete_pod("default", "escape", grace=1)
    with anyio.fail_after(20):
        await worker.wait_done()
    assert not alive(escaped)
    assert not any(path.exists() for path in pod_dirs(contained, worker.uid))


async def test_exec_hooks_run_in_the_containers_cgroup(contained: Kubelet, tmp_path: Path) -> None:
    seen = tmp_path / "hook"
    hook = ExecAction(("sh", "-c", f"cat /proc/self/cgroup > {seen}"))
    app = child("app", "--forever", lifecycle=Lifecycle(post_start=hook))
    worker = await start(contained, pod("hooked", app))
    text = await wait_for_file(seen, contains="\n")
    assert f"/pod{worker.uid}/app" in text


async def test_an_attached_exec_runs_in_the_containers_cgroup(contained: Kubelet) -> None:
    worker = await start(contained, pod("execd", child("app", "--forever")))
    await wait_for_status(worker, lambda s: isinstance(container(s, "app").state, Running))
    argv = ("cat", "/proc/self/cgroup")
    process = await contained.exec_stream("default", "execd", "app", argv, tty=False)
    output = b""

    async def sink(stream: str, data: bytes) -> None:
        nonlocal output
        output += data

    try:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(process.pump_output, sink)
                process.close_stdin()
                await process.wait()
    finally:
        process.close()
    assert f"/pod{worker.uid}/app" in output.decode()


async def test_cgroups_are_made_at_admission_and_gone_after_termination(
    contained: Kubelet, tmp_path: Path
) -> None:
    gate = tmp_path / "go"
    wait = Container(name="wait", command=("sh", "-c", f"until [ -e {gate} ]; do sleep 0.01; done"))
    worker = await start(contained, pod("short", child("app", "--forever"), init=(wait,)))
    await wait_for_status(worker, lambda s: isinstance(container(s, "wait").state, Running))
    dirs = pod_dirs(contained, worker.uid)
    # the app's cgroup is there before its first start, made when the pod was admitted
    assert isinstance(container(worker.status, "app").state, Waiting)
    assert all((path / "wait").is_dir() and (path / "app").is_dir() for path in dirs)
    gate.touch()
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    contained.delete_pod("default", "short", grace=1)
    with anyio.fail_after(20):
        await worker.wait_done()
    assert not any(path.exists() for path in dirs)


async def test_memory_is_sampled_only_for_a_limit_no_cgroup_enforces(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No periodic wake-up for usage: the sampler runs for a memory limit in none mode only."""
    sampled: list[str] = []

    def counting(
        trees: Mapping[int, tuple[str, Sequence[int]]], table: ProcessTable
    ) -> dict[int, int]:
        sampled.extend(tag.split("/")[1] for tag, _ in trees.values())
        return sample_memory_many(trees, table)

    monkeypatch.setattr("minikubelet.runtime.containment.sample_memory_many", counting)
    idle = child("idle", "--forever")
    limited = replace(child("limited", "--forever"), resources=limits(memory="256Mi"))
    for mode in ("auto", "none"):
        runtime = LocalRuntime(
            settings.log_rotation, containment=mode, cgroup_subtree=subtree_for(settings.root_dir)
        )
        sampled.clear()
        async with Kubelet(settings, runtime=runtime) as kubelet:
            worker = await start(kubelet, pod(f"p-{mode}", idle, limited))
            await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
            if kubelet.containment.samples_memory:
                await wait_for(lambda: sampled.count("limited") >= 2)
            else:
                await anyio.sleep(1.5)  # longer than the sampler's longest interval
        assert "idle" not in sampled
        if not kubelet.containment.samples_memory:
            assert sampled == []


# --- usage -------------------------------------------------------------------------------


async def test_top_pods_agrees_with_the_kernel_counters(
    contained: Kubelet, short_tmp: Path, tmp_path: Path
) -> None:
    from minikubelet.server import ApiEndpoints
    from minikubelet.server.serving import serve_api

    ready = tmp_path / "ready"
    program = (
        "import sys, time\n"
        "block = bytearray(48 * 2**20)\n"
        "for i in range(0, len(block), 4096): block[i] = 1\n"
        "open(sys.argv[1], 'w').close()\n"
        "end = time.monotonic() + 30\n"
        "while time.monotonic() < end: pass\n"
    )
    quota = "200m" if contained.containment.enforces_cpu else None
    resources = limits(cpu=quota) if quota else ResourceRequirements()
    app = Container(name="app", command=(PYTHON, "-c", program, str(ready)), resources=resources)
    worker = await start(contained, pod("used", app))
    await wait_for_file(ready)
    cgroup = cgroup_of(contained, worker, "app")
    endpoints = ApiEndpoints(socket=short_tmp / "api.sock", token=TOKEN)
    async with anyio.create_task_group() as group:
        listening = await group.start(serve_api, contained, endpoints)
        command = (PYTHON, "-m", "minikubelet", "top", "pods", "--containers")
        # Run beside the runtime, by the runtime: it reaps every child it does not own.
        top = Launch(
            tag="test/top",
            argv=(*command, "--server", str(listening.socket)),
            cwd=str(REPO),
            env=dict(os.environ),
        )
        before, began = _kernel(cgroup), anyio.current_time()
        result = await contained.runtime.exec(top, timeout=30)
        after, ended = _kernel(cgroup), anyio.current_time()
        async with unix_client(listening.socket) as client:
            summary = (await client.get("/stats/summary")).json()
            kernel = _kernel(cgroup)
        group.cancel_scope.cancel()
    assert result.exit_code == 0, result.output
    header, row = result.output.decode().splitlines()
    assert header.split() == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    name, container_name, cpu, memory = row.split()
    assert (name, container_name) == ("used", "app")
    # memory: the working set (usage minus inactive file pages), in whole MiB, as top prints
    low, high = sorted((before[1], after[1]))
    assert low // MI - 1 <= int(memory.removesuffix("Mi")) <= high // MI + 1
    assert int(memory.removesuffix("Mi")) >= 48
    # cpu: the rate between two samples of the kernel's counter, close to the kernel's own
    kernel_rate = (after[0] - before[0]) / 1e9 / (ended - began)
    top_rate = int(cpu.removesuffix("m")) / 1000
    assert abs(top_rate - kernel_rate) < 0.15, (top_rate, kernel_rate)
    # /stats/summary carries the cumulative counter itself
    (entry,) = [c for p in summary["pods"] for c in p["containers"] if c["name"] == "app"]
    # (through a float of seconds: a few ns of rounding)
    assert after[0] - 1000 <= entry["cpu"]["usageCoreNanoSeconds"] <= kernel[0] + 1000


def _kernel(cgroup: ContainerCgroup) -> tuple[int, int]:
    """(cumulative CPU ns, working set bytes) read straight from the kernel's files."""
    if isinstance(cgroup, V1Container):
        memory = cgroup.dirs["memory"]
        usage = read_int(memory / "memory.usage_in_bytes")
        inactive = find_key(read_bytes(memory / "memory.stat"), b"total_inactive_file") or 0
        return read_int(cgroup.dirs["cpuacct"] / "cpuacct.usage"), usage - inactive
    assert isinstance(cgroup, V2Container)
    usage = read_int(cgroup.dir / "memory.current")
    inactive = find_key(read_bytes(cgroup.dir / "memory.stat"), b"inactive_file") or 0
    cpu = find_key(read_bytes(cgroup.dir / "cpu.stat"), b"usage_usec") or 0
    return cpu * 1000, usage - inactive


# --- identity ----------------------------------------------------------------------------

SYSTEM_PYTHON = "/usr/bin/python3"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory everyone can reach (pytest's own tmp dirs are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="mk-contained-", dir="/tmp"))
    path.chmod(0o777)
    try:
        yield path
    finally:
        shutil.rmtree(path)


@needs_root
async def test_run_as_user_runs_in_the_containers_cgroup(
    contained: Kubelet, shared_dir: Path
) -> None:
    nobody = pwd.getpwnam("nobody")
    report = shared_dir / "report"
    script = (
        f"id -ru > {report}.tmp; cat /proc/self/cgroup >> {report}.tmp; mv {report}.tmp {report}"
    )
    app = Container(
        name="app",
        command=("sh", "-c", script),
        working_dir="/",
        security_context=SecurityContext(run_as_user=nobody.pw_uid),
    )
    worker = await start(contained, pod("nobody", app, policy=RestartPolicy.NEVER))
    await worker.wait_done()
    uid, *cgroups = report.read_text().splitlines()
    assert int(uid) == nobody.pw_uid  # the real uid, from the child itself
    assert any(line.endswith(f"/pod{worker.uid}/app") for line in cgroups)
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated)
    assert state.exit_code == 0


@needs_root
async def test_v2_hands_its_cgroup_to_the_containers_user(
    settings: Settings, shared_dir: Path
) -> None:
    """On cgroup v2 the container's user gets its cgroup delegated: it may make children;
    they are found, killed and removed with the container."""
    runtime = LocalRuntime(
        settings.log_rotation, containment="v2", cgroup_subtree=subtree_for(settings.root_dir)
    )
    nobody = pwd.getpwnam("nobody")
    report = shared_dir / "report"
    script = (
        'p=$(sed -n "s/^0:://p" /proc/self/cgroup); d="$0$p"; id -ru > "$1.tmp"; '
        'echo "$p" >> "$1.tmp"; mkdir "$d/worker"; '
        # echo 0: the writer moves itself (Kubernetes would turn a $$ into $)
        'sh -c \'echo 0 > "$0/cgroup.procs"; exec sleep 30\' "$d/worker" & '
        'until grep -q . "$d/worker/cgroup.procs"; do :; done; '
        'echo "$!" >> "$1.tmp"; mv "$1.tmp" "$1"; wait'
    )
    async with Kubelet(settings, runtime=runtime) as kubelet:
        info = kubelet.containment
        if info.mode is not ContainmentMode.CGROUP_V2:
            pytest.skip(f"no cgroup v2 here: {info.reason}")
        app = Container(
            name="app",
            command=("sh", "-c", script, str(_v2_mount()), str(report)),
            working_dir="/",
            security_context=SecurityContext(run_as_user=nobody.pw_uid),
        )
        worker = await start(kubelet, pod("delegated", app))
        uid, path, sleeper = (await wait_for_file(report, contains="\n")).splitlines()[:3]
        assert int(uid) == nobody.pw_uid
        assert path.endswith(f"/pod{worker.uid}/app")
        cgroup = cgroup_of(kubelet, worker, "app")
        assert isinstance(cgroup, V2Container)
        assert cgroup.dir.stat().st_uid == nobody.pw_uid
        assert (cgroup.dir / "cgroup.procs").stat().st_uid == nobody.pw_uid
        assert (cgroup.dir / "cgroup.kill").stat().st_uid == 0  # not delegated
        assert int(sleeper) in cgroup.pids()  # found in the child cgroup too
        kubelet.delete_pod("default", "delegated", grace=1)
        with anyio.fail_after(20):
            await worker.wait_done()
        assert not alive(int(sleeper))
        assert not cgroup.dir.exists()


def _v2_mount() -> Path:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[fields.index("-") + 1] == "cgroup2":
            return Path(fields[4])
    pytest.skip("no cgroup v2 mount")


# --- the daemon, and the fallback --------------------------------------------------------


def test_the_daemons_cgroups_are_gone_after_it_stops(tmp_path: Path, short_tmp: Path) -> None:
    daemon = Daemon(tmp_path, short_tmp)
    ready = daemon.facts / "ready"
    (daemon.manifests / "app.yaml").write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "app"},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "command": [PYTHON, CHILD, "--forever", "--ready-file", str(ready)],
                            "resources": {"limits": {"memory": "128Mi"}},
                        }
                    ]
                },
            }
        )
    )
    try:
        daemon.start().wait_ready()
        (mode,) = daemon.logs("containment.mode")
        (ready_line,) = daemon.logs("daemon.ready")
        assert ready_line["containment"] == mode["mode"]
        if mode["mode"] == "none":
            pytest.skip(f"no cgroups here: {mode['reason']}")
        location = Path(mode["cgroups"])
        assert location.name == subtree_for(daemon.root)
        daemon.wait_fact("ready")
        pods = [entry for entry in location.iterdir() if entry.name.startswith("pod")]
        assert len(pods) == 1
        assert (pods[0] / "app").is_dir()
        assert daemon.stop() == 0
    finally:
        daemon.close()
    assert not location.exists()
    left = [path for path in _subtree_dirs(location.name) if path.exists()]
    assert not left, f"the daemon left cgroups behind: {left}"


def _subtree_dirs(subtree: str) -> list[Path]:
    """Where a subtree of a process in our cgroups would be, in every hierarchy."""
    found = []
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else ["unified"]:
            mount = Path("/sys/fs/cgroup") / controller
            if controller == "unified" and not mount.is_dir():
                mount = Path("/sys/fs/cgroup")
            found.append(mount / path.lstrip("/") / subtree)
    return found


def test_read_only_cgroups_fall_back_to_sampling_and_say_why(tmp_path: Path) -> None:
    """In a mount namespace whose cgroup mounts are read-only, ``run`` reports the mode and
    still enforces a memory limit, by sampling."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) is not installed")
    manifest = tmp_path / "hog.yaml"
    manifest.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "hog"},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "hog",
                            "command": [PYTHON, "-c", ALLOCATE, "300"],
                            "resources": {"limits": {"memory": "64Mi", "cpu": "1"}},
                        }
                    ],
                },
            }
        )
    )
    remount = (
        "set -e; for m in $(awk '$5 ~ \"^/sys/fs/cgroup\" {print $5}' /proc/self/mountinfo);"
        ' do mount -o remount,bind,ro "$m"; done; exec "$@"'
    )
    namespace = ("unshare", "--mount", "--propagation", "private", "sh", "-c", remount, "sh")
    command = [
        *namespace,
        sys.executable,
        "-m",
        "minikubelet",
        "run",
        "--root-dir",
        str(tmp_path / "root"),
        "--socket",
        str(tmp_path / "s"),
        "--log-format",
        "json",
        "--log-level",
        "info",
        str(manifest),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=REPO)
    if result.returncode != 1 and "unshare" in result.stderr:
        pytest.skip(f"cannot make a mount namespace here: {result.stderr.strip()}")
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    (mode,) = [line for line in lines if line.get("event") == "containment.mode"]
    assert mode["level"] == "warning"
    assert mode["mode"] == "none"
    assert mode["reason"] in {
        "cgroup v1 memory hierarchy is read-only: limits are enforced by sampling",
        "cgroup v2 hierarchy is read-only: limits are enforced by sampling",
    }
    unenforced = {line["field"] for line in lines if line.get("event") == "pod.limit_not_enforced"}
    assert unenforced == {
        "spec.containers[0].resources.limits.cpu",
        "spec.containers[0].resources.limits.memory",
    }
    (oom,) = [line for line in lines if line.get("event") == "container.oom_killed"]
    assert oom["sampled"] is True
    assert "OOMKilled" in result.stderr  # the Warning event, as run prints events
    assert "pod hog: Failed" in result.stderr
