"""The cgroup driver on real cgroups: placement, escape-proof kill, OOM, CPU quota, usage, fallback.

These run on the machine's own cgroups (as root, with a writable hierarchy) and skip with the
reason detection gives where that is impossible. Every cgroup a test makes lives under a
subtree named after this test process, and a fixture checks that each test removed its pods
and, at the end, that the subtree itself is gone.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess  # noqa: TID251 - the test runs unshare and programs as a user would
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import anyio
import pytest

from minikubelet.logic.qos import CgroupResources
from minikubelet.model.launch import ExitStatus
from minikubelet.runtime.cgroups import (
    SpawnPlan,
    V1Container,
    V1Driver,
    V2Container,
    V2Driver,
    detect,
)
from minikubelet.runtime.cgroups.files import find_key, read_bytes, read_int, write_value
from minikubelet.runtime.process import ChildProcess, ProcessTable
from minikubelet.runtime.process import spawn as process_spawn
from tests.conftest import CHILD, PYTHON

pytestmark = pytest.mark.integration

SUBTREE = f"minikubelet-test-{os.getpid()}"
MI = 2**20

# Clears its environment, then setsid + double-fork: the daemon it leaves has no tag at all.
ESCAPER = ("env", "-i", PYTHON, CHILD, "--spawn", "double-fork", "--forever", "--safety", "30")
# Allocate and touch N MiB of anonymous memory, then linger (the kernel kills it first).
ALLOCATE = (
    "import sys, time\n"
    "block = bytearray(int(sys.argv[1]) * 2**20)\n"
    "for i in range(0, len(block), 4096): block[i] = 1\n"
    "time.sleep(30)\n"
)
# Spin until argv[1] seconds have passed on the wall clock; touch argv[2] once spinning.
BUSY = (
    "import sys, time\n"
    "end = time.monotonic() + float(sys.argv[1])\n"
    "open(sys.argv[2], 'a').close()\n"
    "while time.monotonic() < end: pass\n"
)


# --- fixtures and helpers ----------------------------------------------------------------


@pytest.fixture(scope="module")
def v1() -> Iterator[V1Driver]:
    driver = detect(SUBTREE, layout="v1", idle_timeout=5.0)
    if not isinstance(driver, V1Driver):
        pytest.skip(f"no cgroup v1 driver here: {driver.reason}")
    yield driver
    driver.close()
    leftovers = [root for root in driver.directories if root.exists()]
    assert not leftovers, f"cgroup subtree roots left behind: {leftovers}"


@pytest.fixture(scope="module")
def v2() -> Iterator[V2Driver]:
    driver = detect(SUBTREE, layout="v2")
    if not isinstance(driver, V2Driver):
        pytest.skip(f"no cgroup v2 driver here: {driver.reason}")
    yield driver
    driver.close()
    assert not driver.root.exists(), f"cgroup subtree root left behind: {driver.root}"


def _check_removed(driver: V1Driver | V2Driver, before: list[str]) -> None:
    """Fail the test that left pod cgroups behind, after killing and removing them."""
    left = [uid for uid in driver.pods() if uid not in before]
    for uid in left:
        for name in driver.pod_containers(uid):
            driver.container(uid, name).kill_all()
        driver.remove_pod(uid, timeout=5.0)
    assert not left, f"test left pod cgroups behind: {left}"


@pytest.fixture
def pod_v1(v1: V1Driver) -> Iterator[str]:
    """A fresh pod uid; its cgroups must be gone when the test ends."""
    before = v1.pods()
    yield str(uuid.uuid4())
    _check_removed(v1, before)


@pytest.fixture
def pod_v2(v2: V2Driver) -> Iterator[str]:
    before = v2.pods()
    yield str(uuid.uuid4())
    _check_removed(v2, before)


def popen_start(**options: object) -> Callable[[SpawnPlan], subprocess.Popen[bytes]]:
    """A ``start`` as the runtime's: Popen, own session, stdin /dev/null unless the plan says."""

    def start(plan: SpawnPlan) -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
            plan.argv,
            stdin=subprocess.DEVNULL if plan.stdin is None else plan.stdin,
            start_new_session=True,
            close_fds=True,
            **options,
        )

    return start


def spawn(
    cgroup: V1Container | V2Container, argv: Sequence[str], **options: object
) -> subprocess.Popen[bytes]:
    return cgroup.spawn(
        popen_start(**options), argv, cwd=os.getcwd(), env_path=os.environ.get("PATH")
    )


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a fact until it holds, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout  # noqa: TID251 - a synchronous wait for a fact, under a deadline
    delay = 0.002
    while not predicate():
        if time.monotonic() > deadline:  # noqa: TID251 - a synchronous wait for a fact, under a deadline
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(delay)  # noqa: TID251 - a synchronous wait for a fact, under a deadline
        delay = min(delay * 2, 0.05)


def wait_for_file(path: Path, timeout: float = 10.0) -> str:
    wait_for(lambda: path.exists() and path.stat().st_size > 0, timeout, f"{path}")
    return path.read_text()


def reap(pids: Sequence[int]) -> None:
    """Reap those of ``pids`` that are (orphaned) children of ours; the others are not."""
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            continue


def kill_and_remove(cgroup: V1Container | V2Container, *mains: subprocess.Popen[bytes]) -> None:
    killed = cgroup.kill_all()
    wait_for(cgroup.is_empty, 5.0, "the cgroup to be empty")
    for main in mains:
        main.wait(timeout=5)
    reap(killed)
    cgroup.remove()


def membership(pid: int) -> dict[str, str]:
    """/proc/<pid>/cgroup as controller (or "" for v2) -> path."""
    found = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            found[controller] = path
    return found


def cgroup_path(directory: Path, mount: Path, own: str) -> str:
    """The cgroup path (as /proc shows it) of ``directory`` in a hierarchy mounted at ``mount``."""
    return "/" + str(directory.relative_to(mount)) if own else "/"


# --- detection ---------------------------------------------------------------------------


def test_the_subtree_is_under_our_own_cgroup_in_every_hierarchy(v1: V1Driver) -> None:
    ours = membership(os.getpid())
    for controller, root in v1.roots.items():
        mount = Path("/sys/fs/cgroup") / controller
        if not mount.is_dir():
            continue
        own = ours[controller]
        # the root is <mount><own path>/<subtree>: under our cgroup, never beside it
        assert root == mount / own.lstrip("/") / SUBTREE
    assert "memory" in v1.roots
    assert v1.mode == "cgroup-v1"
    assert "limits.memory" in v1.reason


def test_auto_detection_picks_v1_on_the_hybrid_layout(v1: V1Driver) -> None:
    unified = Path("/sys/fs/cgroup/unified/cgroup.controllers")
    if not unified.exists() or "memory" in unified.read_text():
        pytest.skip("not the hybrid layout (no controller-less /sys/fs/cgroup/unified)")
    driver = detect(SUBTREE)
    assert isinstance(driver, V1Driver)
    assert driver.reason.startswith("cgroup v1 (hybrid): a cgroup per container in the memory")
    assert driver.reason.endswith("the v2 hierarchy at /sys/fs/cgroup/unified is not used")


def test_read_only_cgroups_fall_back_with_a_reason(tmp_path: Path) -> None:
    """In a mount namespace whose cgroup mounts are read-only, detection says why not."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) is not installed")
    script = (
        "set -e; for m in $(awk '$5 ~ \"^/sys/fs/cgroup\" {print $5}' /proc/self/mountinfo);"
        ' do mount -o remount,bind,ro "$m"; done; exec "$@"'
    )
    probe = (
        "from minikubelet.runtime.cgroups import detect\n"
        f"containment = detect({SUBTREE!r})\n"
        "print(containment.mode)\n"
        "print(containment.reason)\n"
    )
    namespace = ("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh")
    result = subprocess.run(
        [*namespace, PYTHON, "-c", probe],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).parent.parent.parent,
    )
    if result.returncode != 0 and "unshare" in result.stderr:
        pytest.skip(f"cannot make a mount namespace here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    mode, reason = result.stdout.splitlines()
    assert mode == "none"
    assert reason == "cgroup v1 memory hierarchy is read-only: limits are enforced by sampling"


# --- placement ---------------------------------------------------------------------------


def test_the_process_is_in_its_cgroup_before_it_runs(v1: V1Driver, pod_v1: str) -> None:
    cgroup = v1.container(pod_v1, "app")
    cgroup.create()
    main = spawn(cgroup, ["cat", "/proc/self/cgroup"], stdout=subprocess.PIPE)
    output, _ = main.communicate(timeout=10)
    seen = {}
    for line in output.decode().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            seen[controller] = path
    for controller, directory in cgroup.dirs.items():
        mount = Path("/sys/fs/cgroup") / controller
        assert seen[controller] == "/" + str(directory.relative_to(mount))
    cgroup.remove()
    v1.remove_pod(pod_v1)


def test_escapes_are_found_and_killed(v1: V1Driver, pod_v1: str, tmp_path: Path) -> None:
    """Clear the environment, setsid, double-fork: still in the cgroup, and killed with it."""
    cgroup = v1.container(pod_v1, "app")
    cgroup.create()
    pids_file = tmp_path / "pids"
    main = spawn(
        cgroup,
        [*ESCAPER, "--pids-file", str(pids_file)],
    )
    escaped = int(wait_for_file(pids_file))
    assert os.getsid(escaped) != os.getsid(main.pid)  # its own session
    # its environment was cleared (Python's PEP 538 locale coercion may add LC_CTYPE back)
    environ = Path(f"/proc/{escaped}/environ").read_bytes().split(b"\0")
    assert [entry for entry in environ if entry and not entry.startswith(b"LC_CTYPE=")] == []
    wait_for(lambda: {main.pid, escaped} <= cgroup.pids(), 5.0, "both processes in the cgroup")
    killed = cgroup.kill_all()
    assert {main.pid, escaped} <= set(killed)
    wait_for(cgroup.is_empty, 5.0, "the cgroup to be empty")
    assert main.wait(timeout=5) == -signal.SIGKILL
    reap(killed)
    cgroup.remove()
    assert not any(directory.exists() for directory in cgroup.dirs.values())
    v1.remove_pod(pod_v1)


def test_kill_all_stops_a_fork_storm(v1: V1Driver, pod_v1: str) -> None:
    cgroup = v1.container(pod_v1, "storm")
    cgroup.create()
    storm = "i=0; while [ $i -lt 300 ]; do sleep 30 & i=$((i+1)); done; wait"
    main = spawn(cgroup, ["sh", "-c", storm])
    wait_for(lambda: len(cgroup.pids()) > 20, 10.0, "the storm to start")
    kill_and_remove(cgroup, main)
    v1.remove_pod(pod_v1)


def test_a_kill_at_once_stops_a_fork_storm_unless_a_spawn_holds_the_cgroup(
    v1: V1Driver, pod_v1: str
) -> None:
    """The event loop's kill (pids fence, no thread): everything at once; it declines,
    rather than waits, while the cgroup's lock is held (a spawn under way)."""
    cgroup = v1.container(pod_v1, "storm")
    cgroup.create()
    storm = "i=0; while [ $i -lt 300 ]; do sleep 30 & i=$((i+1)); done; wait"
    main = spawn(cgroup, ["sh", "-c", storm])
    wait_for(lambda: len(cgroup.pids()) > 20, 10.0, "the storm to start")
    if v1.fence == "freezer":
        assert cgroup.try_kill_all() is None  # the freezer must settle: a thread's job
        kill_and_remove(cgroup, main)
        v1.remove_pod(pod_v1)
        return
    with cgroup._lock:
        assert cgroup.try_kill_all() is None
    killed = cgroup.try_kill_all()
    assert killed is not None
    assert main.pid in killed
    main.wait(timeout=5)
    wait_for(cgroup.is_empty, 5.0, "every process of the storm to die")
    reap(killed)
    kill_and_remove(cgroup, main)
    v1.remove_pod(pod_v1)


def test_our_parked_thread_is_in_the_cgroup_but_never_listed(v1: V1Driver, pod_v1: str) -> None:
    cgroup = v1.container(pod_v1, "app")
    cgroup.create(CgroupResources(cpu_shares=512, cpu_quota_us=50_000))
    parked = [thread for thread in threading.enumerate() if thread.name.endswith(f"{pod_v1}/app")]
    assert len(parked) == 1
    assert parked[0].native_id is not None
    tasks = (cgroup.dirs["memory"] / "tasks").read_text().split()
    assert str(parked[0].native_id) in tasks
    assert cgroup.pids() == set()
    assert cgroup.is_empty()
    # the CPU limits lifted while our thread forks are back afterwards
    main = spawn(cgroup, ["true"])
    assert main.wait(timeout=5) == 0
    assert read_int(cgroup.dirs["cpu"] / "cpu.cfs_quota_us") == 50_000
    assert read_int(cgroup.dirs["cpu"] / "cpu.shares") == 512
    cgroup.remove()
    assert not parked[0].is_alive()
    v1.remove_pod(pod_v1)


def test_limits_are_right_in_a_new_cgroup_and_in_one_left_from_before(
    v1: V1Driver, pod_v1: str
) -> None:
    # A new cgroup holds the kernel's defaults, so only what differs is written; one that
    # already exists (a daemon's earlier run) may hold anything, so all of it is.
    best_effort = CgroupResources()  # 2 shares, no quota, no memory limit
    cgroup = v1.container(pod_v1, "app")
    cgroup.create(best_effort, park=False)
    cpu, memory = cgroup.dirs["cpu"], cgroup.dirs["memory"]
    assert read_int(cpu / "cpu.shares") == best_effort.cpu_shares
    assert read_int(cpu / "cpu.cfs_quota_us") == -1
    assert read_int(cpu / "cpu.cfs_period_us") == best_effort.cpu_period_us
    unlimited = read_int(memory / "memory.limit_in_bytes")
    cgroup.remove()
    left = v1.container(pod_v1, "app")  # the same directories, made by someone else
    for directory in left.dirs.values():
        directory.mkdir(parents=True, exist_ok=True)
    cpu, memory = left.dirs["cpu"], left.dirs["memory"]
    write_value(cpu / "cpu.shares", 512)
    write_value(cpu / "cpu.cfs_quota_us", 50_000)
    write_value(memory / "memory.limit_in_bytes", 64 << 20)
    left.create(best_effort, park=False)
    assert read_int(cpu / "cpu.shares") == best_effort.cpu_shares
    assert read_int(cpu / "cpu.cfs_quota_us") == -1
    assert read_int(memory / "memory.limit_in_bytes") == unlimited
    left.remove()
    v1.remove_pod(pod_v1)


def test_an_idle_parked_thread_retires_and_comes_back(pod_v1: str) -> None:
    driver = detect(SUBTREE, layout="v1", idle_timeout=0.05)
    assert isinstance(driver, V1Driver)
    cgroup = driver.container(pod_v1, "app")
    cgroup.create()

    def parked() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.endswith(f"{pod_v1}/app")]

    wait_for(lambda: not parked(), 5.0, "the idle thread to retire")
    main = spawn(cgroup, ["cat", "/proc/self/cgroup"], stdout=subprocess.PIPE)
    output, _ = main.communicate(timeout=10)
    assert f"/pod{pod_v1}/app" in output.decode()
    cgroup.remove()
    driver.remove_pod(pod_v1)


def test_the_freezer_fence_works_with_our_thread_inside(pod_v1: str, v1: V1Driver) -> None:
    """Without the pids hierarchy the freezer fences the kill: our idle thread freezes too."""
    freezer = Path("/sys/fs/cgroup/freezer")
    if not (freezer / "freezer.state").exists() and not freezer.is_dir():
        pytest.skip("no cgroup v1 freezer hierarchy")
    own = membership(os.getpid())["freezer"]
    roots = {"memory": v1.roots["memory"], "freezer": freezer / own.lstrip("/") / SUBTREE}
    roots["freezer"].mkdir(exist_ok=True)
    driver = V1Driver(roots, "memory and freezer only")
    assert driver.fence == "freezer"
    cgroup = driver.container(pod_v1, "frozen")
    cgroup.create()
    storm = "i=0; while [ $i -lt 200 ]; do sleep 30 & i=$((i+1)); done; wait"
    main = spawn(cgroup, ["sh", "-c", storm])
    wait_for(lambda: len(cgroup.pids()) > 20, 10.0, "the storm to start")
    kill_and_remove(cgroup, main)
    assert read_bytes(roots["freezer"] / "freezer.state").strip() == b"THAWED"
    driver.remove_pod(pod_v1)
    roots["freezer"].rmdir()  # not driver.close(): the memory root is the module driver's


# --- limits ------------------------------------------------------------------------------


def test_the_kernel_oom_kills_a_container_over_its_memory_limit(v1: V1Driver, pod_v1: str) -> None:
    cgroup = v1.container(pod_v1, "hog")
    cgroup.create(CgroupResources(memory_limit_bytes=64 * MI))
    assert read_int(cgroup.dirs["memory"] / "memory.limit_in_bytes") == 64 * MI
    baseline = cgroup.oom_kills()
    main = spawn(cgroup, [PYTHON, "-c", ALLOCATE, "300"])
    status = main.wait(timeout=30)
    assert status == -signal.SIGKILL  # reported as exit code 128 + 9 = 137
    assert cgroup.oom_kills() > baseline
    assert cgroup.usage().oom_kills == cgroup.oom_kills()
    kill_and_remove(cgroup)
    v1.remove_pod(pod_v1)


def test_an_oom_kill_of_a_child_is_seen_too(v1: V1Driver, pod_v1: str) -> None:
    """The kubelet reports OOMKilled when the cgroup had an OOM kill, whoever died."""
    cgroup = v1.container(pod_v1, "wrapper")
    cgroup.create(CgroupResources(memory_limit_bytes=64 * MI))
    baseline = cgroup.oom_kills()
    wrapper = '"$0" -c "$1" 300; echo "child: $?"; exit 3'
    main = spawn(cgroup, ["sh", "-c", wrapper, PYTHON, ALLOCATE], stdout=subprocess.PIPE)
    output, _ = main.communicate(timeout=30)
    assert main.returncode == 3  # the main process itself was not killed
    assert output.decode().strip() == "child: 137"
    assert cgroup.oom_kills() == baseline + 1
    kill_and_remove(cgroup)
    v1.remove_pod(pod_v1)


def test_a_cpu_quota_of_500m_caps_a_busy_loop(v1: V1Driver, pod_v1: str, tmp_path: Path) -> None:
    if not v1.enforces_cpu:
        pytest.skip("no cpu hierarchy")
    cgroup = v1.container(pod_v1, "busy")
    cgroup.create(CgroupResources(cpu_shares=512, cpu_quota_us=50_000))
    throttled = find_key(read_bytes(cgroup.dirs["cpu"] / "cpu.stat"), b"nr_throttled") or 0
    ready = tmp_path / "ready"
    # two spinning processes could use both cores; the quota allows half of one
    busy = f'"$0" -c "$1" 2.5 {ready}.1 & "$0" -c "$1" 2.5 {ready}.2 & wait'
    first = cgroup.usage().cpu_ns
    main = spawn(cgroup, ["sh", "-c", busy, PYTHON, BUSY])
    wait_for(lambda: Path(f"{ready}.1").exists() and Path(f"{ready}.2").exists(), 10, "spinning")
    start_cpu, start_wall = cgroup.usage().cpu_ns, time.monotonic()  # noqa: TID251 - a synchronous wait for a fact, under a deadline
    assert main.wait(timeout=30) == 0
    end_cpu, end_wall = cgroup.usage().cpu_ns, time.monotonic()  # noqa: TID251 - a synchronous wait for a fact, under a deadline
    assert first is not None
    assert start_cpu is not None
    assert end_cpu is not None
    share = (end_cpu - start_cpu) / 1e9 / (end_wall - start_wall)
    assert share < 0.5 * 1.2, f"the container used {share:.2f} of a core, above its 0.5 quota"
    assert share > 0.1, f"the busy loop barely ran ({share:.2f} of a core): is the machine busy?"
    after = find_key(read_bytes(cgroup.dirs["cpu"] / "cpu.stat"), b"nr_throttled") or 0
    assert after > throttled  # the kernel throttled it: the quota, not the load, capped it
    cgroup.remove()

    # --- usage -------------------------------------------------------------------------------
    v1.remove_pod(pod_v1)


def test_usage_agrees_with_the_kernel_files(v1: V1Driver, pod_v1: str, tmp_path: Path) -> None:
    cgroup = v1.container(pod_v1, "usage")
    cgroup.create()
    ready, data = tmp_path / "ready", tmp_path / "data"
    program = (
        "import sys, time\n"
        "block = bytearray(48 * 2**20)\n"
        "for i in range(0, len(block), 4096): block[i] = 1\n"
        "open(sys.argv[1], 'wb').write(b'x' * 16 * 2**20)\n"  # page cache, charged to us
        "end = time.monotonic() + 0.3\n"
        "while time.monotonic() < end: pass\n"
        "open(sys.argv[2], 'w').write('ready')\n"
        "time.sleep(30)\n"
    )
    main = spawn(cgroup, [PYTHON, "-c", program, str(data), str(ready)])
    wait_for_file(ready)
    memory = cgroup.dirs["memory"]
    cpu_before = read_int(cgroup.dirs["cpuacct"] / "cpuacct.usage")
    raw_usage = read_int(memory / "memory.usage_in_bytes")
    raw_inactive = find_key(read_bytes(memory / "memory.stat"), b"total_inactive_file") or 0
    usage = cgroup.usage()
    cpu_after = read_int(cgroup.dirs["cpuacct"] / "cpuacct.usage")
    assert usage.cpu_ns is not None
    assert usage.memory_bytes is not None
    assert usage.working_set_bytes is not None
    assert cpu_before <= usage.cpu_ns <= cpu_after
    assert usage.cpu_ns >= 0.2e9  # it spun for 0.3 s
    assert abs(usage.memory_bytes - raw_usage) < 2 * MI
    assert abs(usage.working_set_bytes - (raw_usage - raw_inactive)) < 2 * MI
    assert usage.working_set_bytes >= 48 * MI
    assert usage.memory_bytes >= usage.working_set_bytes
    assert usage.oom_kills == 0
    kill_and_remove(cgroup, main)
    v1.remove_pod(pod_v1)


def test_a_pod_is_removed_with_its_containers(v1: V1Driver, pod_v1: str) -> None:
    first, second = v1.container(pod_v1, "a"), v1.container(pod_v1, "b")
    first.create()
    second.create()
    mains = [spawn(cgroup, ["sleep", "30"]) for cgroup in (first, second)]
    assert v1.pod_containers(pod_v1) == ["a", "b"]
    assert v1.pod_pids(pod_v1) == {main.pid for main in mains}
    assert pod_v1 in v1.pods()
    assert v1.has_pod(pod_v1)
    for cgroup in (first, second):
        cgroup.kill_all()
    for main in mains:
        main.wait(timeout=5)
    v1.remove_pod(pod_v1)
    assert pod_v1 not in v1.pods()
    assert not v1.has_pod(pod_v1)
    assert not any((root / f"pod{pod_v1}").exists() for root in v1.directories)


def test_remove_refuses_while_processes_remain(v1: V1Driver, pod_v1: str) -> None:
    cgroup = v1.container(pod_v1, "busy")
    cgroup.create()
    main = spawn(cgroup, ["sleep", "30"])
    with pytest.raises(Exception, match="still has processes"):
        cgroup.remove(timeout=0.05)
    kill_and_remove(cgroup, main)

    # --- cgroup v2 (the unified hierarchy here: no controllers, but cgroup.kill) ---------------
    v1.remove_pod(pod_v1)


def test_v2_places_through_the_gate(v2: V2Driver, pod_v2: str) -> None:
    cgroup = v2.container(pod_v2, "app")
    cgroup.create()
    main = spawn(cgroup, ["cat", "/proc/self/cgroup"], stdout=subprocess.PIPE)
    output, _ = main.communicate(timeout=10)
    assert main.returncode == 0
    line = next(line for line in output.decode().splitlines() if line.startswith("0::"))
    assert line.endswith(f"/{SUBTREE}/pod{pod_v2}/app")
    assert v2.has_pod(pod_v2)
    cgroup.remove()
    v2.remove_pod(pod_v2)
    assert not v2.has_pod(pod_v2)


def test_v2_places_a_process_that_runs_as_another_user(v2: V2Driver, pod_v2: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to start a process as another user")
    cgroup = v2.container(pod_v2, "nobody")
    cgroup.create()
    main = spawn(
        cgroup,
        ["sh", "-c", "id -u; cat /proc/self/cgroup"],
        stdout=subprocess.PIPE,
        user=65534,
        group=65534,
        extra_groups=[],
        cwd="/",
    )
    output, _ = main.communicate(timeout=10)
    lines = output.decode().splitlines()
    assert lines[0] == "65534"
    assert any(line.endswith(f"/pod{pod_v2}/nobody") for line in lines if line.startswith("0::"))
    cgroup.remove()
    v2.remove_pod(pod_v2)


def test_v2_start_errors_are_popens_own(v2: V2Driver, pod_v2: str) -> None:
    cgroup = v2.container(pod_v2, "app")
    cgroup.create()
    with pytest.raises(FileNotFoundError):
        spawn(cgroup, ["no-such-program-anywhere"])
    assert cgroup.is_empty()
    cgroup.remove()
    v2.remove_pod(pod_v2)


def test_v2_escapes_are_found_and_killed(v2: V2Driver, pod_v2: str, tmp_path: Path) -> None:
    cgroup = v2.container(pod_v2, "app")
    cgroup.create()
    pids_file = tmp_path / "pids"
    main = spawn(
        cgroup,
        [*ESCAPER, "--pids-file", str(pids_file)],
    )
    escaped = int(wait_for_file(pids_file))
    wait_for(lambda: {main.pid, escaped} <= cgroup.pids(), 5.0, "both processes in the cgroup")
    assert (cgroup.dir / "cgroup.kill").exists()
    kill_and_remove(cgroup, main)
    assert not cgroup.dir.exists()
    v2.remove_pod(pod_v2)


def test_v2_detection_stays_under_our_own_cgroup(v2: V2Driver, tmp_path: Path) -> None:
    """A process in a nested v2 cgroup gets its subtree there, not at the hierarchy's root."""
    nest = v2.root.parent / f"{SUBTREE}-nest"
    nest.mkdir()
    probe = (
        "import os, sys\n"
        "from minikubelet.runtime.cgroups import detect\n"
        f"open({str(nest / 'cgroup.procs')!r}, 'w').write(str(os.getpid()))\n"
        "driver = detect('inner', layout='v2')\n"
        "print(driver.root)\n"
        "driver.close()\n"
    )
    try:
        result = subprocess.run(
            [PYTHON, "-c", probe], capture_output=True, text=True, timeout=30, check=True
        )
        assert Path(result.stdout.strip()) == nest / "inner"
    finally:
        wait_for(lambda: not (nest / "cgroup.procs").read_text().strip(), 5.0, "the probe to end")
        for leftover in (nest / "inner", nest):
            if leftover.exists():
                leftover.rmdir()


def test_v2_usage_is_the_kernels(v2: V2Driver, pod_v2: str, tmp_path: Path) -> None:
    cgroup = v2.container(pod_v2, "usage")
    cgroup.create()
    ready = tmp_path / "ready"
    main = spawn(cgroup, [PYTHON, "-c", BUSY, "0.3", str(ready)])
    assert main.wait(timeout=10) == 0
    usage = cgroup.usage()
    raw = find_key(read_bytes(cgroup.dir / "cpu.stat"), b"usage_usec")
    assert raw is not None
    assert usage.cpu_ns == raw * 1000
    assert usage.cpu_ns >= 0.2e9
    cgroup.remove()
    v2.remove_pod(pod_v2)


# --- from the event loop -------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_spawn_async_hands_the_job_to_the_parked_thread(
    v1: V1Driver, pod_v1: str, anyio_backend: str
) -> None:
    cgroup = v1.container(pod_v1, "app")
    cgroup.create()
    event_loop_thread = threading.get_ident()
    forked_by: list[int] = []

    def start(plan: SpawnPlan) -> subprocess.Popen[bytes]:
        forked_by.append(threading.get_ident())
        return popen_start(stdout=subprocess.PIPE)(plan)

    with anyio.fail_after(10):
        main = await cgroup.spawn_async(start, ["cat", "/proc/self/cgroup"])
    output, _ = main.communicate(timeout=10)
    assert f"/pod{pod_v1}/app" in output.decode()
    parked = [t.ident for t in threading.enumerate() if t.name.endswith(f"{pod_v1}/app")]
    assert forked_by == parked  # straight to the parked thread, not through a worker
    assert forked_by != [event_loop_thread]
    cgroup.remove()
    v1.remove_pod(pod_v1)


@pytest.mark.anyio
async def test_spawn_async_without_a_parked_thread_parks_one(v1: V1Driver, pod_v1: str) -> None:
    cgroup = v1.container(pod_v1, "later")
    cgroup.create(park=False)
    with anyio.fail_after(10):
        main = await cgroup.spawn_async(
            popen_start(stdout=subprocess.PIPE), ["cat", "/proc/self/cgroup"]
        )
    output, _ = main.communicate(timeout=10)
    assert f"/pod{pod_v1}/later" in output.decode()
    cgroup.remove()
    v1.remove_pod(pod_v1)


@pytest.mark.anyio
async def test_v2_spawn_async(v2: V2Driver, pod_v2: str) -> None:
    cgroup = v2.container(pod_v2, "app")
    cgroup.create()
    with anyio.fail_after(10):
        main = await cgroup.spawn_async(
            popen_start(stdout=subprocess.PIPE), ["cat", "/proc/self/cgroup"], cwd="/"
        )
    output, _ = main.communicate(timeout=10)
    assert f"/pod{pod_v2}/app" in output.decode()
    cgroup.remove()
    v2.remove_pod(pod_v2)


@pytest.mark.anyio
async def test_the_runtimes_own_spawn_runs_unchanged_on_the_parked_thread(
    v1: V1Driver, pod_v1: str
) -> None:
    """``process.spawn`` as the ``start``: pidfd wait, exit status, OOM -> 137, as today."""
    table = ProcessTable()
    cgroup = v1.container(pod_v1, "hog")
    cgroup.create(CgroupResources(memory_limit_bytes=64 * MI))
    baseline = cgroup.oom_kills()

    def start(plan: SpawnPlan) -> ChildProcess:
        return process_spawn(
            plan.argv,
            cwd=os.getcwd(),
            env=dict(os.environ),
            table=table,
            tag=f"{pod_v1}/hog",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    with anyio.fail_after(30):
        child = await cgroup.spawn_async(start, [PYTHON, "-c", ALLOCATE, "300"])
        status = await child.wait()
    assert status == ExitStatus(exit_code=137, signal=signal.SIGKILL)
    assert cgroup.oom_kills() > baseline  # -> reason OOMKilled
    cgroup.remove()
    v1.remove_pod(pod_v1)
