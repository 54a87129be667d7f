"""The dashboard's modal screens: a yes/no question, a scrollable text (describe), the keys."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["KEYS", "Confirm", "TextScreen"]

KEYS = """\
Pods (the arrows select one)
  /          filter by name, or by labels: app=web,tier!=db (esc: clear)
  d          describe the pod (as kubectl describe)
  ctrl+d     delete it gracefully: preStop, stop signal, grace, SIGKILL
  ctrl+k     kill it: delete with grace period 0
  r          restart the selected container (a graceful stop, then
             the restart policy applies)
  c          select the pod's next container
  t          write its timeline picture to ./<pod>-timeline.svg

Panes
  tab        switch pane: the pods, then the pane below
  1 2 3 4    Containers, Logs, Events, Timeline
  l          the selected container's log, followed
  p          the previous instance's log (--previous), or back
  w          wrap long log lines, or not
  /          in the log: search (only the lines that match)

  q, ctrl+c  quit; under run --ui: stop the pods gracefully,
             and a second time: kill them
  ?          these keys (esc or q: close)
"""


class Confirm(ModalScreen[bool]):
    """``question`` with y/n; dismissed with True for yes."""

    DEFAULT_CSS = """
    Confirm { align: center middle; }
    Confirm > Vertical {
        width: 70; max-width: 95%; height: auto; border: round $warning; padding: 0 1;
    }
    Confirm .hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "yes"),
        Binding("n,escape", "answer(False)", "no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.question))
            yield Static("y: yes   n/esc: no", classes="hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class TextScreen(ModalScreen[None]):
    """A long text (``describe pod``, the keys), scrolled with the arrows; esc or q closes."""

    DEFAULT_CSS = """
    TextScreen { align: center middle; }
    TextScreen > VerticalScroll {
        width: 100%; height: 100%; border: round $primary; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "close"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = self.title_text
            scroll.border_subtitle = "esc: close"
            yield Static(Text(self.text), id="text")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)
