"""Label and field selectors, parsed and matched as the apiserver does.

Label selectors (``labelSelector``): ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``,
``k in (a,b)``, ``k notin (a,b)``, comma-separated (``k8s.io/apimachinery/pkg/labels``).
Field selectors (``fieldSelector``): ``f=v``, ``f==v``, ``f!=v``, comma-separated, in any
order; only the fields the apiserver supports for the resource (``pods``: metadata.name,
status.phase, …; ``events``: involvedObject.*, reason, type, …) — anything else is a
400 ``field label not supported``, as on a real cluster.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from minikubelet.server.status import bad_request

__all__ = [
    "EVENT_FIELDS",
    "POD_FIELDS",
    "FieldSelector",
    "LabelSelector",
    "parse_field_selector",
    "parse_label_selector",
]

JSON = dict[str, Any]

_KEY = re.compile(
    r"^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$"
)


def _lookup(obj: Mapping[str, Any], path: str, default: str = "") -> str:
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return default
        value = value[part]
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _pod_ips(obj: Mapping[str, Any]) -> str:
    ips = obj.get("status", {}).get("podIPs") or []
    return ",".join(str(entry.get("ip", "")) for entry in ips if isinstance(entry, Mapping))


# Each supported field and how to read it from the object's JSON.
POD_FIELDS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "metadata.name": lambda obj: _lookup(obj, "metadata.name"),
    "metadata.namespace": lambda obj: _lookup(obj, "metadata.namespace"),
    "spec.nodeName": lambda obj: _lookup(obj, "spec.nodeName"),
    "spec.restartPolicy": lambda obj: _lookup(obj, "spec.restartPolicy"),
    "spec.schedulerName": lambda obj: _lookup(obj, "spec.schedulerName", "default-scheduler"),
    "spec.serviceAccountName": lambda obj: _lookup(obj, "spec.serviceAccountName"),
    "spec.hostNetwork": lambda obj: _lookup(obj, "spec.hostNetwork", "false"),
    "status.phase": lambda obj: _lookup(obj, "status.phase"),
    "status.podIP": lambda obj: _lookup(obj, "status.podIP"),
    "status.podIPs": _pod_ips,
    "status.nominatedNodeName": lambda obj: _lookup(obj, "status.nominatedNodeName"),
}

EVENT_FIELDS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "metadata.name": lambda obj: _lookup(obj, "metadata.name"),
    "metadata.namespace": lambda obj: _lookup(obj, "metadata.namespace"),
    "involvedObject.kind": lambda obj: _lookup(obj, "involvedObject.kind"),
    "involvedObject.namespace": lambda obj: _lookup(obj, "involvedObject.namespace"),
    "involvedObject.name": lambda obj: _lookup(obj, "involvedObject.name"),
    "involvedObject.uid": lambda obj: _lookup(obj, "involvedObject.uid"),
    "involvedObject.apiVersion": lambda obj: _lookup(obj, "involvedObject.apiVersion"),
    "involvedObject.resourceVersion": lambda obj: _lookup(obj, "involvedObject.resourceVersion"),
    "involvedObject.fieldPath": lambda obj: _lookup(obj, "involvedObject.fieldPath"),
    "reason": lambda obj: _lookup(obj, "reason"),
    "reportingComponent": lambda obj: _lookup(obj, "reportingComponent"),
    "source": lambda obj: _lookup(obj, "source.component"),
    "type": lambda obj: _lookup(obj, "type"),
}


@dataclass(frozen=True)
class _FieldTerm:
    field: str
    read: Callable[[Mapping[str, Any]], str]
    value: str
    equal: bool


@dataclass(frozen=True)
class FieldSelector:
    terms: tuple[_FieldTerm, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all((term.read(obj) == term.value) == term.equal for term in self.terms)

    def value_of(self, field: str) -> str | None:
        """The value an ``=`` term requires of ``field`` (lets a list skip a scan)."""
        for term in self.terms:
            if term.field == field and term.equal:
                return term.value
        return None


def parse_field_selector(
    text: str | None, fields: Mapping[str, Callable[[Mapping[str, Any]], str]]
) -> FieldSelector:
    """Parse ``fieldSelector``; raises a 400 ``ApiError`` for bad syntax or fields."""
    if not text:
        return FieldSelector()
    terms = []
    for raw in _split_terms(text):
        term = raw.strip()
        if not term:
            continue
        operator = next((op for op in ("!=", "==", "=") if op in term), None)
        if operator is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        field, value = term.split(operator, 1)
        equal = operator != "!="
        field = field.strip()
        read = fields.get(field)
        if read is None:
            raise bad_request(f"field label not supported: {field}")
        terms.append(_FieldTerm(field, read, _unescape(value.strip()), equal))
    return FieldSelector(tuple(terms))


def _unescape(value: str) -> str:
    # Field selector values escape ``\``, ``,`` and ``=`` with a backslash.
    return re.sub(r"\\(.)", r"\1", value)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are neither escaped nor inside ``( … )``."""
    terms, current, depth, escaped = [], [], 0, False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
            continue
        if char == "\\":
            escaped = True
            current.append(char)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append("".join(current))
            current = []
            continue
        current.append(char)
    terms.append("".join(current))
    return terms


@dataclass(frozen=True)
class _LabelTerm:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        match self.operator:
            case "=" | "in":
                return present and value in self.values
            case "!=" | "notin":
                return not present or value not in self.values
            case "exists":
                return present
            case _:
                return not present


@dataclass(frozen=True)
class LabelSelector:
    terms: tuple[_LabelTerm, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(term.matches(labels) for term in self.terms)


_SET_TERM = re.compile(r"^(?P<key>[^\s!=()]+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse ``labelSelector``; raises a 400 ``ApiError`` naming the bad requirement."""
    if not text:
        return LabelSelector()
    terms = []
    for raw in _split_terms(text):
        term = raw.strip()
        if not term:
            raise bad_request(
                f"unable to parse requirement: found '', expected: identifier in '{text}'"
            )
        terms.append(_label_term(term))
    return LabelSelector(tuple(terms))


def _label_term(term: str) -> _LabelTerm:
    if match := _SET_TERM.match(term):
        key = _label_key(match["key"])
        values = frozenset(v.strip() for v in match["values"].split(",") if v.strip())
        return _LabelTerm(key, match["op"], values)
    for operator in ("!=", "==", "="):
        if operator in term:
            key, value = term.split(operator, 1)
            return _LabelTerm(
                _label_key(key.strip()),
                "!=" if operator == "!=" else "=",
                frozenset({value.strip()}),
            )
    if term.startswith("!"):
        return _LabelTerm(_label_key(term[1:].strip()), "!")
    return _LabelTerm(_label_key(term), "exists")


def _label_key(key: str) -> str:
    if not _KEY.match(key):
        raise bad_request(
            f"unable to parse requirement: {key!r}: name part must consist of alphanumeric "
            "characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        )
    return key
