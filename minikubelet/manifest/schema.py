"""The structural check of a document (a Pod, a ConfigMap, a Secret), driven by the
generated schema (``fields.py``).

One walk over the whole document reports, with field paths:

- unknown fields, anywhere ("Unknown field", with a "did you mean" when one is close):
  what Kubernetes' strict decoding (``kubectl apply --validate=strict``) rejects;
- values of the wrong JSON type ("must be an integer", "must be a mapping", ...) and
  quantities that do not parse: what Kubernetes' decoder rejects;
- fields the schema marks as required but that are missing;
- fields Kubernetes knows that minikubelet does not honour, as warnings (see ``support.py``).

Meaning (ranges, enums, cross-field rules) is the decoders' job (``pod.py``,
``container.py``, ``handlers.py``); they rely on this walk for types and required fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import Enum

from minikubelet.manifest.fields import REQUIRED, TYPES
from minikubelet.manifest.quantity import ERR_FORMAT_WRONG, parse_quantity
from minikubelet.manifest.report import Report, child, index, key
from minikubelet.manifest.suggest import did_you_mean
from minikubelet.manifest.support import HONOURED, MESSAGES, QUIET, UNSUPPORTED, is_harmless

__all__ = ["check_document"]

_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


class _Mode(Enum):
    HONOURED = "honoured"  # warn about unsupported fields below this point
    IGNORED = "ignored"  # already warned (or informational): only check the structure


def check_document(document: Mapping[str, object], report: Report, kind: str = "Pod") -> None:
    """Check a whole document of ``kind`` (one of ``fields.ROOTS``), from its top."""
    _check_object(document, kind, "", report, _Mode.HONOURED)


def _check(value: object, expr: str, path: str, report: Report, mode: _Mode) -> None:
    if value is None:
        return  # null is "not set", as in Kubernetes
    if expr.startswith("[]"):
        if not isinstance(value, list):
            what = "a list of strings" if expr == "[]string" else "a list"
            report.invalid(path, value, f"must be {what}")
            return
        for i, item in enumerate(value):
            _check(item, expr[2:], index(path, i), report, mode)
    elif expr.startswith("map["):
        if not isinstance(value, Mapping):
            report.invalid(path, value, "must be a mapping")
            return
        for name, item in value.items():
            if not isinstance(name, str):
                report.invalid(path, name, "keys must be strings")
                continue
            _check(item, expr[4:-1], key(path, name), report, mode)
    elif expr in TYPES:
        _check_object(value, expr, path, report, mode)
    else:
        _check_scalar(value, expr, path, report)


def _check_scalar(value: object, expr: str, path: str, report: Report) -> None:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if expr == "string" and not isinstance(value, str):
        report.invalid(path, value, "must be a string")
    elif expr in ("integer", "int32", "int64"):
        if not is_int:
            report.invalid(path, value, "must be an integer")
        elif expr in _INT_RANGES:
            low, high = _INT_RANGES[expr]
            assert isinstance(value, int)
            if not low <= value <= high:
                bits = expr[3:]
                report.invalid(path, value, f"must fit in a {bits}-bit integer")
    elif expr == "number" and not (is_int or isinstance(value, float)):
        report.invalid(path, value, "must be a number")
    elif expr == "boolean" and not isinstance(value, bool):
        report.invalid(path, value, "must be a boolean (true or false)")
    elif expr == "IntOrString" and not (is_int or isinstance(value, str)):
        report.invalid(path, value, "must be an integer or a string")
    elif expr == "Quantity":
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            report.invalid(path, value, ERR_FORMAT_WRONG)  # as Kubernetes' decoder says
            return
        try:
            parse_quantity(value)
        except ValueError as error:
            report.invalid(path, value, str(error))


def _check_object(value: object, name: str, path: str, report: Report, mode: _Mode) -> None:
    if not isinstance(value, Mapping):
        report.invalid(path, value, "must be a mapping")
        return
    fields = TYPES[name]
    for field, item in value.items():
        if not isinstance(field, str):
            # YAML allows keys such as 1 or true; Kubernetes' JSON has only string keys.
            report.unknown(child(path, _key_text(field)), path, None)
            continue
        field_path = child(path, field)
        if field not in fields:
            report.unknown(field_path, path, did_you_mean(field, fields))
            continue
        qualified = f"{name}.{field}"
        if qualified == "Pod.status":
            continue  # the kubelet's output: ignored whatever it holds
        child_mode = mode
        if mode is _Mode.HONOURED and qualified not in HONOURED:
            child_mode = _Mode.IGNORED
            if qualified not in QUIET and not is_harmless(qualified, item):
                report.warn(field_path, MESSAGES.get(qualified, UNSUPPORTED))
        _check(item, fields[field], field_path, report, child_mode)
    for field in REQUIRED.get(name, ()):
        if value.get(field) is None:
            report.required(child(path, field))


def _key_text(name: object) -> str:
    """How a non-string YAML key (``3``, ``true`` from ``on:``) reads in a field path."""
    try:
        return json.dumps(name)
    except (TypeError, ValueError):
        return str(name)
