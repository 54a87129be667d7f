"""``minikubelet serve`` end to end: a real daemon, real pods, real signals, sd_notify."""

from __future__ import annotations

import json
import signal
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serve.daemon import Daemon, wait_for
from tests.serve.manifests import child_pod

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def daemon(tmp_path: Path, short_tmp: Path) -> Iterator[Daemon]:
    running = Daemon(tmp_path, short_tmp)
    yield running
    running.close()


def test_static_pods_follow_the_manifest_directory(daemon: Daemon) -> None:
    manifests, facts = daemon.manifests, daemon.facts
    (manifests / "a.yaml").write_text(child_pod("a", facts))
    daemon.start().wait_ready()
    a1 = daemon.wait_fact("a.uid")

    (manifests / "b.json").write_text(child_pod("b", facts))  # a new file starts its pod
    daemon.wait_fact("b.uid")

    (manifests / "a.yaml").write_text(child_pod("a", facts, label="v2"))  # an edit: new uid
    a2 = daemon.wait_fact("a.uid", differs_from=a1)
    assert "sigterm" in daemon.fact("a.record")  # the old one was stopped gracefully

    (manifests / "b.json").unlink()  # a removed file stops its pod
    daemon.wait_fact("b.record", contains="sigterm")

    bad = manifests / "bad.yaml"  # a bad file is reported and changes nothing else
    bad.write_text(child_pod("bad", facts).replace('"command"', '"comand"'))
    (invalid,) = wait_for(lambda: daemon.logs("static_pod.invalid"), what="the warning")
    assert invalid["level"] == "warning"
    assert invalid["file"] == str(bad)
    assert invalid["errors"] == [
        f'{bad}: pod "bad": spec.containers[0].comand: Unknown field: did you mean "command"?'
    ]
    (event,) = [e for e in daemon.logs("pod.event") if e["reason"] == "FailedToParseManifest"]
    assert event["type"] == "Warning"
    assert event["pod"] == "default/bad"

    (manifests / ".hidden.yaml").write_text(child_pod("hidden", facts))  # dot-files: ignored
    (manifests / "c.yaml").write_text(child_pod("c", facts))
    daemon.wait_fact("c.uid")
    assert not (facts / "hidden.record").exists()
    assert not (facts / "bad.record").exists()

    assert daemon.fact("a.uid") == a2
    assert daemon.fact("a.record").count("start") == 2
    assert daemon.stop() == 0


def test_sigterm_stops_every_pod_gracefully_and_exits_0(daemon: Daemon) -> None:
    facts = daemon.facts
    for name in ("a", "b"):
        (daemon.manifests / f"{name}.yaml").write_text(
            child_pod(name, facts, grace=10, pre_stop=facts / f"{name}.prestop")
        )
    daemon.start()
    assert daemon.wait_message("READY=1") == "READY=1"
    # READY=1 comes once the static pods are started; its STATUS= says how many.
    assert (
        daemon.wait_message("STATUS=Running") == "STATUS=Running 2 pods (2 static, 0 from the API)"
    )
    daemon.wait_fact("a.uid")
    daemon.wait_fact("b.uid")

    assert daemon.stop(signal.SIGTERM) == 0
    assert daemon.wait_message("STOPPING=1") == "STOPPING=1"
    for name in ("a", "b"):
        assert daemon.fact(f"{name}.prestop") == "preStop ran"
        events = [line.split()[0] for line in daemon.fact(f"{name}.record").splitlines()]
        assert events == ["start", "ready", "sigterm", "exit"]
    assert daemon.logs("daemon.stopped")
    # The pods were stopped, not deleted: nothing was saved for the API, nothing forgotten.
    assert not (daemon.root / "pods-api").exists()


def test_watchdog_pings_when_systemd_asks(daemon: Daemon) -> None:
    seen = daemon.facts / "env"
    code = (
        "import os; names = ('NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'); "
        f"open({str(seen)!r}, 'w').write(repr([n for n in names if n in os.environ]))"
    )
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "env"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "env", "command": [sys.executable, "-c", code]}],
        },
    }
    (daemon.manifests / "env.json").write_text(json.dumps(manifest))
    daemon.start(env={"WATCHDOG_USEC": "200000"}).wait_ready()
    assert daemon.wait_message("WATCHDOG=1", timeout=5) == "WATCHDOG=1"
    assert daemon.wait_message("WATCHDOG=1", timeout=5) == "WATCHDOG=1"
    # Containers cannot speak for the daemon: the protocol's variables are not inherited.
    assert daemon.wait_fact("env") == "[]"
    assert daemon.stop(signal.SIGINT) == 0


def test_sighup_reloads_the_config_and_rescans(daemon: Daemon, tmp_path: Path) -> None:
    facts = daemon.facts
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "one.yaml").write_text(child_pod("one", facts))
    (second / "two.yaml").write_text(child_pod("two", facts))
    config = tmp_path / "config.yaml"
    header = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
    config.write_text(header + f"staticPodPath: {first}\n")
    daemon.start("--config", str(config), manifests_flag=False).wait_ready()
    daemon.wait_fact("one.uid")

    config.write_text(header + f"staticPodPath: {second}\ncontainerLogMaxFiles: 3\n")
    daemon.send(signal.SIGHUP)
    daemon.wait_fact("two.uid")
    daemon.wait_fact("one.record", contains="sigterm")
    (ignored,) = daemon.logs("config.reload_ignored")
    assert ignored["fields"] == ["containerLogMaxFiles"]
    assert daemon.wait_message("RELOADING=1") == "RELOADING=1"

    config.write_text(header + "staticPodPth: /nowhere\n")  # a bad file keeps the running config
    daemon.send(signal.SIGHUP)
    (failed,) = wait_for(lambda: daemon.logs("config.reload_failed"), what="reload_failed")
    assert 'staticPodPth: Unknown field: did you mean "staticPodPath"?' in failed["error"]
    assert "sigterm" not in daemon.fact("two.record")
    assert daemon.stop() == 0


def test_api_pods_are_restored_after_a_restart_as_the_same_pods(daemon: Daemon) -> None:
    manifest = json.loads(child_pod("api", daemon.facts))
    saved = daemon.root / "pods-api" / "default_api.json"
    path = "/api/v1/namespaces/default/pods/api"
    daemon.start().wait_ready()
    with daemon.client() as client:
        created = client.post("/api/v1/namespaces/default/pods", json=manifest)
        assert created.status_code == 201, created.text
        uid = daemon.wait_fact("api.uid")
        born = created.json()["metadata"]["creationTimestamp"]
        labelled = client.patch(
            path,
            content=json.dumps({"metadata": {"labels": {"tier": "web"}}}),
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert labelled.status_code == 200, labelled.text
        wait_for(
            lambda: json.loads(saved.read_text())["metadata"].get("labels") == {"tier": "web"},
            what="the label saved",
        )
        on_disk = json.loads(saved.read_text())
        assert on_disk["spec"] == manifest["spec"]
        assert on_disk["metadata"]["uid"] == uid
    assert daemon.stop() == 0
    assert saved.exists()  # a stop is not a deletion
    assert (daemon.root / "checkpoints" / f"{uid}.json").exists()

    daemon.start().wait_ready()
    assert (
        daemon.wait_message("STATUS=Running") == "STATUS=Running 1 pod (0 static, 1 from the API)"
    )
    wait_for(lambda: daemon.fact("api.record").count("start") == 2, what="a second start")
    with daemon.client() as client:

        def running_again() -> dict[str, Any] | None:
            pod: dict[str, Any] = client.get(path).json()
            (status,) = pod["status"].get("containerStatuses") or [{}]
            return pod if "running" in status.get("state", {}) else None

        pod = wait_for(running_again, what="the restored pod running")
        # The same pod: its uid, creation time and labels; the container's history goes on.
        assert pod["metadata"]["uid"] == uid
        assert pod["metadata"]["creationTimestamp"] == born
        assert pod["metadata"]["labels"] == {"tier": "web"}
        (status,) = pod["status"]["containerStatuses"]
        assert status["restartCount"] == 1
        assert status["lastState"]["terminated"]["reason"] == "ContainerStatusUnknown"
        assert status["lastState"]["terminated"]["exitCode"] == 137
        deleted = client.delete(path)
        assert deleted.status_code == 200, deleted.text
        wait_for(lambda: not saved.exists(), what="the saved manifest to go")
        wait_for(
            lambda: not (daemon.root / "checkpoints" / f"{uid}.json").exists(),
            what="the checkpoint to go",
        )
        wait_for(lambda: daemon.fact("api.record").count("sigterm") == 2, what="the stop")
    assert daemon.stop() == 0

    daemon.start().wait_ready()  # deleted for good: not restored
    with daemon.client() as client:
        assert client.get(path).status_code == 404
    assert daemon.stop() == 0


def test_a_static_pod_deleted_through_the_api_is_recreated(daemon: Daemon) -> None:
    (daemon.manifests / "web.yaml").write_text(child_pod("web", daemon.facts))
    daemon.start().wait_ready()
    uid = daemon.wait_fact("web.uid")
    wait_for(lambda: daemon.fact("web.record").count("start") == 1, what="the first start")
    with daemon.client() as client:
        born = client.get("/api/v1/namespaces/default/pods/web").json()["metadata"]
        assert client.delete("/api/v1/namespaces/default/pods/web").status_code == 200
        wait_for(lambda: daemon.fact("web.record").count("start") == 2, what="a new start")
        pod = client.get("/api/v1/namespaces/default/pods/web").json()
        # The kubelet's static pod keeps its uid, the hash of its file; it starts anew.
        assert pod["metadata"]["uid"] == uid == born["annotations"]["kubernetes.io/config.hash"]
        assert pod["metadata"]["annotations"]["kubernetes.io/config.source"] == "file"
        assert pod["metadata"]["creationTimestamp"] >= born["creationTimestamp"]
        (status,) = pod["status"]["containerStatuses"]
        assert status["restartCount"] == 0
    assert not (daemon.root / "pods-api").exists()  # static pods are never saved as API pods
    assert daemon.stop() == 0


def test_resource_versions_keep_growing_across_restarts(daemon: Daemon) -> None:
    # As if an earlier daemon had handed out versions far above the wall clock's.
    (daemon.root).mkdir(parents=True, exist_ok=True)
    (daemon.root / "resource-version").write_text("9000000000000000\n")
    daemon.start().wait_ready()
    with daemon.client() as client:
        listed = client.get("/api/v1/pods").json()
        assert int(listed["metadata"]["resourceVersion"]) > 9_000_000_000_000_000
    assert daemon.stop() == 0


def test_a_static_pod_is_the_same_pod_after_a_restart(daemon: Daemon) -> None:
    (daemon.manifests / "web.yaml").write_text(child_pod("web", daemon.facts))
    (daemon.manifests / "gone.yaml").write_text(child_pod("gone", daemon.facts))
    path = "/api/v1/namespaces/default/pods/web"
    daemon.start().wait_ready()
    uid = daemon.wait_fact("web.uid")
    gone = daemon.wait_fact("gone.uid")
    with daemon.client() as client:
        born = client.get(path).json()["metadata"]["creationTimestamp"]
    assert daemon.stop() == 0
    (daemon.manifests / "gone.yaml").unlink()  # removed while the daemon was down

    daemon.start().wait_ready()
    wait_for(lambda: daemon.fact("web.record").count("start") == 2, what="the second start")
    with daemon.client() as client:

        def restarted() -> dict[str, Any] | None:
            pod: dict[str, Any] = client.get(path).json()
            (status,) = pod["status"].get("containerStatuses") or [{}]
            return pod if "running" in status.get("state", {}) else None

        pod = wait_for(restarted, what="web running again")
    assert pod["metadata"]["uid"] == uid
    assert pod["metadata"]["creationTimestamp"] == born
    (status,) = pod["status"]["containerStatuses"]
    assert status["restartCount"] == 1
    assert status["lastState"]["terminated"]["reason"] == "ContainerStatusUnknown"
    checkpoints = daemon.root / "checkpoints"
    assert (checkpoints / f"{uid}.json").exists()
    assert not (checkpoints / f"{gone}.json").exists()  # its pod did not come back
    assert daemon.stop() == 0


def test_a_socket_in_use_is_an_error(daemon: Daemon, tmp_path: Path, short_tmp: Path) -> None:
    daemon.start().wait_ready()
    (tmp_path / "other").mkdir()
    (short_tmp / "other").mkdir()
    other = Daemon(tmp_path / "other", short_tmp / "other")
    try:
        other.socket = daemon.socket
        other.start()
        assert other.process is not None
        assert other.process.wait(30) == 1
        (failed,) = other.logs("daemon.api_failed")
        assert "in use" in failed["error"]
    finally:
        other.close()
    assert daemon.stop() == 0


def test_config_file_and_flags(daemon: Daemon, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            apiVersion: kubelet.config.k8s.io/v1beta1
            kind: KubeletConfiguration
            staticPodPath: {tmp_path / "not-this-one"}
            socket: {tmp_path / "not-this-one.sock"}
            fileCheckFrequency: 1s
            """
        )
    )
    (daemon.manifests / "web.yaml").write_text(child_pod("web", daemon.facts))
    daemon.start("--config", str(config)).wait_ready()  # the flags win over the file
    daemon.wait_fact("web.uid")
    (ready,) = daemon.logs("daemon.ready")
    assert ready["manifests"] == str(daemon.manifests)
    assert ready["socket"] == str(daemon.socket)
    assert daemon.stop() == 0


def test_a_second_sigterm_kills_what_is_left(daemon: Daemon) -> None:
    (daemon.manifests / "stubborn.yaml").write_text(
        child_pod("stubborn", daemon.facts, "--ignore-sigterm", grace=60)
    )
    daemon.start().wait_ready()
    daemon.wait_fact("stubborn.uid")
    daemon.send(signal.SIGTERM)
    wait_for(lambda: daemon.logs("daemon.stopping"), what="the daemon to start stopping")
    assert daemon.stop(signal.SIGTERM, timeout=15) == 0  # not 60 s later
    assert daemon.logs("daemon.killing")


def test_shutdown_grace_period_caps_each_pod(daemon: Daemon, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
        "shutdownGracePeriod: 1s\n"
    )
    (daemon.manifests / "stubborn.yaml").write_text(
        child_pod("stubborn", daemon.facts, "--ignore-sigterm", grace=60)
    )
    daemon.start("--config", str(config)).wait_ready()
    daemon.wait_fact("stubborn.uid")
    assert daemon.stop(signal.SIGTERM, timeout=15) == 0  # SIGKILL after 1 s, not 60 s
