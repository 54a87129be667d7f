"""Tables of any resource the server has a printer for, laid out as kubectl lays them.

The columns and cells are the server's (``minikubelet.api.tables``: the apiserver's
printers); kubectl upper-cases the column names, leaves out the ``priority: 1`` columns
unless ``-o wide``, and puts NAMESPACE first across namespaces.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from minikubelet.api import tables
from minikubelet.cli.client.tabwriter import TabWriter

__all__ = ["resource_table"]


def resource_table(
    resource: str,
    objects: Iterable[Mapping[str, Any]],
    now: datetime,
    *,
    wide: bool = False,
    namespaced: bool = False,
    header: bool = True,
    writer: TabWriter,
) -> str:
    """The table text of ``objects`` (``events``, ``pods``...), header first unless not."""
    printer = tables.RESOURCES[resource]
    shown = [i for i, column in enumerate(printer.columns) if wide or column.priority == 0]
    lines: list[Sequence[str]] = []
    if header:
        names = [printer.columns[i].name.upper() for i in shown]
        lines.append(["NAMESPACE", *names] if namespaced else names)
    for obj in objects:
        cells = printer.row(obj, now)["cells"]
        row = [str(cells[i]) for i in shown]
        if namespaced:
            metadata = obj.get("metadata")
            row.insert(
                0, str(metadata.get("namespace", "")) if isinstance(metadata, Mapping) else ""
            )
        lines.append(row)
    return writer.format("".join("\t".join(cells) + "\n" for cells in lines))
