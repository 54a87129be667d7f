"""Manifests -> pods, ConfigMaps and Secrets: YAML or JSON, several documents, ``kind: List``.

``load_bytes`` is the one intake: every manifest minikubelet reads (a static pod file, a
``run`` argument, a saved API object, an API request body) goes through it: decoding
(UTF-8, with or without a BOM, within the size limit), parsing, validation, and the
warnings for fields the engine does not act on yet (``capabilities``), each error naming
the file and the field path.

A file is all or nothing: if any document has a problem, ``ManifestError`` lists every
problem of every document (``ManifestError.combine``) and nothing of the file is returned,
so a half-applied file never runs. Limits guard the daemon against hostile or broken files:
the kubelet's 10 MiB file size, and a budget on the values a document may expand to through
YAML aliases ("billion laughs") or hold in a cycle (``&a [*a]``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from minikubelet.errors import FieldError, ManifestError, ManifestWarning
from minikubelet.manifest.capabilities import unimplemented_warnings
from minikubelet.manifest.objects import object_from_dict
from minikubelet.manifest.pod import pod_from_dict
from minikubelet.model.objects import ConfigMap, ConfigObject, Secret
from minikubelet.model.spec import Pod, Source

__all__ = ["MAX_FILE_BYTES", "LoadResult", "load_bytes", "load_file", "load_text"]

MAX_FILE_BYTES = 10 * 1024 * 1024  # the kubelet's limit for a static pod manifest
_MAX_VALUES = 1_000_000  # values in one document once aliases are expanded
# A List's kind, and the kind its items have when they leave it out (the API's lists do).
_LIST_KINDS: dict[str, str | None] = {
    "List": None,
    "PodList": "Pod",
    "ConfigMapList": "ConfigMap",
    "SecretList": "Secret",
}
_OBJECT_KINDS = ("ConfigMap", "Secret")


@dataclass(frozen=True)
class LoadResult:
    """What a manifest holds: pods and the objects beside them, each kind in file order."""

    pods: tuple[Pod, ...]
    warnings: tuple[ManifestWarning, ...]
    config_maps: tuple[ConfigMap, ...] = ()
    secrets: tuple[Secret, ...] = ()

    @property
    def objects(self) -> tuple[ConfigObject, ...]:
        """The ConfigMaps, then the Secrets."""
        return (*self.config_maps, *self.secrets)


def load_bytes(data: bytes, path: Path | None) -> LoadResult:
    """Everything in a manifest's bytes, checked; raises ``ManifestError`` naming every problem.

    ``path`` names the file in messages and anchors relative paths (None: an API body).
    The result's warnings include the fields the engine does not act on yet.
    """
    if len(data) > MAX_FILE_BYTES:
        raise _file_error(path, "file too large", f"the limit is {MAX_FILE_BYTES} bytes (10 MiB)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _file_error(path, "not UTF-8 text", f"invalid byte at offset {error.start}") from None
    result = load_text(text, path)
    unimplemented = [warning for pod in result.pods for warning in unimplemented_warnings(pod)]
    if not unimplemented:
        return result
    return LoadResult(
        pods=result.pods,
        warnings=(*result.warnings, *unimplemented),
        config_maps=result.config_maps,
        secrets=result.secrets,
    )


def load_file(path: Path) -> LoadResult:
    """``load_bytes`` of a file (at most ``MAX_FILE_BYTES`` are read)."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise _file_error(path, "cannot read the file", error.strerror or str(error)) from None
    return load_bytes(data, path)


def load_text(text: str, path: Path | None) -> LoadResult:
    """Parse and validate a manifest's text, without the engine's unimplemented-field
    warnings: use ``load_bytes``, which adds them (this is its parsing step)."""
    documents = _parse(text, path)
    present = [i for i, document in enumerate(documents) if document is not None]
    pods: list[Pod] = []
    objects: list[ConfigObject] = []
    warnings: list[ManifestWarning] = []
    failures: list[ManifestError] = []
    for i in present:
        location = f"document {i + 1}" if len(present) > 1 else None
        for where, obj in _entries(documents[i], location, path, failures):
            try:
                if obj.get("kind") in _OBJECT_KINDS:
                    source = Source(path, len(objects))
                    config, found = object_from_dict(obj, source, location=where)
                    objects.append(config)
                else:
                    pod, found = pod_from_dict(obj, Source(path, len(pods)), location=where)
                    pods.append(pod)
            except ManifestError as error:
                failures.append(error)
                continue
            warnings.extend(found)
    _check_unique(pods, objects, failures)
    if failures:
        raise ManifestError.combine(failures)
    return LoadResult(
        pods=tuple(pods),
        warnings=tuple(warnings),
        config_maps=tuple(o for o in objects if isinstance(o, ConfigMap)),
        secrets=tuple(o for o in objects if isinstance(o, Secret)),
    )


def _file_error(path: Path | None, kind: str, detail: str) -> ManifestError:
    return ManifestError(path, None, [FieldError("", kind, detail)])


def _entries(
    document: object, location: str | None, path: Path | None, failures: list[ManifestError]
) -> list[tuple[str | None, Mapping[str, object]]]:
    """The object documents in one YAML document: itself, or the items of a List."""
    if not isinstance(document, Mapping):
        detail = f"expected a mapping with apiVersion and kind, found {_describe(document)}"
        error = FieldError("", "not a Kubernetes object", detail)
        failures.append(ManifestError(path, None, [error], location=location))
        return []
    list_kind = document.get("kind")
    if not isinstance(list_kind, str) or list_kind not in _LIST_KINDS:
        return [(location, document)]
    errors = []
    if document.get("apiVersion") != "v1":
        errors.append(
            FieldError(
                "apiVersion",
                "Unsupported value",
                'supported values: "v1"',
                document.get("apiVersion"),
                show_value=True,
            )
        )
    for field in document:
        if field not in ("apiVersion", "kind", "metadata", "items"):
            errors.append(FieldError(str(field) or '""', "Unknown field"))
    items = document.get("items")
    if items is not None and not isinstance(items, list):
        errors.append(FieldError("items", "Invalid value", "must be a list", items, True))
    if errors:
        failures.append(ManifestError(path, None, errors, location=location))
        return []
    entries: list[tuple[str | None, Mapping[str, object]]] = []
    for j, item in enumerate(items or []):
        where = f"{location}: items[{j}]" if location else f"items[{j}]"
        if not isinstance(item, Mapping):
            error = FieldError("", "Invalid value", "must be a mapping (an object)", item, True)
            failures.append(ManifestError(path, None, [error], location=where))
            continue
        item_kind = _LIST_KINDS[list_kind]
        if item_kind is not None:
            # The API's PodList (ConfigMapList, ...) leaves apiVersion and kind out of items.
            item = {"apiVersion": "v1", "kind": item_kind, **item}
        entries.append((where, item))
    return entries


def _check_unique(
    pods: list[Pod], objects: list[ConfigObject], failures: list[ManifestError]
) -> None:
    seen: set[tuple[str, str, str]] = set()
    for item in (*pods, *objects):
        kind = "pod" if isinstance(item, Pod) else item.kind.singular
        if (kind, item.namespace, item.name) in seen:
            error = FieldError(
                "metadata.name",
                "Duplicate value",
                f"another {kind} of this file has the same name and namespace",
                item.name,
                show_value=True,
            )
            failures.append(ManifestError(item.source.path, item.name, [error], kind=kind))
        seen.add((kind, item.namespace, item.name))


def _describe(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({json.dumps(shown)})"
    return f"a {type(value).__name__}" if value is not None else "nothing"


# --- parsing -------------------------------------------------------------------------


def _parse(text: str, path: Path | None) -> list[object]:
    """The documents of a file, ``None`` for empty ones; raises ManifestError on bad syntax."""
    stripped = text.lstrip()
    is_json = path is not None and path.suffix.lower() == ".json"
    try:
        if is_json or stripped.startswith(("{", "[")):
            try:
                documents = [_load_json(text)] if stripped else []
            except ValueError:
                if is_json:
                    raise
                documents = _load_yaml(text)  # YAML flow style also starts with { or [
        else:
            documents = _load_yaml(text)
        for i, document in enumerate(documents):
            _check_size(document, i, len(documents), path)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise ManifestError(
            path, None, [FieldError("", "JSON syntax error", error.msg)], location=where
        ) from None
    except ValueError as error:  # NaN, Infinity, duplicate keys in JSON
        raise ManifestError(path, None, [FieldError("", "JSON syntax error", str(error))]) from None
    except yaml.MarkedYAMLError as error:
        raise _yaml_error(error, path) from None
    except yaml.YAMLError as error:
        raise ManifestError(path, None, [FieldError("", "YAML syntax error", str(error))]) from None
    except RecursionError:
        error_ = FieldError("", "document too deeply nested", "")
        raise ManifestError(path, None, [error_]) from None
    return documents


def _yaml_error(error: yaml.MarkedYAMLError, path: Path | None) -> ManifestError:
    mark = error.problem_mark or error.context_mark
    location = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
    detail = error.problem or error.context or "invalid YAML"
    if error.context and error.problem:
        context = error.context
        if error.context_mark is not None and error.context_mark is not mark:
            context += (
                f" at line {error.context_mark.line + 1}, column {error.context_mark.column + 1}"
            )
        detail += f" ({context})"
    return ManifestError(
        path, None, [FieldError("", "YAML syntax error", detail)], location=location
    )


def _load_json(text: str) -> object:
    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        result: dict[str, object] = {}
        for name, value in items:
            if name in result:
                raise ValueError(f'duplicate key "{name}"')
            result[name] = value
        return result

    def constant(name: str) -> object:
        raise ValueError(f"{name} is not valid JSON")

    return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)


# What PyYAML's constructors raise on a value their tag cannot read.
_CONSTRUCTION_ERRORS = (ValueError, KeyError, AttributeError, TypeError, IndexError, OverflowError)


def _load_yaml(text: str) -> list[object]:
    if _FastLoader is not _Loader:
        try:
            return list(yaml.load_all(text, Loader=_FastLoader))
        except (yaml.YAMLError, *_CONSTRUCTION_ERRORS, RecursionError):
            pass  # read again below, for PyYAML's own words
    try:
        return list(yaml.load_all(text, Loader=_Loader))  # a SafeLoader subclass: safe
    except _CONSTRUCTION_ERRORS as error:
        # A tagged value read after its node (``!!set``, ``!!omap`` fill theirs later,
        # outside ``construct_object``): no mark, but still a YAML error.
        raise yaml.YAMLError(f"cannot read a tagged value: {error}") from None


class _Strict(yaml.constructor.SafeConstructor):
    """PyYAML's SafeLoader, closer to Kubernetes' YAML (sigs.k8s.io/yaml):

    - timestamps stay strings (``creationTimestamp`` is a string in the API);
    - a key repeated in one mapping is an error, as in Kubernetes' strict decoding,
      rather than the last one silently winning;
    - a value its explicit tag cannot read (``!!bool 1``, ``!!timestamp x``: PyYAML's own
      constructors raise KeyError, AttributeError...) is a YAML error at that value (found
      by fuzzing).
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> object:
        try:
            return super().construct_object(node, deep=deep)
        except _CONSTRUCTION_ERRORS:
            value = repr(node.value) if isinstance(node, yaml.ScalarNode) else "a collection"
            shown = value if len(value) <= 40 else value[:37] + "..."
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {shown} as {node.tag}", node.start_mark
            ) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        if not isinstance(node, yaml.MappingNode):  # ``!!set [a]``: SafeConstructor's words
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping node, but found {node.id}", node.start_mark
            )
        seen: dict[object, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` may override keys: that is the point of merging
            name = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(name)
            except TypeError:
                continue  # unhashable keys: SafeConstructor reports them
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f'duplicate key "{name}" (first at line {first.start_mark.line + 1}, '
                    f"column {first.start_mark.column + 1})",
                    key_node.start_mark,
                )
            seen[name] = key_node
        return super().construct_mapping(node, deep=deep)


_RESOLVERS = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Loader(_Strict, yaml.SafeLoader):
    yaml_implicit_resolvers = _RESOLVERS


# libyaml's parser where PyYAML was built with it (its wheels are): the same documents,
# through the same constructors and resolvers, at a fraction of the pure-Python scanner's
# cost, which is most of loading a directory of manifests. A document it refuses is read
# again with ``_Loader``, so an error says what PyYAML says (libyaml words it otherwise).
_FastLoader: type[yaml.SafeLoader | yaml.CSafeLoader] = _Loader
if hasattr(yaml, "CSafeLoader"):

    class _CLoader(_Strict, yaml.CSafeLoader):
        yaml_implicit_resolvers = _RESOLVERS

    _FastLoader = _CLoader


def _check_size(document: object, i: int, count: int, path: Path | None) -> None:
    """Refuse documents that expand to more than ``_MAX_VALUES`` values (or never end)."""
    budget = _MAX_VALUES
    stack = [document]
    while stack:
        value = stack.pop()
        budget -= 1
        if budget < 0:
            detail = (
                f"more than {_MAX_VALUES} values once YAML aliases are expanded "
                "(or an alias refers to itself)"
            )
            location = f"document {i + 1}" if count > 1 else None
            error = FieldError("", "document too large", detail)
            raise ManifestError(path, None, [error], location=location)
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
