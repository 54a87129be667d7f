"""What the dashboard shows, as pure functions of the API's JSON and ``now``.

The pods table is ``get pods``' own printer (``cli.client.pods.pod_row``: READY, STATUS with
its reasons, RESTARTS with "(5m ago)", AGE) plus ``top pods``' CPU and MEMORY
(``cli.client.top``); the containers pane reads each container's status and, for its probes,
the trace (a ``Probe`` step is a verdict that changed); the filter is a name substring or a
label selector (``app=web,tier!=db``). Nothing here draws or does I/O, so it is tested
with tables of sample JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from minikubelet.api.types import JSONView
from minikubelet.cli.client.humanize import human_duration, parse_time
from minikubelet.cli.client.pods import pod_row
from minikubelet.cli.client.top import Usage, format_cpu, format_memory, pod_usages
from minikubelet.timeline.build import trace_steps

__all__ = [
    "POD_COLUMNS",
    "ContainerLine",
    "PodLine",
    "PodStore",
    "container_lines",
    "container_names",
    "event_lines",
    "matches_filter",
    "pod_key",
    "pod_lines",
    "status_tone",
    "usage_by_pod",
]

POD_COLUMNS = ("NAME", "READY", "STATUS", "RESTARTS", "AGE", "CPU", "MEMORY")


def _mapping(value: object) -> JSONView:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[JSONView]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def pod_key(pod: JSONView) -> str:
    """``namespace/name``: the dashboard's key for a pod."""
    metadata = _mapping(pod.get("metadata"))
    return f"{metadata.get('namespace') or 'default'}/{metadata.get('name') or ''}"


class PodStore:
    """The pods as the last list and the watch events since have them."""

    def __init__(self) -> None:
        self.pods: dict[str, dict[str, Any]] = {}
        self.version = ""

    def replace(self, listing: JSONView) -> None:
        self.pods = {pod_key(item): dict(item) for item in _list(listing.get("items"))}
        self.version = str(_mapping(listing.get("metadata")).get("resourceVersion") or "")

    def apply(self, event: JSONView) -> bool:
        """Apply one ``WatchEvent``; False for an ERROR (the caller relists)."""
        kind = event.get("type")
        obj = _mapping(event.get("object"))
        if kind == "ERROR" or not obj:
            return False
        version = _mapping(obj.get("metadata")).get("resourceVersion")
        if version:
            self.version = str(version)
        if kind == "DELETED":
            self.pods.pop(pod_key(obj), None)
        elif kind in ("ADDED", "MODIFIED"):
            self.pods[pod_key(obj)] = dict(obj)
        return True

    def sorted(self) -> list[dict[str, Any]]:
        return [self.pods[key] for key in sorted(self.pods)]


@dataclass(frozen=True)
class _Selector:
    key: str
    op: str  # "=", "!=", "exists", "!exists"
    value: str = ""

    def matches(self, labels: JSONView) -> bool:
        match self.op:
            case "=":
                return labels.get(self.key) == self.value
            case "!=":
                return labels.get(self.key) != self.value
            case "exists":
                return self.key in labels
            case _:
                return self.key not in labels


def _selectors(text: str) -> list[_Selector] | None:
    """A label selector's terms, or None when ``text`` is a plain name filter."""
    if "=" not in text and not text.startswith("!") and "," not in text:
        return None
    terms = []
    for raw in text.split(","):
        term = raw.strip()
        if not term:
            continue
        if "!=" in term:
            key, _, value = term.partition("!=")
            terms.append(_Selector(key.strip(), "!=", value.strip()))
        elif "=" in term:
            key, _, value = term.partition("=")
            terms.append(_Selector(key.strip(), "=", value.lstrip("=").strip()))
        elif term.startswith("!"):
            terms.append(_Selector(term[1:].strip(), "!exists"))
        else:
            terms.append(_Selector(term, "exists"))
    return terms


def matches_filter(pod: JSONView, text: str) -> bool:
    """The filter: a label selector (``app=web``, ``tier!=db``, ``canary``, ``!canary``,
    comma-separated, all must hold) or else a case-insensitive substring of the name."""
    text = text.strip()
    if not text:
        return True
    metadata = _mapping(pod.get("metadata"))
    selectors = _selectors(text)
    if selectors is None:
        return text.lower() in str(metadata.get("name") or "").lower()
    labels = _mapping(metadata.get("labels"))
    return all(selector.matches(labels) for selector in selectors)


def usage_by_pod(summary: JSONView) -> dict[str, Usage]:
    """``/stats/summary`` as each pod's total usage, by ``namespace/name``."""
    return {f"{total.namespace}/{total.pod}": total for total, _ in pod_usages(summary)}


@dataclass(frozen=True)
class PodLine:
    """One row of the dashboard's pods table."""

    key: str
    cells: tuple[str, ...]  # POD_COLUMNS
    status: str


def pod_lines(
    pods: Iterable[JSONView], usage: Mapping[str, Usage], now: datetime, text_filter: str = ""
) -> list[PodLine]:
    lines = []
    for pod in pods:
        if not matches_filter(pod, text_filter):
            continue
        key = pod_key(pod)
        row = pod_row(pod, now)
        name = row.name if row.namespace in ("", "default") else f"{row.namespace}/{row.name}"
        used = usage.get(key)
        cpu = format_cpu(used.nano_cores) if used is not None else "-"
        memory = format_memory(used.memory_bytes) if used is not None else "-"
        cells = (name, row.ready, row.status, row.restarts, row.age, cpu, memory)
        lines.append(PodLine(key, cells, row.status))
    return lines


_GOOD = {"Running", "Completed", "Succeeded"}
_BUSY = {"Pending", "ContainerCreating", "PodInitializing", "Terminating", "NotReady"}


def status_tone(status: str) -> str:
    """``good``, ``busy`` or ``bad``: how the STATUS cell is emphasised."""
    if status in _GOOD:
        return "good"
    if status in _BUSY or (status.startswith("Init:") and status[5:6].isdigit()):
        return "busy"
    return "bad"


def container_names(pod: JSONView) -> list[str]:
    """Every container of the pod, in spec order: init containers (and sidecars) first."""
    spec = _mapping(pod.get("spec"))
    return [
        str(container.get("name"))
        for key in ("initContainers", "containers")
        for container in _list(spec.get(key))
    ]


@dataclass(frozen=True)
class ContainerLine:
    """One row of the containers pane."""

    name: str
    role: str
    state: str
    ready: str
    restarts: str
    last: str
    probes: str


def _state_text(state: JSONView, now: datetime) -> str:
    if "running" in state:
        started = parse_time(_mapping(state["running"]).get("startedAt"))
        age = human_duration((now - started).total_seconds()) if started else "?"
        return f"Running {age}"
    if "terminated" in state:
        return "Terminated " + _terminated_text(_mapping(state["terminated"]), now)
    reason = _mapping(state.get("waiting")).get("reason")
    return f"Waiting {reason}" if reason else "Waiting"


def _terminated_text(terminated: JSONView, now: datetime) -> str:
    code = terminated.get("exitCode", 0)
    text = f"{terminated.get('reason') or 'Error'} ({code})"
    signal = terminated.get("signal")
    if isinstance(signal, int) and signal > 0:
        text += f" sig {signal}"
    finished = parse_time(terminated.get("finishedAt"))
    if finished is not None:
        text += f" {human_duration((now - finished).total_seconds())} ago"
    return text


_PROBES = (("startupProbe", "startup"), ("livenessProbe", "liveness"), ("readinessProbe", "ready"))


def _probe_results(trace: JSONView) -> dict[tuple[str, str], str]:
    """The latest verdict per (container, probe kind) of each container's current instance."""
    results: dict[tuple[str, str], str] = {}
    for step in trace_steps(trace):
        if step.step == "Spawned":
            for key in [key for key in results if key[0] == step.container]:
                del results[key]
        elif step.step == "Probe":
            kind, _, result = step.detail.partition(" probe: ")
            kind = "ready" if kind == "readiness" else kind
            results[(step.container, kind)] = result
    return results


def container_lines(pod: JSONView, trace: JSONView | None, now: datetime) -> list[ContainerLine]:
    """The containers of ``pod``: state, last termination, and each probe's last result.

    A probe with no verdict yet shows its initial result as the kubelet has it: startup and
    readiness start failed (``…``: pending), liveness starts succeeded.
    """
    spec, status = _mapping(pod.get("spec")), _mapping(pod.get("status"))
    statuses = {
        str(entry.get("name")): entry
        for key in ("initContainerStatuses", "containerStatuses")
        for entry in _list(status.get(key))
    }
    results = _probe_results(trace or {})
    lines = []
    for key in ("initContainers", "containers"):
        for container in _list(spec.get(key)):
            name = str(container.get("name"))
            role = "container"
            if key == "initContainers":
                role = "sidecar" if container.get("restartPolicy") == "Always" else "init"
            entry = statuses.get(name, {})
            last = _mapping(_mapping(entry.get("lastState")).get("terminated"))
            probes = []
            for field, kind in _PROBES:
                if not isinstance(container.get(field), Mapping):
                    continue
                result = results.get((name, kind))
                if result is None:
                    mark = "✓" if kind == "liveness" else "…"
                else:
                    mark = "✓" if result == "success" else "✗"
                probes.append(f"{kind} {mark}")
            lines.append(
                ContainerLine(
                    name=name,
                    role=role,
                    state=_state_text(_mapping(entry.get("state")), now) if entry else "-",
                    ready="yes" if entry.get("ready") is True else "no",
                    restarts=str(entry.get("restartCount", 0)),
                    last=_terminated_text(last, now) if last else "-",
                    probes=" ".join(probes) or "-",
                )
            )
    return lines


def event_lines(events: Sequence[JSONView], now: datetime) -> list[tuple[str, str, str, str]]:
    """The pod's events, newest last: (type, reason, age, message)."""

    def last_seen(event: JSONView) -> datetime:
        moment = parse_time(event.get("lastTimestamp")) or parse_time(event.get("eventTime"))
        return moment or datetime.min.replace(tzinfo=now.tzinfo)

    lines = []
    for event in sorted(events, key=last_seen):
        count = event.get("count")
        age = human_duration((now - last_seen(event)).total_seconds())
        if isinstance(count, int) and count > 1:
            age += f" (x{count})"
        message = str(event.get("message") or "").strip()
        lines.append((str(event.get("type") or ""), str(event.get("reason") or ""), age, message))
    return lines
