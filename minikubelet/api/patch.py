"""PATCH bodies applied to objects as the apiserver applies them: pure functions on JSON.

Two of the four content types kubectl sends (strategic merge patch is ``strategic.py``,
server-side apply ``apply.py``):

- ``application/merge-patch+json``: RFC 7386 (``evanphx/json-patch`` ``MergePatch``): maps
  merge, ``null`` deletes, anything else replaces.
- ``application/json-patch+json``: RFC 6902 as ``gopkg.in/evanphx/json-patch.v4`` applies
  it, quirks included (negative array indices count from the end; ``replace`` of a missing
  object key adds it; a member holding ``null`` counts as missing). A failing operation is
  the apiserver's bare 422 ``the server rejected our request due to an error in our
  request`` (the operation's own message is not sent: kubectl prints "The request is
  invalid: the server rejected our request ..."); the message is kept as the error's
  ``__cause__``.

Nothing here validates the result as a Pod; the caller decodes it (unknown fields, field
values) and checks the update rules (``pod_update.py``) as the apiserver does next.
Inputs are never modified.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from minikubelet.api.types import JSON
from minikubelet.errors import RequestError

__all__ = [
    "MAX_JSON_PATCH_OPERATIONS",
    "PatchType",
    "decode_patch",
    "go_repr",
    "json_kind",
    "json_patch",
    "merge_patch",
]

MAX_JSON_PATCH_OPERATIONS = 10000  # the apiserver's maxJSONPatchOperations


class PatchType(StrEnum):
    """The PATCH ``Content-Type``s the apiserver accepts (``types.PatchType``)."""

    JSON = "application/json-patch+json"
    MERGE = "application/merge-patch+json"
    STRATEGIC = "application/strategic-merge-patch+json"
    APPLY = "application/apply-patch+yaml"


def decode_patch(body: bytes, *, strict: bool = False) -> Any:
    """The JSON of a patch body; a 400 as the apiserver's for one that does not decode.

    ``strict``: the request's ``fieldValidation`` is Strict or Warn (kubectl sends Strict),
    under which the apiserver decodes with ``UnmarshalStrict`` and prefixes its message.
    """
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        message = str(error)
        raise RequestError(400, f"error decoding patch: {message}" if strict else message) from None


def go_repr(value: object) -> str:
    """A JSON value as Go's ``%v`` prints it (``map[a:1 b:[x y]]``): for error messages."""
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{go_repr(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_repr(item) for item in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- JSON merge patch (RFC 7386) ---------------------------------------------------------


def merge_patch(document: Any, patch: Any) -> Any:
    """``jsonpatch.MergePatch(document, patch)`` (v4), on a copy of ``document``.

    A ``null`` or scalar patch is a 400 ``Invalid JSON Patch``; an array replaces the
    document (which then fails to decode, as on the apiserver).
    """
    if patch is None or not isinstance(patch, dict | list):
        raise RequestError(400, "Invalid JSON Patch")
    if not isinstance(patch, dict) or not isinstance(document, dict):
        return _prune_nulls(copy.deepcopy(patch))
    return _merge_docs(copy.deepcopy(document), patch)


def _merge_docs(target: JSON, patch: JSON) -> JSON:
    for key, value in patch.items():
        current = target.get(key)
        if value is None:
            target.pop(key, None)
        elif not isinstance(current, dict):  # absent, null or not an object: take the value
            target[key] = _prune_nulls(copy.deepcopy(value))
        elif not isinstance(value, dict):
            target[key] = copy.deepcopy(value)  # v4's merge() returns such a patch unpruned
        else:
            target[key] = _merge_docs(current, value)
    return target


def _prune_nulls(value: Any) -> Any:
    """pruneNulls: null members go, recursively; null array elements stay."""
    if isinstance(value, dict):
        return {k: _prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune_nulls(item) for item in value]
    return value


# -- JSON patch (RFC 6902, json-patch v4) -----------------------------------------------


class _OperationFailed(Exception):
    """A json-patch operation's own error; the apiserver sends a generic 422 instead."""


_MISSING = object()
_INDEX = re.compile(r"^[+-]?[0-9]+$")


def json_patch(document: Any, operations: Any) -> Any:
    """Apply ``operations`` (decoded JSON) to a copy of ``document``, as the apiserver does."""
    if not isinstance(operations, list):
        kind = "object" if isinstance(operations, dict) else json_kind(operations)
        raise RequestError(
            400,
            f"json: cannot unmarshal {kind} into Go value of type jsonpatch.Patch",
        )
    for operation in operations:
        if not isinstance(operation, dict):
            raise RequestError(
                400,
                f"json: cannot unmarshal {json_kind(operation)} into Go value of type "
                "jsonpatch.Operation",
            )
    if len(operations) > MAX_JSON_PATCH_OPERATIONS:
        raise RequestError(
            413,
            f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, "
            f"got {len(operations)}",
        )
    root: list[Any] = [copy.deepcopy(document)]  # a box, so "replace" of "" can swap it
    for operation in operations:
        try:
            _apply_operation(root, operation)
        except _OperationFailed as failure:
            raise RequestError(
                422, "the server rejected our request due to an error in our request"
            ) from failure
    return root[0]


def json_kind(value: object) -> str:
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    return "object"


def _text(operation: Mapping[str, Any], key: str) -> str | None:
    value = operation.get(key)
    return value if isinstance(value, str) else None


def _decode_token(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _find(root: list[Any], path: str) -> tuple[Any, str] | None:
    """findObject: the container holding the path's last token, and that token."""
    parts = path.split("/")
    if len(parts) < 2:
        return None
    container = root[0]
    for part in parts[1:-1]:
        found = _get(container, _decode_token(part))
        if found is _MISSING or found is None or not isinstance(found, dict | list):
            return None
        container = found
    if not isinstance(container, dict | list):
        return None
    return container, _decode_token(parts[-1])


def _index(container: list[Any], key: str, *, size: int | None = None) -> int:
    """An array index as partialArray reads it: negative counts from the end."""
    if not _INDEX.match(key):
        raise _OperationFailed(f'strconv.Atoi: parsing "{key}": invalid syntax')
    index = int(key)
    size = len(container) if size is None else size
    if index < 0:
        if index < -size:
            raise _OperationFailed(
                f"Unable to access invalid index: {index}: invalid index referenced"
            )
        index += size
    return index


def _get(container: Any, key: str) -> Any:
    if isinstance(container, dict):
        value = container.get(key, _MISSING)
        return _MISSING if value is None else value  # null members count as missing (v4)
    if isinstance(container, list):
        try:
            index = _index(container, key)
        except _OperationFailed:
            return _MISSING
        return container[index] if index < len(container) else _MISSING
    return _MISSING


def _apply_operation(root: list[Any], operation: Mapping[str, Any]) -> None:
    kind = _text(operation, "op") or "unknown"
    match kind:
        case "add":
            _add(root, operation)
        case "remove":
            _remove(root, operation)
        case "replace":
            _replace(root, operation)
        case "move":
            _move(root, operation)
        case "copy":
            _copy(root, operation)
        case "test":
            _test(root, operation)
        case _:
            raise _OperationFailed(f"Unexpected kind: {kind}")


def _path(operation: Mapping[str, Any], name: str) -> str:
    path = _text(operation, "path")
    if path is None:
        raise _OperationFailed(f"{name} operation failed to decode path: missing value")
    return path


def _put(container: Any, key: str, value: Any, path: str, name: str) -> None:
    """``container.add``: set an object member, or insert into an array (``-`` appends)."""
    if isinstance(container, dict):
        container[key] = value
        return
    if key == "-":
        container.append(value)
        return
    if not _INDEX.match(key):
        raise _OperationFailed(
            f"error in {name} for path: '{path}': value was not a proper array index: '{key}'"
        )
    index = int(key)
    size = len(container) + 1
    if index >= size or index < -size:
        raise _OperationFailed(
            f"error in {name} for path: '{path}': Unable to access invalid index: {index}: "
            "invalid index referenced"
        )
    if index < 0:
        index += size
    container.insert(index, value)


def _add(root: list[Any], operation: Mapping[str, Any]) -> None:
    path = _path(operation, "add")
    found = _find(root, path)
    if found is None:
        raise _OperationFailed(
            f'add operation does not apply: doc is missing path: "{path}": missing value'
        )
    container, key = found
    _put(container, key, copy.deepcopy(operation.get("value")), path, "add")


def _delete(container: Any, key: str, path: str, name: str) -> Any:
    if isinstance(container, dict):
        if key not in container:
            raise _OperationFailed(
                f"error in {name} for path: '{path}': Unable to remove nonexistent key: {key}: "
                "missing value"
            )
        return container.pop(key)
    try:
        index = _index(container, key)
    except _OperationFailed as failure:
        raise _OperationFailed(f"error in {name} for path: '{path}': {failure}") from None
    if index >= len(container):
        raise _OperationFailed(
            f"error in {name} for path: '{path}': Unable to access invalid index: {key}: "
            "invalid index referenced"
        )
    return container.pop(index)


def _remove(root: list[Any], operation: Mapping[str, Any]) -> None:
    path = _path(operation, "remove")
    found = _find(root, path)
    if found is None:
        raise _OperationFailed(
            f'remove operation does not apply: doc is missing path: "{path}": missing value'
        )
    _delete(*found, path, "remove")


def _replace(root: list[Any], operation: Mapping[str, Any]) -> None:
    path = _path(operation, "replace")
    value = copy.deepcopy(operation.get("value"))
    if path == "":
        if not isinstance(value, dict | list):
            raise _OperationFailed("replace operation value must be object or array")
        root[0] = value
        return
    found = _find(root, path)
    if found is None:
        raise _OperationFailed(
            f"replace operation does not apply: doc is missing path: {path}: missing value"
        )
    container, key = found
    if isinstance(container, dict):
        container[key] = value  # v4 does not check that the member exists
        return
    try:
        index = _index(container, key)
    except _OperationFailed:
        index = len(container)
    if index >= len(container):
        raise _OperationFailed(
            f"replace operation does not apply: doc is missing key: {path}: missing value"
        )
    container[index] = value


def _move(root: list[Any], operation: Mapping[str, Any]) -> None:
    source = _text(operation, "from")
    if source is None:
        raise _OperationFailed(
            "move operation failed to decode from: operation, missing from field: missing value"
        )
    found = _find(root, source)
    if found is None:
        raise _OperationFailed(
            f"move operation does not apply: doc is missing from path: {source}: missing value"
        )
    container, key = found
    if _get(container, key) is _MISSING and not isinstance(container, dict):
        raise _OperationFailed(f"error in move for path: '{key}': invalid index referenced")
    value = _delete(container, key, key, "move")
    path = _path(operation, "move")
    target = _find(root, path)
    if target is None:
        raise _OperationFailed(
            f"move operation does not apply: doc is missing destination path: {path}: missing value"
        )
    _put(*target, value, path, "move")


def _copy(root: list[Any], operation: Mapping[str, Any]) -> None:
    source = _text(operation, "from")
    if source is None:
        raise _OperationFailed(
            "copy operation failed to decode from: operation, missing from field: missing value"
        )
    found = _find(root, source)
    if found is None:
        raise _OperationFailed(
            f"copy operation does not apply: doc is missing from path: {source}: missing value"
        )
    value = _get(*found)
    if value is _MISSING:
        if isinstance(found[0], list):
            raise _OperationFailed(f"error in copy for from: '{source}': invalid index referenced")
        value = None
    path = _path(operation, "copy")
    target = _find(root, path)
    if target is None:
        raise _OperationFailed(
            f"copy operation does not apply: doc is missing destination path: {path}: missing value"
        )
    _put(*target, copy.deepcopy(value), path, "copy")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _test(root: list[Any], operation: Mapping[str, Any]) -> None:
    path = _path(operation, "test")
    expected = operation.get("value")
    if path == "":
        if _canonical(root[0]) != _canonical(expected):
            raise _OperationFailed(f"testing value {path} failed: test failed")
        return
    found = _find(root, path)
    if found is None:
        raise _OperationFailed(
            f"test operation does not apply: is missing path: {path}: missing value"
        )
    container, key = found
    if isinstance(container, list):
        try:
            index = _index(container, key)
        except _OperationFailed as failure:
            raise _OperationFailed(f"error in test for path: '{path}': {failure}") from None
        if index >= len(container):
            raise _OperationFailed(
                f"error in test for path: '{path}': Unable to access invalid index: {key}: "
                "invalid index referenced"
            )
    actual = _get(container, key)
    if actual is _MISSING:
        if expected is None:  # missing (or null) against a missing or null value: equal
            return
        raise _OperationFailed(f"testing value {path} failed: test failed")
    if _canonical(actual) != _canonical(expected):
        raise _OperationFailed(f"testing value {path} failed: test failed")
