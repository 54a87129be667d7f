"""Merge, JSON and strategic merge patches: RFC test vectors, the Go libraries' quirks and the
apiserver's error mapping. ``tests/integration/test_patch_oracle.py`` checks the same
functions against kubectl's own implementation (``kubectl patch --local``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from minikubelet.api.patch import decode_patch, go_repr, json_patch, merge_patch
from minikubelet.api.strategic import strategic_merge_patch, strip_directives
from minikubelet.errors import RequestError

# --- JSON merge patch: RFC 7386 appendix A, then the apiserver's refusals ---------------


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
        # labels, the usual kubectl patch --type=merge
        (
            {"metadata": {"labels": {"app": "web", "tier": "front"}}},
            {"metadata": {"labels": {"tier": None, "env": "dev"}}},
            {"metadata": {"labels": {"app": "web", "env": "dev"}}},
        ),
    ],
)
def test_merge_patch(target: Any, patch: Any, result: Any) -> None:
    before = json.dumps(target)
    assert merge_patch(target, patch) == result
    assert json.dumps(target) == before  # the input is not modified


@pytest.mark.parametrize("patch", [None, "bar", 3, True])
def test_merge_patch_refuses_null_and_scalars(patch: Any) -> None:
    with pytest.raises(RequestError) as caught:
        merge_patch({"a": "foo"}, patch)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        400,
        "BadRequest",
        "Invalid JSON Patch",
    )


def test_merge_patch_keeps_nulls_inside_a_replacing_array() -> None:
    # evanphx v4: merge() returns a non-object patch value as is when the target is an object
    assert merge_patch({"a": {"b": 1}}, {"a": [{"c": None}]}) == {"a": [{"c": None}]}
    # ... and prunes it when the target member is absent or not an object
    assert merge_patch({}, {"a": [{"c": None}, None]}) == {"a": [{}, None]}


# --- JSON patch: RFC 6902 appendix A, json-patch v4 quirks, errors ----------------------


@pytest.mark.parametrize(
    ("document", "operations", "result"),
    [
        # A.1 adding an object member
        (
            {"foo": "bar"},
            [{"op": "add", "path": "/baz", "value": "qux"}],
            {"baz": "qux", "foo": "bar"},
        ),
        # A.2 adding an array element
        (
            {"foo": ["bar", "baz"]},
            [{"op": "add", "path": "/foo/1", "value": "qux"}],
            {"foo": ["bar", "qux", "baz"]},
        ),
        # A.3 removing an object member
        ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
        # A.4 removing an array element
        (
            {"foo": ["bar", "qux", "baz"]},
            [{"op": "remove", "path": "/foo/1"}],
            {"foo": ["bar", "baz"]},
        ),
        # A.5 replacing a value
        (
            {"baz": "qux", "foo": "bar"},
            [{"op": "replace", "path": "/baz", "value": "boo"}],
            {"baz": "boo", "foo": "bar"},
        ),
        # A.6 moving a value
        (
            {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
            [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
            {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
        ),
        # A.7 moving an array element
        (
            {"foo": ["all", "grass", "cows", "eat"]},
            [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
            {"foo": ["all", "cows", "eat", "grass"]},
        ),
        # A.8 testing a value: success
        (
            {"baz": "qux", "foo": ["a", 2, "c"]},
            [
                {"op": "test", "path": "/baz", "value": "qux"},
                {"op": "test", "path": "/foo/1", "value": 2},
            ],
            {"baz": "qux", "foo": ["a", 2, "c"]},
        ),
        # A.10 adding a nested member object
        (
            {"foo": "bar"},
            [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
            {"foo": "bar", "child": {"grandchild": {}}},
        ),
        # A.11 ignoring unrecognized elements
        (
            {"foo": "bar"},
            [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
            {"foo": "bar", "baz": "qux"},
        ),
        # A.14 ~ escape ordering
        ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
        # A.16 adding an array value
        (
            {"foo": ["bar"]},
            [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
            {"foo": ["bar", ["abc", "def"]]},
        ),
        # copy
        (
            {"a": {"b": 1}},
            [{"op": "copy", "from": "/a", "path": "/c"}],
            {"a": {"b": 1}, "c": {"b": 1}},
        ),
        # v4: negative indices count from the end
        ({"a": [1, 2, 3]}, [{"op": "remove", "path": "/a/-1"}], {"a": [1, 2]}),
        ({"a": [1, 2, 3]}, [{"op": "replace", "path": "/a/-3", "value": 0}], {"a": [0, 2, 3]}),
        # v4: replace of a missing member adds it
        ({"a": 1}, [{"op": "replace", "path": "/b", "value": 2}], {"a": 1, "b": 2}),
        # v4: a null member is missing for test, so null matches it
        ({"a": None}, [{"op": "test", "path": "/a", "value": None}], {"a": None}),
        ({}, [{"op": "test", "path": "/a", "value": None}], {}),
        # replace the whole document
        ({"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}], {"b": 2}),
        # the usual: kubectl patch --type=json on a pod's image
        (
            {"spec": {"containers": [{"name": "web", "image": "a"}]}},
            [
                {"op": "test", "path": "/spec/containers/0/name", "value": "web"},
                {"op": "replace", "path": "/spec/containers/0/image", "value": "b"},
            ],
            {"spec": {"containers": [{"name": "web", "image": "b"}]}},
        ),
    ],
)
def test_json_patch(document: Any, operations: Any, result: Any) -> None:
    before = json.dumps(document)
    assert json_patch(document, operations) == result
    assert json.dumps(document) == before


@pytest.mark.parametrize(
    ("document", "operations", "cause"),
    [
        # A.9 testing a value: error
        (
            {"baz": "qux"},
            [{"op": "test", "path": "/baz", "value": "bar"}],
            "testing value /baz failed: test failed",
        ),
        # A.12 adding to a nonexistent target
        (
            {"foo": "bar"},
            [{"op": "add", "path": "/baz/bat", "value": "qux"}],
            'add operation does not apply: doc is missing path: "/baz/bat": missing value',
        ),
        # A.15 comparing strings and numbers
        (
            {"/": 9, "~1": 10},
            [{"op": "test", "path": "/~01", "value": "10"}],
            "testing value /~01 failed: test failed",
        ),
        (
            {"a": 1},
            [{"op": "test", "path": "/a", "value": 1.0}],
            "testing value /a failed: test failed",
        ),
        (
            {"a": {}},
            [{"op": "remove", "path": "/a/b"}],
            "error in remove for path: '/a/b': Unable to remove nonexistent key: b: missing value",
        ),
        (
            {"a": [1]},
            [{"op": "remove", "path": "/a/5"}],
            "error in remove for path: '/a/5': Unable to access invalid index: 5: invalid index "
            "referenced",
        ),
        (
            {"a": [1]},
            [{"op": "add", "path": "/a/3", "value": 1}],
            "error in add for path: '/a/3': Unable to access invalid index: 3: invalid index "
            "referenced",
        ),
        (
            {"a": [1]},
            [{"op": "replace", "path": "/a/1", "value": 1}],
            "replace operation does not apply: doc is missing key: /a/1: missing value",
        ),
        ({"a": 1}, [{"op": "frob", "path": "/a"}], "Unexpected kind: frob"),
        ({"a": 1}, [{"path": "/a"}], "Unexpected kind: unknown"),
        (
            {"a": 1},
            [{"op": "add", "value": 1}],
            "add operation failed to decode path: missing value",
        ),
        (
            {"a": 1},
            [{"op": "add", "path": "", "value": 1}],
            'add operation does not apply: doc is missing path: "": missing value',
        ),
        ({"a": 1}, [{"op": "test", "path": "/a"}], "testing value /a failed: test failed"),
    ],
)
def test_json_patch_failures_are_the_apiservers_generic_422(
    document: Any, operations: Any, cause: str
) -> None:
    with pytest.raises(RequestError) as caught:
        json_patch(document, operations)
    # kubectl prints: The request is invalid: the server rejected our request due to an
    # error in our request
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        422,
        "Invalid",
        "the server rejected our request due to an error in our request",
    )
    assert str(caught.value.__cause__) == cause


@pytest.mark.parametrize(
    ("operations", "code", "message"),
    [
        ({"op": "add"}, 400, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
        ("x", 400, "json: cannot unmarshal string into Go value of type jsonpatch.Patch"),
        (["x"], 400, "json: cannot unmarshal string into Go value of type jsonpatch.Operation"),
        (
            [{"op": "test", "path": "/a", "value": 1}] * 10001,
            413,
            "The allowed maximum operations in a JSON patch is 10000, got 10001",
        ),
    ],
)
def test_json_patch_bad_documents(operations: Any, code: int, message: str) -> None:
    with pytest.raises(RequestError) as caught:
        json_patch({"a": 1}, operations)
    assert (caught.value.code, caught.value.message) == (code, message)


def test_decode_patch() -> None:
    assert decode_patch(b'{"a": 1}') == {"a": 1}
    with pytest.raises(RequestError) as caught:
        decode_patch(b"{nope", strict=True)
    assert caught.value.code == 400
    assert caught.value.message.startswith("error decoding patch: ")


def test_go_repr() -> None:
    assert go_repr({"b": [1, "x"], "a": None, "c": True}) == "map[a:<nil> b:[1 x] c:true]"


# --- strategic merge patch ------------------------------------------------------------


def pod(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "python:3.12",
                    "command": ["python3", "-m", "http.server"],
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                },
                {"name": "side", "image": "busybox"},
            ],
            **spec,
        },
    }


def containers(result: dict[str, Any]) -> list[dict[str, Any]]:
    return list(result["spec"]["containers"])


def test_smp_kubectl_label_change() -> None:
    # What client-side apply sends for a label change (the last-applied value shortened).
    patch = {
        "metadata": {
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}\n"},
            "labels": {"app": "hello2"},
        }
    }
    result = strategic_merge_patch(pod(), patch, "Pod")
    assert result["metadata"]["labels"] == {"app": "hello2"}
    assert result["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/last-applied-configuration": "{}\n"
    }
    assert result["spec"] == pod()["spec"]


def test_smp_kubectl_image_change_merges_containers_by_name() -> None:
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "main"}, {"name": "side"}],
            "containers": [{"name": "main", "image": "python:3.13-slim"}],
        }
    }
    result = containers(strategic_merge_patch(pod(), patch, "Pod"))
    assert [c["name"] for c in result] == ["main", "side"]
    assert result[0]["image"] == "python:3.13-slim"
    assert result[0]["command"] == ["python3", "-m", "http.server"]  # kept: merged, not replaced
    assert result[1] == {"name": "side", "image": "busybox"}


def test_smp_env_merges_by_name_and_null_deletes() -> None:
    patch = {
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}],
                    "workingDir": None,
                }
            ]
        }
    }
    (main, _) = containers(strategic_merge_patch(pod(), patch, "Pod"))
    assert main["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "20"},
        {"name": "C", "value": "3"},
    ]
    assert "workingDir" not in main


def test_smp_atomic_lists_are_replaced() -> None:
    patch = {"spec": {"containers": [{"name": "main", "command": ["sleep", "1"]}]}}
    (main, _) = containers(strategic_merge_patch(pod(), patch, "Pod"))
    assert main["command"] == ["sleep", "1"]
    tolerations = {"spec": {"tolerations": [{"key": "b"}]}}
    result = strategic_merge_patch(pod(tolerations=[{"key": "a"}]), tolerations, "Pod")
    assert result["spec"]["tolerations"] == [{"key": "b"}]  # atomic: no merge key


def test_smp_ports_merge_by_container_port() -> None:
    patch = {"spec": {"containers": [{"name": "main", "ports": [{"containerPort": 9090}]}]}}
    (main, _) = containers(strategic_merge_patch(pod(), patch, "Pod"))
    # patch items go first unless the live order places a server-only item before them
    assert main["ports"] == [{"containerPort": 9090}, {"containerPort": 8080, "protocol": "TCP"}]


def test_smp_delete_directive_in_a_list() -> None:
    patch = {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}
    assert [c["name"] for c in containers(strategic_merge_patch(pod(), patch, "Pod"))] == ["main"]


def test_smp_replace_directive_in_a_list_and_a_map() -> None:
    listed = {"spec": {"containers": [{"name": "new", "image": "x"}, {"$patch": "replace"}]}}
    assert containers(strategic_merge_patch(pod(), listed, "Pod")) == [
        {"name": "new", "image": "x"}
    ]
    mapped = {"metadata": {"labels": {"only": "this", "$patch": "replace"}}}
    assert strategic_merge_patch(pod(), mapped, "Pod")["metadata"]["labels"] == {"only": "this"}
    deleted = {"metadata": {"labels": {"$patch": "delete"}}}
    assert strategic_merge_patch(pod(), deleted, "Pod")["metadata"]["labels"] == {}


def test_smp_set_element_order() -> None:
    patch = {"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "main"}]}}
    assert [c["name"] for c in containers(strategic_merge_patch(pod(), patch, "Pod"))] == [
        "side",
        "main",
    ]
    env_order = {
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "$setElementOrder/env": [{"name": "B"}, {"name": "A"}],
                }
            ]
        }
    }
    (main, _) = containers(strategic_merge_patch(pod(), env_order, "Pod"))
    assert [e["name"] for e in main["env"]] == ["B", "A"]


def test_smp_delete_from_primitive_list_and_merged_primitives() -> None:
    original = {"metadata": {"name": "x", "finalizers": ["a", "b", "c"]}}
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}}
    assert strategic_merge_patch(original, patch, "Pod")["metadata"]["finalizers"] == ["a", "c"]
    added = {"metadata": {"finalizers": ["d", "a"]}}  # finalizers: merge strategy, no key
    # Go's order: the patch's items in patch order, the live ones merged in by live order
    assert strategic_merge_patch(original, added, "Pod")["metadata"]["finalizers"] == [
        "d",
        "a",
        "b",
        "c",
    ]
    missing = {"metadata": {"$deleteFromPrimitiveList/missing": ["b"]}}
    assert strategic_merge_patch(original, missing, "Pod") == original


def test_smp_retain_keys() -> None:
    original = {"spec": {"volumes": [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/tmp"}}]}}
    patch = {
        "spec": {
            "volumes": [
                {"name": "v", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/var"}}
            ]
        }
    }
    result = strategic_merge_patch(original, patch, "Pod")
    assert result["spec"]["volumes"] == [{"name": "v", "hostPath": {"path": "/var"}}]


def test_smp_nulls_in_new_values_are_dropped() -> None:
    result = strategic_merge_patch({"metadata": {}}, {"metadata": {"labels": {"a": None}}}, "Pod")
    assert result == {"metadata": {"labels": {}}}


def test_smp_configmap_data_merges() -> None:
    original = {"kind": "ConfigMap", "data": {"a": "1", "b": "2"}}
    result = strategic_merge_patch(original, {"data": {"b": None, "c": "3"}}, "ConfigMap")
    assert result["data"] == {"a": "1", "c": "3"}


@pytest.mark.parametrize(
    ("patch", "code", "message"),
    [
        (
            {"metadata": {"labels": {"$patch": "frob"}}},
            500,
            "Internal error occurred: unknown patch type: frob in map: map[$patch:frob]",
        ),
        (
            {"spec": {"containers": [{"image": "x"}]}},
            500,
            "Internal error occurred: map: map[image:x] does not contain declared merge key: name",
        ),
        (
            {"spec": {"containers": [{"name": "main", "$retainKeys": "name"}]}},
            400,
            "invalid patch format of retainKeys",
        ),
        (
            {"spec": {"containers": [{"name": "main", "$retainKeys": ["image"], "args": []}]}},
            400,
            "invalid patch format of retainKeys",
        ),
        (
            {"spec": {"containers": [{"$patch": "merge", "name": "main"}]}},
            500,
            "Internal error occurred: merging lists cannot yet be specified in the patch",
        ),
        (
            {"spec": {"$setElementOrderX/containers": []}},
            400,
            "invalid patch format of setElementOrder list",
        ),
        (
            {"metadata": {"$deleteFromPrimitiveList": ["a"]}},
            400,
            "invalid patch format of primitive list",
        ),
        (
            {"spec": {"containers": [["a"]]}},
            500,
            "Internal error occurred: list element types are not identical: "
            "[[map[command:[python3 -m http.server] env:[map[name:A value:1] map[name:B value:2]] "
            "image:python:3.12 name:main ports:[map[containerPort:8080 protocol:TCP]]] "
            "map[image:busybox name:side]] [[a]]]",
        ),
    ],
)
def test_smp_errors(patch: dict[str, Any], code: int, message: str) -> None:
    with pytest.raises(RequestError) as caught:
        strategic_merge_patch(pod(), patch, "Pod")
    assert (caught.value.code, caught.value.message) == (code, message)


def test_smp_lists_of_lists_are_unprocessable() -> None:
    with pytest.raises(RequestError) as caught:
        strategic_merge_patch(
            {"metadata": {"finalizers": [["a"]]}}, {"metadata": {"finalizers": [["b"]]}}, "Pod"
        )
    assert (caught.value.code, caught.value.reason) == (422, "Invalid")


def test_smp_refuses_a_patch_that_is_not_an_object() -> None:
    with pytest.raises(RequestError) as caught:
        strategic_merge_patch(pod(), [], "Pod")  # type: ignore[arg-type]
    assert caught.value.message == (
        "json: cannot unmarshal array into Go value of type map[string]interface {}"
    )


def test_smp_does_not_modify_its_inputs() -> None:
    original, patch = pod(), {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}
    before = json.dumps([original, patch])
    strategic_merge_patch(original, patch, "Pod")
    assert json.dumps([original, patch]) == before


def test_strip_directives() -> None:
    value = {
        "a": [{"$patch": "delete", "name": "x"}],
        "$setElementOrder/a": [],
        "b": {"$retainKeys": [], "c": 1, "$deleteFromPrimitiveList/d": []},
    }
    assert strip_directives(value) == {"a": [{"name": "x"}], "b": {"c": 1}}
