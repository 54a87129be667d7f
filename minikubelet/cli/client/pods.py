"""``get pods``' table: the apiserver's pod printer (``printPod``), the one the server uses.

The cells come from ``minikubelet.api.tables.pod_row``, the same function that builds the
server-side Tables kubectl prints, so ``minikubelet get pods`` and ``kubectl get pods`` can
never disagree. The rules, as kubectl has them:

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

from minikubelet.api import tables
from minikubelet.api.types import JSONView
from minikubelet.cli.client.tabwriter import TabWriter

__all__ = [
    "COLUMNS",
    "WIDE_COLUMNS",
    "PodRow",
    "pod_row",
    "pods_table",
    "table_writer",
]


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


def pod_row(pod: JSONView, now: datetime) -> PodRow:
    """The ``get pods`` row of one Pod at ``now``."""
    cells = [str(cell) for cell in tables.pod_row(pod, now)["cells"]]
    metadata = pod.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
    return PodRow(str(namespace or ""), *cells)


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
