"""The client commands added beside kubectl's: get events, label, annotate, apply of several
kinds, and what apply and delete say while they wait (against a scripted API)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from minikubelet.cli.client.commands import apply as apply_command
from minikubelet.cli.client.commands import common
from minikubelet.cli.client.commands import delete as delete_command
from minikubelet.cli.main import cli
from tests.cli.samples import NOW, event, pod
from tests.cli.stub import Reply, Request, StubServer, not_found

PODS = "/api/v1/namespaces/default/pods"
EVENTS = "/api/v1/namespaces/default/events"


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch, utc_clock: None) -> None:
    monkeypatch.setattr(common, "now", lambda: NOW)


def run(stub: StubServer, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, [*args, "--server", stub.path], input=input)


def event_list(*items: dict[str, Any]) -> Reply:
    return Reply(
        body={
            "kind": "EventList",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": "9"},
            "items": list(items),
        }
    )


def test_get_events(stub: StubServer) -> None:
    stub.route(
        "GET",
        EVENTS,
        event_list(
            event("Started", "Started container app", container="app", first=120),
            event("BackOff", "Back-off restarting", kind="Warning", count=3, first=90, last=5),
        ),
    )
    result = run(stub, "get", "events")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "LAST SEEN   TYPE      REASON    OBJECT    MESSAGE",
        "2m          Normal    Started   pod/web   Started container app",
        "5s          Warning   BackOff   pod/web   Back-off restarting",
    ]
    wide = run(stub, "get", "ev", "-o", "wide")
    assert wide.stdout.splitlines()[0].split() == [
        "LAST", "SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE", "FIRST",
        "SEEN", "COUNT", "NAME",
    ]  # fmt: skip
    stub.route("GET", EVENTS, event_list())
    empty = run(stub, "get", "events")
    assert empty.stderr == "No resources found in default namespace.\n"
    stub.route("GET", "/api/v1/events", event_list(event("Started", "x")))
    everywhere = run(stub, "get", "events", "-A")
    assert everywhere.stdout.splitlines()[0].split()[:3] == ["NAMESPACE", "LAST", "SEEN"]


def labelled(labels: dict[str, str], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    web = pod("web")
    web["metadata"]["labels"] = labels
    web["metadata"]["annotations"] = annotations or {}
    return web


def test_label_and_annotate(stub: StubServer) -> None:
    stub.route("GET", f"{PODS}/web", Reply(body=labelled({"app": "web"}, {"note": "a"})))
    stub.route("PATCH", f"{PODS}/web", lambda request: Reply(200, {}))
    result = run(stub, "label", "pod", "web", "tier=front", "app-")
    assert result.exit_code == 0, result.output
    assert result.stdout == "pod/web labeled\n"
    (sent,) = stub.requests_to("PATCH", f"{PODS}/web")
    assert sent.body == {"metadata": {"labels": {"tier": "front", "app": None}}}
    refused = run(stub, "label", "pod/web", "app=api")
    assert refused.exit_code == 1
    assert refused.stderr == "error: 'app' already has a value (web), and --overwrite is false\n"
    assert run(stub, "label", "pod", "web", "app=api", "--overwrite").exit_code == 0
    assert run(stub, "label", "pod", "web", "app=web").stdout == "pod/web not labeled\n"
    removed = run(stub, "label", "pod", "web", "gone-")
    assert removed.stdout == 'label "gone" not found.\npod/web not labeled\n'
    assert run(stub, "label", "pod", "web", "app-").stdout == "pod/web unlabeled\n"
    assert run(stub, "annotate", "pod", "web", "other=b").stdout == "pod/web annotated\n"
    conflict = run(stub, "annotate", "pod", "web", "note=b")
    assert conflict.stderr == (
        "error: --overwrite is false but found the following declared annotation(s): "
        "'note' already has a value (a)\n"
    )
    assert run(stub, "label", "pod", "web").exit_code == 1
    stub.route("GET", f"{PODS}/nope", not_found("nope"))
    missing = run(stub, "label", "pod", "nope", "a=b")
    assert missing.stderr == 'Error from server (NotFound): pods "nope" not found\n'


LIST = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: settings}
  data: {a: "1"}
- apiVersion: v1
  kind: Pod
  metadata: {name: web}
  spec:
    containers: [{name: app, command: [sleep, "1"]}]
- apiVersion: v1
  kind: Secret
  metadata: {name: token}
  stringData: {t: x}
"""


def test_apply_applies_every_object_of_a_list_in_turn(stub: StubServer) -> None:
    configmaps = "/api/v1/namespaces/default/configmaps"
    stub.route("GET", f"{configmaps}/settings", not_found("settings", "configmaps"))
    stub.route("POST", configmaps, lambda request: Reply(201, request.body))
    stub.route("GET", f"{PODS}/web", not_found("web"))
    stub.route("POST", PODS, lambda request: Reply(201, request.body))
    # No secrets route here: the server answers its generic 404, which is an error for
    # that object only.
    result = run(stub, "apply", "-f", "-", input=LIST)
    assert result.exit_code == 1
    assert result.stdout == "configmap/settings created\npod/web created\n"
    assert "Error from server (NotFound)" in result.stderr
    created = stub.requests_to("POST", configmaps)[0].body
    assert created["kind"] == "ConfigMap"
    assert created["metadata"]["namespace"] == "default"


def test_apply_and_delete_say_what_they_wait_for(
    stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    said: list[str] = []
    noticed = threading.Event()

    def notice(text: str) -> None:
        said.append(text)
        noticed.set()

    monkeypatch.setattr(common, "notice", notice)
    monkeypatch.setattr(apply_command, "WAIT_NOTICE_AFTER", 0.0)
    monkeypatch.setattr(delete_command, "WAIT_NOTICE_AFTER", 0.0)
    current = pod("web")
    current["spec"]["terminationGracePeriodSeconds"] = 45
    current["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": "{}\n"
    }
    stub.route("GET", f"{PODS}/web", Reply(body=current))

    def slow_replace(request: Request) -> Reply:
        assert noticed.wait(10)  # the replacement is still waiting when the notice comes
        return Reply(200, request.body)

    stub.route("PUT", f"{PODS}/web", slow_replace)
    manifest = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {containers: []}\n"
    result = run(stub, "apply", "-f", "-", input=manifest)
    assert result.exit_code == 0, result.output
    assert result.stdout == "pod/web configured\n"
    assert said == [
        "waiting for pod/web to stop before it is replaced (grace period 45s: preStop, "
        "SIGTERM, then SIGKILL)..."
    ]

    said.clear()
    noticed.clear()
    deleting = pod("web")
    deleting["metadata"]["deletionGracePeriodSeconds"] = 45
    stub.route("DELETE", f"{PODS}/web", Reply(body=deleting))

    def gone_after_the_notice(request: Request) -> Reply:
        assert noticed.wait(10)
        return not_found("web")

    stub.route("GET", f"{PODS}/web", gone_after_the_notice)
    stub.route("GET", PODS, lambda request: Reply(200, b"", content_type="text/plain"))
    result = run(stub, "delete", "pod", "web")
    assert result.exit_code == 0, result.output
    assert result.stdout == 'pod "web" deleted\n'
    assert said == ['waiting for pod "web" to terminate (grace period 45s)...']


def test_label_parsing(tmp_path: Path) -> None:
    from minikubelet.cli.client.commands.label import parse_changes

    assert parse_changes(("a=1", "b=", "c-"), "label") == ({"a": "1", "b": ""}, ["c"])
    with pytest.raises(common.Failed):
        parse_changes(("a=1", "a-"), "label")
    with pytest.raises(common.Failed):
        parse_changes(("=x",), "label")
