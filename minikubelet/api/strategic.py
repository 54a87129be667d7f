"""Strategic merge patch (``application/strategic-merge-patch+json``) on Kubernetes JSON.

A port of ``k8s.io/apimachinery/pkg/util/strategicpatch`` ``StrategicMergeMapPatch`` (the
apply half, with ``MergeParallelList`` and ``IgnoreUnmatchedNulls`` set, as the apiserver
calls it): lists of objects merge by their merge key (containers and env by ``name``, ports
by ``containerPort``, volume mounts by ``mountPath``...), other lists are replaced unless
their strategy is ``merge``; the directives ``$patch: replace|delete|merge``,
``$deleteFromPrimitiveList/<list>``, ``$setElementOrder/<list>`` and ``$retainKeys``. The
order of merged lists follows Go's (patch items first unless the live order places a
server-only item before them), down to its insertion sort. The patch metadata comes from
``_patch_meta`` (the types' ``patchStrategy`` and ``patchMergeKey`` tags, generated).
Errors are classified as the apiserver's ``interpretStrategicMergePatchError`` does: 400,
422, or 500 for the rest. ``tests/integration/test_patch_oracle.py`` checks all this
against ``kubectl patch --local``, which runs the Go code.

Nothing here validates the result; the caller decodes it and checks the update rules
(``pod_update.py``), as the apiserver does next. Inputs are never modified.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from minikubelet.api import _patch_meta
from minikubelet.api.patch import go_repr, json_kind
from minikubelet.api.types import JSON
from minikubelet.errors import RequestError

__all__ = ["strategic_merge_patch", "strip_directives"]

_MISSING = object()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


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
            f"json: cannot unmarshal {json_kind(patch)} into Go value of type "
            "map[string]interface {}",
        )
    try:
        return _merge_map(
            copy.deepcopy(original), copy.deepcopy(patch), _patch_meta.KINDS.get(kind, "")
        )
    except _SmpError as error:
        message = str(error)
        if message in _BAD_REQUEST:
            raise RequestError(400, message) from None
        if message in _UNPROCESSABLE:
            raise RequestError(
                422, "the server rejected our request due to an error in our request"
            ) from error
        raise RequestError(
            500,
            f"Internal error occurred: {message}",
            details={"causes": [{"message": message}]},
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
