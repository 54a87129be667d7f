"""``get``, ``describe`` and ``apply`` of ConfigMaps and Secrets against a scripted API."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from minikubelet.cli.client.commands import common
from minikubelet.cli.main import cli
from tests.cli.samples import NOW, ago
from tests.cli.stub import Reply, StubServer, not_found

CMS = "/api/v1/namespaces/default/configmaps"
SECRETS = "/api/v1/namespaces/default/secrets"
PODS = "/api/v1/namespaces/default/pods"


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch, utc_clock: None) -> None:
    monkeypatch.setattr(common, "now", lambda: NOW)


def run(stub: StubServer, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, [*args, "--server", stub.path], input=input)


def config_map(name: str, namespace: str = "default", **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{name}",
            "resourceVersion": "5",
            "creationTimestamp": ago(90),
        },
        **fields,
    }


def secret(name: str, **fields: Any) -> dict[str, Any]:
    obj = config_map(name, **fields)
    obj["kind"] = "Secret"
    obj.setdefault("type", "Opaque")
    return obj


def listing(kind: str, *items: dict[str, Any]) -> Reply:
    return Reply(
        body={
            "kind": kind,
            "apiVersion": "v1",
            "metadata": {"resourceVersion": "9"},
            "items": list(items),
        }
    )


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# -- get ---------------------------------------------------------------------------------


def test_get_configmaps(stub: StubServer) -> None:
    stub.route(
        "GET",
        CMS,
        listing(
            "ConfigMapList",
            config_map("settings", data={"a": "1", "b": "2"}, binaryData={"c": "AA=="}),
            config_map("empty"),
        ),
    )
    result = run(stub, "get", "configmaps")
    assert result.exit_code == 0, result.output
    assert result.stdout == "NAME       DATA   AGE\nsettings   3      90s\nempty      0      90s\n"
    assert run(stub, "get", "cm").stdout == result.stdout


def test_get_secrets_in_every_namespace(stub: StubServer) -> None:
    stub.route(
        "GET",
        "/api/v1/secrets",
        listing(
            "SecretList",
            secret("creds", data={"user": b64("admin"), "password": b64("hunter2")}),
            secret("tls", type="kubernetes.io/tls", data={"tls.crt": "", "tls.key": ""}),
        ),
    )
    result = run(stub, "get", "secrets", "-A")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "NAMESPACE   NAME    TYPE                DATA   AGE\n"
        "default     creds   Opaque              2      90s\n"
        "default     tls     kubernetes.io/tls   2      90s\n"
    )


def test_get_one_by_name_and_other_outputs(stub: StubServer) -> None:
    stub.route("GET", f"{CMS}/settings", Reply(body=config_map("settings", data={"a": "1"})))
    stub.route("GET", f"{CMS}/nope", not_found("nope", "configmaps"))
    result = run(stub, "get", "configmap/settings", "-o", "name")
    assert (result.exit_code, result.stdout) == (0, "configmap/settings\n")
    result = run(stub, "get", "configmap", "settings", "-o", "yaml")
    assert "kind: ConfigMap" in result.stdout
    assert "  a: '1'" in result.stdout or '  a: "1"' in result.stdout
    result = run(stub, "get", "cm", "nope")
    assert result.exit_code == 1
    assert result.stderr == 'Error from server (NotFound): configmaps "nope" not found\n'


def test_no_secrets(stub: StubServer) -> None:
    stub.route("GET", SECRETS, listing("SecretList"))
    result = run(stub, "get", "secrets")
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == "No resources found in default namespace.\n"


# -- describe ----------------------------------------------------------------------------


def test_describe_configmap(stub: StubServer) -> None:
    obj = config_map(
        "settings",
        data={"game.properties": "lives=3\nenemies=aliens\n", "mode": "fast"},
        binaryData={"blob": b64("12345")},
    )
    obj["metadata"]["labels"] = {"app": "game", "tier": "web"}
    stub.route("GET", f"{CMS}/settings", Reply(body=obj))
    stub.route("GET", "/api/v1/namespaces/default/events", listing("EventList"))
    result = run(stub, "describe", "configmap", "settings")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Name:         settings\n"
        "Namespace:    default\n"
        "Labels:       app=game\n"
        "              tier=web\n"
        "Annotations:  <none>\n"
        "\n"
        "Data\n"
        "====\n"
        "game.properties:\n"
        "----\n"
        "lives=3\n"
        "enemies=aliens\n"
        "\n"
        "mode:\n"
        "----\n"
        "fast\n"
        "\n"
        "BinaryData\n"
        "====\n"
        "blob: 5 bytes\n"
        "\n"
        "Events:  <none>\n"
    )


def test_describe_secret_shows_sizes_never_values(stub: StubServer) -> None:
    obj = secret("creds", data={"password": b64("hunter2-very-secret"), "user": b64("admin")})
    obj["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": '{"stringData":{"password":"hunter2"}}',
        "team": "payments",
    }
    stub.route("GET", f"{SECRETS}/creds", Reply(body=obj))
    result = run(stub, "describe", "secret", "creds")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Name:         creds\n"
        "Namespace:    default\n"
        "Labels:       <none>\n"
        "Annotations:  team: payments\n"
        "\n"
        "Type:  Opaque\n"
        "\n"
        "Data\n"
        "====\n"
        "password:  19 bytes\n"
        "user:      5 bytes\n"
    )
    assert "hunter2" not in result.output
    assert "admin" not in result.output


# -- apply -------------------------------------------------------------------------------

FILE = """\
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - {name: app, command: [serve], envFrom: [{configMapRef: {name: settings}}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: "1"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {p: x}
"""


def test_apply_objects_before_the_pods_beside_them(stub: StubServer, tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(FILE)
    order: list[str] = []

    def created(request: Any) -> Reply:
        order.append(request.body["kind"])
        return Reply(201, request.body)

    for collection, name in ((PODS, "web"), (CMS, "settings"), (SECRETS, "creds")):
        kind = collection.rsplit("/", 1)[1]
        stub.route("GET", f"{collection}/{name}", not_found(name, kind))
        stub.route("POST", collection, created)
    result = run(stub, "apply", "-f", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout == "configmap/settings created\nsecret/creds created\npod/web created\n"
    assert order == ["ConfigMap", "Secret", "Pod"]


def test_apply_configures_a_changed_configmap(stub: StubServer, tmp_path: Path) -> None:
    stored = config_map("settings", data={"a": "0"})
    stored["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
    stub.route("GET", f"{CMS}/settings", Reply(body=stored))
    stub.route("PUT", f"{CMS}/settings", lambda request: Reply(200, request.body))
    path = tmp_path / "cm.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: '1'}\n")
    result = run(stub, "apply", "-f", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout == "configmap/settings configured\n"
    sent = stub.requests_to("PUT", f"{CMS}/settings")[0].body
    assert sent["metadata"]["resourceVersion"] == "5"
    assert sent["data"] == {"a": "1"}
