"""Our patches against kubectl's: ``kubectl patch --local`` runs the same Go libraries the
apiserver uses (strategicpatch with the compiled-in Pod type, evanphx json-patch), so its
output is the reference for each case. Skipped, with the reason printed, without kubectl."""

from __future__ import annotations

import json
import subprocess  # noqa: TID251 - the test runs kubectl as a user would
from pathlib import Path
from typing import Any

import pytest

from minikubelet.api.patch import json_patch, merge_patch
from minikubelet.api.strategic import strategic_merge_patch
from minikubelet.errors import RequestError
from tests.helpers.kubectl import find_kubectl

pytestmark = [pytest.mark.integration]

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "web",
        "labels": {"app": "web", "tier": "front"},
        "annotations": {"note": "x"},
        "finalizers": ["a", "b", "c"],
    },
    "spec": {
        "containers": [
            {
                "name": "main",
                "image": "python:3.12",
                "command": ["python3", "-m", "http.server"],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "volumeMounts": [{"name": "v", "mountPath": "/v"}],
            },
            {"name": "side", "image": "busybox", "args": ["sleep", "1"]},
        ],
        "initContainers": [{"name": "init", "image": "busybox"}],
        "volumes": [{"name": "v", "emptyDir": {}}, {"name": "w", "hostPath": {"path": "/w"}}],
        "tolerations": [{"key": "k1", "operator": "Exists"}],
        "activeDeadlineSeconds": 30,
    },
}
CONFIGMAP: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "cm"},
    "data": {"a": "1", "b": "2"},
}

SMP_CASES: list[Any] = [
    {"metadata": {"labels": {"app": "web2", "tier": None}}},
    {
        "spec": {
            "$setElementOrder/containers": [{"name": "main"}, {"name": "side"}],
            "containers": [{"name": "main", "image": "python:3.13"}],
        }
    },
    {"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "main"}]}},
    {"spec": {"containers": [{"name": "new", "image": "x"}]}},
    {
        "spec": {
            "$setElementOrder/containers": [{"name": "new"}, {"name": "main"}, {"name": "side"}],
            "containers": [{"name": "new", "image": "x"}],
        }
    },
    {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}},
    {"spec": {"containers": [{"name": "only", "image": "x"}, {"$patch": "replace"}]}},
    {
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "env": [{"name": "C", "value": "3"}, {"name": "A", "$patch": "delete"}],
                }
            ]
        }
    },
    {
        "spec": {
            "containers": [{"name": "main", "$setElementOrder/env": [{"name": "B"}, {"name": "A"}]}]
        }
    },
    {"spec": {"containers": [{"name": "main", "ports": [{"containerPort": 9090}]}]}},
    {"spec": {"containers": [{"name": "main", "command": ["sleep"], "workingDir": "/"}]}},
    {"spec": {"containers": [{"name": "side", "args": None}]}},
    {"spec": {"tolerations": [{"key": "k2"}]}},
    {"spec": {"volumes": [{"name": "w", "$retainKeys": ["name", "emptyDir"], "emptyDir": {}}]}},
    {"spec": {"$setElementOrder/volumes": [{"name": "w"}, {"name": "v"}]}},
    {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}},
    {"metadata": {"finalizers": ["d", "a"]}},
    {"metadata": {"$setElementOrder/finalizers": ["c", "a", "b"]}},
    {"metadata": {"labels": {"$patch": "replace", "only": "this"}}},
    {"metadata": {"annotations": {"$patch": "delete"}}},
    {"metadata": {"labels": None}, "spec": {"activeDeadlineSeconds": None}},
    {
        "spec": {
            "initContainers": [{"name": "init", "image": "alpine"}],
            "containers": [{"name": "main", "volumeMounts": [{"name": "w", "mountPath": "/w"}]}],
        }
    },
    # errors
    {"metadata": {"labels": {"$patch": "frob"}}},
    {"spec": {"containers": [{"image": "x"}]}},
    {"spec": {"containers": [{"name": "main", "$retainKeys": ["image"], "args": []}]}},
    {"spec": {"containers": [{"$patch": "merge", "name": "main"}]}},
]
MERGE_CASES: list[Any] = [
    {"metadata": {"labels": {"tier": None, "env": "dev"}}},
    {"spec": {"containers": [{"name": "only"}]}},
    {"spec": {"activeDeadlineSeconds": 10, "tolerations": None}},
]
JSON_CASES: list[Any] = [
    [{"op": "replace", "path": "/spec/containers/0/image", "value": "python:3.13"}],
    [
        {"op": "test", "path": "/metadata/labels/app", "value": "web"},
        {"op": "add", "path": "/metadata/labels/new", "value": "1"},
    ],
    [{"op": "add", "path": "/spec/containers/1/args/-", "value": "2"}],
    [{"op": "remove", "path": "/spec/containers/-1"}],
    [{"op": "move", "from": "/metadata/annotations/note", "path": "/metadata/labels/note"}],
    [{"op": "copy", "from": "/spec/containers/0/env/0", "path": "/spec/containers/1/env"}],
    [{"op": "replace", "path": "/metadata/labels/missing", "value": "v4 adds it"}],
    # errors
    [{"op": "test", "path": "/metadata/labels/app", "value": "nope"}],
    [{"op": "remove", "path": "/metadata/labels/missing"}],
    [{"op": "add", "path": "/nope/deeper", "value": 1}],
    [{"op": "replace", "path": "/spec/containers/5", "value": {}}],
]


@pytest.fixture(scope="module")
def kubectl() -> Path:
    binary = find_kubectl(33) or find_kubectl()
    if binary is None:
        pytest.skip("no kubectl binary on this machine")
    return binary


def reference(kubectl: Path, tmp_path: Path, obj: Any, patch: Any, kind: str) -> tuple[bool, Any]:
    """(True, patched object) or (False, kubectl's error message)."""
    source = tmp_path / "object.json"
    source.write_text(json.dumps(obj))
    result = subprocess.run(
        [
            str(kubectl),
            "patch",
            "--local",
            "-f",
            str(source),
            f"--type={kind}",
            "-p",
            json.dumps(patch),
            "-o",
            "json",
        ],
        capture_output=True,
        check=False,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    if result.returncode == 0:
        return True, json.loads(result.stdout)
    message = result.stderr.decode().strip()
    return False, message.removeprefix("error: ")


@pytest.mark.parametrize("patch", SMP_CASES, ids=lambda p: json.dumps(p)[:60])
@pytest.mark.parametrize("obj", [POD], ids=["pod"])
def test_strategic_merge_patch_matches_kubectl(
    kubectl: Path, tmp_path: Path, obj: Any, patch: Any
) -> None:
    ok, expected = reference(kubectl, tmp_path, obj, patch, "strategic")
    if ok:
        assert strategic_merge_patch(obj, patch, obj["kind"]) == expected
        return
    with pytest.raises(RequestError) as caught:
        strategic_merge_patch(obj, patch, obj["kind"])
    assert caught.value.message.removeprefix("Internal error occurred: ") == expected


def test_strategic_merge_patch_of_a_configmap_matches_kubectl(
    kubectl: Path, tmp_path: Path
) -> None:
    patch = {"data": {"b": None, "c": "3"}, "metadata": {"labels": {"x": "y"}}}
    ok, expected = reference(kubectl, tmp_path, CONFIGMAP, patch, "strategic")
    assert ok
    assert strategic_merge_patch(CONFIGMAP, patch, "ConfigMap") == expected


@pytest.mark.parametrize("patch", MERGE_CASES, ids=lambda p: json.dumps(p)[:60])
def test_merge_patch_matches_kubectl(kubectl: Path, tmp_path: Path, patch: Any) -> None:
    ok, expected = reference(kubectl, tmp_path, POD, patch, "merge")
    assert ok
    assert merge_patch(POD, patch) == expected


@pytest.mark.parametrize("patch", JSON_CASES, ids=lambda p: json.dumps(p)[:60])
def test_json_patch_matches_kubectl(kubectl: Path, tmp_path: Path, patch: Any) -> None:
    ok, expected = reference(kubectl, tmp_path, POD, patch, "json")
    if ok:
        assert json_patch(POD, patch) == expected
        return
    with pytest.raises(RequestError) as caught:
        json_patch(POD, patch)
    assert caught.value.code == 422
    cause = str(caught.value.__cause__)
    if "doc is missing key" in cause:
        # kubectl's patch command rewords this one error of the library (its own wrapping)
        cause = f"Object to be patched is missing field ({cause[cause.index('key:') + 5 :]})"
    assert cause == expected
