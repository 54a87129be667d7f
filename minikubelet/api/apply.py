"""Server-side apply (``application/apply-patch+yaml``) for one field manager, as data.

What ``kubectl apply --server-side`` needs on a Pod, ConfigMap or Secret:

- The PATCH creates the object when it does not exist (kubectl sends no GET first; a 404
  would fail the command), and otherwise merges the applied configuration into it the way
  structured-merge-diff does: maps merge key by key, ``x-kubernetes-list-type: map`` lists
  merge item by item on their ``list-map-keys`` (containers by ``name``, ports by
  ``containerPort`` and ``protocol``), ``set`` lists merge as sets, atomic lists and scalars
  are replaced.
- Fields the same manager applied last time and leaves out now are removed: its previous
  field set is read from its ``managedFields`` entry (``FieldsV1``, the apiserver's format:
  ``f:<field>``, ``k:{<keys>}``, ``v:<value>``, ``.``), and the entry is rewritten with the
  new set, ``operation: Apply`` and the time.

Simplified, on purpose (one manager per object is what a local kubelet sees): there are no
conflicts (the apiserver answers 409 when another manager owns a field with a different
value unless ``force=true``; here the applier always wins), and a field another manager
also set is removed all the same when the applier drops it. ``status`` is not applied
(updates of the main resource keep the status, as the apiserver's strategy does). The
caller defaults and validates the result and checks the Pod update rule, as for any update.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import yaml

from minikubelet.api import _patch_meta
from minikubelet.api.types import JSON
from minikubelet.errors import RequestError

__all__ = ["apply", "decode_apply", "fields_v1"]

_SYSTEM_METADATA = ("uid", "resourceVersion", "creationTimestamp", "generation", "selfLink")


def decode_apply(body: bytes) -> JSON:
    """The applied configuration: YAML (JSON is YAML); a 400 as the apiserver's otherwise."""
    try:
        value = yaml.safe_load(body)
    except yaml.YAMLError as error:
        raise RequestError(400, f"error decoding YAML: {error}") from None
    if not isinstance(value, dict):
        raise RequestError(
            400,
            "error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot "
            f"unmarshal {type(value).__name__} into Go value of type map[string]interface {{}}",
        )
    return value


def _field(type_name: str, key: str) -> tuple[str, str, tuple[str, ...]]:
    """(value/item type, list type, list map keys) of a field."""
    child, _, _, list_type, map_keys = _patch_meta.TYPES.get(type_name, {}).get(
        key, ("", "", "", "", ())
    )
    return child, list_type, map_keys


def _item_key(item: object, keys: tuple[str, ...]) -> str:
    fields = {key: item.get(key) for key in sorted(keys)} if isinstance(item, Mapping) else {}
    return "k:" + json.dumps(
        {k: v for k, v in fields.items() if v is not None}, separators=(",", ":")
    )


def _value_key(value: object) -> str:
    return "v:" + json.dumps(value, separators=(",", ":"))


def fields_v1(obj: Mapping[str, Any], type_name: str, *, root: bool = True) -> JSON:
    """The ``FieldsV1`` field set of ``obj`` (a configuration), as managedFields hold it.

    The object's identity (``apiVersion``, ``kind``, ``metadata.name``/``namespace``) is
    nobody's field, as in the apiserver's managedFields.
    """
    result: JSON = {}
    for key, value in obj.items():
        if value is None or (root and key in ("apiVersion", "kind")):
            continue
        if type_name == "ObjectMeta" and key in ("name", "namespace"):
            continue
        child, list_type, map_keys = _field(type_name, key)
        name = "f:" + key
        if isinstance(value, Mapping):
            nested = fields_v1(value, child, root=False)
            if not child:  # a free-form map owns itself as well as its keys
                nested = {".": {}} | nested
            result[name] = nested
        elif isinstance(value, list) and list_type == "map" and map_keys:
            items: JSON = {}
            for item in value:
                if isinstance(item, Mapping):
                    items[_item_key(item, map_keys)] = {".": {}} | fields_v1(
                        item, child, root=False
                    )
            result[name] = items
        elif isinstance(value, list) and list_type == "set":
            result[name] = {_value_key(item): {} for item in value}
        else:
            result[name] = {}
    return result


def _merge(live: JSON, applied: Mapping[str, Any], type_name: str) -> JSON:
    for key, value in applied.items():
        if value is None:
            live.pop(key, None)
            continue
        child, list_type, map_keys = _field(type_name, key)
        current = live.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            live[key] = _merge(current, value, child)
        elif isinstance(value, list) and isinstance(current, list) and list_type == "map":
            live[key] = _merge_list_map(current, value, child, map_keys)
        elif isinstance(value, list) and isinstance(current, list) and list_type == "set":
            live[key] = current + [item for item in value if item not in current]
        else:
            live[key] = copy.deepcopy(value)
    return live


def _merge_list_map(
    live: list[Any], applied: list[Any], item_type: str, keys: tuple[str, ...]
) -> list[Any]:
    """Applied items merge into the live ones with the same keys; new ones go after them."""
    by_key = {_item_key(item, keys): index for index, item in enumerate(live)}
    merged = list(live)
    for item in applied:
        index = by_key.get(_item_key(item, keys))
        if index is None or not isinstance(merged[index], dict) or not isinstance(item, Mapping):
            merged.append(copy.deepcopy(item))
        else:
            merged[index] = _merge(merged[index], item, item_type)
    return merged


def _remove(live: Any, dropped: Mapping[str, Any], kept: Mapping[str, Any]) -> None:
    """Remove from ``live`` what the field set ``dropped`` has and ``kept`` does not."""
    if isinstance(live, dict):
        for name, sub in dropped.items():
            if not name.startswith("f:"):
                continue
            key = name[2:]
            if name not in kept:
                live.pop(key, None)
            elif isinstance(sub, Mapping) and sub and key in live:
                _remove(live[key], sub, kept[name])
    elif isinstance(live, list):
        for name, sub in dropped.items():
            if name.startswith("v:"):
                if name not in kept:
                    value = json.loads(name[2:])
                    while value in live:
                        live.remove(value)
            elif name.startswith("k:"):
                keys = json.loads(name[2:])
                matches = [
                    item
                    for item in live
                    if isinstance(item, dict) and all(item.get(k) == v for k, v in keys.items())
                ]
                for item in matches:
                    if name not in kept:
                        live.remove(item)
                    elif isinstance(sub, Mapping):
                        _remove(item, sub, kept[name])


def _time(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def apply(
    live: Mapping[str, Any] | None,
    applied: Mapping[str, Any],
    manager: str,
    now: datetime,
) -> tuple[JSON, bool]:
    """The object after ``manager`` applies ``applied`` to ``live``, and whether it is new.

    ``live`` None: the object is created from the configuration. ``manager`` is the
    request's ``fieldManager`` (kubectl sends ``kubectl``); the apiserver requires one.
    """
    if not manager:
        raise RequestError(
            400,
            "PATCH requests with content type application/apply-patch+yaml must set fieldManager",
        )
    kind = str(applied.get("kind") or "")
    if applied.get("apiVersion") != "v1" or kind not in _patch_meta.KINDS:
        raise RequestError(
            400,
            f"invalid object type: {applied.get('apiVersion') or ''}, Kind={kind}",
        )
    metadata = applied.get("metadata")
    if isinstance(metadata, Mapping) and metadata.get("managedFields") is not None:
        raise RequestError(400, "metadata.managedFields must be nil")
    config = copy.deepcopy(dict(applied))
    config.pop("status", None)
    if isinstance(config.get("metadata"), dict):
        for field in _SYSTEM_METADATA:
            config["metadata"].pop(field, None)
    root = _patch_meta.KINDS[kind]
    new_fields = fields_v1(config, root)
    created = live is None
    result: JSON = {} if live is None else copy.deepcopy(dict(live))
    entries = list(_managed(result))
    previous = next(
        (e for e in entries if e.get("manager") == manager and e.get("operation") == "Apply"), None
    )
    if previous is not None and isinstance(previous.get("fieldsV1"), Mapping):
        _remove(result, previous["fieldsV1"], new_fields)
    result = _merge(result, config, root)
    entry = {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": "v1",
        "time": _time(now),
        "fieldsType": "FieldsV1",
        "fieldsV1": new_fields,
    }
    entries = [e for e in entries if e is not previous] + [entry]
    result.setdefault("metadata", {})["managedFields"] = entries
    return result, created


def _managed(obj: Mapping[str, Any]) -> list[JSON]:
    metadata = obj.get("metadata")
    entries = metadata.get("managedFields") if isinstance(metadata, Mapping) else None
    return [dict(e) for e in entries if isinstance(e, Mapping)] if isinstance(entries, list) else []
