"""Label and field selectors, parsed, matched and refused as the apiserver does.

Label selectors (``labelSelector``) are a port of ``k8s.io/apimachinery/pkg/labels``
``selector.go``: a lexer (identifiers, ``=``, ``==``, ``!=``, ``in``, ``notin``, ``!``,
``(``, ``)``, ``,``, ``>``, ``<``; whitespace separates), a recursive-descent parser, and
``NewRequirement``'s validation of keys and values. Its errors are the apiserver's 400
messages word for word, e.g. ``a===b`` gives ``unable to parse requirement: found '=',
expected: identifier``.

Field selectors (``fieldSelector``) are ``k8s.io/apimachinery/pkg/fields`` ``selector.go``:
comma-separated ``f=v``, ``f==v``, ``f!=v`` in any order, with ``\\``, ``,`` and ``=``
escaped by a backslash in values; only the fields the apiserver can select for the resource
(``AddFieldLabelConversionsForPod`` and friends in ``pkg/apis/core/v1/conversion.go``), any
other is a 400 ``field label not supported: <field>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any

from minikubelet.errors import FieldError
from minikubelet.server.status import bad_request

__all__ = [
    "CONFIGMAP_FIELDS",
    "EVENT_FIELDS",
    "NODE_FIELDS",
    "POD_FIELDS",
    "SECRET_FIELDS",
    "FieldSelector",
    "LabelSelector",
    "Reader",
    "parse_field_selector",
    "parse_label_selector",
]

Reader = Callable[[Mapping[str, Any]], str]


# -- field selectors -------------------------------------------------------------------


def _lookup(obj: Mapping[str, Any], path: str, default: str = "") -> str:
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return default
        value = value[part]
    if isinstance(value, bool):
        return "true" if value else "false"
    return default if value is None else str(value)


def _pod_ips(obj: Mapping[str, Any]) -> str:
    ips = obj.get("status", {}).get("podIPs") or []
    return ",".join(str(entry.get("ip", "")) for entry in ips if isinstance(entry, Mapping))


def _at(path: str, default: str = "") -> Reader:
    return lambda obj: _lookup(obj, path, default)


_META_FIELDS: dict[str, Reader] = {
    "metadata.name": _at("metadata.name"),
    "metadata.namespace": _at("metadata.namespace"),
}

# Each selectable field and how to read it from the object's JSON (the registries'
# ``GetAttrs`` / ``ToSelectableFields``).
POD_FIELDS: dict[str, Reader] = _META_FIELDS | {
    "spec.nodeName": _at("spec.nodeName"),
    "spec.restartPolicy": _at("spec.restartPolicy"),
    "spec.schedulerName": _at("spec.schedulerName", "default-scheduler"),
    "spec.serviceAccountName": _at("spec.serviceAccountName"),
    "spec.hostNetwork": _at("spec.hostNetwork", "false"),
    "status.phase": _at("status.phase"),
    "status.podIP": _at("status.podIP"),
    "status.podIPs": _pod_ips,
    "status.nominatedNodeName": _at("status.nominatedNodeName"),
}

EVENT_FIELDS: dict[str, Reader] = _META_FIELDS | {
    "involvedObject.kind": _at("involvedObject.kind"),
    "involvedObject.namespace": _at("involvedObject.namespace"),
    "involvedObject.name": _at("involvedObject.name"),
    "involvedObject.uid": _at("involvedObject.uid"),
    "involvedObject.apiVersion": _at("involvedObject.apiVersion"),
    "involvedObject.resourceVersion": _at("involvedObject.resourceVersion"),
    "involvedObject.fieldPath": _at("involvedObject.fieldPath"),
    "reason": _at("reason"),
    "reportingComponent": _at("reportingComponent"),
    "source": _at("source.component"),
    "type": _at("type"),
}

CONFIGMAP_FIELDS: dict[str, Reader] = dict(_META_FIELDS)

NODE_FIELDS: dict[str, Reader] = {
    "metadata.name": _at("metadata.name"),
    "spec.unschedulable": _at("spec.unschedulable", "false"),
}

SECRET_FIELDS: dict[str, Reader] = _META_FIELDS | {"type": _at("type")}

# Old v1 clients send spec.host; the apiserver converts it (AddFieldLabelConversionsForPod).
_ALIASES = {"spec.host": "spec.nodeName"}


@dataclass(frozen=True)
class _FieldTerm:
    field: str
    read: Reader
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


def parse_field_selector(text: str | None, fields: Mapping[str, Reader]) -> FieldSelector:
    """Parse ``fieldSelector``; raises a 400 ``RequestError`` for bad syntax or fields."""
    if not text:
        return FieldSelector()
    terms = []
    # fields.parseSelector sorts the terms; the order does not change the meaning, but it
    # decides which of two bad terms is reported.
    for part in sorted(_split_field_terms(text)):
        if not part:
            continue
        split = _split_field_term(part)
        if split is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        field, operator, raw = split
        value = _unescape_field_value(raw)
        field = _ALIASES.get(field, field) if fields is POD_FIELDS else field
        read = fields.get(field)
        if read is None:
            raise bad_request(f"field label not supported: {field}")
        terms.append(_FieldTerm(field, read, value, operator != "!="))
    return FieldSelector(tuple(terms))


def _split_field_terms(text: str) -> list[str]:
    """fields.splitTerms: split on commas that are not escaped (no trimming)."""
    terms, start, escaped = [], 0, False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            terms.append(text[start:index])
            start = index + 1
    terms.append(text[start:])
    return terms


def _split_field_term(term: str) -> tuple[str, str, str] | None:
    """fields.splitTerm: the first position where ``!=``, ``==`` or ``=`` starts."""
    for index in range(len(term)):
        for operator in ("!=", "==", "="):
            if term.startswith(operator, index):
                return term[:index], operator, term[index + len(operator) :]
    return None


def _unescape_field_value(value: str) -> str:
    """fields.UnescapeFieldSelectorValue, with its errors."""
    out, escaped = [], False
    for char in value:
        if escaped:
            if char not in "\\,=":
                raise bad_request(f"invalid field selector: invalid escape sequence: \\{char}")
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",=":
            # Go formats the rune with %v: its code point, not the character.
            raise bad_request(f"invalid field selector: unescaped character in value: {ord(char)}")
        else:
            out.append(char)
    if escaped:
        raise bad_request("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


# -- label selectors -------------------------------------------------------------------


class _Tok(Enum):
    ERROR = auto()
    END = auto()
    CLOSE_PAREN = auto()
    COMMA = auto()
    NOT = auto()  # "!": does not exist
    DOUBLE_EQUALS = auto()
    EQUALS = auto()
    GREATER = auto()
    IDENTIFIER = auto()
    IN = auto()
    LESS = auto()
    NOT_EQUALS = auto()
    NOT_IN = auto()
    OPEN_PAREN = auto()


_SYMBOLS = {
    ")": _Tok.CLOSE_PAREN,
    ",": _Tok.COMMA,
    "!": _Tok.NOT,
    "==": _Tok.DOUBLE_EQUALS,
    "=": _Tok.EQUALS,
    ">": _Tok.GREATER,
    "in": _Tok.IN,
    "<": _Tok.LESS,
    "!=": _Tok.NOT_EQUALS,
    "notin": _Tok.NOT_IN,
    "(": _Tok.OPEN_PAREN,
}
_SPECIAL = set("=!(),><")
_WHITESPACE = set(" \t\r\n")
_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"


def _lex(text: str) -> list[tuple[_Tok, str]]:
    """The Lexer's tokens up to and including END (it never fails; errors are tokens)."""
    items: list[tuple[_Tok, str]] = []
    pos, size = 0, len(text)
    while True:
        while pos < size and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= size:
            items.append((_Tok.END, ""))
            return items
        if text[pos] in _SPECIAL:
            # The longest run of special characters that is still an operator.
            buffer, last = "", None
            while pos < size and text[pos] in _SPECIAL:
                buffer += text[pos]
                if buffer in _SYMBOLS:
                    last = (_SYMBOLS[buffer], buffer)
                elif last is not None:
                    break
                pos += 1
            if last is None:
                items.append((_Tok.ERROR, f"error expected: keyword found '{buffer}'"))
            else:
                items.append(last)
            continue
        start = pos
        while pos < size and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
            pos += 1
        word = text[start:pos]
        items.append((_SYMBOLS.get(word, _Tok.IDENTIFIER), word))


class _Operator(Enum):
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER = "gt"
    LESS = "lt"


@dataclass(frozen=True)
class _LabelTerm:
    key: str
    operator: _Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        match self.operator:
            case _Operator.EQUALS | _Operator.DOUBLE_EQUALS | _Operator.IN:
                return present and value in self.values
            case _Operator.NOT_EQUALS | _Operator.NOT_IN:
                return not present or value not in self.values
            case _Operator.EXISTS:
                return present
            case _Operator.DOES_NOT_EXIST:
                return not present
            case _Operator.GREATER | _Operator.LESS:
                number = _integer(value) if present else None
                limit = _integer(self.values[0]) if self.values else None
                if number is None or limit is None:
                    return False
                return number > limit if self.operator is _Operator.GREATER else number < limit


@dataclass(frozen=True)
class LabelSelector:
    terms: tuple[_LabelTerm, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(term.matches(labels) for term in self.terms)


class _ParseError(Exception):
    pass


class _Parser:
    """labels.Parser: the same lookahead/consume over the scanned tokens, same messages."""

    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.position = 0

    def lookahead(self, values: bool = True) -> tuple[_Tok, str]:
        return self._context(self.items[self.position], values)

    def consume(self, values: bool = True) -> tuple[_Tok, str]:
        self.position += 1
        return self._context(self.items[self.position - 1], values)

    @staticmethod
    def _context(item: tuple[_Tok, str], values: bool) -> tuple[_Tok, str]:
        # In a value position, "in" and "notin" are plain identifiers.
        token, literal = item
        if values and token in (_Tok.IN, _Tok.NOT_IN):
            return _Tok.IDENTIFIER, literal
        return token, literal

    def parse(self) -> list[_LabelTerm]:
        terms: list[_LabelTerm] = []
        while True:
            token, literal = self.lookahead()
            if token in (_Tok.IDENTIFIER, _Tok.NOT):
                try:
                    terms.append(self.requirement())
                except _ParseError as error:
                    raise _ParseError(f"unable to parse requirement: {error}") from None
                token, literal = self.consume()
                if token is _Tok.END:
                    return terms
                if token is _Tok.COMMA:
                    after, after_literal = self.lookahead()
                    if after not in (_Tok.IDENTIFIER, _Tok.NOT):
                        raise _ParseError(
                            f"found '{after_literal}', expected: identifier after ','"
                        )
                    continue
                raise _ParseError(f"found '{literal}', expected: ',' or 'end of string'")
            if token is _Tok.END:
                return terms
            raise _ParseError(f"found '{literal}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> _LabelTerm:
        key, operator = self.key_and_inferred_operator()
        if operator in (_Operator.EXISTS, _Operator.DOES_NOT_EXIST):
            return _requirement(key, operator, [])
        operator = self.operator()
        if operator in (_Operator.IN, _Operator.NOT_IN):
            values = self.values()
        else:
            values = self.exact_value()
        return _requirement(key, operator, sorted(values))

    def key_and_inferred_operator(self) -> tuple[str, _Operator | None]:
        operator = None
        token, literal = self.consume()
        if token is _Tok.NOT:
            operator = _Operator.DOES_NOT_EXIST
            token, literal = self.consume()
        if token is not _Tok.IDENTIFIER:
            raise _ParseError(f"found '{literal}', expected: identifier")
        key_error = _label_key_error(literal, "<nil>")
        if key_error is not None:
            raise _ParseError(str(key_error))
        after, _ = self.lookahead()
        if after in (_Tok.END, _Tok.COMMA) and operator is None:
            operator = _Operator.EXISTS
        return literal, operator

    def operator(self) -> _Operator:
        token, literal = self.consume(values=False)
        operators = {
            _Tok.IN: _Operator.IN,
            _Tok.EQUALS: _Operator.EQUALS,
            _Tok.DOUBLE_EQUALS: _Operator.DOUBLE_EQUALS,
            _Tok.GREATER: _Operator.GREATER,
            _Tok.LESS: _Operator.LESS,
            _Tok.NOT_IN: _Operator.NOT_IN,
            _Tok.NOT_EQUALS: _Operator.NOT_EQUALS,
        }
        if token not in operators:
            raise _ParseError(f"found '{literal}', expected: {_BINARY_OPERATORS}")
        return operators[token]

    def values(self) -> set[str]:
        token, literal = self.consume()
        if token is not _Tok.OPEN_PAREN:
            raise _ParseError(f"found '{literal}' expected: '('")
        token, literal = self.lookahead()
        if token in (_Tok.IDENTIFIER, _Tok.COMMA):
            found = self.identifiers()
            if self.consume()[0] is not _Tok.CLOSE_PAREN:
                raise _ParseError(f"found '{literal}', expected: ')'")
            return found
        if token is _Tok.CLOSE_PAREN:  # "()"
            self.consume()
            return {""}
        raise _ParseError(f"found '{literal}', expected: ',', ')' or identifier")

    def identifiers(self) -> set[str]:
        found: set[str] = set()
        while True:
            token, literal = self.consume()
            if token is _Tok.IDENTIFIER:
                found.add(literal)
                after, after_literal = self.lookahead()
                if after is _Tok.COMMA:
                    continue
                if after is _Tok.CLOSE_PAREN:
                    return found
                raise _ParseError(f"found '{after_literal}', expected: ',' or ')'")
            if token is _Tok.COMMA:  # "(," ",," and ",)" stand for empty values
                if not found:
                    found.add("")
                after, _ = self.lookahead()
                if after is _Tok.CLOSE_PAREN:
                    found.add("")
                    return found
                if after is _Tok.COMMA:
                    found.add("")
                continue
            raise _ParseError(f"found '{literal}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        token, _ = self.lookahead()
        if token in (_Tok.END, _Tok.COMMA):
            return {""}
        token, literal = self.consume()
        if token is _Tok.IDENTIFIER:
            return {literal}
        raise _ParseError(f"found '{literal}', expected: identifier")


def _integer(text: str | None) -> int | None:
    if text is None or not re.fullmatch(r"[+-]?[0-9]+", text):
        return None
    number = int(text)
    return number if -(2**63) <= number < 2**63 else None


def _requirement(key: str, operator: _Operator, values: list[str]) -> _LabelTerm:
    """labels.NewRequirement's checks that the parser can reach: Gt/Lt need an integer,
    every value must be a valid label value (the arity checks cannot fail after parsing:
    ``()`` already stands for the empty value)."""
    errors: list[FieldError] = []
    if operator in (_Operator.GREATER, _Operator.LESS):
        for index, value in enumerate(values):
            if _integer(value) is None:
                errors.append(
                    _invalid(
                        f"values[{index}]",
                        value,
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    )
                )
    for index, value in enumerate(values):
        detail = _label_value_problems(value)
        if detail:
            errors.append(_invalid(f"values[{index}][{key}]", value, detail))
    if errors:
        texts = [str(error) for error in errors]
        raise _ParseError(texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]")
    return _LabelTerm(key, operator, tuple(values))


def _invalid(path: str, value: str, detail: str) -> FieldError:
    return FieldError(path, "Invalid value", detail, value, show_value=True)


_NAME_CHARS = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_NAME = re.compile(rf"^{_NAME_CHARS}$")
_VALUE = re.compile(rf"^({_NAME_CHARS})?$")
_SUBDOMAIN_FORMAT = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_SUBDOMAIN = re.compile(rf"^{_SUBDOMAIN_FORMAT}$")


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    """validation.RegexError, double spaces and all."""
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


_NAME_ERROR = _regex_error(
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character",
    _NAME_CHARS,
    "MyName",
    "my.name",
    "123-abc",
)


def _qualified_name_problems(value: str) -> list[str]:
    """validation.IsQualifiedName (a label key: an optional DNS prefix, then a name)."""
    problems: list[str] = []
    parts = value.split("/")
    if len(parts) > 2:
        return [
            "a qualified name "
            + _NAME_ERROR
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            problems.append("prefix part must be non-empty")
        else:
            if len(prefix) > 253:
                problems.append("prefix part must be no more than 253 characters")
            if not _SUBDOMAIN.match(prefix):
                problems.append(
                    "prefix part "
                    + _regex_error(
                        "a lowercase RFC 1123 subdomain must consist of lower case "
                        "alphanumeric characters, '-' or '.', and must start and end with an "
                        "alphanumeric character",
                        _SUBDOMAIN_FORMAT,
                        "example.com",
                    )
                )
    if not name:
        problems.append("name part must be non-empty")
    elif len(name) > 63:
        problems.append("name part must be no more than 63 characters")
    if not _NAME.match(name):
        problems.append("name part " + _NAME_ERROR)
    return problems


def _label_key_error(key: str, path: str) -> FieldError | None:
    problems = _qualified_name_problems(key)
    return _invalid(path, key, "; ".join(problems)) if problems else None


def _label_value_problems(value: str) -> str:
    """validation.IsValidLabelValue, joined as the selector does."""
    problems = []
    if len(value) > 63:
        problems.append("must be no more than 63 characters")
    if not _VALUE.match(value):
        problems.append(
            _regex_error(
                "a valid label must be an empty string or consist of alphanumeric characters, "
                "'-', '_' or '.', and must start and end with an alphanumeric character",
                f"({_NAME_CHARS})?",
                "MyValue",
                "my_value",
                "12345",
            )
        )
    return "; ".join(problems)


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse ``labelSelector``; raises a 400 ``RequestError`` worded as the apiserver's."""
    if not text:
        return LabelSelector()
    try:
        terms = _Parser(text).parse()
    except _ParseError as error:
        raise bad_request(str(error)) from None
    return LabelSelector(tuple(sorted(terms, key=lambda term: term.key)))
