"""ConfigMaps and Secrets through the API: every verb, watch, selectors, Tables, errors,
and a container that waits for its ConfigMap until the API creates it."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from minikubelet.model.spec import Container, EnvFromSource, ObjectKind, RestartPolicy
from minikubelet.model.status import PodStatus, Running, Waiting
from minikubelet.testing import container, wait_for_file, wait_for_status
from tests.api.conftest import Server
from tests.api.test_watch import watching
from tests.conftest import PYTHON
from tests.helpers.pods import pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

CMS = "/api/v1/namespaces/default/configmaps"
SECRETS = "/api/v1/namespaces/default/secrets"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def config_map(name: str, data: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    if data is not None:
        body["data"] = data
    body.update(extra)
    return body


def secret(name: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, **extra}


async def create(server: Server, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await server.client.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


# -- create, get, list ---------------------------------------------------------------


async def test_create_and_get_a_config_map(server: Server) -> None:
    created = await create(
        server, CMS, config_map("settings", {"greeting": "hello"}, binaryData={"b": "AAE="})
    )
    assert created["kind"] == "ConfigMap"
    assert created["data"] == {"greeting": "hello"}
    assert created["binaryData"] == {"b": "AAE="}
    metadata = created["metadata"]
    assert metadata["namespace"] == "default"
    assert metadata["uid"]
    assert metadata["creationTimestamp"].endswith("Z")
    assert int(metadata["resourceVersion"]) > 0
    got = await server.json(f"{CMS}/settings")
    assert got == created


async def test_a_secret_is_served_base64_without_string_data(server: Server) -> None:
    created = await create(
        server,
        SECRETS,
        secret("creds", data={"user": "YWRtaW4="}, stringData={"password": "hunter2"}),
    )
    assert created["type"] == "Opaque"
    assert created["data"] == {
        "user": "YWRtaW4=",
        "password": base64.b64encode(b"hunter2").decode(),
    }
    assert "stringData" not in created
    assert "hunter2" not in json.dumps(created)


async def test_yaml_bodies_are_accepted(server: Server) -> None:
    response = await server.client.post(
        CMS,
        content=b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-yaml}\ndata: {a: b}\n",
        headers={"Content-Type": "application/yaml"},
    )
    assert response.status_code == 201, response.text


async def test_list_in_a_namespace_and_everywhere(server: Server) -> None:
    await create(server, CMS, config_map("b", {"k": "v"}))
    await create(server, CMS, config_map("a"))
    await create(server, "/api/v1/namespaces/other/configmaps", config_map("c"))
    listing = await server.json(CMS)
    assert listing["kind"] == "ConfigMapList"
    assert [item["metadata"]["name"] for item in listing["items"]] == ["a", "b"]
    assert int(listing["metadata"]["resourceVersion"]) >= max(
        int(item["metadata"]["resourceVersion"]) for item in listing["items"]
    )
    everywhere = await server.json("/api/v1/configmaps")
    names = [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere["items"]]
    assert names == [("default", "a"), ("default", "b"), ("other", "c")]
    assert (await server.json(SECRETS))["kind"] == "SecretList"


async def test_selectors(server: Server) -> None:
    await create(server, CMS, config_map("a", metadata={"name": "a", "labels": {"app": "web"}}))
    await create(server, CMS, config_map("b", metadata={"name": "b", "labels": {"app": "db"}}))
    await create(server, SECRETS, secret("tls", type="example.com/tls"))
    await create(server, SECRETS, secret("plain"))

    async def names(path: str, **params: str) -> list[str]:
        return [item["metadata"]["name"] for item in (await server.json(path, **params))["items"]]

    assert await names(CMS, labelSelector="app=web") == ["a"]
    assert await names(CMS, labelSelector="app!=web") == ["b"]
    assert await names(CMS, fieldSelector="metadata.name=b") == ["b"]
    assert await names("/api/v1/configmaps", fieldSelector="metadata.namespace=default") == [
        "a",
        "b",
    ]
    assert await names(SECRETS, fieldSelector="type=example.com/tls") == ["tls"]
    assert await names(SECRETS, fieldSelector="type!=example.com/tls") == ["plain"]
    response = await server.client.get(CMS, params={"fieldSelector": "type=Opaque"})
    assert response.status_code == 400
    assert response.json()["message"] == "field label not supported: type"


async def test_tables_have_kubectl_columns(server: Server) -> None:
    await create(server, CMS, config_map("settings", {"a": "1", "b": "2"}, binaryData={"c": ""}))
    await create(server, SECRETS, secret("creds", stringData={"p": "x"}))
    response = await server.client.get(CMS, headers={"Accept": TABLE})
    assert response.status_code == 200
    data = response.json()
    assert data["kind"] == "Table"
    assert [c["name"] for c in data["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert data["rows"][0]["cells"][:2] == ["settings", 3]
    assert data["rows"][0]["object"]["metadata"]["name"] == "settings"
    secrets = (await server.client.get(f"{SECRETS}/creds", headers={"Accept": TABLE})).json()
    assert [c["name"] for c in secrets["columnDefinitions"]] == ["Name", "Type", "Data", "Age"]
    assert secrets["rows"][0]["cells"][:3] == ["creds", "Opaque", 1]


# -- replace, delete -----------------------------------------------------------------


async def test_replace_keeps_the_uid_and_checks_the_version(server: Server) -> None:
    created = await create(server, CMS, config_map("settings", {"a": "1"}))
    stale = created["metadata"]["resourceVersion"]
    body = config_map("settings", {"a": "2"})
    response = await server.client.put(f"{CMS}/settings", json=body)
    assert response.status_code == 200, response.text
    replaced = response.json()
    assert replaced["data"] == {"a": "2"}
    assert replaced["metadata"]["uid"] == created["metadata"]["uid"]
    assert int(replaced["metadata"]["resourceVersion"]) > int(stale)
    body["metadata"]["resourceVersion"] = stale
    response = await server.client.put(f"{CMS}/settings", json=body)
    assert response.status_code == 409
    assert response.json()["reason"] == "Conflict"
    assert response.json()["message"] == (
        'Operation cannot be fulfilled on configmaps "settings": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


async def test_immutable_objects_refuse_changes(server: Server) -> None:
    await create(server, CMS, config_map("frozen", {"a": "1"}, immutable=True))
    response = await server.client.put(f"{CMS}/frozen", json=config_map("frozen", {"a": "2"}))
    assert response.status_code == 422
    causes = response.json()["details"]["causes"]
    assert [(c["field"], c["message"]) for c in causes] == [
        ("immutable", "Forbidden: field is immutable when `immutable` is set"),
        ("data", "Forbidden: field is immutable when `immutable` is set"),
    ]
    await create(server, SECRETS, secret("typed", type="example.com/a"))
    response = await server.client.put(f"{SECRETS}/typed", json=secret("typed", type="b"))
    assert response.status_code == 422
    assert response.json()["message"] == (
        'Secret "typed" is invalid: type: Invalid value: "b": field is immutable'
    )


async def test_delete(server: Server) -> None:
    created = await create(server, SECRETS, secret("gone", stringData={"a": "b"}))
    response = await server.client.request(
        "DELETE", f"{SECRETS}/gone", json={"preconditions": {"uid": "not-it"}}
    )
    assert response.status_code == 409
    response = await server.client.delete(f"{SECRETS}/gone")
    assert response.status_code == 200
    assert response.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": "gone", "kind": "secrets", "uid": created["metadata"]["uid"]},
    }
    response = await server.client.get(f"{SECRETS}/gone")
    assert response.status_code == 404


# -- errors --------------------------------------------------------------------------


async def test_errors_as_the_apiserver(server: Server) -> None:
    missing = await server.client.get(f"{CMS}/nope")
    assert missing.status_code == 404
    assert missing.json()["message"] == 'configmaps "nope" not found'
    assert missing.json()["details"] == {"name": "nope", "kind": "configmaps"}

    await create(server, CMS, config_map("taken"))
    again = await server.client.post(CMS, json=config_map("taken"))
    assert again.status_code == 409
    assert again.json()["reason"] == "AlreadyExists"
    assert again.json()["message"] == 'configmaps "taken" already exists'

    bad_key = await server.client.post(CMS, json=config_map("bad", {"a b": "x"}))
    assert bad_key.status_code == 422
    body = bad_key.json()
    assert body["reason"] == "Invalid"
    assert body["message"].startswith('ConfigMap "bad" is invalid: data[a b]: Invalid value: ')
    assert [c["field"] for c in body["details"]["causes"]] == ["data[a b]"]

    base64_error = await server.client.post(SECRETS, json=secret("b64", data={"k": "abc"}))
    assert base64_error.status_code == 400
    assert base64_error.json()["message"] == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0'
    )

    unknown = await server.client.post(CMS, json=config_map("u", dta={}))
    assert unknown.status_code == 400
    assert unknown.json()["message"] == (
        'strict decoding error: unknown field "dta" (did you mean "data"?)'
    )

    wrong_kind = await server.client.post(SECRETS, json=config_map("cm"))
    assert wrong_kind.status_code == 400

    elsewhere = config_map("x", metadata={"name": "x", "namespace": "other"})
    mismatch = await server.client.post(CMS, json=elsewhere)
    assert mismatch.status_code == 400
    renamed = await server.client.put(f"{CMS}/taken", json=config_map("other-name"))
    assert renamed.status_code == 400
    absent = await server.client.put(f"{CMS}/absent", json=config_map("absent"))
    assert absent.status_code == 404

    too_big = await server.client.post(CMS, json=config_map("big", {"a": "x" * (1024 * 1024 + 1)}))
    assert too_big.status_code == 422
    assert too_big.json()["message"] == (
        'ConfigMap "big" is invalid: []: Too long: may not be more than 1048576 bytes'
    )


async def test_objects_from_files_are_read_only(server: Server, tmp_path: Path) -> None:
    from minikubelet.model.objects import ConfigMap
    from minikubelet.model.spec import ObjectMeta

    file = tmp_path / "static.yaml"
    server.kubelet.objects.replace_files(
        "static", {file: [ConfigMap(metadata=ObjectMeta(name="static"), data={"a": "b"})]}
    )
    got = await server.json(f"{CMS}/static")
    assert got["metadata"]["annotations"] == {"kubernetes.io/config.source": "file"}
    replaced = await server.client.put(f"{CMS}/static", json=config_map("static", {"a": "c"}))
    assert replaced.status_code == 422
    assert str(file) in replaced.json()["message"]
    deleted = await server.client.delete(f"{CMS}/static")
    assert deleted.status_code == 422
    clash = await server.client.post(CMS, json=config_map("static"))
    assert clash.status_code == 409


# -- watch ---------------------------------------------------------------------------


async def test_watch_added_modified_deleted(server: Server) -> None:
    await create(server, CMS, config_map("before"))
    async with watching(server, CMS) as events:
        first = await events.next()
        assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "before")
        await create(server, CMS, config_map("new", {"a": "1"}))
        await create(server, SECRETS, secret("not-a-configmap"))  # another resource
        added = await events.next()
        assert (added["type"], added["object"]["metadata"]["name"]) == ("ADDED", "new")
        await server.client.put(f"{CMS}/new", json=config_map("new", {"a": "2"}))
        modified = await events.next()
        assert modified["type"] == "MODIFIED"
        assert modified["object"]["data"] == {"a": "2"}
        await server.client.delete(f"{CMS}/new")
        deleted = await events.next()
        assert (deleted["type"], deleted["object"]["metadata"]["name"]) == ("DELETED", "new")
        version = deleted["object"]["metadata"]["resourceVersion"]
    # A watch from a version replays what came after it, and filters by selector.
    await create(server, CMS, config_map("later", metadata={"name": "later", "labels": {"x": "y"}}))
    await create(server, CMS, config_map("unlabelled"))
    async with watching(server, CMS, resourceVersion=version, labelSelector="x=y") as events:
        replayed = await events.next()
        assert (replayed["type"], replayed["object"]["metadata"]["name"]) == ("ADDED", "later")


# -- a pod waiting for its ConfigMap -------------------------------------------------


def config_error(status: PodStatus) -> bool:
    state = container(status, "app").state
    return isinstance(state, Waiting) and state.reason == "CreateContainerConfigError"


async def test_a_waiting_container_starts_when_the_config_map_is_created(
    server: Server, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code = "import os, sys; open(sys.argv[1], 'w').write(os.environ['APP_LEVEL'])"
    app = Container(
        name="app",
        command=(PYTHON, "-c", code, str(out)),
        env_from=(EnvFromSource(ObjectKind.CONFIG_MAP, "settings", prefix="APP_"),),
    )
    worker = await start(server.kubelet, pod("waiter", app, policy=RestartPolicy.NEVER))
    status = await wait_for_status(worker, config_error)
    assert container(status, "app").state == Waiting(
        "CreateContainerConfigError", 'configmap "settings" not found'
    )
    pods = await server.json("/api/v1/namespaces/default/pods/waiter")
    waiting = pods["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting == {
        "reason": "CreateContainerConfigError",
        "message": 'configmap "settings" not found',
    }
    await create(server, CMS, config_map("settings", {"LEVEL": "7"}))
    assert await wait_for_file(out, contains="7") == "7"
    status = await wait_for_status(worker, lambda s: s.phase.is_final)
    assert container(status, "app").restart_count == 0
    assert not isinstance(container(status, "app").state, Running)


# -- patch ---------------------------------------------------------------------------


async def test_patch(server: Server) -> None:
    created = await create(server, CMS, config_map("settings", {"a": "1", "b": "2"}))
    path = f"{CMS}/settings"

    async def patch(body: Any, content_type: str) -> Any:
        return await server.client.patch(
            path, content=json.dumps(body), headers={"Content-Type": content_type}
        )

    merged = await patch({"data": {"a": "one", "b": None}}, "application/merge-patch+json")
    assert merged.status_code == 200, merged.text
    assert merged.json()["data"] == {"a": "one"}
    assert merged.json()["metadata"]["uid"] == created["metadata"]["uid"]
    operations = [{"op": "add", "path": "/data/c", "value": "3"}]
    patched = await patch(operations, "application/json-patch+json")
    assert patched.json()["data"] == {"a": "one", "c": "3"}
    strategic = await patch(
        {"data": {"d": "4"}, "metadata": {"labels": {"x": "y"}}},
        "application/strategic-merge-patch+json",
    )
    assert strategic.status_code == 200, strategic.text
    assert strategic.json()["data"] == {"a": "one", "c": "3", "d": "4"}
    assert strategic.json()["metadata"]["labels"] == {"x": "y"}
    stale = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}}
    assert (await patch(stale, "application/merge-patch+json")).status_code == 409
    bad = await patch({"data": {"a b": "x"}}, "application/merge-patch+json")
    assert bad.status_code == 422
    applied = await patch({}, "application/apply-patch+yaml")
    assert applied.status_code == 415
    await create(server, SECRETS, secret("creds", stringData={"p": "old"}))
    rotated = await server.client.patch(
        f"{SECRETS}/creds",
        content=json.dumps({"stringData": {"p": "new"}}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["data"] == {"p": base64.b64encode(b"new").decode()}
