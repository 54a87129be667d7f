"""``kill -9`` of ``serve``, then a restart on the same root dir: the containers were never
interrupted, and the new daemon takes them back (adoption, through the keeper).

Real daemons, real processes, real signals: silent, chatty (a line every 10 ms) and
double-forking containers keep their pids, the API shows them unchanged, the chatty one's
log has every line in order; an exit while no daemon ran is reported with its real code,
an exit after the restart too (and its restart policy applies); a tagged process whose
pod lost its checkpoint is killed; SIGTERM still stops everything, the keeper included.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from minikubelet.runtime.spawning import TAG_VARIABLE
from tests.conftest import CHILD, PYTHON
from tests.serve.daemon import Daemon, wait_for

pytestmark = [pytest.mark.timeout(120)]


@pytest.fixture
def daemon(tmp_path: Path, short_tmp: Path) -> Iterator[Daemon]:
    running = Daemon(tmp_path, short_tmp)
    yield running
    running.close()


def pod_manifest(name: str, facts: Path, *flags: str, restart_policy: str = "Always") -> str:
    """The test child, forever, its pid in ``facts/<name>.pid`` once ready."""
    command = [
        PYTHON,
        CHILD,
        "--forever",
        "--sigterm-exit-code",
        "0",
        "--record",
        str(facts / f"{name}.record"),
        "--ready-file",
        str(facts / f"{name}.pid"),
        *flags,
    ]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": restart_policy,
            "terminationGracePeriodSeconds": 5,
            "containers": [{"name": "app", "command": command}],
        },
    }
    return json.dumps(pod)


def status_of(client: httpx.Client, name: str) -> dict[str, Any]:
    pod = client.get(f"/api/v1/namespaces/default/pods/{name}").json()
    statuses = pod.get("status", {}).get("containerStatuses") or [{}]
    return {"uid": pod["metadata"]["uid"], **statuses[0]}


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def ticks(client: httpx.Client, name: str) -> list[int]:
    text = client.get(f"/api/v1/namespaces/default/pods/{name}/log").text
    return [int(line.split()[1]) for line in text.splitlines() if line.startswith("tick ")]


def tagged(tag: str) -> list[int]:
    """Every live process carrying container tag ``tag``."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(TAG_VARIABLE) == tag and alive(process.pid):
                found.append(process.pid)
        except psutil.Error:
            continue
    return found


def keeper_pids(daemon: Daemon) -> list[int]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "minikubelet.runtime.keeper" in cmdline and str(daemon.root) in cmdline:
            found.append(process.pid)
    return found


def test_a_killed_daemon_s_containers_are_adopted_by_the_next(daemon: Daemon) -> None:
    facts = daemon.facts
    pods = {
        "silent": pod_manifest("silent", facts),
        "chatty": pod_manifest("chatty", facts, "--tick", "0.01"),
        "forker": pod_manifest(
            "forker", facts, "--spawn", "double-fork", "--pids-file", str(facts / "forker.pids")
        ),
        "later": pod_manifest("later", facts, "--usr1-exit-code", "7"),
        "meanwhile": pod_manifest(
            "meanwhile", facts, "--usr1-exit-code", "3", restart_policy="Never"
        ),
        "unclaimed": pod_manifest("unclaimed", facts),
    }
    for name, text in pods.items():
        (daemon.manifests / f"{name}.yaml").write_text(text)
    daemon.start().wait_ready()
    pids = {name: int(daemon.wait_fact(f"{name}.pid")) for name in pods}
    forked = int(daemon.wait_fact("forker.pids"))
    with daemon.client() as client:
        before = {name: wait_for(lambda n=name: _running(client, n)) for name in pods}
        wait_for(lambda: len(ticks(client, "chatty")) > 20, what="the chatty container's lines")

    daemon.process.kill()  # type: ignore[union-attr]
    daemon.process.wait()  # type: ignore[union-attr]
    daemon.process = None
    for name, pid in pids.items():
        assert alive(pid), f"{name} died with the daemon"
    assert alive(forked)
    # While no daemon runs: one container exits, one pod loses its checkpoint.
    os.kill(pids["meanwhile"], signal.SIGUSR1)
    wait_for(lambda: not alive(pids["meanwhile"]), what="the exit while no daemon ran")
    (daemon.root / "checkpoints" / f"{before['unclaimed']['uid']}.json").unlink()
    printed = (facts / "chatty.record").read_text()

    daemon.start().wait_ready()
    adopted = {line["pod"] for line in daemon.logs("container.adopted") if "pod" in line}
    assert adopted == {f"default/{name}" for name in pods if name != "unclaimed"}
    with daemon.client() as client:
        for name in ("silent", "chatty", "forker", "later"):
            now = _running(client, name)
            assert now is not None, f"{name}: {status_of(client, name)}"
            for field in ("uid", "containerID", "restartCount"):
                assert now[field] == before[name][field], (name, field)
            assert (
                now["state"]["running"]["startedAt"]
                == before[name]["state"]["running"]["startedAt"]
            )
            assert now["restartCount"] == 0
            assert alive(pids[name])
            # Exactly once: the main process (and the forker's double-forked child).
            expected = {pids[name], forked} if name == "forker" else {pids[name]}
            assert set(tagged(f"{now['uid']}/app")) == expected, name
            assert (facts / f"{name}.record").read_text().count("start") == 1, name
        assert alive(forked)

        # The exit while no daemon ran: its real code, then its restart policy (Never).
        gone = status_of(client, "meanwhile")
        assert gone["state"]["terminated"]["exitCode"] == 3, gone
        assert gone["restartCount"] == 0

        # No pod claimed the old instance: it was killed before the pod started afresh.
        fresh = wait_for(lambda: _running(client, "unclaimed"), what="unclaimed started again")
        assert not alive(pids["unclaimed"])
        assert daemon.logs("container.not_adopted_killed")
        assert fresh["containerID"] != before["unclaimed"]["containerID"]

        # The chatty one lost no line and never saw SIGPIPE: every tick, in order.
        seen = wait_for(lambda: (t := ticks(client, "chatty")) and len(t) > 300 and t)
        assert seen == list(range(len(seen)))
        assert (facts / "chatty.record").read_text() == printed  # still its first start

        # The adopted instance's exit is seen with its real code; Always restarts it.
        os.kill(pids["later"], signal.SIGUSR1)

        def restarted() -> dict[str, Any] | None:
            status = status_of(client, "later")
            again = status.get("restartCount") == 1 and "running" in status["state"]
            return status if again else None

        after = wait_for(restarted, what="the adopted container's exit and restart")
        assert after["lastState"]["terminated"]["exitCode"] == 7

    keepers = keeper_pids(daemon)
    assert len(keepers) == 1
    assert daemon.stop() == 0
    wait_for(lambda: not any(alive(pid) for pid in keepers), what="the keeper to exit")
    for name, pid in pids.items():
        assert not alive(pid), name
    assert not alive(forked)


def test_a_graceful_stop_leaves_nothing_and_the_next_start_restarts(daemon: Daemon) -> None:
    (daemon.manifests / "app.yaml").write_text(pod_manifest("app", daemon.facts))
    daemon.start().wait_ready()
    first = int(daemon.wait_fact("app.pid"))
    keepers = keeper_pids(daemon)
    assert len(keepers) == 1
    assert daemon.stop() == 0
    wait_for(lambda: not any(alive(pid) for pid in keepers), what="the keeper to exit")
    assert not alive(first)

    daemon.start().wait_ready()
    second = int(daemon.wait_fact("app.pid", differs_from=str(first)))
    assert second != first
    with daemon.client() as client:
        status = wait_for(lambda: _running(client, "app"))
        assert status["restartCount"] == 1
        assert status["lastState"]["terminated"]["reason"] == "ContainerStatusUnknown"
    assert daemon.stop() == 0


def _running(client: httpx.Client, name: str) -> dict[str, Any] | None:
    status = status_of(client, name)
    return status if "running" in status.get("state", {}) else None


def test_a_checkpoint_whose_pid_is_another_process_now_is_not_adopted(daemon: Daemon) -> None:
    (daemon.manifests / "app.yaml").write_text(pod_manifest("app", daemon.facts))
    daemon.start().wait_ready()
    first = int(daemon.wait_fact("app.pid"))
    with daemon.client() as client:
        uid = wait_for(lambda: _running(client, "app"))["uid"]
    daemon.process.kill()  # type: ignore[union-attr]
    daemon.process.wait()  # type: ignore[union-attr]
    daemon.process = None
    # As if the pid had been reused: the same number, another start time.
    path = daemon.root / "checkpoints" / f"{uid}.json"
    saved = json.loads(path.read_text().splitlines()[-1])  # the journal's newest line
    saved["containers"]["app"][0]["startTicks"] += 1
    path.write_text(json.dumps(saved))

    daemon.start().wait_ready()
    assert not alive(first)  # killed before anything else started: never two instances
    second = int(daemon.wait_fact("app.pid", differs_from=str(first)))
    with daemon.client() as client:
        status = wait_for(lambda: _running(client, "app"))
        assert status["restartCount"] == 1
        terminated = status["lastState"]["terminated"]
        assert terminated["reason"] == "ContainerStatusUnknown"
        assert "another process" in terminated["message"]
    (refused,) = daemon.logs("container.not_adopted")
    assert refused["pid"] == first
    assert alive(second)
    assert daemon.stop() == 0


def test_a_killed_keeper_is_replaced_and_its_containers_still_supervised(daemon: Daemon) -> None:
    (daemon.manifests / "app.yaml").write_text(
        pod_manifest("app", daemon.facts, "--usr1-exit-code", "5")
    )
    daemon.start().wait_ready()
    first = int(daemon.wait_fact("app.pid"))
    (keeper,) = keeper_pids(daemon)
    os.kill(keeper, signal.SIGKILL)
    wait_for(lambda: daemon.logs("keeper.replacing"), what="a new keeper")
    os.kill(first, signal.SIGUSR1)  # its exit is seen (without its code: nobody reaped it)
    second = int(daemon.wait_fact("app.pid", differs_from=str(first)))
    with daemon.client() as client:
        status = wait_for(lambda: _running(client, "app"))
        assert status["restartCount"] == 1
    (replacement,) = keeper_pids(daemon)
    assert replacement != keeper
    assert psutil.Process(second).ppid() == replacement  # spawned by the new keeper
    assert daemon.stop() == 0
    wait_for(lambda: not alive(replacement), what="the new keeper to exit")
    assert not alive(second)


def test_a_container_blocked_on_its_full_pipe_goes_on_where_the_pipe_is(daemon: Daemon) -> None:
    """While no daemon reads, a fast writer fills its pipe and waits there (the keeper
    holds the read end): no SIGPIPE, and the next daemon reads on where the pipe is.

    What the killed daemon had read from the pipe but not yet written to the file (one
    read, at most 64 KiB) is lost with it: at full speed the daemon is often between the
    two, so one gap of at most that much is allowed, at the kill, and nowhere else."""
    (daemon.manifests / "flood.yaml").write_text(
        pod_manifest("flood", daemon.facts, "--tick", "0.002", "--tick-bytes", "1000")
    )
    daemon.start().wait_ready()
    pid = int(daemon.wait_fact("flood.pid"))
    daemon.process.kill()  # type: ignore[union-attr]
    daemon.process.wait()  # type: ignore[union-attr]
    daemon.process = None

    def blocked() -> bool:
        return "pipe" in Path(f"/proc/{pid}/wchan").read_text()

    wait_for(blocked, what="the writer blocked on its full pipe")
    daemon.start().wait_ready()
    with daemon.client() as client:
        seen = wait_for(lambda: (t := ticks(client, "flood")) and len(t) > 1500 and t)
        assert seen[0] == 0
        steps = [after - before for before, after in itertools.pairwise(seen)]
        assert all(step >= 1 for step in steps)  # in order, nothing twice
        gaps = [step - 1 for step in steps if step > 1]
        assert len(gaps) <= 1
        assert sum(gaps) <= 64 * 1024 // 1000 + 1
        status = wait_for(lambda: _running(client, "flood"))
        assert status["restartCount"] == 0
    assert alive(pid)
    assert daemon.stop() == 0
