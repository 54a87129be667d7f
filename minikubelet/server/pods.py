"""The pod endpoints: list, watch, get, create, replace, delete, and container logs.

Codes and wording are the apiserver's (DESIGN.md "HTTP API"): 201 on create, 404
``pods "x" not found``, 409 ``AlreadyExists``, 400 for a body that does not decode or has
unknown fields (``strict decoding error: unknown field "spec.x"``), 422 ``Invalid`` with
one cause per invalid value, 400 when the body's namespace or name contradicts the URL.
Fields minikubelet accepts but cannot honour come back as ``Warning`` headers, which
kubectl prints.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from minikubelet.api.serialize import JSON
from minikubelet.capabilities import unimplemented_warnings
from minikubelet.errors import DuplicatePodError, FieldError, ManifestError
from minikubelet.manifest import load_text
from minikubelet.model.containment import ContainmentInfo
from minikubelet.model.snapshot import PodSnapshot
from minikubelet.model.spec import Pod
from minikubelet.model.timestamps import format_timestamp
from minikubelet.server.changes import Snapshot
from minikubelet.server.context import (
    Api,
    api_of,
    list_response,
    read_body,
    snapshot_response,
)
from minikubelet.server.logs import parse_log_request, select_log, stream_log
from minikubelet.server.selectors import POD_FIELDS, parse_field_selector, parse_label_selector
from minikubelet.server.status import (
    ApiError,
    already_exists,
    bad_request,
    invalid,
    not_found,
)
from minikubelet.server.streaming import StreamResponse, Write
from minikubelet.server.watch import watch_response

__all__ = [
    "container_logs",
    "create_pod",
    "delete_pod",
    "get_pod",
    "kubelet_pods",
    "list_pods",
    "pod_log",
    "pod_trace",
    "replace_pod",
]

_DECODING = {"Unknown field", "JSON syntax error", "YAML syntax error", "not a Kubernetes object"}
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _pod(api: Api, namespace: str, name: str) -> PodSnapshot:
    pod = api.kubelet.snapshot(namespace, name)
    if pod is None:
        raise not_found(name)
    return pod


# -- reading -------------------------------------------------------------------------


def _list(api: Api, namespace: str | None, request: Request) -> Response:
    query = request.query_params
    labels = parse_label_selector(query.get("labelSelector"))
    fields = parse_field_selector(query.get("fieldSelector"), POD_FIELDS)

    def matches(obj: JSON) -> bool:
        metadata = obj.get("metadata", {})
        return (
            (namespace is None or metadata.get("namespace") == namespace)
            and labels.matches(metadata.get("labels") or {})
            and fields.matches(obj)
        )

    def current() -> list[Snapshot]:
        pods = api.kubelet.snapshots()
        name = fields.value_of("metadata.name")
        if name is not None:  # kubectl's delete-wait and `get pod x -w`: skip the others
            pods = [p for p in pods if p.pod.name == name]
        if namespace is not None:
            pods = [p for p in pods if p.pod.namespace == namespace]
        pods.sort(key=lambda p: p.key)
        return [api.changes.pod(p) for p in pods]

    if _flag(query.get("watch")):
        return watch_response(api.changes, "pods", current, matches, dict(query))
    return list_response("PodList", api.changes.version, [s for s in current() if matches(s.obj)])


def _flag(value: str | None) -> bool:
    return value in ("true", "1", "True", "TRUE", "t")


async def list_pods(request: Request) -> Response:
    """``GET /api/v1/pods`` and ``GET /api/v1/namespaces/{namespace}/pods``."""
    return _list(api_of(request), request.path_params.get("namespace"), request)


async def kubelet_pods(request: Request) -> Response:
    """``GET /pods``: the kubelet's own endpoint, every pod, no selectors."""
    api = api_of(request)
    pods = sorted(api.kubelet.snapshots(), key=lambda p: p.key)
    return list_response("PodList", None, [api.changes.pod(p) for p in pods])


async def get_pod(request: Request) -> Response:
    api = api_of(request)
    pod = _pod(api, request.path_params["namespace"], request.path_params["name"])
    return snapshot_response(api.changes.pod(pod))


async def pod_trace(request: Request) -> Response:
    """minikubelet's addition: the pod's lifecycle steps (``PodTrace``).

    ``containers[].lastTermination``: each container's last stop, offsets from its Killing
    step (what ``describe`` prints). ``steps``: every step the pod keeps (its newest 2000),
    oldest first, offsets in seconds from the first kept step (``steps[0].offset`` is 0),
    on the monotonic clock. ``observed``: the moment of this answer on the same axis, so a
    timeline can draw what is still running up to now.
    """
    api = api_of(request)
    pod = _pod(api, request.path_params["namespace"], request.path_params["name"])
    containers = []
    for container in pod.pod.spec.init_containers + pod.pod.spec.containers:
        steps = api.kubelet.last_termination(pod.uid, container.name)
        began = steps[0].at if steps else 0.0
        containers.append(
            {
                "name": container.name,
                "lastTermination": [
                    {
                        "offset": round(step.at - began, 6),
                        "time": format_timestamp(step.wall),
                        "step": step.step.value,
                        "detail": step.detail,
                    }
                    for step in steps
                ],
            }
        )
    kept = api.kubelet.trace(pod.uid)
    origin = kept[0].at if kept else anyio.current_time()
    body = {
        "kind": "PodTrace",
        "apiVersion": "minikubelet.io/v1",
        "containers": containers,
        "steps": [
            {
                "container": entry.container,
                "step": entry.step.value,
                "detail": entry.detail,
                "time": format_timestamp(entry.wall),
                "offset": round(entry.at - origin, 6),
            }
            for entry in kept
        ],
        "observed": {
            "time": format_timestamp(api.kubelet.clock()),
            "offset": round(anyio.current_time() - origin, 6),
        },
        "containment": api.kubelet.containment.json(),
    }
    return JSONResponse(body)


# -- writing -------------------------------------------------------------------------


async def _decode_pod(
    body: bytes,
    namespace: str,
    url_name: str | None,
    containment: ContainmentInfo | None = None,
) -> tuple[Pod, list[str]]:
    """The one Pod of a request body, in the URL's namespace; raises ApiError. The warnings
    name the limits ``containment`` does not enforce.

    Parsed in a worker thread: a large or deeply nested body takes a while to parse, and
    the event loop meanwhile runs every pod.
    """
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise bad_request(f"the request body is not UTF-8 (byte {error.start})") from None
    if not text.strip():
        raise bad_request("the request body is empty: expected a Pod")
    try:
        result = await anyio.to_thread.run_sync(load_text, text, None)
    except ManifestError as error:
        raise _manifest_error(error, url_name) from None
    if len(result.pods) != 1 or result.pods[0].manifest.get("kind") != "Pod":
        raise bad_request(f"the request body must be one Pod, found {len(result.pods)} pods")
    pod = result.pods[0]
    metadata = pod.manifest.get("metadata")
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
    unimplemented = unimplemented_warnings(pod, containment)
    warnings = [_warning(w.field_path, w.message) for w in (*result.warnings, *unimplemented)]
    return pod, warnings


def _warning(path: str, message: str) -> str:
    return f"{path}: {message}"


def _manifest_error(error: ManifestError, name: str | None) -> ApiError:
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


async def create_pod(request: Request) -> Response:
    """``POST /api/v1/namespaces/{namespace}/pods``: JSON or YAML; 201 with the Pod."""
    api = api_of(request)
    if request.query_params.get("dryRun"):
        raise bad_request("dryRun is not supported by minikubelet")
    body = await read_body(request)
    namespace = request.path_params["namespace"]
    pod, warnings = await _decode_pod(body, namespace, None, api.kubelet.containment)
    try:
        created = await api.kubelet.add_pod(pod)
    except DuplicatePodError:
        raise already_exists(pod.name) from None
    return snapshot_response(api.changes.pod(created), 201, warnings)


async def replace_pod(request: Request) -> Response:
    """``PUT …/pods/{name}``: the old pod stops gracefully, the new one starts (new uid)."""
    api = api_of(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    body = await read_body(request)
    old = _pod(api, namespace, name)
    if old.is_static:
        # A static pod's spec comes from its file, like a mirror pod's: edit the file.
        raise ApiError(
            422,
            f'Pod "{name}" is invalid: spec: Forbidden: pod "{name}" is a static pod from '
            "the manifest directory; edit its file instead",
            reason="Invalid",
            details={
                "name": name,
                "kind": "Pod",
                "causes": [
                    {"reason": "FieldValueForbidden", "message": "static pod", "field": "spec"}
                ],
            },
        )
    pod, warnings = await _decode_pod(body, namespace, name, api.kubelet.containment)
    metadata = pod.manifest.get("metadata")
    version = metadata.get("resourceVersion") if isinstance(metadata, Mapping) else None
    current = str(api.changes.pod(old).version)
    if version and str(version) != current:
        raise ApiError(
            409,
            f'Operation cannot be fulfilled on pods "{name}": the object has been modified; '
            "please apply your changes to the latest version and try again",
            reason="Conflict",
            details={"name": name, "kind": "pods"},
        )
    try:
        replaced = await api.kubelet.replace_pod(pod)
    except DuplicatePodError:
        raise already_exists(name) from None
    return snapshot_response(api.changes.pod(replaced), 200, warnings)


async def delete_pod(request: Request) -> Response:
    """``DELETE …/pods/{name}``: 200 with the Pod, now carrying ``deletionTimestamp``."""
    api = api_of(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    grace, uid = _delete_options(
        await read_body(request), request.query_params.get("gracePeriodSeconds")
    )
    pod = _pod(api, namespace, name)
    if uid is not None and uid != pod.uid:
        raise ApiError(
            409,
            f"Precondition failed: UID in precondition: {uid}, UID in object meta: {pod.uid}",
            reason="Conflict",
            details={"name": name, "kind": "pods"},
        )
    # The deletion timestamp is published as a change of the object (MODIFIED), whatever
    # its status does; a finished pod is gone at once (DELETED).
    deleted = api.kubelet.delete_pod(namespace, name, grace) or pod
    return snapshot_response(api.changes.pod(deleted))


def _delete_options(body: bytes, query_grace: str | None) -> tuple[int | None, str | None]:
    """(gracePeriodSeconds, preconditions.uid) from ``DeleteOptions`` or the query."""
    grace: object = None
    uid: object = None
    if body.strip():
        try:
            options = json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            raise bad_request(f"the request body is not DeleteOptions JSON: {error}") from None
        if not isinstance(options, dict):
            raise bad_request("the request body is not DeleteOptions JSON: expected an object")
        grace = options.get("gracePeriodSeconds")
        preconditions = options.get("preconditions")
        if isinstance(preconditions, dict):
            uid = preconditions.get("uid")
    if grace is None and query_grace not in (None, ""):
        try:
            grace = int(str(query_grace))
        except ValueError:
            raise bad_request(f'invalid gracePeriodSeconds "{query_grace}"') from None
    if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int)):
        raise bad_request(f"gracePeriodSeconds must be an integer, found {grace!r}")
    if isinstance(grace, int) and grace < 0:
        problem = FieldError(
            "gracePeriodSeconds", "Invalid value", "must be greater than or equal to 0", grace, True
        )
        raise invalid("DeleteOptions", "", [problem])
    return grace, uid if isinstance(uid, str) else None


# -- logs ----------------------------------------------------------------------------


def _log_response(api: Api, namespace: str, name: str, query: dict[str, str]) -> Response:
    pod = _pod(api, namespace, name)
    request = parse_log_request(query, name, api.kubelet.clock())
    source = select_log(pod, request, api.kubelet)
    closing = api.changes.closing

    async def produce(write: Write) -> None:
        await stream_log(source, request, write, closing)

    return StreamResponse(produce, media_type="text/plain")


async def pod_log(request: Request) -> Response:
    """``GET /api/v1/namespaces/{namespace}/pods/{name}/log``."""
    params = request.path_params
    return _log_response(
        api_of(request), params["namespace"], params["name"], dict(request.query_params)
    )


async def container_logs(request: Request) -> Response:
    """``GET /containerLogs/{namespace}/{pod}/{container}``: the kubelet's path."""
    params = request.path_params
    query = dict(request.query_params)
    query["container"] = params["container"]
    return _log_response(api_of(request), params["namespace"], params["pod"], query)
