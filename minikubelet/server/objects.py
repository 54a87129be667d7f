"""The ConfigMap and Secret endpoints: list, watch, get, create, replace, patch, delete.

``/api/v1/namespaces/{namespace}/configmaps[/{name}]`` and ``/api/v1/configmaps`` (every
namespace), the same for ``secrets``. Codes and wording are the apiserver's: 201 on create,
404 ``configmaps "x" not found``, 409 ``AlreadyExists``, 409 ``Conflict`` for a stale
``resourceVersion`` or ``preconditions.uid``, 400 for a body that does not decode (unknown
fields, bad base64: ``Secret in version "v1" cannot be handled as a Secret: illegal base64
data at input byte 4``), 422 ``Invalid`` with one cause per invalid value, including the
``immutable`` rules of ``ValidateConfigMapUpdate``/``ValidateSecretUpdate``. A DELETE
answers a ``Status`` of success, as the apiserver does for objects without graceful
deletion.

Lists take ``labelSelector`` and ``fieldSelector`` (``metadata.name``,
``metadata.namespace``, and ``type`` for secrets), ``?watch=true`` streams changes from
the one global resourceVersion (``changes.py``), and a client that asks for a ``Table``
(kubectl) gets the apiserver's columns (``api/tables.py``: NAME DATA AGE, NAME TYPE DATA
AGE).

PATCH takes a JSON patch, a merge patch, or a strategic merge patch, which for these kinds
is a merge patch (their fields are maps and scalars: ``kubectl apply`` sends one); the
patched object is then checked as a PUT of it would be. Server-side apply is not supported
for them yet (415).

Objects defined in a manifest file belong to it: they can be read here, not replaced,
patched or deleted (422; edit the file). Bodies are decoded by the one manifest intake
(``manifest.load_bytes``) in a worker thread.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from minikubelet.api.media import JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, media_type
from minikubelet.api.patch import decode_patch, json_patch, merge_patch
from minikubelet.api.strategic import strip_directives
from minikubelet.api.tables import negotiate_table, table, table_options
from minikubelet.api.types import JSON
from minikubelet.errors import DuplicateObjectError, FieldError, ManifestError, RequestError
from minikubelet.manifest import load_bytes
from minikubelet.manifest.objects import BASE64_ERROR
from minikubelet.model.objects import ConfigMap, ConfigObject, Secret
from minikubelet.model.spec import ObjectKind
from minikubelet.objects import StoredObject
from minikubelet.server.changes import Snapshot, encode
from minikubelet.server.context import (
    Api,
    api_of,
    json_response,
    list_response,
    read_body,
    snapshot_response,
)
from minikubelet.server.selectors import (
    CONFIGMAP_FIELDS,
    SECRET_FIELDS,
    parse_field_selector,
    parse_label_selector,
)
from minikubelet.server.status import already_exists, bad_request, invalid, not_found
from minikubelet.server.watch import watch_response

__all__ = [
    "ROUTES",
    "create_object",
    "delete_object",
    "get_object",
    "list_objects",
    "patch_object",
    "replace_object",
]


_DECODING = {"Unknown field", "JSON syntax error", "YAML syntax error", "not a Kubernetes object"}
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_IMMUTABLE = "field is immutable when `immutable` is set"


def _stored(api: Api, kind: ObjectKind, namespace: str, name: str) -> StoredObject:
    stored = api.kubelet.objects.get(kind, namespace, name)
    if stored is None:
        raise not_found(name, kind.resource)
    return stored


# -- reading -------------------------------------------------------------------------


async def list_objects(request: Request, kind: ObjectKind) -> Response:
    """``GET /api/v1/[namespaces/{namespace}/]configmaps|secrets`` (and ``?watch=true``)."""
    api = api_of(request)
    namespace = request.path_params.get("namespace")
    query = request.query_params
    labels = parse_label_selector(query.get("labelSelector"))
    fields = parse_field_selector(
        query.get("fieldSelector"),
        SECRET_FIELDS if kind is ObjectKind.SECRET else CONFIGMAP_FIELDS,
    )

    def matches(obj: JSON) -> bool:
        metadata = obj.get("metadata", {})
        return (
            (namespace is None or metadata.get("namespace") == namespace)
            and labels.matches(metadata.get("labels") or {})
            and fields.matches(obj)
        )

    def current() -> list[Snapshot]:
        return [api.changes.object(s) for s in api.kubelet.objects.of_kind(kind, namespace)]

    if query.get("watch") in ("true", "1", "True", "TRUE", "t"):
        return watch_response(api.changes, kind.resource, current, matches, dict(query))
    items = [snapshot for snapshot in current() if matches(snapshot.obj)]
    as_table = _table_version(request)
    if as_table is not None:
        return json_response(
            _table(api, request, kind, [s.obj for s in items], str(api.changes.version))
        )
    return list_response(f"{kind.value}List", api.changes.version, items)


async def get_object(request: Request, kind: ObjectKind) -> Response:
    api = api_of(request)
    params = request.path_params
    snapshot = api.changes.object(_stored(api, kind, params["namespace"], params["name"]))
    if _table_version(request) is not None:
        return json_response(_table(api, request, kind, [snapshot.obj], str(snapshot.version)))
    return snapshot_response(snapshot)


def _table_version(request: Request) -> str | None:
    return negotiate_table(request.headers.get("accept"))


def _table(api: Api, request: Request, kind: ObjectKind, objects: list[JSON], version: str) -> JSON:
    options = table_options(request.query_params, _table_version(request) or "v1")
    return table(
        kind.resource, objects, api.kubelet.clock(), resource_version=version, options=options
    )


# -- writing -------------------------------------------------------------------------


async def _decode(
    body: bytes, kind: ObjectKind, namespace: str, url_name: str | None
) -> tuple[ConfigObject, list[str]]:
    """The one object of a request body, in the URL's namespace; raises RequestError."""
    if not body.strip():
        raise bad_request(f"the request body is empty: expected a {kind.value}")
    try:
        result = await anyio.to_thread.run_sync(load_bytes, body, None)
    except ManifestError as error:
        raise _manifest_error(error, kind, url_name) from None
    found = [o for o in result.objects if o.kind is kind]
    if len(found) != 1 or result.pods or len(result.objects) != 1:
        raise bad_request(
            f"the request body must be one {kind.value}, found {len(result.pods)} pods and "
            f"{len(result.objects)} ConfigMaps or Secrets"
        )
    obj = found[0]
    metadata = obj.manifest.get("metadata")
    written = metadata.get("namespace") if isinstance(metadata, Mapping) else None
    if written and written != namespace:
        raise bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    if url_name is not None and obj.name != url_name:
        raise bad_request(
            f"the name of the object ({obj.name}) does not match the name on the URL ({url_name})"
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
        raise invalid(kind.value, obj.name, [problem])
    obj = replace(obj, metadata=replace(obj.metadata, namespace=namespace))
    warnings = [f"{w.field_path}: {w.message}" for w in result.warnings]
    return obj, warnings


def _manifest_error(error: ManifestError, kind: ObjectKind, name: str | None) -> RequestError:
    errors = error.errors
    base64_errors = [e for e in errors if e.detail.startswith(BASE64_ERROR)]
    if base64_errors:
        # Go's decoder stops at the first bad []byte, before any validation.
        return bad_request(
            f'{kind.value} in version "v1" cannot be handled as a {kind.value}: '
            f"{base64_errors[0].detail}"
        )
    undecodable = [
        e for e in errors if e.kind in _DECODING or not e.path or e.path in ("apiVersion", "kind")
    ]
    if not undecodable:
        return invalid(kind.value, error.pod or name or "", errors)
    if all(e.kind == "Unknown field" for e in undecodable):
        terms = []
        for e in undecodable:
            hint = f" ({e.detail})" if e.detail else ""
            terms.append(f'unknown field "{e.path}"{hint}')
        return bad_request("strict decoding error: " + ", ".join(terms))
    return bad_request(str(error))


async def create_object(request: Request, kind: ObjectKind) -> Response:
    """``POST /api/v1/namespaces/{namespace}/configmaps|secrets``: 201 with the object."""
    api = api_of(request)
    if request.query_params.get("dryRun"):
        raise bad_request("dryRun is not supported by minikubelet")
    body = await read_body(request)
    obj, warnings = await _decode(body, kind, request.path_params["namespace"], None)
    try:
        created = api.kubelet.objects.create(obj)
    except DuplicateObjectError:
        raise already_exists(obj.name, kind.resource) from None
    return snapshot_response(api.changes.object(created), 201, warnings)


async def replace_object(request: Request, kind: ObjectKind) -> Response:
    """``PUT …/configmaps|secrets/{name}``: the object changes in place (same uid); pods
    that read it see the new values at their containers' next start."""
    api = api_of(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    body = await read_body(request)
    old = _stored(api, kind, namespace, name)
    _refuse_file_object(old, "replaced")
    return await _replace(api, kind, old, body)


async def patch_object(request: Request, kind: ObjectKind) -> Response:
    """``PATCH …/configmaps|secrets/{name}``: the patched object, checked as a PUT."""
    api = api_of(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    content_type = media_type(request.headers.get("content-type", ""))
    body = await read_body(request)
    old = _stored(api, kind, namespace, name)
    _refuse_file_object(old, "patched")
    current = json.loads(api.changes.object(old).data)  # a copy to patch
    if content_type == JSON_PATCH:
        patched = json_patch(current, decode_patch(body))
    elif content_type == MERGE_PATCH:
        patched = merge_patch(current, decode_patch(body))
    elif content_type == STRATEGIC_MERGE_PATCH:
        # No lists with merge keys in these kinds: the strategic merge is a merge.
        patched = merge_patch(current, strip_directives(decode_patch(body)))
    else:
        raise RequestError(
            415,
            f"the patch type {content_type or '(none)'} is not supported for "
            f"{kind.resource} by minikubelet; use a JSON, merge or strategic merge patch",
        )
    return await _replace(api, kind, old, encode(patched))


async def _replace(api: Api, kind: ObjectKind, old: StoredObject, body: bytes) -> Response:
    namespace, name = old.namespace, old.name
    obj, warnings = await _decode(body, kind, namespace, name)
    metadata = obj.manifest.get("metadata")
    version = metadata.get("resourceVersion") if isinstance(metadata, Mapping) else None
    if version and str(version) != str(api.changes.object(old).version):
        raise RequestError(
            409,
            f'Operation cannot be fulfilled on {kind.resource} "{name}": the object has been '
            "modified; please apply your changes to the latest version and try again",
            reason="Conflict",
            details={"name": name, "kind": kind.resource},
        )
    problems = _update_errors(obj, old.obj)
    if problems:
        raise invalid(kind.value, name, problems)
    replaced = api.kubelet.objects.replace(obj)
    return snapshot_response(api.changes.object(replaced), 200, warnings)


def _update_errors(new: ConfigObject, old: ConfigObject) -> list[FieldError]:
    """``ValidateConfigMapUpdate`` / ``ValidateSecretUpdate``: what may not change."""
    errors = []
    if isinstance(new, Secret) and isinstance(old, Secret) and new.type != old.type:
        errors.append(
            FieldError("type", "Invalid value", "field is immutable", new.type, show_value=True)
        )
    if old.immutable:
        if not new.immutable:
            errors.append(FieldError("immutable", "Forbidden", _IMMUTABLE))
        if new.data != old.data:
            errors.append(FieldError("data", "Forbidden", _IMMUTABLE))
        if (
            isinstance(new, ConfigMap)
            and isinstance(old, ConfigMap)
            and new.binary_data != old.binary_data
        ):
            errors.append(FieldError("binaryData", "Forbidden", _IMMUTABLE))
    return errors


async def delete_object(request: Request, kind: ObjectKind) -> Response:
    """``DELETE …/configmaps|secrets/{name}``: a ``Status`` of success."""
    api = api_of(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    uid = _precondition_uid(await read_body(request))
    stored = _stored(api, kind, namespace, name)
    if uid is not None and uid != stored.uid:
        raise RequestError(
            409,
            f"Precondition failed: UID in precondition: {uid}, UID in object meta: {stored.uid}",
            reason="Conflict",
            details={"name": name, "kind": kind.resource},
        )
    _refuse_file_object(stored, "deleted")
    api.kubelet.objects.delete(kind, namespace, name)
    return json_response(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "kind": kind.resource, "uid": stored.uid},
        }
    )


def _precondition_uid(body: bytes) -> str | None:
    if not body.strip():
        return None
    try:
        options = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise bad_request(f"the request body is not DeleteOptions JSON: {error}") from None
    if not isinstance(options, dict):
        raise bad_request("the request body is not DeleteOptions JSON: expected an object")
    preconditions = options.get("preconditions")
    uid = preconditions.get("uid") if isinstance(preconditions, dict) else None
    return uid if isinstance(uid, str) else None


def _refuse_file_object(stored: StoredObject, verb: str) -> None:
    """An object from a manifest file is the file's: like a static pod, edit the file."""
    if stored.file is None:
        return
    kind, name = stored.kind.value, stored.name
    detail = (
        f"{kind.lower()} {stored.namespace}/{name} is defined in the manifest file "
        f"{stored.file}; edit or remove the file instead"
    )
    raise RequestError(
        422,
        f'{kind} "{name}" is invalid: metadata: Forbidden: {detail}',
        reason="Invalid",
        details={
            "name": name,
            "kind": kind,
            "causes": [
                {
                    "reason": "FieldValueForbidden",
                    "message": f"Forbidden: may not be {verb} through the API: {detail}",
                    "field": "metadata",
                }
            ],
        },
    )


Handler = Callable[[Request, ObjectKind], Awaitable[Response]]


def _endpoint(handler: Handler, kind: ObjectKind) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await handler(request, kind)

    endpoint.__name__ = f"{handler.__name__}_{kind.resource}"
    return endpoint


def _routes(kind: ObjectKind) -> list[Route]:
    every = f"/api/v1/{kind.resource}"
    many = f"/api/v1/namespaces/{{namespace}}/{kind.resource}"
    one = f"{many}/{{name}}"
    return [
        Route(every, _endpoint(list_objects, kind), methods=["GET"]),
        Route(many, _endpoint(list_objects, kind), methods=["GET"]),
        Route(many, _endpoint(create_object, kind), methods=["POST"]),
        Route(one, _endpoint(get_object, kind), methods=["GET"]),
        Route(one, _endpoint(replace_object, kind), methods=["PUT"]),
        Route(one, _endpoint(patch_object, kind), methods=["PATCH"]),
        Route(one, _endpoint(delete_object, kind), methods=["DELETE"]),
    ]


ROUTES = [*_routes(ObjectKind.CONFIG_MAP), *_routes(ObjectKind.SECRET)]
