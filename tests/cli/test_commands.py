"""The client commands against a scripted API: what they print, and what they ask."""

from __future__ import annotations

import json
import queue
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from minikubelet.cli.client.commands import common
from minikubelet.cli.main import cli
from tests.cli.samples import NOW, container_status, event, pod, running, terminated, waiting
from tests.cli.stub import Reply, StubServer, not_found

PODS = "/api/v1/namespaces/default/pods"


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch, utc_clock: None) -> None:
    monkeypatch.setattr(common, "now", lambda: NOW)


def run(stub: StubServer, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, [*args, "--server", stub.path], input=input)


def pod_list(*items: dict[str, Any], version: str = "42") -> Reply:
    return Reply(
        body={
            "kind": "PodList",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": version},
            "items": list(items),
        }
    )


def stream(*events: dict[str, Any] | bytes) -> Reply:
    feed: queue.Queue[bytes | None] = queue.Queue()
    for item in events:
        feed.put(item if isinstance(item, bytes) else json.dumps(item).encode() + b"\n")
    feed.put(None)
    return Reply(stream=feed, content_type="text/plain")


def crasher() -> dict[str, Any]:
    return pod(
        "crasher",
        statuses=[
            container_status(
                "crasher",
                waiting("CrashLoopBackOff"),
                restarts=3,
                last=terminated(1, "Error", 20, 12),
            )
        ],
    )


# ---------------------------------------------------------------------------------------- get


def test_get_pods(stub: StubServer) -> None:
    stub.route("GET", PODS, pod_list(pod("web", created=7), crasher()))
    result = run(stub, "get", "pods")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "NAME      READY   STATUS             RESTARTS      AGE\n"
        "web       1/1     Running            0             7s\n"
        "crasher   0/1     CrashLoopBackOff   3 (12s ago)   5m\n"
    )


def test_no_pods(stub: StubServer) -> None:
    stub.route("GET", PODS, pod_list())
    result = run(stub, "get", "pods")
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == "No resources found in default namespace.\n"
    stub.route("GET", "/api/v1/pods", pod_list())
    assert run(stub, "get", "pods", "-A").stderr == "No resources found\n"


def test_get_one_pod_and_a_missing_one(stub: StubServer) -> None:
    stub.route("GET", f"{PODS}/web", Reply(body=pod("web", created=7)))
    stub.route("GET", f"{PODS}/nope", not_found("nope"))
    result = run(stub, "get", "pod", "web")
    assert result.stdout.splitlines()[1].split() == ["web", "1/1", "Running", "0", "7s"]
    result = run(stub, "get", "pods", "nope")
    assert result.exit_code == 1
    assert result.stderr == 'Error from server (NotFound): pods "nope" not found\n'
    result = run(stub, "get", "pod/web", "pod/nope")
    assert result.exit_code == 1
    assert "web" in result.stdout
    assert 'pods "nope" not found' in result.stderr


def test_all_namespaces_and_wide(stub: StubServer) -> None:
    stub.route("GET", "/api/v1/pods", pod_list(pod("db", namespace="data", created=60)))
    result = run(stub, "get", "pods", "-A", "-o", "wide")
    assert result.stdout.splitlines() == [
        "NAMESPACE   NAME   READY   STATUS    RESTARTS   AGE   IP          NODE        "
        "NOMINATED NODE   READINESS GATES",
        "data        db     1/1     Running   0          60s   127.0.0.1   localhost   "
        "<none>           <none>",
    ]


def test_output_formats(stub: StubServer) -> None:
    web = pod("web")
    stub.route("GET", PODS, pod_list(web))
    stub.route("GET", f"{PODS}/web", Reply(body=web))
    as_list = json.loads(run(stub, "get", "pods", "-o", "json").stdout)
    assert as_list["kind"] == "List"
    assert as_list["items"][0]["metadata"]["name"] == "web"
    assert json.loads(run(stub, "get", "pod", "web", "-o", "json").stdout) == web
    assert run(stub, "get", "pod", "web", "-o", "yaml").stdout.startswith(
        "apiVersion: v1\nkind: Pod\n"
    )
    assert run(stub, "get", "pods", "-o", "name").stdout == "pod/web\n"


def test_bad_resource_type(stub: StubServer) -> None:
    result = run(stub, "get", "deployments")
    assert result.exit_code == 1
    assert result.stderr == 'error: the server doesn\'t have a resource type "deployments"\n'


def test_argument_errors(stub: StubServer) -> None:
    result = run(stub, "get")
    assert (result.exit_code, result.stderr) == (
        1,
        'error: Required resource not specified. Use "minikubelet get pods".\n',
    )
    result = run(stub, "get", "pods", "web", "-A")
    assert result.stderr == "error: a resource cannot be retrieved by name across all namespaces\n"
    result = run(stub, "delete", "pods")
    assert result.stderr == "error: resource(s) were provided, but no name was specified\n"
    assert not stub.requests


def test_watch_prints_changes_after_the_list(stub: StubServer) -> None:
    web = pod("web", created=7)
    stub.route("GET", PODS, [pod_list(web, version="42")])
    terminating = pod("web", created=7, deleting=0)
    terminating["metadata"]["resourceVersion"] = "43"
    replay = {"type": "ADDED", "object": web}  # what a server that ignores the RV would send
    stub.route(
        "GET",
        PODS,
        lambda request: (
            stream(
                replay,
                {"type": "MODIFIED", "object": terminating},
                {"type": "DELETED", "object": terminating},
            )
            if request.query.get("watch")
            else pod_list(web, version="42")
        ),
    )
    result = run(stub, "get", "pods", "-w")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "NAME   READY   STATUS    RESTARTS   AGE\n"
        "web    1/1     Running   0          7s\n"
        "web    1/1     Terminating   0          7s\n"
        "web    1/1     Terminating   0          7s\n"
    )
    watch = [r for r in stub.requests_to("GET", PODS) if r.query.get("watch")]
    assert watch[0].query == {"resourceVersion": "42", "watch": "true"}


# ----------------------------------------------------------------------------------- describe


def test_describe_with_events_of_this_pod_only(stub: StubServer) -> None:
    stub.route("GET", f"{PODS}/web", Reply(body=pod("web")))
    events = [
        event("Started", "Started container web", first=30),
        event("Killing", "from an earlier pod with the same name", uid="old-uid", first=90),
    ]
    stub.route(
        "GET",
        "/api/v1/namespaces/default/events",
        Reply(body={"kind": "EventList", "items": events}),
    )
    result = run(stub, "describe", "pod", "web")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Name:         web\nNamespace:    default\n")
    assert "  Normal  Started  30s   minikubelet  Started container web\n" in result.stdout
    assert "earlier" not in result.stdout
    query = stub.requests_to("GET", "/api/v1/namespaces/default/events")[0].query
    assert query == {"fieldSelector": "involvedObject.name=web"}


def test_describe_falls_back_to_a_name_prefix(stub: StubServer) -> None:
    stub.route("GET", f"{PODS}/we", not_found("we"))
    stub.route("GET", PODS, pod_list(pod("web"), pod("db")))
    stub.route("GET", "/api/v1/namespaces/default/events", not_found("events", "paths"))
    result = run(stub, "describe", "pod", "we")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Name:         web\n")
    assert result.stdout.endswith("Events:                       <none>\n")
    stub.route("GET", f"{PODS}/zz", not_found("zz"))
    result = run(stub, "describe", "pod", "zz")
    assert (result.exit_code, result.stderr) == (
        1,
        'Error from server (NotFound): pods "zz" not found\n',
    )


# --------------------------------------------------------------------------------------- logs


def test_logs_sends_kubectls_parameters(stub: StubServer) -> None:
    stub.route("GET", f"{PODS}/web", Reply(body=pod("web")))
    stub.route("GET", f"{PODS}/web/log", lambda request: stream(b"line one\n", b"line two\n"))
    result = run(
        stub, "logs", "web", "--tail", "5", "--timestamps", "--since", "5m", "--limit-bytes", "100"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "line one\nline two\n"
    assert stub.requests_to("GET", f"{PODS}/web/log")[0].query == {
        "container": "web",
        "tailLines": "5",
        "timestamps": "true",
        "sinceSeconds": "300",
        "limitBytes": "100",
    }
    run(stub, "logs", "pod/web", "-f", "-p")
    assert stub.requests_to("GET", f"{PODS}/web/log")[1].query == {
        "container": "web",
        "follow": "true",
        "previous": "true",
    }


def test_logs_chooses_the_container_as_kubectl(stub: StubServer) -> None:
    multi = pod(
        "multi",
        containers=[{"name": "app"}, {"name": "sidecar"}],
        init_containers=[{"name": "setup"}],
        statuses=[
            container_status("app", running(), ready=True),
            container_status("sidecar", running(), ready=True),
        ],
    )
    stub.route("GET", f"{PODS}/multi", Reply(body=multi))
    stub.route("GET", f"{PODS}/multi/log", lambda request: stream(b"hi\n"))
    result = run(stub, "logs", "multi")
    assert result.stderr == 'Defaulted container "app" out of: app, sidecar, setup (init)\n'
    assert stub.requests_to("GET", f"{PODS}/multi/log")[-1].query == {"container": "app"}
    result = run(stub, "logs", "multi", "-c", "setup")
    assert (result.exit_code, result.stderr) == (0, "")
    result = run(stub, "logs", "multi", "-c", "bad")
    assert (result.exit_code, result.stderr) == (
        1,
        "error: container bad is not valid for pod multi\n",
    )


def test_logs_errors(stub: StubServer) -> None:
    stub.route("GET", f"{PODS}/nope", not_found("nope"))
    result = run(stub, "logs", "nope")
    assert (result.exit_code, result.stderr) == (
        1,
        'Error from server (NotFound): pods "nope" not found\n',
    )
    stub.route("GET", f"{PODS}/web", Reply(body=pod("web")))
    message = 'previous terminated container "web" in pod "web" not found'
    stub.route(
        "GET",
        f"{PODS}/web/log",
        Reply(400, {"kind": "Status", "reason": "BadRequest", "message": message, "code": 400}),
    )
    result = run(stub, "logs", "web", "--previous")
    assert result.stderr == f"Error from server (BadRequest): {message}\n"
    assert run(stub, "logs", "web", "--since", "soon").exit_code == 1


# ------------------------------------------------------------------------------------- delete


def deleted_route(stub: StubServer, name: str) -> None:
    gone = pod(name, deleting=0)
    stub.route("DELETE", f"{PODS}/{name}", Reply(body=gone))


def test_delete_waits_for_the_deleted_event(stub: StubServer) -> None:
    deleted_route(stub, "web")
    still_there = pod("web", deleting=0)
    stub.route("GET", f"{PODS}/web", Reply(body=still_there))
    stub.route(
        "GET",
        PODS,
        lambda request: stream(
            {"type": "MODIFIED", "object": still_there},
            {"type": "DELETED", "object": still_there},
        ),
    )
    result = run(stub, "delete", "pod", "web", "--grace-period", "5")
    assert result.exit_code == 0, result.output
    assert result.stdout == 'pod "web" deleted\n'
    assert stub.requests_to("DELETE", f"{PODS}/web")[0].body == {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "gracePeriodSeconds": 5,
    }
    watch = stub.requests_to("GET", PODS)[0]
    assert watch.query == {"fieldSelector": "metadata.name=web", "watch": "true"}


def test_delete_done_when_the_pod_is_already_gone(stub: StubServer) -> None:
    deleted_route(stub, "web")
    stub.route("GET", f"{PODS}/web", not_found("web"))
    stub.route("GET", PODS, lambda request: stream())
    result = run(stub, "delete", "pod", "web")
    assert (result.exit_code, result.stdout) == (0, 'pod "web" deleted\n')
    assert stub.requests_to("DELETE", f"{PODS}/web")[0].body == {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
    }


def test_delete_no_wait_and_grace_rules(stub: StubServer) -> None:
    deleted_route(stub, "web")
    result = run(stub, "delete", "pod", "web", "--no-wait", "--grace-period", "0")
    assert result.exit_code == 0
    assert stub.requests_to("DELETE", f"{PODS}/web")[-1].body["gracePeriodSeconds"] == 1
    assert not stub.requests_to("GET", f"{PODS}/web")
    result = run(stub, "delete", "pod/web", "--no-wait", "--force")
    assert result.stdout == 'pod "web" force deleted\n'
    assert "Immediate deletion does not wait" in result.stderr
    assert stub.requests_to("DELETE", f"{PODS}/web")[-1].body["gracePeriodSeconds"] == 0


def test_delete_missing_pod(stub: StubServer) -> None:
    stub.route("DELETE", f"{PODS}/nope", not_found("nope"))
    result = run(stub, "delete", "pod", "nope")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        'Error from server (NotFound): pods "nope" not found\n',
    )
    assert run(stub, "delete", "pod").exit_code == 1


def test_delete_timeout(stub: StubServer) -> None:
    deleted_route(stub, "web")
    stub.route("GET", f"{PODS}/web", Reply(body=pod("web", deleting=0)))
    feed: queue.Queue[bytes | None] = queue.Queue()
    stub.route("GET", PODS, Reply(stream=feed))
    result = run(stub, "delete", "pod", "web", "--timeout", "300ms")
    feed.put(None)
    assert result.exit_code == 1
    assert result.stderr == "error: timed out waiting for the condition on pods/web\n"


# -------------------------------------------------------------------------------------- apply


MANIFEST = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
    - name: app
      command: ["sleep", "{seconds}"]
"""


def test_apply_creates_configures_and_leaves_unchanged(stub: StubServer, tmp_path: Path) -> None:
    from minikubelet.cli.client.manifests import LAST_APPLIED, last_applied, objects_in_text

    same = MANIFEST.format(name="same", seconds=1)
    changed = MANIFEST.format(name="changed", seconds=2)
    path = tmp_path / "pods.yaml"
    path.write_text("---\n".join([MANIFEST.format(name="new", seconds=1), same, changed]))
    stored_same = pod(
        "same",
        annotations={LAST_APPLIED: last_applied(objects_in_text(same, "", "default")[0].manifest)},
    )
    stored_changed = pod("changed", annotations={LAST_APPLIED: "{}\n"})
    stub.route("GET", f"{PODS}/new", not_found("new"))
    stub.route("GET", f"{PODS}/same", Reply(body=stored_same))
    stub.route("GET", f"{PODS}/changed", Reply(body=stored_changed))
    stub.route("POST", PODS, lambda request: Reply(201, request.body))
    stub.route("PUT", f"{PODS}/changed", lambda request: Reply(200, request.body))
    result = run(stub, "apply", "-f", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout == "pod/new created\npod/same unchanged\npod/changed configured\n"
    created = stub.requests_to("POST", PODS)[0].body
    assert created["metadata"]["namespace"] == "default"
    assert LAST_APPLIED in created["metadata"]["annotations"]
    replaced = stub.requests_to("PUT", f"{PODS}/changed")[0].body
    assert replaced["metadata"]["resourceVersion"] == "17"
    assert replaced["spec"]["containers"][0]["command"] == ["sleep", "2"]


def test_apply_from_stdin_and_errors(stub: StubServer) -> None:
    stub.route("GET", f"{PODS}/bad", not_found("bad"))
    invalid = {
        "kind": "Status",
        "reason": "Invalid",
        "message": 'Pod "bad" is invalid',
        "details": {
            "kind": "Pod",
            "name": "bad",
            "causes": [{"field": "spec.containers[0].command", "message": "Required value"}],
        },
        "code": 422,
    }
    stub.route("POST", PODS, Reply(422, invalid))
    result = run(stub, "apply", "-f", "-", input=MANIFEST.format(name="bad", seconds=1))
    assert result.exit_code == 1
    assert result.stderr == (
        'The Pod "bad" is invalid: spec.containers[0].command: Required value\n'
    )
    exists = {"kind": "Status", "reason": "AlreadyExists", "message": 'pods "bad" already exists'}
    stub.route("POST", PODS, Reply(409, exists))
    result = run(stub, "apply", "-f", "-", input=MANIFEST.format(name="bad", seconds=1))
    assert result.stderr == (
        'Error from server (AlreadyExists): error when creating "STDIN": '
        'pods "bad" already exists\n'
    )
    result = run(stub, "apply", "-f", "-", input="apiVersion: apps/v1\nkind: Deployment\n")
    assert result.exit_code == 1
    assert 'no matches for kind "Deployment" in version "apps/v1"' in result.stderr


# ---------------------------------------------------------------------------------------- top


def test_top(stub: StubServer) -> None:
    summary = {
        "pods": [
            {
                "podRef": {"name": "web", "namespace": "default"},
                "containers": [
                    {
                        "name": "web",
                        "cpu": {"usageNanoCores": 3_000_000},
                        "memory": {"workingSetBytes": 12 * 1024 * 1024},
                    }
                ],
            },
            {"podRef": {"name": "db", "namespace": "data"}, "containers": []},
        ]
    }
    stub.route("GET", "/stats/summary", Reply(body=summary))
    result = run(stub, "top", "pods")
    assert result.stdout == "NAME   CPU(cores)   MEMORY(bytes)\nweb    3m           12Mi\n"
    assert run(stub, "top", "pod", "web", "--containers").stdout.splitlines()[1].split() == [
        "web",
        "web",
        "3m",
        "12Mi",
    ]
    assert "data        db" in run(stub, "top", "pods", "-A").stdout
    result = run(stub, "top", "pod", "nope")
    assert result.stderr == (
        'Error from server (NotFound): podmetrics.metrics.k8s.io "default/nope" not found\n'
    )


# ----------------------------------------------------------------------------- unreachable


def test_no_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    socket = tmp_path / "minikubelet.sock"
    monkeypatch.setenv("MINIKUBELET_SERVER", str(socket))
    for args in (["get", "pods"], ["describe", "pod", "x"], ["logs", "x"], ["top", "pods"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1
        assert result.stderr == (
            f"error: cannot reach minikubelet at {socket}: no such socket "
            "(is 'minikubelet serve' or 'minikubelet run' running?)\n"
        )


def test_requests_carry_the_namespace(stub: StubServer) -> None:
    stub.route("GET", "/api/v1/namespaces/shop/pods", pod_list())
    result = run(stub, "get", "pods", "-n", "shop")
    assert result.stderr == "No resources found in shop namespace.\n"
    assert [r.path for r in stub.requests] == ["/api/v1/namespaces/shop/pods"]
