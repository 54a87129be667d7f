"""Generate ``fields.py``: every field name and type of a v1 Pod, ConfigMap and Secret.

Rerun it after upgrading kubernetes-validate (a test-only dependency; the runtime never
imports it, it only reads the generated module)::

    .venv/bin/python -m minikubelet.manifest._gen_fields

The JSON schemas come from the ``kubernetes-validate`` package (strict variants, where every
object has ``additionalProperties: false``). Fields are the union over every schema version
from ``FIRST_VERSION`` on, the newest definition of a field winning, so a manifest written for
any of those Kubernetes releases never hits "Unknown field" for a field that release knows.
The package is located with ``importlib.util.find_spec`` and its data files read as JSON, so
this script does not import kubernetes-validate's code either.

Type expressions in the output (see ``schema.py``, which interprets them):
``string``, ``integer``, ``int32``, ``int64``, ``number``, ``boolean``, ``any``, ``IntOrString``,
``Quantity``, ``[]T`` (a list of T), ``map[T]`` (a mapping from strings to T), or the name of an
object type listed in ``TYPES``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import cast

__all__ = ["FIRST_VERSION", "main", "render", "schema_versions"]

FIRST_VERSION = (1, 33)

_PREFIXES = (
    "io.k8s.api.core.v1.",
    "io.k8s.apimachinery.pkg.apis.meta.v1.",
)
_SPECIAL = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": "IntOrString",
    "io.k8s.apimachinery.pkg.api.resource.Quantity": "Quantity",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": "string",
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": "string",
}
# The kinds a manifest may hold: a Pod, and the objects its environment may come from.
_ROOTS = (
    "io.k8s.api.core.v1.Pod",
    "io.k8s.api.core.v1.ConfigMap",
    "io.k8s.api.core.v1.Secret",
)
# `status` is written by the kubelet, never read from a manifest: minikubelet ignores it
# entirely, so its (large) type tree is not generated.
_SKIPPED = {("Pod", "status")}

Schema = Mapping[str, object]


def _schema_dir() -> Path:
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("kubernetes-validate is not installed (pip install kubernetes-validate)")
    return Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"


def schema_versions(root: Path | None = None) -> list[str]:
    """The strict schema versions used, oldest first (e.g. ``["1.33.0", ...]``)."""
    root = root or _schema_dir()
    found = []
    for entry in root.iterdir():
        match = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)-local-strict", entry.name)
        if match and (int(match[1]), int(match[2])) >= FIRST_VERSION:
            found.append(tuple(int(part) for part in match.groups()))
    return [".".join(map(str, version)) for version in sorted(found)]


def _short(ref: str) -> str:
    name = ref.rsplit("/", 1)[-1]
    if name in _SPECIAL:
        return _SPECIAL[name]
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    raise ValueError(f"unexpected type outside core/v1 and meta/v1: {name}")


def _types(prop: Schema) -> list[str]:
    kind = prop.get("type")
    kinds = [kind] if isinstance(kind, str) else cast(list[str], kind or [])
    return [k for k in kinds if k != "null"]


class _Generator:
    def __init__(self, definitions: Mapping[str, Schema]) -> None:
        self.definitions = definitions
        self.types: dict[str, dict[str, str]] = {}
        self.required: dict[str, tuple[str, ...]] = {}

    def expr(self, prop: Schema) -> str:
        ref = prop.get("$ref")
        if isinstance(ref, str):
            return self.visit(ref.rsplit("/", 1)[-1])
        kinds = _types(prop)
        kind = kinds[0] if len(kinds) == 1 else "any"
        if kind == "array":
            return "[]" + self.expr(cast(Schema, prop.get("items", {})))
        if kind == "object":
            extra = prop.get("additionalProperties")
            if isinstance(extra, Mapping):
                return "map[" + self.expr(cast(Schema, extra)) + "]"
            return "any"
        if kind == "integer":
            fmt = prop.get("format")
            return fmt if fmt in ("int32", "int64") else "integer"
        if kind in ("string", "number", "boolean"):
            return kind
        return "any"

    def visit(self, name: str) -> str:
        short = _short(name)
        if name in _SPECIAL or short in self.types:
            return short
        definition = self.definitions[name]
        properties = definition.get("properties")
        if not isinstance(properties, Mapping):
            return "any"  # free-form object (FieldsV1, RawExtension)
        self.types[short] = {}  # before recursing: types can be recursive
        fields: dict[str, str] = {}
        for field in sorted(properties):
            if (short, field) in _SKIPPED:
                fields[field] = "any"
            else:
                fields[field] = self.expr(cast(Schema, properties[field]))
        self.types[short] = fields
        required = definition.get("required")
        if isinstance(required, list) and required:
            self.required[short] = tuple(sorted(str(item) for item in required))
        return short


def _merge(versions: list[str], root: Path) -> dict[str, Schema]:
    """Definitions of every version, oldest first, merged property by property."""
    merged: dict[str, dict[str, object]] = {}
    for version in versions:
        path = root / f"v{version}-local-strict" / "_definitions.json"
        definitions = cast(Mapping[str, Schema], json.loads(path.read_text())["$defs"])
        for name, definition in definitions.items():
            target = merged.setdefault(name, {})
            for key, value in definition.items():
                if key == "properties" and isinstance(value, Mapping):
                    properties = cast(dict[str, object], target.setdefault("properties", {}))
                    properties.update(value)
                else:
                    target[key] = value
    return cast(dict[str, Schema], merged)


def render() -> str:
    """The text of ``fields.py``."""
    root = _schema_dir()
    versions = schema_versions(root)
    if not versions:
        raise SystemExit(f"no strict schema from {FIRST_VERSION} on under {root}")
    generator = _Generator(_merge(versions, root))
    roots = [generator.visit(root) for root in _ROOTS]
    lines = [
        '"""Field names and types of Kubernetes v1 Pods, ConfigMaps, Secrets. GENERATED: do not',
        "edit.",
        "",
        "Regenerate with ``.venv/bin/python -m minikubelet.manifest._gen_fields`` (see its",
        "docstring for the type expressions). Source: the strict JSON schemas bundled with",
        f"kubernetes-validate, versions {', '.join(versions)} (union of their fields).",
        '"""',
        "",
        "from typing import Final",
        "",
        '__all__ = ["REQUIRED", "ROOT", "ROOTS", "SCHEMA_VERSIONS", "TYPES"]',
        "",
        "SCHEMA_VERSIONS: Final = ("
        + ", ".join(f'"{v}"' for v in versions)
        + ("," if len(versions) == 1 else "")
        + ")",
        "",
        f'ROOT: Final = "{roots[0]}"',
        "ROOTS: Final = (" + ", ".join(f'"{root}"' for root in roots) + ")",
        "",
        "# object type -> field name -> type expression",
        "TYPES: Final[dict[str, dict[str, str]]] = {",
    ]
    for name in sorted(generator.types):
        lines.append(f'    "{name}": {{')
        for field, expr in generator.types[name].items():
            lines.append(f'        "{field}": "{expr}",')
        lines.append("    },")
    lines.append("}")
    lines.append("")
    lines.append("# object type -> fields the schema marks as required")
    lines.append("REQUIRED: Final[dict[str, tuple[str, ...]]] = {")
    for name in sorted(generator.required):
        fields = ", ".join(f'"{field}"' for field in generator.required[name])
        trailing = "," if len(generator.required[name]) == 1 else ""
        lines.append(f'    "{name}": ({fields}{trailing}),')
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> None:
    target = Path(__file__).with_name("fields.py")
    target.write_text(render())
    print(f"wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
