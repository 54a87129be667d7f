"""Server-side apply for one manager: create, merge by list-map keys, removal of dropped
fields through managedFields, and the apiserver's refusals."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from minikubelet.api.apply import apply, decode_apply, fields_v1
from minikubelet.errors import RequestError

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
JSON = dict[str, Any]


def config(**changes: Any) -> JSON:
    base: JSON = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "hello", "labels": {"app": "hello", "tier": "web"}},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "python:3.12",
                    "command": ["python3", "-m", "http.server"],
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                }
            ]
        },
    }
    base.update(changes)
    return base


def test_apply_creates_and_records_the_field_set() -> None:
    result, created = apply(None, config(), "kubectl", NOW)
    assert created
    assert result["spec"] == config()["spec"]
    (entry,) = result["metadata"]["managedFields"]
    assert entry == {
        "manager": "kubectl",
        "operation": "Apply",
        "apiVersion": "v1",
        "time": "2025-06-01T12:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:labels": {".": {}, "f:app": {}, "f:tier": {}}},
            "f:spec": {
                "f:containers": {
                    'k:{"name":"main"}': {
                        ".": {},
                        "f:name": {},
                        "f:image": {},
                        "f:command": {},
                        "f:env": {
                            'k:{"name":"A"}': {".": {}, "f:name": {}, "f:value": {}},
                            'k:{"name":"B"}': {".": {}, "f:name": {}, "f:value": {}},
                        },
                        "f:ports": {
                            'k:{"containerPort":8080,"protocol":"TCP"}': {
                                ".": {},
                                "f:containerPort": {},
                                "f:protocol": {},
                            }
                        },
                    }
                }
            },
        },
    }


def live_pod() -> JSON:
    """What the server holds after the first apply: defaults and status added."""
    pod, _ = apply(None, config(), "kubectl", NOW)
    pod["metadata"] |= {"uid": "u1", "namespace": "default", "resourceVersion": "7"}
    pod["spec"] |= {"restartPolicy": "Always", "nodeName": "box"}
    pod["spec"]["containers"][0]["terminationMessagePath"] = "/dev/termination-log"
    pod["status"] = {"phase": "Running"}
    return pod


def test_reapply_merges_and_removes_what_the_manager_dropped() -> None:
    changed = config()
    changed["metadata"]["labels"] = {"app": "hello"}  # tier dropped
    main = changed["spec"]["containers"][0]
    main["image"] = "python:3.13"
    main["env"] = [{"name": "A", "value": "10"}]  # B dropped
    result, created = apply(live_pod(), changed, "kubectl", NOW)
    assert not created
    assert result["metadata"]["labels"] == {"app": "hello"}
    (container,) = result["spec"]["containers"]
    assert container["image"] == "python:3.13"
    assert container["env"] == [{"name": "A", "value": "10"}]
    # what the manager never applied stays: defaults, system metadata, status
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert result["spec"]["restartPolicy"] == "Always"
    assert result["spec"]["nodeName"] == "box"
    assert result["metadata"]["uid"] == "u1"
    assert result["status"] == {"phase": "Running"}
    (entry,) = result["metadata"]["managedFields"]
    assert 'k:{"name":"B"}' not in str(entry["fieldsV1"])


def test_apply_of_the_same_configuration_changes_nothing_but_the_time() -> None:
    before = live_pod()
    result, _ = apply(before, config(), "kubectl", datetime(2025, 6, 2, tzinfo=UTC))
    assert {k: v for k, v in result.items() if k != "metadata"} == {
        k: v for k, v in before.items() if k != "metadata"
    }
    assert result["metadata"]["managedFields"][0]["time"] == "2025-06-02T00:00:00Z"


def test_other_managers_entries_are_kept() -> None:
    pod = live_pod()
    pod["metadata"]["managedFields"].append(
        {"manager": "kubectl-create", "operation": "Update", "fieldsV1": {}}
    )
    result, _ = apply(pod, config(), "kubectl", NOW)
    assert [e["manager"] for e in result["metadata"]["managedFields"]] == [
        "kubectl-create",
        "kubectl",
    ]


def test_list_map_items_merge_on_all_their_keys() -> None:
    changed = config()
    changed["spec"]["containers"][0]["ports"] = [
        {"containerPort": 8080, "protocol": "TCP", "name": "http"},
        {"containerPort": 8080, "protocol": "UDP"},
    ]
    result, _ = apply(live_pod(), changed, "kubectl", NOW)
    assert result["spec"]["containers"][0]["ports"] == [
        {"containerPort": 8080, "protocol": "TCP", "name": "http"},
        {"containerPort": 8080, "protocol": "UDP"},
    ]


def test_a_second_container_is_added_and_then_removed() -> None:
    two = config()
    two["spec"]["containers"].append({"name": "side", "image": "busybox"})
    pod, _ = apply(live_pod(), two, "kubectl", NOW)
    assert [c["name"] for c in pod["spec"]["containers"]] == ["main", "side"]
    one, _ = apply(pod, config(), "kubectl", NOW)
    assert [c["name"] for c in one["spec"]["containers"]] == ["main"]


def test_set_lists() -> None:
    first = config(metadata={"name": "hello", "finalizers": ["a", "b"]})
    pod, _ = apply(None, first, "kubectl", NOW)
    pod["metadata"]["finalizers"].append("other")  # someone else's
    second = config(metadata={"name": "hello", "finalizers": ["b", "c"]})
    result, _ = apply(pod, second, "kubectl", NOW)
    assert result["metadata"]["finalizers"] == ["b", "other", "c"]
    fields = fields_v1(second, "Pod")["f:metadata"]["f:finalizers"]
    assert fields == {'v:"b"': {}, 'v:"c"': {}}


def test_status_and_system_metadata_are_not_applied() -> None:
    sneaky = config(status={"phase": "Succeeded"})
    sneaky["metadata"] |= {"uid": "forged", "resourceVersion": "1"}
    result, _ = apply(live_pod(), sneaky, "kubectl", NOW)
    assert result["status"] == {"phase": "Running"}
    assert result["metadata"]["uid"] == "u1"
    assert result["metadata"]["resourceVersion"] == "7"


def test_null_removes_a_field() -> None:
    changed = config()
    changed["metadata"]["labels"] = None
    result, _ = apply(live_pod(), changed, "kubectl", NOW)
    assert "labels" not in result["metadata"]


def test_inputs_are_not_modified() -> None:
    pod, applied = live_pod(), config()
    before = copy.deepcopy([pod, applied])
    apply(pod, applied, "kubectl", NOW)
    assert [pod, applied] == before


@pytest.mark.parametrize(
    ("applied", "manager", "message"),
    [
        (
            config(),
            "",
            "PATCH requests with content type application/apply-patch+yaml must set fieldManager",
        ),
        (config(kind="Deployment"), "kubectl", "invalid object type: v1, Kind=Deployment"),
        ({"metadata": {"name": "x"}}, "kubectl", "invalid object type: , Kind="),
        (
            config(metadata={"name": "hello", "managedFields": []}),
            "kubectl",
            "metadata.managedFields must be nil",
        ),
    ],
)
def test_refusals(applied: JSON, manager: str, message: str) -> None:
    with pytest.raises(RequestError) as caught:
        apply(None, applied, manager, NOW)
    assert (caught.value.code, caught.value.message) == (400, message)


def test_decode_apply() -> None:
    assert decode_apply(b"apiVersion: v1\nkind: Pod\n") == {"apiVersion": "v1", "kind": "Pod"}
    assert decode_apply(b'{"kind": "Pod"}') == {"kind": "Pod"}
    with pytest.raises(RequestError) as caught:
        decode_apply(b"a: [")
    assert caught.value.message.startswith("error decoding YAML: ")
    with pytest.raises(RequestError):
        decode_apply(b"- 1\n")
