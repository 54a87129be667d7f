"""Request bodies to Pods, as the apiserver decodes and validates them.

- The body is JSON or YAML (one object). A ``kind`` or ``apiVersion`` left out is taken
  from the URL, as the apiserver's decoder defaults them (the official Python client's
  ``create_namespaced_pod(body={...})`` sends neither); a different kind is refused.
- ``fieldValidation`` (``Strict``, ``Warn``, ``Ignore``): an unknown field is a 400
  ``strict decoding error: unknown field "spec.x"`` under ``Strict``; under ``Warn`` it is
  dropped with a ``Warning`` header (``unknown field "spec.x"``), under ``Ignore`` dropped
  silently, as the apiserver does. Without the parameter minikubelet is strict (the
  apiserver's default is ``Warn``; minikubelet refuses what it does not know, in files too).
- Invalid values are a 422 ``Invalid`` naming each field, with the manifest validator's
  messages; the namespace and name must agree with the URL (400 otherwise).

Parsing runs in a worker thread: a large or deeply nested body takes a while to parse,
and the event loop meanwhile runs every pod.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import anyio
import anyio.to_thread
import yaml

from minikubelet.api.types import JSON
from minikubelet.errors import FieldError, ManifestError, ManifestWarning, RequestError
from minikubelet.manifest import load_bytes
from minikubelet.manifest.capabilities import limit_warnings
from minikubelet.model.containment import ContainmentInfo
from minikubelet.model.spec import Pod
from minikubelet.server.status import bad_request, invalid

__all__ = [
    "SYSTEM_METADATA",
    "Decoded",
    "FieldValidation",
    "decode_pod",
    "decode_pod_object",
    "field_validation",
    "parse_body",
]


_DECODING = {"Unknown field", "JSON syntax error", "YAML syntax error", "not a Kubernetes object"}
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_INDEX = re.compile(r"\[(\d+)\]")

# Metadata the server sets: in a body it is read, not taken (an update keeps its own).
SYSTEM_METADATA = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
)


class FieldValidation(StrEnum):
    STRICT = "Strict"
    WARN = "Warn"
    IGNORE = "Ignore"


def field_validation(query: Mapping[str, str]) -> FieldValidation:
    """``fieldValidation`` from the query; absent: Strict (see the module docstring)."""
    raw = query.get("fieldValidation", "")
    if not raw:
        return FieldValidation.STRICT
    try:
        return FieldValidation(raw)
    except ValueError:
        raise bad_request(
            f'fieldValidation: Unsupported value: "{raw}": supported values: '
            '"Ignore", "Strict", "Warn"'
        ) from None


@dataclass(frozen=True)
class Decoded:
    pod: Pod
    warnings: list[str]
    dropped: tuple[str, ...] = ()  # unknown fields left out (fieldValidation Warn, Ignore)

    def without_dropped(self, obj: Any) -> Any:
        """``obj`` without the unknown fields the decoding left out."""
        if not self.dropped:
            return obj
        obj = copy.deepcopy(obj)
        for path in self.dropped:
            _remove(obj, path)
        return obj


def parse_body(body: bytes) -> Any:
    """The object of a JSON or YAML body; 400 when it is neither (or empty)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise bad_request(f"the request body is not UTF-8 (byte {error.start})") from None
    if not text.strip():
        raise bad_request("the request body is empty: expected a Pod")
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        raise bad_request(f"error decoding YAML: {error}") from None
    except RecursionError:
        raise bad_request("error decoding YAML: the document is nested too deeply") from None
    if len(documents) != 1:
        raise bad_request(f"the request body must be one object, found {len(documents)}")
    return documents[0]


def _with_type(obj: Any) -> Any:
    """``kind``/``apiVersion`` from the URL when the body leaves them out."""
    if not isinstance(obj, dict):
        raise bad_request(
            "the request body is not a Kubernetes object: expected a mapping with "
            f"apiVersion and kind, found {type(obj).__name__}"
        )
    kind, version = obj.get("kind"), obj.get("apiVersion")
    if kind not in (None, "", "Pod"):
        raise bad_request(f"the body of the request was of kind {kind!r}, not a Pod")
    if version not in (None, "", "v1"):
        raise bad_request(
            f"the API version in the data ({version}) does not match the expected API version (v1)"
        )
    return {"apiVersion": "v1", "kind": "Pod", **obj} if not (kind and version) else obj


def _remove(obj: Any, path: str) -> bool:
    """Remove the field at ``path`` (``spec.containers[0].comand``) from ``obj``."""
    parts: list[str | int] = []
    for piece in path.split("."):
        name, *indices = _INDEX.split(piece)
        if name:
            parts.append(name)
        parts.extend(int(index) for index in indices if index)
    node = obj
    for part in parts[:-1]:
        found = (isinstance(part, int) and isinstance(node, list) and part < len(node)) or (
            isinstance(part, str) and isinstance(node, dict) and part in node
        )
        if not found:
            return False
        node = node[part]
    last = parts[-1] if parts else None
    if isinstance(node, dict) and isinstance(last, str) and last in node:
        del node[last]
        return True
    return False


def _load(obj: JSON, validation: FieldValidation) -> tuple[Any, list[str]]:
    """``load_bytes`` on ``obj``, dropping unknown fields unless Strict; (result, dropped).

    The result's warnings include the fields minikubelet accepts but does not act on."""
    dropped: list[str] = []
    for _ in range(2):
        try:
            return load_bytes(json.dumps(obj).encode(), None), dropped
        except ManifestError as error:
            unknown = [e for e in error.errors if e.kind == "Unknown field" and e.path]
            if validation is FieldValidation.STRICT or not unknown or dropped:
                raise
            obj = copy.deepcopy(obj)
            for problem in unknown:
                if _remove(obj, problem.path):
                    dropped.append(problem.path)
    raise AssertionError("unreachable")


def _decoding_error(error: ManifestError, name: str | None) -> RequestError:
    errors = error.errors
    undecodable = [
        e for e in errors if e.kind in _DECODING or not e.path or e.path in ("apiVersion", "kind")
    ]
    if not undecodable:
        return invalid("Pod", error.pod or name or "", errors)
    if all(e.kind == "Unknown field" for e in undecodable):
        terms = []
        for e in undecodable:
            hint = f" ({e.detail})" if e.detail else ""
            terms.append(f'unknown field "{e.path}"{hint}')
        return bad_request("strict decoding error: " + ", ".join(terms))
    return bad_request(str(error))


def _warning(warning: ManifestWarning) -> str:
    return f"{warning.field_path}: {warning.message}"


async def decode_pod_object(
    obj: Any,
    namespace: str,
    url_name: str | None,
    validation: FieldValidation = FieldValidation.STRICT,
    containment: ContainmentInfo | None = None,
) -> Decoded:
    """The Pod of a decoded body (``obj``), in the URL's namespace; raises RequestError.

    Its warnings also name the limits ``containment`` does not enforce."""
    obj = _with_type(obj)
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and any(field in metadata for field in SYSTEM_METADATA):
        obj = {**obj, "metadata": {k: v for k, v in metadata.items() if k not in SYSTEM_METADATA}}
    obj = {k: v for k, v in obj.items() if k != "status"}  # the kubelet's, never input
    try:
        result, dropped = await anyio.to_thread.run_sync(_load, obj, validation)
    except ManifestError as error:
        raise _decoding_error(error, url_name) from None
    except RecursionError:
        raise bad_request("the request body is nested too deeply") from None
    if len(result.pods) != 1:
        raise bad_request(f"the request body must be one Pod, found {len(result.pods)} pods")
    pod: Pod = result.pods[0]
    written = metadata.get("namespace") if isinstance(metadata, Mapping) else None
    if written and written != namespace:
        raise bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    if url_name is not None and pod.name != url_name:
        raise bad_request(
            f"the name of the object ({pod.name}) does not match the name on the URL ({url_name})"
        )
    if not _LABEL.match(namespace) or len(namespace) > 63:
        problem = FieldError(
            "metadata.namespace",
            "Invalid value",
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
            "or '-', and must start and end with an alphanumeric character",
            namespace,
            True,
        )
        raise invalid("Pod", pod.name, [problem])
    pod = replace(pod, metadata=replace(pod.metadata, namespace=namespace))
    limits = limit_warnings(pod, containment) if containment is not None else []
    warnings = [_warning(w) for w in (*result.warnings, *limits)]
    if validation is FieldValidation.WARN:
        warnings = [f'unknown field "{path}"' for path in dropped] + warnings
    return Decoded(pod, warnings, tuple(dropped))


async def decode_pod(
    body: bytes,
    namespace: str,
    url_name: str | None,
    validation: FieldValidation = FieldValidation.STRICT,
    containment: ContainmentInfo | None = None,
) -> Decoded:
    """The one Pod of a request body (JSON or YAML); raises RequestError."""
    obj = await anyio.to_thread.run_sync(parse_body, body)
    return await decode_pod_object(obj, namespace, url_name, validation, containment)
