"""One ConfigMap or Secret document -> ``ConfigMap`` / ``Secret``: checked as the apiserver does.

The same order of work as a Pod (``pod.py``): the type, the structure (``schema.py``: unknown
fields, JSON types), then the rules of ``pkg/apis/core/validation/validation.go``:

* ``ValidateConfigMap``: ``ValidateObjectMeta`` (a DNS subdomain name), every key of ``data``
  and ``binaryData`` an ``IsConfigMapKey`` (``[-._a-zA-Z0-9]+``, at most 253 characters, not
  ``.``/``..``), no key in both maps ("duplicate of key present in binaryData"), and all
  values together at most ``core.MaxSecretSize`` (1 MiB, reported on the path ``[]``, which
  is how ``field.NewPath("")`` prints);
* ``ValidateSecret``: the same metadata and keys, ``data`` at most 1 MiB, and the keys each
  ``type`` requires (``kubernetes.io/tls`` needs ``tls.crt`` and ``tls.key``, ...).

A Secret's ``data`` (and a ConfigMap's ``binaryData``) is base64, decoded as Go's JSON
decoder does (``rules.decode_base64``: padding required, line breaks skipped); a bad value
is an error naming the key and the byte, never showing the value. ``stringData`` is plain
text merged over ``data`` before validation, as ``Convert_v1_Secret_To_core_Secret`` does,
so its problems are reported under ``data[key]`` too, as the apiserver reports them.
No message ever quotes a Secret's value (``<secret contents redacted>``, as Kubernetes).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from minikubelet.errors import FieldError, ManifestError, ManifestWarning
from minikubelet.manifest.pod import check_type, decode_metadata
from minikubelet.manifest.report import Report, get_map, get_str, key
from minikubelet.manifest.rules import decode_base64, is_config_map_key
from minikubelet.manifest.schema import check_document
from minikubelet.model.objects import (
    DEFAULT_SECRET_TYPE,
    MAX_OBJECT_SIZE,
    ConfigMap,
    ConfigObject,
    Secret,
)
from minikubelet.model.spec import Source

__all__ = [
    "BASE64_ERROR",
    "REDACTED",
    "TOO_LONG",
    "config_map_from_dict",
    "object_from_dict",
    "secret_from_dict",
]

BASE64_ERROR = "illegal base64 data at input byte"
REDACTED = "<secret contents redacted>"
# field.TooLong's detail, and the path ValidateConfigMap gives it.
TOO_LONG = f"may not be more than {MAX_OBJECT_SIZE} bytes"
_WHOLE_OBJECT = "[]"
_NEEDS_NAME = "name or generateName is required"

# ValidateSecret's per-type requirements (pkg/apis/core/types.go names the keys).
_SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"
_SERVICE_ACCOUNT_NAME = "kubernetes.io/service-account.name"
_DOCKER_CONFIG = ("kubernetes.io/dockercfg", ".dockercfg")
_DOCKER_CONFIG_JSON = ("kubernetes.io/dockerconfigjson", ".dockerconfigjson")
_BASIC_AUTH = "kubernetes.io/basic-auth"
_SSH_AUTH = "kubernetes.io/ssh-auth"
_TLS = "kubernetes.io/tls"


def object_from_dict(
    obj: Mapping[str, object], source: Source, *, location: str | None = None
) -> tuple[ConfigObject, list[ManifestWarning]]:
    """A ConfigMap or Secret document (by its ``kind``); raises ``ManifestError``."""
    if obj.get("kind") == "Secret":
        return secret_from_dict(obj, source, location=location)
    return config_map_from_dict(obj, source, location=location)


def config_map_from_dict(
    obj: Mapping[str, object], source: Source, *, location: str | None = None
) -> tuple[ConfigMap, list[ManifestWarning]]:
    """Decode and validate one ConfigMap document; raises ``ManifestError`` listing all."""
    report = _start(obj, "ConfigMap", source, location)
    metadata = decode_metadata(
        get_map(obj, "metadata"),
        is_set=obj.get("metadata") is not None,
        report=report,
        needs_name=_NEEDS_NAME,
    )
    data = _strings(get_map(obj, "data"))
    binary: dict[str, bytes] = {}
    for name, value in _strings(get_map(obj, "binaryData")).items():
        try:
            binary[name] = decode_base64(value)
        except ValueError as error:
            # A ConfigMap's values are not secret, but they can be large: not shown either.
            report.errors.append(FieldError(key("binaryData", name), "Invalid value", str(error)))
    total = 0
    for name, text in data.items():
        for message in is_config_map_key(name):
            report.invalid(key("data", name), name, message)
        if name in binary:
            report.invalid(key("data", name), name, "duplicate of key present in binaryData")
        total += len(text.encode("utf-8", "surrogateescape"))
    for name, blob in binary.items():
        for message in is_config_map_key(name):
            report.invalid(key("binaryData", name), name, message)
        total += len(blob)
    if total > MAX_OBJECT_SIZE:
        report.errors.append(FieldError(_WHOLE_OBJECT, "Too long", TOO_LONG))
    immutable = obj.get("immutable")
    config_map = ConfigMap(
        metadata=metadata,
        data=data,
        binary_data=binary,
        immutable=immutable if isinstance(immutable, bool) else None,
        source=source,
        manifest=dict(obj),
    )
    return config_map, _finish(report, source, metadata.name, location, "configmap")


def secret_from_dict(
    obj: Mapping[str, object], source: Source, *, location: str | None = None
) -> tuple[Secret, list[ManifestWarning]]:
    """Decode and validate one Secret document; raises ``ManifestError`` listing all."""
    report = _start(obj, "Secret", source, location)
    metadata = decode_metadata(
        get_map(obj, "metadata"),
        is_set=obj.get("metadata") is not None,
        report=report,
        needs_name=_NEEDS_NAME,
    )
    data: dict[str, bytes] = {}
    for name, value in _strings(get_map(obj, "data")).items():
        try:
            data[name] = decode_base64(value)
        except ValueError as error:
            report.errors.append(FieldError(key("data", name), "Invalid value", str(error)))
    for name, text in _strings(get_map(obj, "stringData")).items():
        data[name] = text.encode("utf-8", "surrogateescape")  # stringData wins
    total = 0
    for name, blob in data.items():
        for message in is_config_map_key(name):
            report.invalid(key("data", name), name, message)
        total += len(blob)
    if total > MAX_OBJECT_SIZE:
        report.errors.append(FieldError("data", "Too long", TOO_LONG))
    type_ = get_str(obj, "type") or DEFAULT_SECRET_TYPE  # SetDefaults_Secret
    _check_type(type_, data, metadata.annotations, report)
    report.errors = [_redacted(error) for error in report.errors]
    immutable = obj.get("immutable")
    # What is kept as written leaves the values out: the API renders them from the model.
    manifest = {k: v for k, v in obj.items() if k not in ("data", "stringData")}
    secret = Secret(
        metadata=metadata,
        type=type_,
        data=data,
        immutable=immutable if isinstance(immutable, bool) else None,
        source=source,
        manifest=manifest,
    )
    return secret, _finish(report, source, metadata.name, location, "secret")


def _start(obj: Mapping[str, object], kind: str, source: Source, location: str | None) -> Report:
    if not isinstance(obj, Mapping):
        error = FieldError("", "Invalid value", "must be a mapping", obj, show_value=True)
        raise ManifestError(source.path, None, [error], location=location)
    type_errors = check_type(obj, kind)
    if type_errors:
        raise ManifestError(source.path, None, type_errors, location=location, kind=kind.lower())
    report = Report()
    check_document(obj, report, kind)
    return report


def _finish(
    report: Report, source: Source, name: str, location: str | None, kind: str
) -> list[ManifestWarning]:
    if report.errors:
        raise ManifestError(source.path, name or None, report.errors, location=location, kind=kind)
    return [
        ManifestWarning(source.path, name or None, path, message, kind=kind)
        for path, message in report.warnings
    ]


def _redacted(error: FieldError) -> FieldError:
    """A Secret's error with its value hidden when the value is the Secret's content (a
    ``data: {password: 1234}`` type error would show it): only key names are shown."""
    if not error.show_value:
        return error
    for field in ("data", "stringData"):
        if error.path == field or (
            error.path.startswith(f"{field}[") and error.value != error.path[len(field) + 1 : -1]
        ):
            return FieldError(error.path, error.kind, error.detail, REDACTED, show_value=True)
    return error


def _strings(value: Mapping[str, object] | None) -> dict[str, str]:
    """The string entries of a map; other types are reported by the schema walk."""
    if value is None:
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def _check_type(
    type_: str, data: Mapping[str, bytes], annotations: Mapping[str, str], report: Report
) -> None:
    """``ValidateSecret``'s switch on ``type``: the keys each built-in type requires."""
    if type_ == _SERVICE_ACCOUNT_TOKEN:
        if not annotations.get(_SERVICE_ACCOUNT_NAME):
            report.required(key("metadata.annotations", _SERVICE_ACCOUNT_NAME))
    elif type_ in (_DOCKER_CONFIG[0], _DOCKER_CONFIG_JSON[0]):
        name = _DOCKER_CONFIG[1] if type_ == _DOCKER_CONFIG[0] else _DOCKER_CONFIG_JSON[1]
        if name not in data:
            report.required(key("data", name))
            return
        try:
            parsed = json.loads(data[name])
        except ValueError as error:
            detail = str(error)
        else:
            detail = "" if isinstance(parsed, dict) else "must be a JSON object"
        if detail:
            report.errors.append(
                FieldError(key("data", name), "Invalid value", detail, REDACTED, show_value=True)
            )
    elif type_ == _BASIC_AUTH:
        if "username" not in data and "password" not in data:
            report.required(key("data", "username"))
            report.required(key("data", "password"))
    elif type_ == _SSH_AUTH:
        if not data.get("ssh-privatekey"):
            report.required(key("data", "ssh-privatekey"))
    elif type_ == _TLS:
        for name in ("tls.crt", "tls.key"):
            if name not in data:
                report.required(key("data", name))
