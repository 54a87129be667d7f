"""Reading ``apply -f`` input."""

from __future__ import annotations

from pathlib import Path

import pytest

from minikubelet.cli.client.manifests import (
    LAST_APPLIED,
    ManifestProblem,
    last_applied,
    objects_in_text,
    read_sources,
    with_last_applied,
)

TWO = """\
apiVersion: v1
kind: Pod
metadata: {name: a}
spec: {containers: [{name: c, command: ["true"]}]}
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: b, namespace: other}
  spec: {containers: [{name: c, command: ["true"]}]}
"""


def test_documents_and_lists() -> None:
    pods = objects_in_text(TWO, "two.yaml", "default")
    assert [(p.name, p.manifest["metadata"]["namespace"]) for p in pods] == [
        ("a", "default"),
        ("b", "other"),
    ]
    assert all(p.source == "two.yaml" for p in pods)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
            'error: resource mapping not found for name: "d" namespace: "" from "x.yaml": '
            'no matches for kind "Deployment" in version "apps/v1"',
        ),
        (
            "kind: Pod\nmetadata: {name: p}\n",
            'error: error validating "x.yaml": apiVersion not set',
        ),
        ("apiVersion: v1\nkind: Pod\nmetadata: {}\n", "resource name may not be empty"),
        ("a: [\n", "error: error parsing x.yaml"),
        ("- 1\n", "not a Kubernetes object"),
    ],
)
def test_problems(text: str, message: str) -> None:
    with pytest.raises(ManifestProblem, match=None) as caught:
        objects_in_text(text, "x.yaml", "default")
    assert message in str(caught.value)


def test_files_directories_and_stdin(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(TWO)
    (tmp_path / "notes.txt").write_text("not a manifest")
    single = tmp_path / "single.json"
    single.write_text('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j"}}')
    stdin = "apiVersion: v1\nkind: Pod\nmetadata: {name: s}\n"
    pods = read_sources((str(tmp_path), "-"), stdin, "default")
    assert [p.name for p in pods] == ["a", "b", "j", "s"]
    assert pods[-1].source == "STDIN"
    with pytest.raises(ManifestProblem, match=r'the path "nope\.yaml" does not exist'):
        read_sources(("nope.yaml",), None, "default")


def test_last_applied_ignores_itself() -> None:
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}
    sent = with_last_applied(manifest)
    assert sent["metadata"]["annotations"][LAST_APPLIED] == last_applied(manifest)
    assert last_applied(sent) == last_applied(manifest)
    assert last_applied(manifest).endswith("}\n")
    changed = {**manifest, "spec": {"containers": []}}
    assert last_applied(changed) != last_applied(manifest)
