"""The pod endpoints: list, watch, get, create, replace, delete, and container logs.

Codes and wording are the apiserver's (``k8s.io/apiserver`` handlers): 201 on create, 404
``pods "x" not found``, 409 ``AlreadyExists``, 400 for a body that does not decode or has
unknown fields (``strict decoding error: unknown field "spec.x"``, ``decoding.py``), 422
``Invalid`` with one cause per invalid value, 400 when the body's namespace or name
contradicts the URL. Fields minikubelet accepts but cannot honour come back as ``Warning``
headers, which kubectl prints. Lists, objects and watches are served as JSON or as Tables
(``resources.py``); updates in place (``PATCH``, ``/status``) are ``updates.py``.

``DELETE`` takes ``DeleteOptions`` (body, or ``gracePeriodSeconds`` in the query):

- ``gracePeriodSeconds`` (kubectl's ``--grace-period``; ``--now`` sends 1): the pod
  terminates with that grace, shows ``deletionTimestamp`` until its containers are gone,
  then disappears with a ``DELETED`` event carrying its final status, which plain
  ``kubectl delete`` waits for. The answer comes at once (200, the pod as it is now).
- ``0`` (``--force --grace-period=0``): on a cluster the object is gone from the apiserver
  at once and the kubelet kills the containers (with its 2 s minimum grace,
  ``minimumGracePeriodInSeconds``); minikubelet is both, so it answers once the pod is
  gone, which is what kubectl's one GET after a forced delete expects (404).
- ``preconditions.uid`` / ``preconditions.resourceVersion``: 409 ``Conflict`` when the pod
  is another one or has changed since; ``propagationPolicy`` (``Orphan``, ``Background``,
  ``Foreground``) is checked and has nothing to act on (pods own no dependents here);
  ``dryRun`` is refused (400).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from minikubelet.errors import DuplicatePodError, FieldError, RequestError
from minikubelet.model.snapshot import PodSnapshot, WatchEventType
from minikubelet.model.timestamps import format_timestamp
from minikubelet.server.changes import Snapshot
from minikubelet.server.context import Api, api_of, list_response, read_body
from minikubelet.server.decoding import decode_pod, decode_pod_object, field_validation, parse_body
from minikubelet.server.logs import parse_log_request, select_log, stream_log
from minikubelet.server.resources import list_response_for, object_response
from minikubelet.server.status import already_exists, bad_request, invalid, not_found
from minikubelet.server.streaming import StreamResponse, Write
from minikubelet.server.updates import POD, conflict, static_pod_refused

__all__ = [
    "FORCE_DELETE_TIMEOUT",
    "DeleteOptions",
    "container_logs",
    "create_pod",
    "delete_pod",
    "get_pod",
    "kubelet_pods",
    "list_pods",
    "parse_delete_options",
    "pod_log",
    "pod_trace",
    "replace_pod",
]

# A forced delete answers once the pod is gone; the stop policy's own deadline bounds that
# well below this, which only guards the request against the unforeseen.
FORCE_DELETE_TIMEOUT = 60.0
_PROPAGATION = ("Foreground", "Background", "Orphan")


def _pod(api: Api, namespace: str, name: str) -> PodSnapshot:
    pod = api.kubelet.snapshot(namespace, name)
    if pod is None:
        raise not_found(name)
    return pod


# -- reading -------------------------------------------------------------------------


def _current(api: Api, request: Request) -> Any:
    fields = request.query_params.get("fieldSelector") or ""

    def current(namespace: str | None) -> Sequence[Snapshot]:
        pods = api.kubelet.snapshots()
        if namespace is not None:
            pods = [p for p in pods if p.pod.namespace == namespace]
        # kubectl's delete-wait and `get pod x -w` select one name: skip the others.
        if "metadata.name=" in fields and "," not in fields and "!" not in fields:
            name = fields.split("=", 1)[1].removeprefix("=")
            pods = [p for p in pods if p.pod.name == name]
        pods.sort(key=lambda p: p.key)
        return [api.changes.pod(p) for p in pods]

    return current


async def list_pods(request: Request) -> Response:
    """``GET /api/v1/pods`` and ``GET /api/v1/namespaces/{namespace}/pods`` (and watch)."""
    api = api_of(request)
    return list_response_for(request, api, POD, _current(api, request))


async def kubelet_pods(request: Request) -> Response:
    """``GET /pods``: the kubelet's own endpoint, every pod, no selectors."""
    api = api_of(request)
    pods = sorted(api.kubelet.snapshots(), key=lambda p: p.key)
    return list_response("PodList", None, [api.changes.pod(p) for p in pods])


async def get_pod(request: Request) -> Response:
    """``GET …/pods/{name}`` (and ``…/status``): the Pod, or its one-row Table."""
    api = api_of(request)
    pod = _pod(api, request.path_params["namespace"], request.path_params["name"])
    return object_response(request, api, POD, api.changes.pod(pod))


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


async def create_pod(request: Request) -> Response:
    """``POST /api/v1/namespaces/{namespace}/pods``: JSON or YAML; 201 with the Pod."""
    api = api_of(request)
    if request.query_params.get("dryRun"):
        raise bad_request("dryRun is not supported by minikubelet")
    validation = field_validation(request.query_params)
    decoded = await decode_pod(
        await read_body(request),
        request.path_params["namespace"],
        None,
        validation,
        api.kubelet.containment,
    )
    try:
        created = await api.kubelet.add_pod(decoded.pod)
    except DuplicatePodError:
        raise already_exists(decoded.pod.name) from None
    return object_response(request, api, POD, api.changes.pod(created), 201, decoded.warnings)


async def replace_pod(request: Request) -> Response:
    """``PUT …/pods/{name}``: the old pod stops gracefully, the new one starts (new uid).

    minikubelet's replace: any field may change, since the pod is recreated (``kubectl
    replace --force`` on a cluster). In-place updates, with the apiserver's rule of what
    may change, are ``PATCH`` (``updates.py``).
    """
    api = api_of(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    body = await read_body(request)
    old = _pod(api, namespace, name)
    if old.is_static:
        raise static_pod_refused(name)
    validation = field_validation(request.query_params)
    obj = await anyio.to_thread.run_sync(parse_body, body)
    decoded = await decode_pod_object(obj, namespace, name, validation, api.kubelet.containment)
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    version = metadata.get("resourceVersion") if isinstance(metadata, dict) else None
    if version and str(version) != str(api.changes.pod(old).version):
        raise conflict(name)
    try:
        replaced = await api.kubelet.replace_pod(decoded.pod)
    except DuplicatePodError:
        raise already_exists(name) from None
    return object_response(request, api, POD, api.changes.pod(replaced), 200, decoded.warnings)


class DeleteOptions:
    """``DeleteOptions``, checked as the apiserver checks them."""

    def __init__(
        self,
        grace: int | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
        propagation: str | None = None,
    ) -> None:
        self.grace = grace
        self.uid = uid
        self.resource_version = resource_version
        self.propagation = propagation


def parse_delete_options(body: bytes, query: Any) -> DeleteOptions:
    """``DeleteOptions`` from the body, else from the query; 400/422 for bad ones."""
    options: dict[str, Any] = {}
    if body.strip():
        try:
            decoded = json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            raise bad_request(f"the request body is not DeleteOptions JSON: {error}") from None
        if not isinstance(decoded, dict):
            raise bad_request("the request body is not DeleteOptions JSON: expected an object")
        options = decoded
    for field in ("gracePeriodSeconds", "propagationPolicy", "orphanDependents", "dryRun"):
        if field not in options and query.get(field) not in (None, ""):
            options[field] = query.get(field)
    if options.get("dryRun"):
        raise bad_request("dryRun is not supported by minikubelet")
    grace: object = options.get("gracePeriodSeconds")
    if isinstance(grace, str):
        try:
            grace = int(grace)
        except ValueError:
            raise bad_request(f'invalid gracePeriodSeconds "{grace}"') from None
    if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int)):
        raise bad_request(f"gracePeriodSeconds must be an integer, found {grace!r}")
    problems = []
    if isinstance(grace, int) and grace < 0:
        problems.append(
            FieldError(
                "gracePeriodSeconds",
                "Invalid value",
                "must be greater than or equal to 0",
                grace,
                True,
            )
        )
    propagation = options.get("propagationPolicy")
    if propagation is not None and propagation not in _PROPAGATION:
        supported = ", ".join(f'"{value}"' for value in _PROPAGATION)
        problems.append(
            FieldError(
                "propagationPolicy",
                "Unsupported value",
                f"supported values: {supported}",
                propagation,
                True,
            )
        )
    if propagation is not None and options.get("orphanDependents") is not None:
        problems.append(
            FieldError(
                "propagationPolicy",
                "Invalid value",
                "orphanDependents and deletionPropagation cannot be both set",
                propagation,
                True,
            )
        )
    if problems:
        raise invalid("DeleteOptions", "", problems)
    preconditions = options.get("preconditions")
    uid = version = None
    if isinstance(preconditions, dict):
        uid, version = preconditions.get("uid"), preconditions.get("resourceVersion")
    return DeleteOptions(
        grace=grace if isinstance(grace, int) else None,
        uid=uid if isinstance(uid, str) else None,
        resource_version=str(version) if version else None,
        propagation=propagation if isinstance(propagation, str) else None,
    )


async def delete_pod(request: Request) -> Response:
    """``DELETE …/pods/{name}``: 200 with the Pod, now carrying ``deletionTimestamp``."""
    api = api_of(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    options = parse_delete_options(await read_body(request), request.query_params)
    pod = _pod(api, namespace, name)
    if options.uid is not None and options.uid != pod.uid:
        raise RequestError(
            409,
            f"Precondition failed: UID in precondition: {options.uid}, UID in object meta: "
            f"{pod.uid}",
            reason="Conflict",
            details={"name": name, "kind": "pods"},
        )
    version = str(api.changes.pod(pod).version)
    if options.resource_version is not None and options.resource_version != version:
        raise RequestError(
            409,
            "Precondition failed: ResourceVersion in precondition: "
            f"{options.resource_version}, ResourceVersion in object meta: {version}",
            reason="Conflict",
            details={"name": name, "kind": "pods"},
        )
    gone = _gone(api, pod.uid) if options.grace == 0 else None
    try:
        # The deletion timestamp is published as a change of the object (MODIFIED),
        # whatever its status does; a finished pod is gone at once (DELETED).
        deleted = api.kubelet.delete_pod(namespace, name, options.grace) or pod
        if gone is not None:
            with anyio.move_on_after(FORCE_DELETE_TIMEOUT):
                await gone.wait()
    finally:
        if gone is not None:
            gone.stop()
    final = deleted
    if gone is not None:  # forced: as it was last seen (gone), or is now (the deadline)
        final = api.kubelet.current(pod.uid) or gone.last or deleted
    return object_response(request, api, POD, api.changes.pod(final))


class _Gone:
    """Set once the pod with ``uid`` is removed (its DELETED); keeps its last snapshot."""

    def __init__(self, api: Api, uid: str) -> None:
        self._event = anyio.Event()
        self.last: PodSnapshot | None = None
        self._uid = uid

        def listener(kind: WatchEventType, snapshot: PodSnapshot) -> None:
            if snapshot.uid == uid and kind is WatchEventType.DELETED:
                self.last = snapshot
                self._event.set()

        self.stop = api.kubelet.watch(listener)
        if api.kubelet.current(uid) is None:
            self._event.set()

    async def wait(self) -> None:
        await self._event.wait()


def _gone(api: Api, uid: str) -> _Gone:
    return _Gone(api, uid)


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
