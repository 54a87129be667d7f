"""``get pods``' table: a port of the apiserver's pod printer (``printPod``, Kubernetes 1.29+).

Every function takes the Pod as Kubernetes JSON (a dict) and ``now``, and returns strings,
so the rules are tested from sample JSON without a server. The rules, as kubectl has them:

- READY is ``ready/total``; restartable init containers (sidecars) count in the total, and
  in ready once started and ready.
- STATUS starts from the phase (or ``status.reason``); the first init container that has not
  completed makes it ``Init:<reason>``, ``Init:ExitCode:N``, ``Init:Signal:N`` or ``Init:i/n``;
  once initialised, the first regular container with a waiting or terminated reason wins
  (``CrashLoopBackOff``, ``Completed``, ``Error``, ``ExitCode:N``); ``Completed`` while another
  container still runs reads ``Running`` (or ``NotReady``); ``Terminating`` when the pod
  carries a ``deletionTimestamp`` and its phase is not final.
- RESTARTS sums the restart counts, with the age of the latest termination: ``3 (12s ago)``.
- AGE is the age of ``creationTimestamp``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from minikubelet.cli.client.humanize import human_duration, parse_time, since
from minikubelet.cli.client.tabwriter import TabWriter

__all__ = [
    "COLUMNS",
    "WIDE_COLUMNS",
    "PodRow",
    "pod_row",
    "pods_table",
    "table_writer",
]

JSON = Mapping[str, Any]

COLUMNS = ("NAME", "READY", "STATUS", "RESTARTS", "AGE")
WIDE_COLUMNS = (*COLUMNS, "IP", "NODE", "NOMINATED NODE", "READINESS GATES")


@dataclass(frozen=True)
class PodRow:
    """One row of ``get pods``, as strings."""

    namespace: str
    name: str
    ready: str
    status: str
    restarts: str
    age: str
    ip: str
    node: str
    nominated_node: str
    readiness_gates: str

    def cells(self, *, wide: bool, namespaced: bool) -> list[str]:
        cells = [self.name, self.ready, self.status, self.restarts, self.age]
        if wide:
            cells += [self.ip, self.node, self.nominated_node, self.readiness_gates]
        if namespaced:
            cells.insert(0, self.namespace)
        return cells


def _mapping(value: object) -> JSON:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[JSON]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _is_restartable(container: JSON | None) -> bool:
    return container is not None and container.get("restartPolicy") == "Always"


class _LastRestart:
    """The latest ``lastState.terminated.finishedAt`` seen (the "(5m ago)" of RESTARTS)."""

    def __init__(self) -> None:
        self.moment: datetime | None = None

    def see(self, status: JSON) -> None:
        terminated = _mapping(_mapping(status.get("lastState")).get("terminated"))
        if not terminated:
            return
        finished = parse_time(terminated.get("finishedAt"))
        if finished is not None and (self.moment is None or finished > self.moment):
            self.moment = finished


def _terminated_reason(terminated: JSON, prefix: str = "") -> str:
    reason = terminated.get("reason")
    if isinstance(reason, str) and reason:
        return prefix + reason
    signal = _int(terminated.get("signal"))
    if signal:
        return f"{prefix}Signal:{signal}"
    return f"{prefix}ExitCode:{_int(terminated.get('exitCode'))}"


def _condition_true(status: JSON, kind: str) -> bool:
    return any(
        condition.get("type") == kind and condition.get("status") == "True"
        for condition in _list(status.get("conditions"))
    )


def pod_row(pod: JSON, now: datetime) -> PodRow:
    """The ``get pods`` row of one Pod at ``now``."""
    metadata, spec, status = (_mapping(pod.get(key)) for key in ("metadata", "spec", "status"))
    init_specs = {str(c.get("name")): c for c in _list(spec.get("initContainers"))}
    total = len(_list(spec.get("containers"))) + sum(
        1 for c in init_specs.values() if _is_restartable(c)
    )
    ready = 0
    restarts = 0
    sidecar_restarts = 0
    last_restart = _LastRestart()
    last_sidecar_restart = _LastRestart()

    phase = str(status.get("phase") or "")
    reason = str(status.get("reason") or "") or phase
    for condition in _list(status.get("conditions")):
        if condition.get("type") == "PodScheduled" and condition.get("reason") == (
            "SchedulingGated"
        ):
            reason = "SchedulingGated"

    init_statuses = _list(status.get("initContainerStatuses"))
    initializing = False
    for index, container in enumerate(init_statuses):
        restarts += _int(container.get("restartCount"))
        last_restart.see(container)
        sidecar = _is_restartable(init_specs.get(str(container.get("name"))))
        if sidecar:
            sidecar_restarts += _int(container.get("restartCount"))
            last_sidecar_restart.see(container)
        state = _mapping(container.get("state"))
        terminated = _mapping(state.get("terminated"))
        waiting = _mapping(state.get("waiting"))
        if terminated and _int(terminated.get("exitCode")) == 0:
            continue
        if sidecar and container.get("started") is True:
            if container.get("ready") is True:
                ready += 1
            continue
        initializing = True
        if terminated:
            reason = _terminated_reason(terminated, "Init:")
        elif waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        break

    if not initializing or _condition_true(status, "Initialized"):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        for container in reversed(_list(status.get("containerStatuses"))):
            restarts += _int(container.get("restartCount"))
            last_restart.see(container)
            state = _mapping(container.get("state"))
            terminated = _mapping(state.get("terminated"))
            waiting = _mapping(state.get("waiting"))
            if waiting.get("reason"):
                reason = str(waiting["reason"])
            elif terminated:
                reason = _terminated_reason(terminated)
            elif container.get("ready") is True and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"

    if metadata.get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart.moment is not None:
        ago = human_duration((now - last_restart.moment).total_seconds())
        restarts_text = f"{restarts} ({ago} ago)"

    pod_ips = _list(status.get("podIPs"))
    ip = str(pod_ips[0].get("ip") or "") if pod_ips else ""
    gates = _list(spec.get("readinessGates"))
    readiness_gates = "<none>"
    if gates:
        true_gates = sum(
            1 for gate in gates if _condition_true(status, str(gate.get("conditionType")))
        )
        readiness_gates = f"{true_gates}/{len(gates)}"
    return PodRow(
        namespace=str(metadata.get("namespace") or ""),
        name=str(metadata.get("name") or ""),
        ready=f"{ready}/{total}",
        status=reason,
        restarts=restarts_text,
        age=since(metadata.get("creationTimestamp"), now),
        ip=ip or "<none>",
        node=str(spec.get("nodeName") or "") or "<none>",
        nominated_node=str(status.get("nominatedNodeName") or "") or "<none>",
        readiness_gates=readiness_gates,
    )


def table_writer() -> TabWriter:
    """kubectl's table settings: minimum width 6, padding 3, widths remembered."""
    return TabWriter(minwidth=6, padding=3, remember=True)


def pods_table(
    rows: Iterable[PodRow],
    *,
    wide: bool = False,
    namespaced: bool = False,
    header: bool = True,
    writer: TabWriter | None = None,
) -> str:
    """The table text, header first unless ``header`` is False (later rows of ``-w``)."""
    lines: list[Sequence[str]] = []
    if header:
        columns = list(WIDE_COLUMNS if wide else COLUMNS)
        if namespaced:
            columns.insert(0, "NAMESPACE")
        lines.append(columns)
    lines.extend(row.cells(wide=wide, namespaced=namespaced) for row in rows)
    text = "".join("\t".join(cells) + "\n" for cells in lines)
    return (writer or table_writer()).format(text)
