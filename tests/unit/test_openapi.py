"""The packaged OpenAPI v3 document: what kubectl looks for in it, and that it is current."""

from __future__ import annotations

import importlib.util
import json
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from minikubelet.api import _patch_meta
from minikubelet.api.openapi import document, index, relative_url

SCRIPT = Path(__file__).parent.parent.parent / "scripts" / "gen-openapi"
REF = "#/components/schemas/"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    found = document("api/v1")
    assert found is not None
    data: dict[str, Any] = json.loads(found.data)
    return data


def nodes(node: object) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from nodes(value)


def test_index_names_the_document_by_hash() -> None:
    found = document("api/v1")
    assert found is not None
    assert len(found.etag) == 128
    assert found.etag == found.etag.upper()
    assert index() == {
        "paths": {"api/v1": {"serverRelativeURL": relative_url("api/v1", found.etag)}}
    }
    assert document("apis/apps/v1") is None


@pytest.mark.parametrize("kind", ["Pod", "ConfigMap", "Secret"])
def test_every_writable_kind_has_a_patch_declaring_field_validation(
    doc: dict[str, Any], kind: str
) -> None:
    # kubectl's --validate=strict check (queryParamVerifierV3): the first PATCH operation of
    # the kind must list fieldValidation as a query parameter; pods/status is one of them.
    patches = [
        path["patch"]
        for path in doc["paths"].values()
        if "patch" in path
        and path["patch"]["x-kubernetes-group-version-kind"]
        == {"group": "", "version": "v1", "kind": kind}
    ]
    assert patches
    for operation in patches:
        names = {(p["name"], p["in"]) for p in operation["parameters"]}
        assert ("fieldValidation", "query") in names
        # client-side apply computes a strategic merge patch from the schema only when the
        # operation accepts one
        assert "application/strategic-merge-patch+json" in operation["requestBody"]["content"]


def test_every_reference_resolves(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    refs = {node["$ref"] for node in nodes(doc) if "$ref" in node}
    assert refs
    for ref in refs:
        assert ref.startswith(REF)
        assert ref[len(REF) :] in schemas, ref


def test_openapi_3_forms(doc: dict[str, Any]) -> None:
    for node in nodes(doc["components"]["schemas"]):
        assert not isinstance(node.get("type"), list), node
        assert node.get("additionalProperties") is not False
        if "$ref" in node:
            assert set(node) == {"$ref"}, "siblings of $ref must be wrapped in allOf"
    pod = doc["components"]["schemas"]["io.k8s.api.core.v1.Pod"]
    assert "enum" not in pod["properties"]["kind"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]


def test_patch_strategies_are_in_the_schema(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    ports = schemas["io.k8s.api.core.v1.Container"]["properties"]["ports"]
    assert ports["x-kubernetes-patch-merge-key"] == "containerPort"
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["oneOf"]


def test_patch_meta_agrees_with_the_document(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    types = _patch_meta.TYPES
    assert types["PodSpec"]["containers"] == ("Container", "merge", "name", "map", ("name",))
    assert types["Container"]["env"] == ("EnvVar", "merge", "name", "map", ("name",))
    assert types["Container"]["ports"][2:] == (
        "containerPort",
        "map",
        ("containerPort", "protocol"),
    )
    assert types["PodSpec"]["volumes"][:3] == ("Volume", "merge,retainKeys", "name")
    assert types["PodSpec"]["tolerations"] == ("Toleration", "", "", "atomic", ())
    for name, fields in types.items():
        full = "io.k8s.api.core.v1." + name
        if full not in schemas:
            continue
        for field, (_, strategy, merge_key, list_type, map_keys) in fields.items():
            prop = schemas[full]["properties"][field]
            assert prop.get("x-kubernetes-patch-strategy", "") == strategy
            assert prop.get("x-kubernetes-patch-merge-key", "") == merge_key
            assert prop.get("x-kubernetes-list-type", "") == list_type
            assert tuple(prop.get("x-kubernetes-list-map-keys", ())) == map_keys


@pytest.mark.skipif(
    importlib.util.find_spec("kubernetes_validate") is None,
    reason="kubernetes-validate (a test dependency) is not installed",
)
def test_generated_files_are_current() -> None:
    generator = runpy.run_path(str(SCRIPT))
    compressed, meta = generator["render"]()
    assert generator["DOCUMENT"].read_bytes() == compressed, "rerun scripts/gen-openapi"
    assert generator["PATCH_META"].read_text() == meta, "rerun scripts/gen-openapi"
