"""Reading ``apply -f`` input, and the last-applied record that tells ``unchanged`` apart.

A source is a file, a directory (its ``.yaml``, ``.yml`` and ``.json`` files, as kubectl
reads them) or ``-`` for stdin. Each may hold several YAML documents and ``kind: List``
documents; every Pod, ConfigMap and Secret in them is returned with the source it came
from. The server validates them; this module only checks that each document is one of
those kinds, with a name.

As ``kubectl apply`` does, the manifest sent is annotated with
``kubectl.kubernetes.io/last-applied-configuration`` (its own compact JSON), and a later
apply whose manifest has the same JSON changes nothing.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "LAST_APPLIED",
    "ManifestProblem",
    "SourcedObject",
    "last_applied",
    "objects_in_text",
    "read_sources",
    "with_last_applied",
]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_SUFFIXES = (".yaml", ".yml", ".json")
# kind -> (API resource, kubectl's singular)
_KINDS = {
    "Pod": ("pods", "pod"),
    "ConfigMap": ("configmaps", "configmap"),
    "Secret": ("secrets", "secret"),
}


class ManifestProblem(Exception):
    """A source cannot be read or holds something that cannot be applied; the message says
    which."""


@dataclass(frozen=True)
class SourcedObject:
    source: str
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    @property
    def resource(self) -> str:
        """The API resource: ``pods``, ``configmaps``, ``secrets``."""
        return _KINDS[self.kind][0]

    @property
    def singular(self) -> str:
        """kubectl's singular of the kind: ``pod``, ``configmap``."""
        return _KINDS[self.kind][1]

    @property
    def label(self) -> str:
        """``pod/web``, ``configmap/settings``: how kubectl names it in what it prints."""
        return f"{self.singular}/{self.name}"


def _documents(value: object, source: str) -> Iterator[dict[str, Any]]:
    if value is None:
        return
    if not isinstance(value, dict):
        raise ManifestProblem(f'error: error parsing {source}: not a Kubernetes object: "{value}"')
    if value.get("kind") == "List" or str(value.get("kind", "")).endswith("List"):
        for item in value.get("items") or []:
            yield from _documents(item, source)
        return
    yield value


def objects_in_text(text: str, source: str, namespace: str) -> list[SourcedObject]:
    """Every Pod, ConfigMap and Secret in ``text``, its namespace filled in; raises
    ManifestProblem."""
    import yaml

    try:
        loaded = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        raise ManifestProblem(f"error: error parsing {source}: {error}") from error
    pods = []
    for document in loaded:
        for item in _documents(document, source):
            kind, version = item.get("kind"), item.get("apiVersion")
            metadata = item.get("metadata")
            if not isinstance(metadata, dict):
                metadata = item["metadata"] = {}
            name = metadata.get("name")
            if not kind or not version:
                raise ManifestProblem(
                    f"error: error validating data: [apiVersion not set, kind not set] "
                    f'in "{source}"'
                    if not kind and not version
                    else f'error: error validating "{source}": '
                    f"{'kind' if not kind else 'apiVersion'} not set"
                )
            if kind not in _KINDS or version != "v1":
                raise ManifestProblem(
                    f'error: resource mapping not found for name: "{name or ""}" namespace: '
                    f'"{metadata.get("namespace", "")}" from "{source}": no matches for kind '
                    f'"{kind}" in version "{version}"\nensure CRDs are installed first'
                )
            if not isinstance(name, str) or not name:
                raise ManifestProblem(
                    f'error: error when retrieving current configuration of: from "{source}": '
                    "resource name may not be empty"
                )
            manifest = copy.deepcopy(item)
            manifest["metadata"].setdefault("namespace", namespace)
            pods.append(SourcedObject(source, manifest))
    return pods


def read_sources(
    sources: tuple[str, ...], stdin_text: str | None, namespace: str
) -> list[SourcedObject]:
    """Every object of every source, in order; raises ManifestProblem for the first bad one."""
    pods: list[SourcedObject] = []
    for source in sources:
        if source == "-":
            pods += objects_in_text(stdin_text or "", "STDIN", namespace)
            continue
        path = Path(source)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix in _SUFFIXES and p.is_file())
        elif path.exists():
            files = [path]
        else:
            raise ManifestProblem(f'error: the path "{source}" does not exist')
        for file in files:
            try:
                text = file.read_text()
            except OSError as error:
                raise ManifestProblem(f"error: {file}: {error.strerror}") from error
            pods += objects_in_text(text, str(file), namespace)
    return pods


def last_applied(manifest: Mapping[str, Any]) -> str:
    """The annotation's value: the manifest as compact JSON, without the annotation itself."""
    document = copy.deepcopy(dict(manifest))
    metadata = document.setdefault("metadata", {})
    annotations = dict(metadata.get("annotations") or {})
    annotations.pop(LAST_APPLIED, None)
    metadata["annotations"] = annotations
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str) + "\n"


def with_last_applied(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest to send: annotated with its own last-applied record."""
    document = copy.deepcopy(dict(manifest))
    record = last_applied(document)
    metadata = document.setdefault("metadata", {})
    metadata["annotations"] = {**(metadata.get("annotations") or {}), LAST_APPLIED: record}
    return document
