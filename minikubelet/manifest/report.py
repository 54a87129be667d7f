"""Collecting every problem in a manifest, worded as Kubernetes' ``field.Error``.

Decoding never stops at the first problem: each check appends to a ``Report`` and the
caller raises one ``ManifestError`` with all of them at the end
(``apimachinery/pkg/util/validation/field/errors.go`` gives the wording of each kind).

The accessors (``get_str``, ``get_int``, ...) read a field of a decoded YAML/JSON mapping
and return ``None`` when it is absent, null *or of the wrong type*: type errors are reported
once, by the schema walk (``schema.py``), so decoders just skip values they cannot use.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from minikubelet.errors import FieldError
from minikubelet.manifest.quantity import parse_quantity
from minikubelet.model.spec import Quantity

__all__ = [
    "Report",
    "child",
    "get_int",
    "get_list",
    "get_map",
    "get_quantity",
    "get_str",
    "index",
    "is_set",
    "key",
]


def child(path: str, name: str) -> str:
    name = name or '""'  # an empty key still names a place (found by fuzzing)
    return f"{path}.{name}" if path else name


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def key(path: str, name: str) -> str:
    return f"{path}[{name}]"


@dataclass
class Report:
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (field path, message)
    # Paths an "Unknown field" error already pointed at ("did you mean ..."): a Required
    # error for the same path would only repeat it.
    _suggested: set[str] = field(default_factory=set)

    def invalid(self, path: str, value: object, detail: str) -> None:
        self.errors.append(FieldError(path, "Invalid value", detail, value, show_value=True))

    def required(self, path: str, detail: str = "") -> None:
        if path not in self._suggested:
            self.errors.append(FieldError(path, "Required value", detail))

    def not_supported(self, path: str, value: object, supported: Sequence[str]) -> None:
        quoted = ", ".join(json.dumps(item) for item in supported)
        detail = f"supported values: {quoted}"
        self.errors.append(FieldError(path, "Unsupported value", detail, value, show_value=True))

    def forbidden(self, path: str, detail: str) -> None:
        self.errors.append(FieldError(path, "Forbidden", detail))

    def duplicate(self, path: str, value: object, detail: str = "") -> None:
        self.errors.append(FieldError(path, "Duplicate value", detail, value, show_value=True))

    def not_found(self, path: str, value: object, detail: str = "") -> None:
        self.errors.append(FieldError(path, "Not found", detail, value, show_value=True))

    def unknown(self, path: str, parent: str, suggestion: str | None) -> None:
        detail = ""
        if suggestion is not None:
            detail = f'did you mean "{suggestion}"?'
            self._suggested.add(child(parent, suggestion))
        self.errors.append(FieldError(path, "Unknown field", detail))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append((path, message))


def is_set(obj: Mapping[str, object], name: str) -> bool:
    """Present and not null (Kubernetes treats ``null`` as absent)."""
    return obj.get(name) is not None


def get_str(obj: Mapping[str, object], name: str) -> str | None:
    value = obj.get(name)
    return value if isinstance(value, str) else None


def get_int(obj: Mapping[str, object], name: str) -> int | None:
    value = obj.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def get_map(obj: Mapping[str, object], name: str) -> Mapping[str, object] | None:
    value = obj.get(name)
    return value if isinstance(value, Mapping) else None


def get_list(obj: Mapping[str, object], name: str) -> list[object] | None:
    value = obj.get(name)
    return value if isinstance(value, list) else None


def get_quantity(obj: Mapping[str, object], name: str) -> Quantity | None:
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        return parse_quantity(value)
    except ValueError:
        return None
