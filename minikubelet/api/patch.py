"""PATCH bodies applied to objects as the apiserver applies them: pure functions on JSON.

Three of the four content types kubectl sends (server-side apply is ``apply.py``):

- ``application/merge-patch+json``: RFC 7386 (``evanphx/json-patch`` ``MergePatch``): maps
  merge, ``null`` deletes, anything else replaces.
- ``application/json-patch+json``: RFC 6902 as ``gopkg.in/evanphx/json-patch.v4`` applies
  it, quirks included (negative array indices count from the end; ``replace`` of a missing
  object key adds it; a member holding ``null`` counts as missing). A failing operation is
  the apiserver's bare 422 ``the server rejected our request due to an error in our
  request`` (the operation's own message is not sent: kubectl prints "The request is
  invalid: the server rejected our request ..."); the message is kept as the error's
  ``__cause__``.
- ``application/strategic-merge-patch+json``: a port of
  ``k8s.io/apimachinery/pkg/util/strategicpatch`` ``StrategicMergeMapPatch`` (the apply half,
  ``MergeParallelList`` and ``IgnoreUnmatchedNulls`` set, as the apiserver calls it): lists
  of objects merge by their merge key (containers and env by ``name``, ports by
  ``containerPort``, volume mounts by ``mountPath``...), other lists are replaced unless
  their strategy is ``merge``; the directives ``$patch: replace|delete|merge``,
  ``$deleteFromPrimitiveList/<list>``, ``$setElementOrder/<list>`` and ``$retainKeys``. The
  patch metadata comes from ``_patch_meta`` (the types' ``patchStrategy`` and
  ``patchMergeKey`` tags, generated). Errors are classified as the apiserver's
  ``interpretStrategicMergePatchError`` does: 400, 422, or 500 for the rest.

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

from minikubelet.api import _patch_meta
from minikubelet.errors import RequestError

__all__ = [
    "MAX_JSON_PATCH_OPERATIONS",
    "PatchType",
    "decode_patch",
    "go_repr",
    "json_patch",
    "merge_patch",
    "strategic_merge_patch",
    "strip_directives",
]

JSON = dict[str, Any]
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
        raise RequestError(
            400, "BadRequest", f"error decoding patch: {message}" if strict else message
        ) from None


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
        raise RequestError(400, "BadRequest", "Invalid JSON Patch")
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
        kind = "object" if isinstance(operations, dict) else _json_kind(operations)
        raise RequestError(
            400,
            "BadRequest",
            f"json: cannot unmarshal {kind} into Go value of type jsonpatch.Patch",
        )
    for operation in operations:
        if not isinstance(operation, dict):
            raise RequestError(
                400,
                "BadRequest",
                f"json: cannot unmarshal {_json_kind(operation)} into Go value of type "
                "jsonpatch.Operation",
            )
    if len(operations) > MAX_JSON_PATCH_OPERATIONS:
        raise RequestError(
            413,
            "RequestEntityTooLarge",
            f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, "
            f"got {len(operations)}",
        )
    root: list[Any] = [copy.deepcopy(document)]  # a box, so "replace" of "" can swap it
    for operation in operations:
        try:
            _apply_operation(root, operation)
        except _OperationFailed as failure:
            raise RequestError(
                422, "Invalid", "the server rejected our request due to an error in our request"
            ) from failure
    return root[0]


def _json_kind(value: object) -> str:
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


# -- strategic merge patch ------------------------------------------------------------

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"
_SET_ELEMENT_ORDER = "$setElementOrder"
_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
_BAD_ELEMENT_ORDER = "invalid patch format of setElementOrder list"
_NO_LIST_OF_LISTS = "lists of lists are not supported"

# interpretStrategicMergePatchError: these are the client's fault, 400 or 422; any other
# error is a plain error, which the apiserver answers 500 InternalError.
_BAD_REQUEST = {_BAD_RETAIN_KEYS, _BAD_PRIMITIVE_LIST, _BAD_ELEMENT_ORDER, "invalid JSON document"}
_UNPROCESSABLE = {_NO_LIST_OF_LISTS, "patch content doesn't match retainKeys list"}


class _SmpError(Exception):
    pass


def strategic_merge_patch(original: JSON, patch: JSON, kind: str) -> JSON:
    """``StrategicMergeMapPatch(original, patch, <kind>)`` on copies of both.

    ``kind`` is ``Pod``, ``ConfigMap``, ``Secret`` or ``Event``: its fields' patch
    strategies and merge keys decide how lists merge. Directives in values that had nothing
    to merge with are kept, as in Go; ``strip_directives`` drops them as a non-strict
    decode would.
    """
    if not isinstance(patch, dict):
        raise RequestError(
            400,
            "BadRequest",
            f"json: cannot unmarshal {_json_kind(patch)} into Go value of type "
            "map[string]interface {}",
        )
    try:
        return _merge_map(
            copy.deepcopy(original), copy.deepcopy(patch), _patch_meta.KINDS.get(kind, "")
        )
    except _SmpError as error:
        message = str(error)
        if message in _BAD_REQUEST:
            raise RequestError(400, "BadRequest", message) from None
        if message in _UNPROCESSABLE:
            raise RequestError(
                422, "Invalid", "the server rejected our request due to an error in our request"
            ) from error
        raise RequestError(
            500,
            "InternalError",
            f"Internal error occurred: {message}",
            {"causes": [{"message": message}]},
        ) from None


def strip_directives(value: Any) -> Any:
    """``value`` without ``$patch``/``$retainKeys``/``$setElementOrder/``… keys, anywhere."""
    if isinstance(value, dict):
        return {
            key: strip_directives(item)
            for key, item in value.items()
            if not (
                key in (_DIRECTIVE, _RETAIN_KEYS)
                or key.startswith((_SET_ELEMENT_ORDER + "/", _DELETE_FROM_PRIMITIVE_LIST + "/"))
            )
        }
    if isinstance(value, list):
        return [strip_directives(item) for item in value]
    return value


def _field(type_name: str, key: str) -> tuple[str, str, str]:
    """(value/item type, patch strategy without retainKeys, merge key) of a field."""
    child, strategies, merge_key, _, _ = _patch_meta.TYPES.get(type_name, {}).get(
        key, ("", "", "", "", ())
    )
    parts = [part for part in strategies.split(",") if part]
    if len(parts) > 2 or (len(parts) == 2 and "retainKeys" not in parts):
        raise _SmpError(f"unexpected patch strategy: {go_repr(parts)}")
    strategy = next((part for part in parts if part != "retainKeys"), "")
    return child, strategy, merge_key


def _merge_map(original: JSON | None, patch: JSON, type_name: str) -> JSON:
    directive = patch.get(_DIRECTIVE, _MISSING)
    if directive is not _MISSING:
        if directive == "replace":
            del patch[_DIRECTIVE]
            return patch
        if directive == "delete":
            return {}
        raise _SmpError(f"unknown patch type: {go_repr(directive)} in map: {go_repr(patch)}")
    if original is None:
        original = {}
    _apply_retain_keys(original, patch)
    _merge_element_orders(original, patch, type_name)
    for key, patch_value in list(patch.items()):
        is_delete_list = False
        if key.startswith(_DELETE_FROM_PRIMITIVE_LIST):
            key = _directive_key(key, _DELETE_FROM_PRIMITIVE_LIST, _BAD_PRIMITIVE_LIST)
            is_delete_list = True
        if patch_value is None:
            original.pop(key, None)
            continue  # IgnoreUnmatchedNulls
        if key not in original or original[key] is None:
            if not is_delete_list:
                original[key] = _discard_nulls(patch_value)
            continue
        current = original[key]
        if _go_type(current) != _go_type(patch_value):
            if not is_delete_list:
                original[key] = _discard_nulls(patch_value)
            continue
        child, strategy, merge_key = _field(type_name, key)
        if isinstance(current, dict):
            original[key] = (
                patch_value if strategy == "replace" else _merge_map(current, patch_value, child)
            )
        elif isinstance(current, list):
            if strategy == "merge" or is_delete_list:
                original[key] = _merge_slice(current, patch_value, child, merge_key, is_delete_list)
            else:
                original[key] = patch_value
        else:
            original[key] = patch_value
    return original


def _go_type(value: Any) -> str:
    """The Go type of a decoded JSON value (ints and floats differ, as PreserveInts has it)."""
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "slice"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "nil"


def _discard_nulls(value: Any) -> Any:
    """discardNullValuesFromPatch: a value taken whole keeps no ``null`` members."""
    if isinstance(value, dict):
        return {k: _discard_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_discard_nulls(item) for item in value]
    return value


def _directive_key(key: str, prefix: str, error: str) -> str:
    head, sep, rest = key.partition("/")
    if not sep or head != prefix:
        raise _SmpError(error)
    return rest


def _apply_retain_keys(original: JSON, patch: JSON) -> None:
    """applyRetainKeysDirective: drop the original's keys missing from ``$retainKeys``."""
    if _RETAIN_KEYS not in patch:
        return
    retained = patch.pop(_RETAIN_KEYS)
    if not isinstance(retained, list):
        raise _SmpError(_BAD_RETAIN_KEYS)
    keep = {_hashable(item) for item in retained}
    for key, value in patch.items():
        if value is None or key.startswith((_DELETE_FROM_PRIMITIVE_LIST, _SET_ELEMENT_ORDER)):
            continue
        if key not in keep:
            raise _SmpError(_BAD_RETAIN_KEYS)
    for key in list(original):
        if key not in keep:
            del original[key]


def _hashable(value: Any) -> Any:
    return _canonical(value) if isinstance(value, dict | list) else value


def _merge_element_orders(original: JSON, patch: JSON, type_name: str) -> None:
    """mergePatchIntoOriginal: merge each ``$setElementOrder/<list>`` with its list."""
    for key in [k for k in patch if k.startswith(_SET_ELEMENT_ORDER)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise _SmpError(f"expected a []interface {{}}, but received a {_go_kind(order)}")
        list_key = _directive_key(key, _SET_ELEMENT_ORDER, _BAD_ELEMENT_ORDER)
        original_list = _list_or_none(original, list_key)
        patch_list = _list_or_none(patch, list_key)
        child, strategy, merge_key = _field(type_name, list_key)
        _validate_order(patch_list or [], order, merge_key)
        if original_list is not None and patch_list is None:
            merged = list(original_list)
        elif original_list is None and patch_list is not None:
            merged = list(patch_list)
        elif original_list is not None and patch_list is not None:
            if strategy == "merge":
                merged = _merge_slice(original_list, patch_list, child, merge_key, False)
            else:
                merged = list(patch_list)
        else:
            continue
        patch_items, server_only = _partition(merged, order, merge_key)
        kind = _element_kind(original_list or [], patch_list or [])
        original[list_key] = _normalize_order(
            patch_items, server_only, order, original_list or [], merge_key, kind
        )
        patch.pop(list_key, None)


def _list_or_none(mapping: JSON, key: str) -> list[Any] | None:
    if key not in mapping:
        return None
    value = mapping[key]
    if not isinstance(value, list):
        raise _SmpError(f"expected a []interface {{}}, but received a {_go_kind(value)}")
    return value


def _go_kind(value: Any) -> str:
    return {"map": "map[string]interface {}", "slice": "[]interface {}", "nil": "<nil>"}.get(
        _go_type(value), _go_type(value)
    )


def _validate_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """validatePatchWithSetOrderList: the patch's items appear in the order's order."""
    if not order or not patch_list:
        return
    items = patch_list
    if merge_key:
        items = [item for item in patch_list if not _is_delete(item)]
    patch_index = order_index = 0
    while patch_index < len(items) and order_index < len(order):
        item = items[patch_index]
        if isinstance(item, dict) and _DIRECTIVE in item:
            patch_index += 1
            continue
        if _merge_key_equal(item, order[order_index], merge_key):
            patch_index += 1
        order_index += 1
    if patch_index < len(items) and order_index >= len(order):
        raise _SmpError(
            f"The order in patch list:\n{go_repr(patch_list)}\n doesn't match "
            f"{_SET_ELEMENT_ORDER} list:\n{go_repr(order)}\n"
        )


def _is_delete(item: Any) -> bool:
    if not isinstance(item, dict):
        raise _SmpError(f"expected a map[string]interface {{}}, but received a {_go_kind(item)}")
    return item.get(_DIRECTIVE) == "delete"


def _merge_key_equal(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return bool(left == right)
    for side in (left, right):
        if not isinstance(side, dict):
            raise _SmpError(
                f"expected a map[string]interface {{}}, but received a {_go_kind(side)}"
            )
        if merge_key not in side:
            raise _no_merge_key(side, merge_key)
    return bool(left[merge_key] == right[merge_key])


def _no_merge_key(item: Mapping[str, Any], merge_key: str) -> _SmpError:
    return _SmpError(f"map: {go_repr(item)} does not contain declared merge key: {merge_key}")


def _element_kind(*lists: list[Any]) -> str:
    """sliceElementType: every element of every list has one type, and it is not a list."""
    kind = None
    for items in lists:
        for item in items:
            current = _go_type(item)
            if kind is None:
                if current == "slice":
                    raise _SmpError(_NO_LIST_OF_LISTS)
                kind = current
            elif current != kind:
                raise _SmpError(f"list element types are not identical: {go_repr(list(lists))}")
    if kind is None:
        raise _SmpError("no elements in any of the given slices")
    return kind


def _merge_slice(
    original: list[Any], patch: list[Any], item_type: str, merge_key: str, is_delete_list: bool
) -> list[Any]:
    if not original and not patch:
        return original
    kind = _element_kind(original, patch)
    if kind != "map":
        if is_delete_list:
            doomed = {_hashable(item) for item in patch}
            return [item for item in original if _hashable(item) not in doomed]
        merged = _deduplicate(original + patch)
    else:
        if not merge_key:
            raise _SmpError("cannot merge lists without merge key for type map")
        original, patch = _special_elements(original, patch, merge_key)
        merged = _merge_without_special(original, patch, merge_key, item_type)
    patch_items, server_only = _partition(merged, patch, merge_key if kind == "map" else "")
    return _normalize_order(
        patch_items, server_only, patch, original, merge_key if kind == "map" else "", kind
    )


def _deduplicate(items: list[Any]) -> list[Any]:
    """deduplicateScalars, with Go's swap-with-last (the order is restored afterwards)."""
    items = list(items)
    length = len(items) - 1
    i = 0
    while i < length:
        j = i + 1
        while j <= length:
            if items[i] == items[j] and _go_type(items[i]) == _go_type(items[j]):
                items[j] = items[length]
                items = items[:length]
                length -= 1
                j -= 1
            j += 1
        i += 1
    return items


def _special_elements(
    original: list[Any], patch: list[Any], merge_key: str
) -> tuple[list[Any], list[Any]]:
    """mergeSliceWithSpecialElements: ``$patch: delete`` and ``replace`` elements."""
    remaining = []
    replace = False
    for item in patch:
        directive = item.get(_DIRECTIVE, _MISSING)
        if directive is _MISSING:
            remaining.append(item)
        elif directive == "delete":
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            original = [
                kept
                for kept in original
                if not (
                    _as_map(kept) is not None and kept.get(merge_key, _MISSING) == item[merge_key]
                )
            ]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise _SmpError("merging lists cannot yet be specified in the patch")
        else:
            raise _SmpError(f"unknown patch type: {go_repr(directive)} in map: {go_repr(item)}")
    if replace:
        return remaining, []
    return original, remaining


def _as_map(item: Any) -> Mapping[str, Any] | None:
    return item if isinstance(item, dict) else None


def _find_by_key(items: list[Any], merge_key: str, value: Any) -> int | None:
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise _SmpError(f"value for key {index} is not a map.")
        if merge_key in item and item[merge_key] == value:
            return index
    return None


def _merge_without_special(
    original: list[Any], patch: list[Any], merge_key: str, item_type: str
) -> list[Any]:
    original = list(original)
    for item in patch:
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        index = _find_by_key(original, merge_key, item[merge_key])
        if index is None:
            original.append(item)
        else:
            original[index] = _merge_map(original[index], item, item_type)
    return original


def _partition(items: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """partitionPrimitivesByPresentInList / partitionMapsByPresentInList."""
    in_patch: list[Any] = []
    server_only: list[Any] = []
    if not merge_key:
        present = {_hashable(item) for item in by}
        for item in items:
            (in_patch if _hashable(item) in present else server_only).append(item)
        return in_patch, server_only
    for item in items:
        if not isinstance(item, dict):
            raise _SmpError(
                f"expected a map[string]interface {{}}, but received a {_go_kind(item)}"
            )
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        found = _find_by_key(by, merge_key, item[merge_key])
        (server_only if found is None else in_patch).append(item)
    return in_patch, server_only


def _position(items: list[Any], value: Any, merge_key: str, kind: str) -> int:
    """index(): where ``value`` is in ``items`` (by merge key for maps), or -1."""

    def key_of(item: Any) -> Any:
        if kind == "map":
            return item.get(merge_key) if isinstance(item, dict) else None
        return _hashable(item)

    wanted = key_of(value)
    for position, item in enumerate(items):
        if key_of(item) == wanted:
            return position
    return -1


def _normalize_slice(items: list[Any], order: list[Any], merge_key: str, kind: str) -> list[Any]:
    """normalizeSliceOrder: sort by ``order`` (Go's stable insertion sort), deletions last."""
    deletions: list[Any] = []
    if kind == "map":
        for item in [*items, *order]:
            if not isinstance(item, dict):
                raise _SmpError(
                    f"expected a map[string]interface {{}}, but received a {_go_kind(item)}"
                )
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
        deletions = [item for item in items if item.get(_DIRECTIVE) == "delete"]
        items = [item for item in items if item.get(_DIRECTIVE) != "delete"]

    def less(a: Any, b: Any) -> bool:
        first = _position(order, a, merge_key, kind)
        if first >= 0:
            second = _position(order, b, merge_key, kind)
            if second >= 0:
                return first < second
        return True

    # sort.SliceStable on at most 20 items is an insertion sort; with this comparator (not
    # a strict order when an item is missing from ``order``) the algorithm decides.
    result = list(items)
    for i in range(1, len(result)):
        j = i
        while j > 0 and less(result[j], result[j - 1]):
            result[j], result[j - 1] = result[j - 1], result[j]
            j -= 1
    return result + deletions


def _normalize_order(
    patch_items: list[Any],
    server_only: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
    kind: str,
) -> list[Any]:
    """normalizeElementOrder: each part in its own order, then merged by the live order."""
    patch_items = _normalize_slice(patch_items, patch_order, merge_key, kind)
    server_only = _normalize_slice(server_only, server_order, merge_key, kind)
    merged: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(patch_items):
        if i >= len(server_only):
            merged.append(patch_items[j])
            j += 1
        elif j >= len(patch_items):
            merged.append(server_only[i])
            i += 1
        else:
            left = _position(server_order, server_only[i], merge_key, kind)
            right = _position(server_order, patch_items[j], merge_key, kind)
            if left >= 0 and right >= 0 and left < right:
                merged.append(server_only[i])
                i += 1
            else:
                merged.append(patch_items[j])
                j += 1
    return merged
