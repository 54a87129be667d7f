"""Updating a pod in place: ``PATCH`` in the four content types, and the status subresource.

``PATCH …/pods/{name}`` is what ``kubectl apply`` (client side: a strategic merge patch;
``--server-side``: an apply patch), ``kubectl label``/``annotate`` (merge patch), ``kubectl
patch`` and ``kubectl edit`` send. As the apiserver's patch handler
(``staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go``) does:

1. the patch is applied to the live object as clients see it (``patch.py``,
   ``strategic.py``, ``apply.py``); an apply patch to a pod that does not exist creates it
   (kubectl sends no GET before one: 201);
2. the result is decoded and validated like a new pod (400 for unknown fields under
   ``fieldValidation=Strict``, 422 for invalid values), a ``resourceVersion`` in it must be
   the current one (409 ``Conflict``), and the change must pass the Pod update rule
   (``pod_update.py``: metadata, container images, ``activeDeadlineSeconds``, tolerations;
   422 ``Invalid`` naming the fields otherwise);
3. the pod's manifest takes the changes the rule allows (labels, annotations, managed
   fields, images, ``activeDeadlineSeconds``, tolerations), and the kubelet applies it in
   place (``Kubelet.update_pod``: same uid; a container whose image changed is restarted).

A patch that changes nothing answers the object as it is, without a new resourceVersion,
as the apiserver answers a no-op. A static pod's definition is its file: updates of it are
refused (422), as a replacement is.

``GET/PUT/PATCH …/pods/{name}/status``: the status is the kubelet's (on a cluster the kubelet
writes it through this subresource). Reading it is reading the pod; an update of it is
checked (the object must decode, name the pod, carry its resourceVersion if any) and
answered with the pod as it is: the kubelet's next status would overwrite whatever a client
wrote, here as there.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from minikubelet.api import media
from minikubelet.api.apply import apply, decode_apply
from minikubelet.api.defaults import pod_with_defaults
from minikubelet.api.patch import decode_patch, json_patch, merge_patch
from minikubelet.api.pod_update import validate_pod_update
from minikubelet.api.strategic import strategic_merge_patch, strip_directives
from minikubelet.api.types import JSON
from minikubelet.errors import DuplicatePodError, ManifestError, RequestError
from minikubelet.manifest.pod import pod_from_dict
from minikubelet.model.snapshot import PodSnapshot
from minikubelet.model.spec import Pod
from minikubelet.server.context import Api, api_of, read_body
from minikubelet.server.decoding import (
    FieldValidation,
    decode_pod_object,
    field_validation,
    parse_body,
)
from minikubelet.server.resources import Resource, object_response
from minikubelet.server.selectors import POD_FIELDS
from minikubelet.server.status import already_exists, invalid, not_found

__all__ = ["POD", "conflict", "patch_pod", "patch_pod_status", "replace_pod_status"]

POD = Resource("pods", "Pod", POD_FIELDS)


def conflict(name: str) -> RequestError:
    return RequestError(
        409,
        f'Operation cannot be fulfilled on pods "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        reason="Conflict",
        details={"name": name, "kind": "pods"},
    )


def static_pod_refused(name: str) -> RequestError:
    # A static pod's spec comes from its file, like a mirror pod's: edit the file.
    return RequestError(
        422,
        f'Pod "{name}" is invalid: spec: Forbidden: pod "{name}" is a static pod from '
        "the manifest directory; edit its file instead",
        reason="Invalid",
        details={
            "name": name,
            "kind": "Pod",
            "causes": [{"reason": "FieldValueForbidden", "message": "static pod", "field": "spec"}],
        },
    )


def _patched(live: JSON, content_type: str, body: bytes, validation: FieldValidation) -> Any:
    strict = validation is not FieldValidation.IGNORE
    patch = decode_patch(body, strict=strict)
    if content_type == media.JSON_PATCH:
        return json_patch(live, patch)
    if content_type == media.MERGE_PATCH:
        return merge_patch(live, patch)
    result = strategic_merge_patch(live, patch, "Pod")
    return strip_directives(result)


def _live(api: Api, pod: PodSnapshot) -> JSON:
    return copy.deepcopy(api.changes.pod(pod).obj)


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _set(target: JSON, field: str, value: Any) -> None:
    if value is None or value == {} or value == []:
        target.pop(field, None)
    else:
        target[field] = copy.deepcopy(value)


def _allowed_changes(old: Pod, live: Mapping[str, Any], new: Mapping[str, Any]) -> JSON:
    """The old manifest with what an update may change and did change taken from ``new``
    (compared with ``live``, the object as served: defaults the manifest leaves out are
    not written into it)."""
    manifest: JSON = copy.deepcopy(dict(old.manifest))
    metadata: JSON = manifest.setdefault("metadata", {})
    for field in ("labels", "annotations", "managedFields"):
        value = _metadata(new).get(field)
        if value != _metadata(live).get(field):
            _set(metadata, field, value)
    spec: JSON = manifest.setdefault("spec", {})
    live_spec, new_spec = live.get("spec") or {}, new.get("spec") or {}
    for field in ("containers", "initContainers"):
        pairs = zip(
            spec.get(field) or (),
            live_spec.get(field) or (),
            new_spec.get(field) or (),
            strict=False,
        )
        for container, before, after in pairs:
            image = after.get("image") if isinstance(after, Mapping) else None
            if (
                isinstance(container, dict)
                and isinstance(before, Mapping)
                and (image != before.get("image"))
            ):
                _set(container, "image", image)
    for field in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
        if new_spec.get(field) != live_spec.get(field):
            _set(spec, field, new_spec.get(field))
    return manifest


def _without_node(obj: Any) -> Any:
    """The object without ``spec.nodeName``, which the server sets (no warning for it)."""
    spec = obj.get("spec") if isinstance(obj, Mapping) else None
    if not isinstance(spec, Mapping) or "nodeName" not in spec:
        return obj
    return {**obj, "spec": {k: v for k, v in spec.items() if k != "nodeName"}}


async def update_pod(
    request: Request,
    api: Api,
    pod: PodSnapshot,
    new: Any,
    validation: FieldValidation,
    base: str | None = None,
) -> Response:
    """Apply ``new`` (the whole object a patch produced) to ``pod`` in place.

    ``base`` is the resourceVersion of the object the patch was applied to: a patch that
    left it as it was sets no precondition (the apiserver applies a patch to the latest
    object); one that names another version must name the current one.
    """
    name = pod.pod.name
    if pod.is_static:
        raise static_pod_refused(name)
    decoded = await decode_pod_object(
        _without_node(new), pod.pod.namespace, name, validation, api.kubelet.containment
    )
    new = decoded.without_dropped(new)
    version = _metadata(new).get("resourceVersion")
    current = api.changes.pod(pod)
    if version and str(version) != base and str(version) != str(current.version):
        raise conflict(name)
    live = current.obj
    errors = validate_pod_update(pod_with_defaults(new), live)
    if errors:
        raise invalid("Pod", name, errors)
    manifest = _allowed_changes(pod.pod, live, new)
    if manifest == dict(pod.pod.manifest):
        return object_response(request, api, POD, current, 200, decoded.warnings)
    try:
        updated, _ = pod_from_dict(manifest, pod.pod.source)
    except ManifestError as error:  # the allowed changes alone were already checked
        raise invalid("Pod", name, error.errors) from None
    updated = replace(updated, metadata=replace(updated.metadata, namespace=pod.pod.namespace))
    if api.kubelet.current(pod.uid) is None:
        raise not_found(name)  # gone while the body was decoded
    snapshot = api.kubelet.update_pod(updated)
    return object_response(request, api, POD, api.changes.pod(snapshot), 200, decoded.warnings)


async def patch_pod(request: Request) -> Response:
    """``PATCH …/pods/{name}`` (see the module docstring)."""
    api = api_of(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    content_type = media.media_type(request.headers.get("content-type", ""))
    validation = field_validation(request.query_params)
    body = await read_body(request)
    pod = api.kubelet.snapshot(namespace, name)
    if content_type == media.APPLY_PATCH:
        applied = await anyio.to_thread.run_sync(decode_apply, body)
        live = _live(api, pod) if pod is not None else None
        if live is not None:
            live.pop("status", None)
        result, created = apply(
            live, applied, request.query_params.get("fieldManager", ""), api.kubelet.clock()
        )
        if created:
            return await _create_applied(request, api, namespace, name, result, validation)
        assert pod is not None
        assert live is not None
        base = str(_metadata(live).get("resourceVersion") or "")
        return await update_pod(request, api, pod, result, validation, base)
    if pod is None:
        raise not_found(name)
    if content_type not in (media.JSON_PATCH, media.MERGE_PATCH, media.STRATEGIC_MERGE_PATCH):
        raise RequestError(
            415,
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{', '.join(media.PATCH_MEDIA_TYPES)}",
        )
    live = _live(api, pod)
    patched = _patched(live, content_type, body, validation)
    base = str(_metadata(live).get("resourceVersion") or "")
    return await update_pod(request, api, pod, patched, validation, base)


async def _create_applied(
    request: Request, api: Api, namespace: str, name: str, obj: JSON, validation: FieldValidation
) -> Response:
    decoded = await decode_pod_object(obj, namespace, name, validation, api.kubelet.containment)
    try:
        created = await api.kubelet.add_pod(decoded.pod)
    except DuplicatePodError:
        raise already_exists(name) from None
    return object_response(request, api, POD, api.changes.pod(created), 201, decoded.warnings)


# -- the status subresource ---------------------------------------------------------------


def _pod(api: Api, request: Request) -> PodSnapshot:
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    pod = api.kubelet.snapshot(namespace, name)
    if pod is None:
        raise not_found(name)
    return pod


def _checked_status_update(api: Api, pod: PodSnapshot, obj: Any) -> Response | None:
    if not isinstance(obj, Mapping):
        raise RequestError(400, "the request body is not a Pod")
    metadata = _metadata(obj)
    name = pod.pod.name
    if metadata.get("name") not in (None, name):
        raise RequestError(
            400,
            f"the name of the object ({metadata.get('name')}) does not match the name on "
            f"the URL ({name})",
        )
    version = metadata.get("resourceVersion")
    if version and str(version) != str(api.changes.pod(pod).version):
        raise conflict(name)
    return None


async def replace_pod_status(request: Request) -> Response:
    """``PUT …/pods/{name}/status``: checked, then the pod as the kubelet reports it."""
    api = api_of(request)
    pod = _pod(api, request)
    obj = await anyio.to_thread.run_sync(parse_body, await read_body(request))
    _checked_status_update(api, pod, obj)
    return object_response(request, api, POD, api.changes.pod(pod))


async def patch_pod_status(request: Request) -> Response:
    """``PATCH …/pods/{name}/status``: the patch must apply; the status stays the kubelet's."""
    api = api_of(request)
    pod = _pod(api, request)
    content_type = media.media_type(request.headers.get("content-type", ""))
    body = await read_body(request)
    validation = field_validation(request.query_params)
    if content_type == media.APPLY_PATCH:
        obj: Any = await anyio.to_thread.run_sync(decode_apply, body)
    else:
        obj = _patched(_live(api, pod), content_type, body, validation)
    _checked_status_update(api, pod, obj)
    return object_response(request, api, POD, api.changes.pod(pod))
