"""The real kubectl against a real daemon, command by command, as a user runs it.

``minikubelet serve --port 0`` (HTTPS with its own certificate), ``minikubelet kubeconfig``
over the socket, then ``kubectl --kubeconfig F ...``: exit codes and output, the header
and row fields of tables, what happened to the pods. Skipped, with the reason printed
(``-ra``), where no kubectl binary exists.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess  # noqa: TID251 - kubectl runs as a user would run it
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import CHILD, PYTHON
from tests.helpers.kubectl import Kubectl, find_kubectl, write_kubeconfig
from tests.serve.daemon import Daemon, wait_for

pytestmark = [pytest.mark.e2e]

PODS = "/api/v1/namespaces/default/pods"


@dataclass
class Cluster:
    daemon: Daemon
    kubectl: Kubectl
    files: Path

    def manifest(self, name: str, document: dict[str, Any]) -> Path:
        path = self.files / f"{name}.yaml"
        path.write_text(yaml.safe_dump(document))
        return path

    def api(self, path: str) -> Any:
        transport = httpx.HTTPTransport(uds=str(self.daemon.socket))
        with httpx.Client(transport=transport, base_url="http://minikubelet", timeout=10) as client:
            response = client.get(path)
        return response.json() if response.status_code == 200 else None

    def phase(self, name: str) -> str | None:
        pod = self.api(f"{PODS}/{name}")
        return None if pod is None else str(pod["status"]["phase"])

    def ok(self, *args: str, stdin: bytes | None = None) -> str:
        code, out, err = self.kubectl.run(*args, stdin=stdin)
        assert code == 0, f"kubectl {' '.join(args)}: {code}\n{out}\n{err}"
        return out


@pytest.fixture
def cluster(tmp_path: Path, short_tmp: Path) -> Iterator[Cluster]:
    binary = find_kubectl()
    if binary is None:
        pytest.skip("no kubectl binary on this machine")
    daemon = Daemon(tmp_path, short_tmp)
    try:
        daemon.start("--port", "0", "--initial-container-restart-period", "1s").wait_ready()
        kubeconfig = write_kubeconfig(daemon.socket, tmp_path / "kubeconfig")
        files = tmp_path / "files"
        files.mkdir()
        yield Cluster(daemon, Kubectl(binary, kubeconfig, tmp_path / "home"), files)
    finally:
        daemon.close()


def pod(
    name: str,
    *flags: str,
    labels: dict[str, str] | None = None,
    grace: int = 5,
    policy: str = "Always",
    **container: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": {
            "restartPolicy": policy,
            "terminationGracePeriodSeconds": grace,
            "containers": [
                {
                    "name": "app",
                    "image": "python:3.12",
                    "command": [PYTHON, CHILD, *flags],
                    "env": [{"name": "GREETING", "value": "hello"}],
                    "ports": [{"containerPort": 8080}],
                    **container,
                }
            ],
        },
    }


def running(cluster: Cluster, name: str) -> None:
    wait_for(lambda: cluster.phase(name) == "Running", what=f"{name} Running")
    wait_for(
        lambda: all(
            s.get("ready") for s in cluster.api(f"{PODS}/{name}")["status"]["containerStatuses"]
        ),
        what=f"{name} ready",
    )


def table(output: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of kubectl's table output, split on runs of 2+ spaces."""
    lines = [line for line in output.splitlines() if line.strip()]
    split = [[cell for cell in line.split("  ") if cell.strip()] for line in lines]
    return [c.strip() for c in split[0]], [[c.strip() for c in row] for row in split[1:]]


# -- get ---------------------------------------------------------------------------------


def test_get_pods_wide_labels_jsonpath_and_custom_columns(cluster: Cluster) -> None:
    cluster.ok(
        "create",
        "-f",
        str(cluster.manifest("web", pod("web", "--forever", labels={"tier": "web"}))),
    )
    cluster.ok(
        "create",
        "-f",
        str(cluster.manifest("api", pod("api", "--forever", labels={"tier": "api"}))),
    )
    running(cluster, "web")
    running(cluster, "api")
    header, rows = table(cluster.ok("get", "pods"))
    assert header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [row[:4] for row in rows] == [
        ["api", "1/1", "Running", "0"],
        ["web", "1/1", "Running", "0"],
    ]
    header, rows = table(cluster.ok("get", "pods", "-o", "wide"))
    assert header == [
        "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE",
        "READINESS GATES",
    ]  # fmt: skip
    node = os.uname().nodename
    assert rows[1][5:] == ["127.0.0.1", node, "<none>", "<none>"]
    header, rows = table(cluster.ok("get", "pods", "-l", "tier=web"))
    assert [row[0] for row in rows] == ["web"]
    assert table(cluster.ok("get", "pods", "-l", "tier in (web,api),tier!=api"))[1][0][0] == "web"
    header, rows = table(cluster.ok("get", "pods", "-A", "--show-labels"))
    assert header[0] == "NAMESPACE"
    assert header[-1] == "LABELS"
    assert rows[0][0] == "default"
    assert rows[1][-1] == "tier=web"
    assert cluster.ok("get", "pod", "web", "-o", "jsonpath={.status.phase}") == "Running"
    assert cluster.ok(
        "get", "pods", "-o", "custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[0].image"
    ).split() == ["NAME", "IMAGE", "api", "python:3.12", "web", "python:3.12"]
    listed = json.loads(cluster.ok("get", "pods", "-o", "json"))
    assert [item["metadata"]["name"] for item in listed["items"]] == ["api", "web"]
    assert yaml.safe_load(cluster.ok("get", "pod", "web", "-o", "yaml"))["kind"] == "Pod"
    assert cluster.ok("get", "pods", "--sort-by=.metadata.name", "-o", "name").split() == [
        "pod/api",
        "pod/web",
    ]
    code, _, err = cluster.kubectl.run("get", "pod", "nope")
    assert code == 1
    assert err.strip() == 'Error from server (NotFound): pods "nope" not found'
    _, _, err = cluster.kubectl.run("get", "pods", "-n", "empty")
    assert err.strip() == "No resources found in empty namespace."


def test_get_w_prints_a_row_for_running_and_one_for_completed(cluster: Cluster) -> None:
    watcher = cluster.kubectl.start("get", "pods", "-w")
    try:
        time.sleep(1)  # noqa: TID251 - the watch opens (or the first rows are the list's)
        job = pod("job", "--sleep", "1.5", policy="Never")
        cluster.ok("create", "-f", str(cluster.manifest("job", job)))
        wait_for(lambda: cluster.phase("job") == "Succeeded", what="the job done")
        seen = ""
        deadline = time.monotonic() + 10  # noqa: TID251 - reading a subprocess, under a deadline
        assert watcher.stdout is not None
        while "Completed" not in seen and time.monotonic() < deadline:  # noqa: TID251
            ready, _, _ = select.select([watcher.stdout], [], [], 0.5)
            if ready:
                seen += os.read(watcher.stdout.fileno(), 65536).decode()
    finally:
        watcher.terminate()
        rest, _ = watcher.communicate(timeout=10)  # and closes the pipes
        seen += rest.decode()
    header, rows = table(seen)
    assert header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]  # printed once
    statuses = [row[2] for row in rows if row[0] == "job"]
    assert "Running" in statuses
    assert statuses[-1] == "Completed"
    assert all(row[0] == "job" for row in rows)


def test_describe_and_events(cluster: Cluster) -> None:
    cluster.ok("create", "-f", str(cluster.manifest("web", pod("web", "--forever"))))
    running(cluster, "web")
    described = cluster.ok("describe", "pod", "web")
    assert "Status:       Running" in described
    # ports[].protocol defaulted, as the apiserver does (without: "Port: 8080/")
    assert re.search(r"^ +Port: +8080/TCP$", described, re.MULTILINE), described
    assert "GREETING:  hello" in described
    assert f"Node:         {os.uname().nodename}/127.0.0.1" in described
    assert "Started container app" in described  # its events, selected by involvedObject
    header, rows = table(cluster.ok("get", "events"))
    assert header == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert ["Normal", "Started", "pod/web", "Started container app"] in [row[1:] for row in rows]
    wide, _ = table(cluster.ok("get", "events", "-o", "wide"))
    assert wide[:5] == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT"]
    assert "Started" in cluster.ok("events", "--for", "pod/web")


# -- logs --------------------------------------------------------------------------------


def test_logs_follow_ends_when_the_container_exits_and_previous(cluster: Cluster) -> None:
    talker = pod("talker", "--print", "one", "--print", "two", "--sleep", "2", "--exit-code", "1")
    cluster.ok("create", "-f", str(cluster.manifest("talker", talker)))
    wait_for(lambda: cluster.phase("talker") == "Running", what="talker Running")
    began = time.monotonic()  # noqa: TID251 - how long logs -f lasted
    code, out, err = cluster.kubectl.run("logs", "talker", "-f", timeout=30)
    assert code == 0, err
    assert out == "one\ntwo\n"
    assert time.monotonic() - began < 20  # noqa: TID251 - it ended with the container
    wait_for(
        lambda: (
            cluster.api(f"{PODS}/talker")["status"]["containerStatuses"][0]["restartCount"] >= 1
        ),
        what="a restart",
    )
    assert cluster.ok("logs", "talker", "--previous") == "one\ntwo\n"
    assert cluster.ok("logs", "talker", "--tail", "1", "--previous") == "two\n"


# -- create, apply, label, patch ------------------------------------------------------------


def test_create_apply_created_unchanged_configured(cluster: Cluster) -> None:
    manifest = cluster.manifest("web", pod("web", "--forever"))
    assert cluster.ok("apply", "-f", str(manifest)).strip() == "pod/web created"
    running(cluster, "web")
    uid = cluster.api(f"{PODS}/web")["metadata"]["uid"]
    assert cluster.ok("apply", "-f", str(manifest)).strip() == "pod/web unchanged"
    changed = pod("web", "--forever", labels={"app": "web", "tier": "front"}, image="python:3.13")
    manifest.write_text(yaml.safe_dump(changed))
    assert cluster.ok("apply", "-f", str(manifest)).strip() == "pod/web configured"
    live = cluster.api(f"{PODS}/web")
    assert live["metadata"]["uid"] == uid  # updated in place
    assert live["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert live["spec"]["containers"][0]["image"] == "python:3.13"
    wait_for(
        lambda: cluster.api(f"{PODS}/web")["status"]["containerStatuses"][0]["restartCount"] == 1,
        what="the new image's restart",
    )
    assert cluster.ok("apply", "-f", str(manifest)).strip() == "pod/web unchanged"
    # What a Pod may not change: the apiserver's 422, as kubectl prints it.
    manifest.write_text(yaml.safe_dump(pod("web", "--forever", "--print", "x")))
    code, _, err = cluster.kubectl.run("apply", "-f", str(manifest))
    assert code == 1
    assert 'The Pod "web" is invalid: spec: Forbidden: pod updates may not change fields' in err
    # create of a name in use
    code, _, err = cluster.kubectl.run("create", "-f", str(manifest))
    assert code == 1
    assert err.strip().endswith('pods "web" already exists')
    assert "Error from server (AlreadyExists)" in err


def test_apply_server_side_and_a_list_of_several_objects(cluster: Cluster) -> None:
    manifest = cluster.manifest("ssa", pod("ssa", "--forever"))
    assert cluster.ok("apply", "--server-side", "-f", str(manifest)).strip() == (
        "pod/ssa serverside-applied"
    )
    listing = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [pod("one", "--forever"), pod("two", "--forever")],
    }
    out = cluster.ok("apply", "-f", str(cluster.manifest("list", listing)))
    assert out.split("\n")[:2] == ["pod/one created", "pod/two created"]
    running(cluster, "two")


def test_label_annotate_and_patch(cluster: Cluster) -> None:
    cluster.ok("create", "-f", str(cluster.manifest("web", pod("web", "--forever"))))
    running(cluster, "web")
    assert cluster.ok("label", "pod", "web", "color=blue").strip() == "pod/web labeled"
    code, _, err = cluster.kubectl.run("label", "pod", "web", "color=red")
    assert code == 1
    assert "'color' already has a value (blue), and --overwrite is false" in err
    cluster.ok("label", "pod", "web", "color=red", "--overwrite")
    assert cluster.ok("annotate", "pod", "web", "note=hi").strip() == "pod/web annotated"
    metadata = cluster.api(f"{PODS}/web")["metadata"]
    assert metadata["labels"]["color"] == "red"
    assert metadata["annotations"]["note"] == "hi"
    cluster.ok("label", "pod", "web", "color-")
    cluster.ok(
        "patch",
        "pod",
        "web",
        "--type",
        "json",
        "-p",
        '[{"op":"add","path":"/metadata/labels/x","value":"y"}]',
    )
    assert cluster.api(f"{PODS}/web")["metadata"]["labels"] == {"app": "web", "x": "y"}
    code, _, err = cluster.kubectl.run(
        "patch", "pod", "web", "-p", '{"spec":{"restartPolicy":"Never"}}'
    )
    assert code == 1
    assert "Forbidden: pod updates may not change fields other than" in err


# -- delete ------------------------------------------------------------------------------


def test_delete_waits_for_the_graceful_termination(cluster: Cluster) -> None:
    slow = pod("slow", "--forever", "--sigterm-exit-code", "0", grace=10)
    # The child exits on SIGTERM at once: give it a preStop hook that takes 2 s.
    slow["spec"]["containers"][0]["lifecycle"] = {"preStop": {"sleep": {"seconds": 2}}}
    cluster.ok("create", "-f", str(cluster.manifest("slow", slow)))
    running(cluster, "slow")
    began = time.monotonic()  # noqa: TID251 - how long delete waited
    assert cluster.ok("delete", "pod", "slow").strip() == 'pod "slow" deleted'
    waited = time.monotonic() - began  # noqa: TID251
    assert waited >= 1.9  # the preStop hook's time
    assert cluster.api(f"{PODS}/slow") is None  # really gone
    code, _, err = cluster.kubectl.run("get", "pod", "slow")
    assert code == 1
    assert "NotFound" in err


def test_delete_no_wait_now_and_force(cluster: Cluster) -> None:
    slow = pod("slow", "--forever", "--ignore-sigterm", grace=30)
    cluster.ok("create", "-f", str(cluster.manifest("slow", slow)))
    running(cluster, "slow")
    began = time.monotonic()  # noqa: TID251
    assert cluster.ok("delete", "pod", "slow", "--wait=false").strip() == 'pod "slow" deleted'
    assert time.monotonic() - began < 10  # noqa: TID251 - it did not wait the 30 s
    terminating = cluster.api(f"{PODS}/slow")
    assert terminating["metadata"]["deletionTimestamp"]
    _, rows = table(cluster.ok("get", "pods"))
    assert rows[0][2] == "Terminating"
    code, out, err = cluster.kubectl.run("delete", "pod", "slow", "--force", "--grace-period=0")
    assert code == 0, err
    assert out.strip() == 'pod "slow" force deleted'
    assert "Immediate deletion does not wait for confirmation" in err
    assert cluster.api(f"{PODS}/slow") is None
    code, _, err = cluster.kubectl.run("delete", "pod", "nope")
    assert code == 1
    assert err.strip() == 'Error from server (NotFound): pods "nope" not found'


# -- top, exec ---------------------------------------------------------------------------


def test_top_pod_and_node(cluster: Cluster) -> None:
    cluster.ok("create", "-f", str(cluster.manifest("web", pod("web", "--forever"))))
    running(cluster, "web")
    header, rows = table(cluster.ok("top", "pod"))
    assert header == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert rows[0][0] == "web"
    assert rows[0][1].endswith("m")
    assert rows[0][2].endswith("Mi")
    header, rows = table(cluster.ok("top", "pod", "--containers"))
    assert header[:2] == ["POD", "NAME"]
    assert rows[0][:2] == ["web", "app"]
    header, rows = table(cluster.ok("top", "node"))
    assert header == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    assert rows[0][0] == os.uname().nodename
    assert rows[0][2].endswith("%")
    assert cluster.ok("get", "nodes").split()[:7] == [
        "NAME", "STATUS", "ROLES", "AGE", "VERSION", os.uname().nodename, "Ready"
    ]  # fmt: skip


def test_exec_stdout_exit_code_and_stdin(cluster: Cluster) -> None:
    cluster.ok("create", "-f", str(cluster.manifest("web", pod("web", "--forever"))))
    running(cluster, "web")
    out = cluster.ok("exec", "web", "--", "env")
    assert "GREETING=hello" in out.splitlines()
    assert "HOSTNAME=web" in out.splitlines()
    code, out, err = cluster.kubectl.run(
        "exec", "web", "--", "sh", "-c", "echo out; echo err >&2; exit 3"
    )
    assert (code, out) == (3, "out\n")
    assert "err\n" in err
    assert "command terminated with exit code 3" in err
    script = b"echo from-script\npwd\nexit 0\n"
    out = cluster.ok("exec", "-i", "web", "--", "sh", stdin=script)
    assert out.splitlines()[0] == "from-script"
    code, _, err = cluster.kubectl.run("exec", "web", "-c", "nope", "--", "true")
    assert code == 1
    assert "Error from server (BadRequest): container nope is not valid for pod web" in err


def test_exec_with_a_tty(cluster: Cluster) -> None:
    cluster.ok("create", "-f", str(cluster.manifest("web", pod("web", "--forever"))))
    running(cluster, "web")
    primary, secondary = os.openpty()
    try:
        process = subprocess.Popen(
            cluster.kubectl.command(
                "exec", "-it", "web", "--", "sh", "-c", "test -t 0 && echo is-a-tty; stty size"
            ),
            stdin=secondary,
            stdout=secondary,
            stderr=secondary,
            env=cluster.kubectl.environment(),
            start_new_session=True,
        )
        os.close(secondary)
        seen = b""
        deadline = time.monotonic() + 30  # noqa: TID251 - reading a pty, under a deadline
        while time.monotonic() < deadline:  # noqa: TID251
            ready, _, _ = select.select([primary], [], [], 0.5)
            if ready:
                try:
                    data = os.read(primary, 65536)
                except OSError:
                    break
                if not data:
                    break
                seen += data
            if process.poll() is not None and not ready:
                break
        assert process.wait(10) == 0, seen
    finally:
        os.close(primary)
    assert b"is-a-tty" in seen
    assert textwrap.dedent(seen.decode(errors="replace")).count("\n") >= 1
