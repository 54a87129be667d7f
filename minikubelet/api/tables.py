"""Server-side ``meta.k8s.io/v1`` Tables: a port of the apiserver's printers.

kubectl prints ``get`` output from a Table the server builds (it sends ``Accept:
application/json;as=Table;v=v1;g=meta.k8s.io,...``); a plain list prints only NAME and AGE.
This is ``pkg/printers/internalversion/printers.go`` (``printPod``, ``printEvent``,
``printConfigMap``, ``printSecret``, ``printNode`` and their column definitions) and the handler's
``asTable`` (``k8s.io/apiserver/pkg/endpoints/handlers/response.go``):

- The apiserver always prints wide (``GenerateOptions{Wide: true}``); kubectl drops the
  ``priority: 1`` columns unless ``-o wide``.
- ``row.object`` is a ``PartialObjectMetadata`` (``includeObject=Metadata``, the default),
  the full object (``Object``: ``--sort-by`` needs it) or ``null`` (``None``). kubectl needs
  it for ``-A`` (the NAMESPACE column) and ``--show-labels``.
- The Table carries ``metadata.resourceVersion``: kubectl's ``get -w`` watches from it.
- Watch frames omit ``columnDefinitions`` after the first one (``NoHeaders``), as the
  apiserver's ``watchEmbeddedEncoder`` does.

Every function takes objects as Kubernetes JSON (dicts) and ``now``; nothing here reads a
clock or does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from minikubelet.api.humanize import human_duration, parse_time, since
from minikubelet.api.media import parse_accept
from minikubelet.api.types import JSON
from minikubelet.errors import RequestError

__all__ = [
    "NODE_COLUMNS",
    "RESOURCES",
    "Column",
    "IncludeObject",
    "TableOptions",
    "column_definitions",
    "configmap_row",
    "event_row",
    "negotiate_table",
    "node_row",
    "pod_row",
    "row_object",
    "secret_row",
    "table",
    "table_options",
]

Obj = Mapping[str, Any]

_TABLE_VERSIONS = ("v1", "v1beta1")


class IncludeObject(StrEnum):
    """``TableOptions.includeObject``: what each row's ``object`` holds."""

    NONE = "None"
    METADATA = "Metadata"
    OBJECT = "Object"


@dataclass(frozen=True)
class Column:
    """A ``TableColumnDefinition``; ``priority`` 1 columns show only with ``-o wide``."""

    name: str
    type: str
    description: str
    format: str = ""
    priority: int = 0

    def json(self) -> JSON:
        # Every field is always present on the wire (none is omitempty in metav1).
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


# The Go printers take these from the types' SwaggerDoc(); they are the same texts as the
# OpenAPI descriptions.
_NAME = (
    "Name must be unique within a namespace. Is required when creating resources, although "
    "some resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
_AGE = (
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)

POD_COLUMNS = (
    Column("Name", "string", _NAME, format="name"),
    Column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", "string", "The aggregate status of the containers in this pod."),
    Column(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the "
        "last container in this pod has restarted.",
    ),
    Column("Age", "string", _AGE),
    Column(
        "IP",
        "string",
        "podIP address allocated to the pod. Routable at least within the cluster. Empty if "
        "not yet allocated.",
        priority=1,
    ),
    Column(
        "Node",
        "string",
        "NodeName indicates in which node this pod is scheduled. If empty, this pod is a "
        "candidate for scheduling by the scheduler defined in schedulerName. Once this field "
        "is set, the kubelet for this node becomes responsible for the lifecycle of this pod. "
        "This field should not be used to express a desire for the pod to be scheduled on a "
        "specific node. "
        "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename",
        priority=1,
    ),
    Column(
        "Nominated Node",
        "string",
        "nominatedNodeName is set only when this pod preempts other pods on the node, but it "
        "cannot be scheduled right away as preemption victims receive their graceful "
        "termination periods. This field does not guarantee that the pod will be scheduled on "
        "this node. Scheduler may decide to place the pod elsewhere if other nodes become "
        "available sooner. Scheduler may also decide to give the resources on this node to a "
        "higher priority pod that is created after preemption. As a result, this field may be "
        "different than PodSpec.nodeName when the pod is scheduled.",
        priority=1,
    ),
    Column(
        "Readiness Gates",
        "string",
        "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready "
        "when all its containers are ready AND all conditions specified in the readiness gates "
        'have status equal to "True" More info: '
        "https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates",
        priority=1,
    ),
)

EVENT_COLUMNS = (
    Column(
        "Last Seen",
        "string",
        "The time at which the most recent occurrence of this event was recorded.",
    ),
    Column(
        "Type",
        "string",
        "Type of this event (Normal, Warning), new types could be added in the future",
    ),
    Column(
        "Reason",
        "string",
        "This should be a short, machine understandable string that gives the reason for the "
        "transition into the object's current status.",
    ),
    Column("Object", "string", "The object that this event is about."),
    Column(
        "Subobject",
        "string",
        "If referring to a piece of an object instead of an entire object, this string should "
        "contain a valid JSON/Go field access statement, such as "
        "desiredState.manifest.containers[2]. For example, if the object reference is to a "
        'container within a pod, this would take on a value like: "spec.containers{name}" '
        '(where "name" refers to the name of the container that triggered the event) or if no '
        'container name is specified "spec.containers[2]" (container with index 2 in this '
        "pod). This syntax is chosen only to have some well-defined way of referencing a part "
        "of an object.",
        priority=1,
    ),
    Column(
        "Source",
        "string",
        "The component reporting this event. Should be a short machine understandable string.",
        priority=1,
    ),
    Column("Message", "string", "A human-readable description of the status of this operation."),
    Column(
        "First Seen",
        "string",
        "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
        priority=1,
    ),
    Column("Count", "string", "The number of times this event has occurred.", priority=1),
    Column("Name", "string", _NAME, format="name", priority=1),
)

CONFIGMAP_COLUMNS = (
    Column("Name", "string", _NAME, format="name"),
    Column(
        "Data",
        "string",
        "Data contains the configuration data. Each key must consist of alphanumeric "
        "characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the "
        "BinaryData field. The keys stored in Data must not overlap with the keys in the "
        "BinaryData field, this is enforced during validation process.",
    ),
    Column("Age", "string", _AGE),
)

SECRET_COLUMNS = (
    Column("Name", "string", _NAME, format="name"),
    Column(
        "Type",
        "string",
        "Used to facilitate programmatic handling of secret data. More info: "
        "https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
    ),
    Column(
        "Data",
        "string",
        "Data contains the secret data. Each key must consist of alphanumeric characters, "
        "'-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, "
        "representing the arbitrary (possibly non-string) data value here. Described in "
        "https://tools.ietf.org/html/rfc4648#section-4",
    ),
    Column("Age", "string", _AGE),
)


def _mapping(value: object) -> Obj:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Obj]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _state(status: Obj, key: str) -> Obj | None:
    """``state.waiting`` / ``state.terminated`` / ``state.running`` when set (Go: non-nil).

    Presence matters, not truthiness: ``terminated: {"exitCode": 0}`` is a state even with
    every other field empty.
    """
    value = _mapping(status.get("state")).get(key)
    return value if isinstance(value, Mapping) else None


def _last_terminated_at(status: Obj) -> datetime | None:
    terminated = _mapping(_mapping(status.get("lastState")).get("terminated"))
    return parse_time(terminated.get("finishedAt")) if terminated else None


def _later(current: datetime | None, seen: datetime | None) -> datetime | None:
    if seen is None:
        return current
    return seen if current is None or seen > current else current


def _condition_true(status: Obj, kind: str) -> bool:
    # The first condition of that type decides (Go: isPodInitializedConditionTrue returns
    # on the first match).
    for condition in _list(status.get("conditions")):
        if condition.get("type") == kind:
            return condition.get("status") == "True"
    return False


def _terminated_reason(terminated: Obj, prefix: str = "") -> str:
    reason = _str(terminated.get("reason"))
    if reason:
        return prefix + reason
    signal = _int(terminated.get("signal"))
    if signal:
        return f"{prefix}Signal:{signal}"
    return f"{prefix}ExitCode:{_int(terminated.get('exitCode'))}"


def _restartable(container: Obj | None) -> bool:
    return container is not None and container.get("restartPolicy") == "Always"


_POD_SUCCEEDED = [
    {
        "type": "Completed",
        "status": "True",
        "reason": "Succeeded",
        "message": "The pod has completed successfully.",
    }
]
_POD_FAILED = [
    {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}
]


def pod_row(pod: Obj, now: datetime) -> JSON:
    """``printPod`` with ``Wide: true``: the row's ``cells`` and, when final, ``conditions``."""
    metadata, spec, status = (_mapping(pod.get(key)) for key in ("metadata", "spec", "status"))
    init_specs = {_str(c.get("name")): c for c in _list(spec.get("initContainers"))}
    total = len(_list(spec.get("containers"))) + sum(
        1 for c in _list(spec.get("initContainers")) if _restartable(c)
    )
    ready = 0
    restarts = 0
    sidecar_restarts = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None

    phase = _str(status.get("phase"))
    reason = _str(status.get("reason")) or phase
    for condition in _list(status.get("conditions")):
        if condition.get("type") == "PodScheduled" and condition.get("reason") == (
            "SchedulingGated"
        ):
            reason = "SchedulingGated"

    initializing = False
    init_count = len(_list(spec.get("initContainers")))
    for index, container in enumerate(_list(status.get("initContainerStatuses"))):
        restarts += _int(container.get("restartCount"))
        last_restart = _later(last_restart, _last_terminated_at(container))
        sidecar = _restartable(init_specs.get(_str(container.get("name"))))
        if sidecar:
            sidecar_restarts += _int(container.get("restartCount"))
            last_sidecar_restart = _later(last_sidecar_restart, _last_terminated_at(container))
        terminated = _state(container, "terminated")
        waiting = _state(container, "waiting")
        if terminated is not None and _int(terminated.get("exitCode")) == 0:
            continue
        if sidecar and container.get("started") is True:
            if container.get("ready") is True:
                ready += 1
            continue
        initializing = True
        if terminated is not None:
            reason = _terminated_reason(terminated, "Init:")
        elif waiting is not None and _str(waiting.get("reason")) not in ("", "PodInitializing"):
            reason = "Init:" + _str(waiting.get("reason"))
        else:
            reason = f"Init:{index}/{init_count}"
        break

    if not initializing or _condition_true(status, "Initialized"):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        for container in reversed(_list(status.get("containerStatuses"))):
            restarts += _int(container.get("restartCount"))
            last_restart = _later(last_restart, _last_terminated_at(container))
            waiting = _state(container, "waiting")
            terminated = _state(container, "terminated")
            if waiting is not None and _str(waiting.get("reason")):
                reason = _str(waiting.get("reason"))
            elif terminated is not None:
                reason = _terminated_reason(terminated)
            elif container.get("ready") is True and _state(container, "running") is not None:
                has_running = True
                ready += 1
        # A completed container beside one still running: the pod as a whole is running.
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"

    if metadata.get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"

    restarts_cell = str(restarts)
    if restarts and last_restart is not None:
        restarts_cell = f"{restarts} ({human_duration((now - last_restart).total_seconds())} ago)"

    pod_ips = _list(status.get("podIPs"))
    gates = _list(spec.get("readinessGates"))
    readiness_gates = "<none>"
    if gates:
        conditions = {
            _str(c.get("type")): c.get("status") for c in reversed(_list(status.get("conditions")))
        }
        true_gates = sum(1 for g in gates if conditions.get(_str(g.get("conditionType"))) == "True")
        readiness_gates = f"{true_gates}/{len(gates)}"
    row: JSON = {
        "cells": [
            _str(metadata.get("name")),
            f"{ready}/{total}",
            reason,
            restarts_cell,
            since(metadata.get("creationTimestamp"), now),
            (_str(pod_ips[0].get("ip")) if pod_ips else "") or "<none>",
            _str(spec.get("nodeName")) or "<none>",
            _str(status.get("nominatedNodeName")) or "<none>",
            readiness_gates,
        ]
    }
    if phase == "Succeeded":
        row["conditions"] = [dict(c) for c in _POD_SUCCEEDED]
    elif phase == "Failed":
        row["conditions"] = [dict(c) for c in _POD_FAILED]
    return row


def _event_source(event: Obj) -> str:
    """``formatEventSource``: component (or reportingController), then ", host"."""
    source = _mapping(event.get("source"))
    component = _str(source.get("component")) or _str(event.get("reportingComponent"))
    instance = _str(source.get("host")) or _str(event.get("reportingInstance"))
    return f"{component}, {instance}" if instance else component


def event_row(event: Obj, now: datetime) -> JSON:
    """``printEvent`` with ``Wide: true``."""
    metadata = _mapping(event.get("metadata"))
    first = since(event.get("firstTimestamp"), now)
    if parse_time(event.get("firstTimestamp")) is None:
        first = since(event.get("eventTime"), now)
    last = since(event.get("lastTimestamp"), now)
    if parse_time(event.get("lastTimestamp")) is None:
        last = first
    count = _int(event.get("count"))
    series = event.get("series")
    if isinstance(series, Mapping):
        last = since(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    elif count == 0:
        count = 1  # singleton events of the events.k8s.io API carry no count
    involved = _mapping(event.get("involvedObject"))
    kind = _str(involved.get("kind")).lower()
    name = _str(involved.get("name"))
    return {
        "cells": [
            last,
            _str(event.get("type")),
            _str(event.get("reason")),
            f"{kind}/{name}" if name else kind,
            _str(involved.get("fieldPath")),
            _event_source(event),
            _str(event.get("message")).strip(),
            first,
            count,
            _str(metadata.get("name")),
        ]
    }


def configmap_row(configmap: Obj, now: datetime) -> JSON:
    """``printConfigMap``: DATA counts ``data`` and ``binaryData`` keys."""
    metadata = _mapping(configmap.get("metadata"))
    data = len(_mapping(configmap.get("data"))) + len(_mapping(configmap.get("binaryData")))
    return {
        "cells": [
            _str(metadata.get("name")),
            data,
            since(metadata.get("creationTimestamp"), now),
        ]
    }


def secret_row(secret: Obj, now: datetime) -> JSON:
    """``printSecret``."""
    metadata = _mapping(secret.get("metadata"))
    return {
        "cells": [
            _str(metadata.get("name")),
            _str(secret.get("type")),
            len(_mapping(secret.get("data"))),
            since(metadata.get("creationTimestamp"), now),
        ]
    }


NODE_COLUMNS = (
    Column("Name", "string", _NAME, format="name"),
    Column("Status", "string", "The status of the node"),
    Column("Roles", "string", "The roles of the node"),
    Column("Age", "string", _AGE),
    Column("Version", "string", "Kubelet Version reported by the node."),
    Column("Internal-IP", "string", "List of addresses reachable to the node.", priority=1),
    Column("External-IP", "string", "List of addresses reachable to the node.", priority=1),
    Column("OS-Image", "string", "OS Image reported by the node from /etc/os-release.", priority=1),
    Column("Kernel-Version", "string", "Kernel Version reported by the node.", priority=1),
    Column(
        "Container-Runtime",
        "string",
        "ContainerRuntime Version reported by the node through runtime remote API.",
        priority=1,
    ),
)

_ROLE_PREFIX = "node-role.kubernetes.io/"


def node_row(node: Obj, now: datetime) -> JSON:
    """``printNode`` with ``Wide: true``."""
    metadata, spec, status = (_mapping(node.get(key)) for key in ("metadata", "spec", "status"))
    conditions = {_str(c.get("type")): c for c in _list(status.get("conditions"))}
    ready = conditions.get("Ready")
    states = []
    if ready is None:
        states.append("Unknown")
    elif ready.get("status") == "True":
        states.append("Ready")
    else:
        states.append("NotReady")
    if spec.get("unschedulable") is True:
        states.append("SchedulingDisabled")
    labels = _mapping(metadata.get("labels"))
    roles = sorted(
        key.removeprefix(_ROLE_PREFIX)
        for key in labels
        if isinstance(key, str) and key.startswith(_ROLE_PREFIX) and key != _ROLE_PREFIX
    )
    if labels.get("kubernetes.io/role"):
        roles.append(_str(labels.get("kubernetes.io/role")))
    addresses = _list(status.get("addresses"))

    def address(kind: str) -> str:
        found = [_str(a.get("address")) for a in addresses if a.get("type") == kind]
        return found[0] if found else "<none>"

    info = _mapping(status.get("nodeInfo"))
    return {
        "cells": [
            _str(metadata.get("name")),
            ",".join(states),
            ",".join(roles) or "<none>",
            since(metadata.get("creationTimestamp"), now),
            _str(info.get("kubeletVersion")),
            address("InternalIP"),
            address("ExternalIP"),
            _str(info.get("osImage")) or "<unknown>",
            _str(info.get("kernelVersion")) or "<unknown>",
            _str(info.get("containerRuntimeVersion")) or "<unknown>",
        ]
    }


@dataclass(frozen=True)
class _Printer:
    kind: str
    columns: tuple[Column, ...]
    row: Callable[[Obj, datetime], JSON]


RESOURCES: Mapping[str, _Printer] = {
    "pods": _Printer("Pod", POD_COLUMNS, pod_row),
    "events": _Printer("Event", EVENT_COLUMNS, event_row),
    "configmaps": _Printer("ConfigMap", CONFIGMAP_COLUMNS, configmap_row),
    "secrets": _Printer("Secret", SECRET_COLUMNS, secret_row),
    "nodes": _Printer("Node", NODE_COLUMNS, node_row),
}


def column_definitions(resource: str) -> list[JSON]:
    return [column.json() for column in RESOURCES[resource].columns]


@dataclass(frozen=True)
class TableOptions:
    """``metav1.TableOptions`` from the query, and the Table's group version."""

    include_object: IncludeObject = IncludeObject.METADATA
    no_headers: bool = False
    api_version: str = "meta.k8s.io/v1"


def table_options(query: Mapping[str, str], version: str = "v1") -> TableOptions:
    """``includeObject`` from the query string; a 400 for a value the apiserver refuses."""
    raw = query.get("includeObject", "")
    if raw not in ("", *(member.value for member in IncludeObject)):
        supported = ", ".join(f'"{m.value}"' for m in sorted(IncludeObject, key=str))
        raise RequestError(
            400,
            "Unable to convert to Table as requested: includeObject: Unsupported value: "
            f'"{raw}": supported values: {supported}',
        )
    include = IncludeObject(raw) if raw else IncludeObject.METADATA
    return TableOptions(include_object=include, api_version=f"meta.k8s.io/{version}")


def negotiate_table(accept: str | None) -> str | None:
    """The Table version (``v1``/``v1beta1``) the client asks for first, or None for JSON.

    Entries are taken in the client's order, as the apiserver does: kubectl lists Table v1,
    then Table v1beta1, then plain JSON as the fallback.
    """
    for media in parse_accept(accept):
        wanted = media.param("as")
        if not wanted:
            if media.is_json:
                return None
            continue
        if (
            wanted == "Table"
            and media.param("g") == "meta.k8s.io"
            and media.param("v") in _TABLE_VERSIONS
            and media.is_json
        ):
            return media.param("v")
    return None


def row_object(obj: Obj, kind: str, include: IncludeObject, api_version: str) -> JSON | None:
    """``row.object`` as ``asTable`` sets it: PartialObjectMetadata, the object, or null."""
    match include:
        case IncludeObject.NONE:
            return None
        case IncludeObject.OBJECT:
            rest = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
            return {"kind": kind, "apiVersion": "v1", **rest}
        case IncludeObject.METADATA:
            # meta.AsPartialObjectMetadata copies the whole ObjectMeta.
            return {
                "kind": "PartialObjectMetadata",
                "apiVersion": api_version,
                "metadata": dict(_mapping(obj.get("metadata"))),
            }


def table(
    resource: str,
    objects: Iterable[Obj],
    now: datetime,
    *,
    resource_version: str | None,
    options: TableOptions | None = None,
    continue_token: str | None = None,
) -> JSON:
    """The ``Table`` for ``objects`` of ``resource`` (``pods``, ``events``, ...).

    ``resource_version`` is the list's (or, for one object, the object's) version; kubectl's
    ``get -w`` starts its watch from it, so it must be given whenever one exists.
    """
    options = options or TableOptions()
    printer = RESOURCES[resource]
    rows: list[JSON] = []
    for obj in objects:
        row = printer.row(obj, now)
        row["object"] = row_object(obj, printer.kind, options.include_object, options.api_version)
        rows.append(row)
    metadata: JSON = {}
    if resource_version is not None:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": options.api_version,
        "metadata": metadata,
        # Go's nil slice: the watch frames after the first carry no headers.
        "columnDefinitions": None if options.no_headers else column_definitions(resource),
        "rows": rows,
    }
