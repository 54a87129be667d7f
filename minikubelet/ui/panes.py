"""Filling the selected pod's panes: containers, events, timeline, only when they change.

The panes are refreshed every second (ages move on), so a refill must not fight the person
reading them: a pane is rewritten only when what it shows changed, the events keep the
cursor where it was unless it was on the newest (then it follows new ones), and the
containers pane keeps it on the selected container.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable, RichLog

from minikubelet.timeline import TraceStep
from minikubelet.ui.state import ContainerLine

__all__ = ["STEP_STYLES", "show_containers", "show_events", "show_steps"]

STEP_STYLES = {
    "Signal": "bold yellow",
    "Killing": "yellow",
    "Grace": "bold red",
    "Exited": "cyan",
    "Spawned": "green",
    "Probe": "magenta",
}
_TIMELINE_LINES = 300  # the newest steps; `trace --svg` draws them all


def _changed(memo: dict[str, Any], key: str, value: Any) -> bool:
    if memo.get(key) == value:
        return False
    memo[key] = value
    return True


def show_containers(
    table: DataTable[Any], lines: Sequence[ContainerLine], chosen: str | None, memo: dict[str, Any]
) -> None:
    if not _changed(memo, "containers", (list(lines), chosen)):
        return
    table.clear()
    for number, line in enumerate(lines):
        name = f"▸ {line.name}" if line.name == chosen else f"  {line.name}"
        cells = (line.role, line.state, line.ready, line.restarts, line.last, line.probes)
        table.add_row(name, *cells)
        if line.name == chosen:
            table.move_cursor(row=number, animate=False)


def show_events(
    table: DataTable[Any], lines: Sequence[tuple[str, str, str, str]], memo: dict[str, Any]
) -> None:
    if not _changed(memo, "events", list(lines)):
        return
    following = table.row_count == 0 or table.cursor_row >= table.row_count - 1
    cursor = table.cursor_row
    table.clear()
    for kind, reason, age, message in lines:
        style = "bold red" if kind == "Warning" else ""
        table.add_row(Text(kind, style=style), reason, age, message)
    if table.row_count:
        row = table.row_count - 1 if following else min(cursor, table.row_count - 1)
        table.move_cursor(row=row, animate=False)


def show_steps(log: RichLog, steps: Sequence[TraceStep], memo: dict[str, Any]) -> None:
    shown = list(steps[-_TIMELINE_LINES:])
    if not _changed(memo, "steps", shown):
        return
    log.clear()
    if not shown:
        log.write(Text("no steps yet", style="dim"))
    for step in shown:
        text = Text(f"+{step.offset:9.3f}s  ")
        text.append(f"{step.step:<8}", style=STEP_STYLES.get(step.step, ""))
        text.append(f" {step.container}  {step.detail}")
        log.write(text)
