"""From a ``PodTrace`` (and the Pod) to a timeline: rows of bars, windows and marks.

A pure function of its input: the trace's ``steps`` (``GET .../pods/{name}/trace``: each
kept lifecycle step with its ``offset`` in seconds from the first one) and, when given, the
Pod's JSON, which says which containers are init containers or sidecars and in which
order they come, and the reason of a state the steps do not spell out (``OOMKilled``,
``StartError``, a current ``Waiting`` reason).

Per container, the steps are a small state machine:

- before its first ``Spawned``: Waiting (``PodInitializing`` / ``ContainerCreating``);
- ``Spawned`` -> Running (``pid N``) until ``Exited`` -> Terminated (``Completed``,
  ``Error``) until ``Restart``: ``in Ns (crash-loop back-off)`` opens a back-off window
  (Waiting ``CrashLoopBackOff``), ``now (restart #N)`` a short Waiting until the next
  ``Spawned``;
- ``Killing ... (grace period Gs)`` opens the grace window, which ends at the ``Grace``
  step when the grace ran out (the real deadline), else after G seconds;
- ``Killing preStop ...`` to ``Hook preStop ...`` and ``Hook postStart ... started`` to
  its result are hook bars inside the running bar;
- every ``Signal``, ``Probe``, ``Hook`` result, ``Exited``, ``Restart`` and ``Grace`` is
  a mark at its moment; a signal mark keeps the signal name and the pids.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from minikubelet.api.types import JSONView

__all__ = [
    "Bar",
    "BarKind",
    "Mark",
    "MarkKind",
    "Row",
    "Timeline",
    "TraceStep",
    "Window",
    "build_timeline",
    "describe_steps",
    "trace_steps",
]


_GRACE = re.compile(r"\(grace period (\d+(?:\.\d+)?)s\)")
_BACKOFF = re.compile(r"^in (.+?) \(crash-loop back-off\)")
_EXIT = re.compile(r"^code (-?\d+)(?: \(killed by (SIG[A-Z0-9]+)\))?")
_SIGNAL = re.compile(r"^(SIG[A-Z0-9]+) -> (.*)$")
_PIDS = re.compile(r"\d+")


class BarKind(StrEnum):
    WAITING = "waiting"
    RUNNING = "running"
    TERMINATED = "terminated"
    BACKOFF = "backoff"
    HOOK = "hook"  # postStart or preStop running: drawn inside the running bar


class MarkKind(StrEnum):
    SIGNAL = "signal"
    PROBE = "probe"
    HOOK = "hook"
    EXIT = "exit"
    KILLING = "killing"
    GRACE = "grace"
    RESTART = "restart"


@dataclass(frozen=True)
class TraceStep:
    """One step of the trace as the timeline reads it."""

    container: str
    step: str
    detail: str
    offset: float
    time: str = ""


@dataclass(frozen=True)
class Bar:
    kind: BarKind
    start: float
    end: float
    label: str
    detail: str = ""  # the tooltip


@dataclass(frozen=True)
class Window:
    """The grace period of one stop: from Killing to the deadline."""

    start: float
    end: float
    grace: float
    detail: str


@dataclass(frozen=True)
class Mark:
    kind: MarkKind
    at: float
    label: str
    detail: str
    ok: bool | None = None  # probes and hooks: succeeded or not
    signal: str = ""  # signals: SIGTERM, SIGKILL, ...
    pids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Row:
    container: str
    role: str  # "init", "sidecar" or "container"
    bars: tuple[Bar, ...]
    marks: tuple[Mark, ...]
    windows: tuple[Window, ...]


@dataclass(frozen=True)
class Timeline:
    pod: str
    rows: tuple[Row, ...]
    end: float  # the right end of the time axis, in seconds
    started: str = ""  # the wall time of offset 0, RFC 3339
    steps: tuple[TraceStep, ...] = field(default=())


def _mapping(value: object) -> JSONView:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[JSONView]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _number(value: object) -> float:
    if isinstance(value, bool):
        return 0.0
    return float(value) if isinstance(value, int | float) else 0.0


def trace_steps(trace: JSONView) -> list[TraceStep]:
    """The ``steps`` of a ``PodTrace``, in order (an older server's trace has none)."""
    return [
        TraceStep(
            container=str(step.get("container") or ""),
            step=str(step.get("step") or ""),
            detail=str(step.get("detail") or ""),
            offset=_number(step.get("offset")),
            time=str(step.get("time") or ""),
        )
        for step in _list(trace.get("steps"))
    ]


def _roles(pod: JSONView) -> dict[str, str]:
    spec = _mapping(pod.get("spec"))
    roles: dict[str, str] = {}
    for container in _list(spec.get("initContainers")):
        sidecar = container.get("restartPolicy") == "Always"
        roles[str(container.get("name"))] = "sidecar" if sidecar else "init"
    for container in _list(spec.get("containers")):
        roles[str(container.get("name"))] = "container"
    return roles


def _statuses(pod: JSONView) -> dict[str, JSONView]:
    status = _mapping(pod.get("status"))
    return {
        str(entry.get("name")): entry
        for key in ("initContainerStatuses", "containerStatuses")
        for entry in _list(status.get(key))
    }


class _RowBuilder:
    """The state machine of one container's steps."""

    def __init__(self, container: str, role: str, waiting_reason: str) -> None:
        self.container = container
        self.role = role
        self.bars: list[Bar] = []
        self.marks: list[Mark] = []
        self.windows: list[Window] = []
        # The bar being drawn: (kind, start, label, detail).
        self.open: tuple[BarKind, float, str, str] = (BarKind.WAITING, 0.0, waiting_reason, "")
        self.hook_open: tuple[float, str] | None = None
        self.killing: tuple[float, float, str] | None = None  # (start, grace, detail)

    def switch(self, at: float, kind: BarKind, label: str, detail: str = "") -> None:
        open_kind, start, open_label, open_detail = self.open
        if at > start or open_kind is BarKind.RUNNING:
            self.bars.append(Bar(open_kind, start, at, open_label, open_detail))
        self.open = (kind, at, label, detail)

    def close_hook(self, at: float) -> None:
        if self.hook_open is not None:
            start, label = self.hook_open
            self.bars.append(Bar(BarKind.HOOK, start, at, label, label))
            self.hook_open = None

    def close_window(self, end: float) -> None:
        if self.killing is not None:
            start, grace, detail = self.killing
            self.windows.append(Window(start, max(end, start), grace, detail))
            self.killing = None

    def mark(self, kind: MarkKind, step: TraceStep, label: str, **fields: Any) -> None:
        detail = f"+{step.offset:.3f}s {step.step}: {step.detail}"
        self.marks.append(Mark(kind, step.offset, label, detail, **fields))

    def feed(self, step: TraceStep) -> None:
        at, detail = step.offset, step.detail
        match step.step:
            case "Spawned":
                pid = detail.split(":", 1)[0].removeprefix("pid ").strip()
                self.switch(at, BarKind.RUNNING, f"pid {pid}", detail)
            case "Exited":
                self.close_hook(at)
                found = _EXIT.match(detail)
                code = int(found.group(1)) if found else 0
                killed_by = found.group(2) if found and found.group(2) else ""
                reason = "Completed" if code == 0 else "Error"
                self.switch(at, BarKind.TERMINATED, f"{reason} ({code})", detail)
                label = f"exit {code}" + (f" {killed_by}" if killed_by else "")
                self.mark(MarkKind.EXIT, step, label, ok=code == 0)
                if self.killing is not None:
                    start, grace, _ = self.killing
                    self.close_window(start + grace)
            case "Restart":
                backoff = _BACKOFF.match(detail)
                if backoff:
                    label = f"CrashLoopBackOff {backoff.group(1)}"
                    self.switch(at, BarKind.BACKOFF, label, f"back-off {backoff.group(1)}")
                    self.mark(MarkKind.RESTART, step, f"back-off {backoff.group(1)}")
                else:
                    self.switch(at, BarKind.WAITING, "", detail)
                    label = detail.removeprefix("now (").removesuffix(")")
                    self.mark(MarkKind.RESTART, step, label)
            case "Killing":
                grace_match = _GRACE.search(detail)
                grace = float(grace_match.group(1)) if grace_match else 0.0
                self.close_window(at)
                self.killing = (at, grace, detail)
                self.mark(MarkKind.KILLING, step, f"stop (grace {grace:g}s)")
                if detail.startswith("preStop "):
                    self.close_hook(at)
                    self.hook_open = (at, detail.split(" (grace", 1)[0])
            case "Hook":
                if detail.endswith(" started"):
                    self.close_hook(at)
                    self.hook_open = (at, detail.removesuffix(" started"))
                    return
                self.close_hook(at)
                hook, _, verdict = detail.partition(" ")
                ok = verdict == "succeeded"
                self.mark(MarkKind.HOOK, step, f"{hook} {verdict}", ok=ok)
            case "Probe":
                kind, _, result = detail.partition(" probe: ")
                ok = result == "success"
                self.mark(MarkKind.PROBE, step, f"{kind} {result}", ok=ok)
            case "Signal":
                found = _SIGNAL.match(detail)
                name = found.group(1) if found else "signal"
                rest = found.group(2) if found else detail
                pids = tuple(int(pid) for pid in _PIDS.findall(rest.split("(pids", 1)[-1]))
                if "(pids" not in rest:
                    pids = tuple(int(pid) for pid in _PIDS.findall(rest))[:1]
                count = f"{pids[0]}" if len(pids) == 1 else f"{len(pids)} pids"
                label = f"{name} → {count}"
                self.mark(MarkKind.SIGNAL, step, label, signal=name, pids=pids)
            case "Grace":
                self.mark(MarkKind.GRACE, step, "grace over")
                self.close_window(at)
            case _:
                self.mark(MarkKind.HOOK, step, step.step)

    def finish(self, end: float, status: JSONView) -> Row:
        self.close_hook(end)
        if self.killing is not None:
            start, grace, _ = self.killing
            self.close_window(min(start + grace, end))
        kind, start, label, detail = self.open
        state = _mapping(status.get("state"))
        terminated = _mapping(state.get("terminated"))
        waiting = _mapping(state.get("waiting"))
        if kind is BarKind.TERMINATED and terminated.get("reason"):
            code = int(_number(terminated.get("exitCode")))
            label = f"{terminated['reason']} ({code})"
        elif kind is BarKind.WAITING and waiting.get("reason"):
            label = str(waiting["reason"])
        elif kind is BarKind.WAITING and not label and terminated:
            label = str(terminated.get("reason") or "Terminated")
            kind = BarKind.TERMINATED
        self.open = (kind, start, label, detail)
        self.switch(end, kind, label)
        windows = tuple(replace(w, end=min(w.end, end)) for w in self.windows)
        return Row(self.container, self.role, tuple(self.bars), tuple(self.marks), windows)


def build_timeline(trace: JSONView, pod: JSONView | None = None, *, name: str = "") -> Timeline:
    """The timeline of a ``PodTrace`` (and its Pod, for container roles and reasons)."""
    pod = pod or {}
    metadata = _mapping(pod.get("metadata"))
    label = name or "/".join(
        part for part in (metadata.get("namespace"), metadata.get("name")) if part
    )
    steps = trace_steps(trace)
    roles = _roles(pod)
    statuses = _statuses(pod)
    order: list[str] = list(roles)
    for entry in _list(trace.get("containers")):
        if str(entry.get("name")) not in order:
            order.append(str(entry.get("name")))
    for step in steps:
        if step.container not in order:
            order.append(step.container)

    last = max((step.offset for step in steps), default=0.0)
    observed = _number(_mapping(trace.get("observed")).get("offset"))
    builders = {
        container: _RowBuilder(
            container, roles.get(container, "container"), _initial_reason(roles, container)
        )
        for container in order
    }
    for step in steps:
        builders[step.container].feed(step)
    still_going = any(
        builder.open[0] in (BarKind.RUNNING, BarKind.BACKOFF) for builder in builders.values()
    )
    # A little room after the last step, so that the final states show as bars too.
    end = max(observed, last) if still_going else last + max(last * 0.04, 0.05)
    rows = tuple(
        builders[container].finish(end, statuses.get(container, {})) for container in order
    )
    return Timeline(
        pod=label,
        rows=rows,
        end=end,
        started=steps[0].time if steps else "",
        steps=tuple(steps),
    )


def _initial_reason(roles: Mapping[str, str], container: str) -> str:
    """The kubelet's reason for a container not started yet: ``PodInitializing`` for any
    container behind an init container, else ``ContainerCreating``."""
    first_init = next((name for name, role in roles.items() if role != "container"), None)
    if first_init is not None and container != first_init:
        return "PodInitializing"
    return "ContainerCreating"


def describe_steps(steps: Sequence[TraceStep]) -> list[str]:
    """The steps as text lines, ``+1.002s  Signal     app  SIGTERM -> pid 10070``."""
    return [
        f"+{step.offset:.3f}s  {step.step:<10} {step.container}  {step.detail}" for step in steps
    ]
