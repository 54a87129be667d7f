"""Go's ``text/tabwriter``, the part kubectl uses: elastic tab stops with space padding.

kubectl prints tables and ``describe`` through it, and the exact look of its output
(columns that realign after a line without tabs, for instance) comes from its rules:

- a line is a sequence of *cells*, each terminated by a tab; the text after the last tab is
  not a cell and is never padded;
- a *column block* is a run of consecutive lines that all have a cell in that column; each
  block gets its own width: the widest cell plus ``padding`` (at least ``minwidth``);
- a line with fewer cells ends the blocks of the columns it lacks.

``remember`` keeps the widths of earlier calls as minimums (kubectl's ``RememberWidths``,
which keeps ``get -w`` rows aligned with the header printed before them).
"""

from __future__ import annotations

__all__ = ["TabWriter", "tabulate"]


class TabWriter:
    """Formats tab-separated text; one instance per output stream when widths are remembered."""

    def __init__(self, *, minwidth: int, padding: int, remember: bool = False) -> None:
        self.minwidth = minwidth
        self.padding = padding
        self.remember = remember
        self._remembered: list[int] = []

    def format(self, text: str) -> str:
        """Align ``text`` (lines of tab-terminated cells) and return it."""
        ends_with_newline = text.endswith("\n")
        lines = [
            line.split("\t") for line in (text[:-1] if ends_with_newline else text).split("\n")
        ]
        out: list[str] = []
        self._format(lines, 0, len(lines), [], out)
        result = "\n".join(out)
        return result + "\n" if ends_with_newline else result

    def _width(self, column: int, computed: int) -> int:
        if not self.remember:
            return computed
        while len(self._remembered) <= column:
            self._remembered.append(0)
        self._remembered[column] = max(self._remembered[column], computed)
        return self._remembered[column]

    def _format(
        self, lines: list[list[str]], start: int, stop: int, widths: list[int], out: list[str]
    ) -> None:
        column = len(widths)
        pending = start
        index = start
        while index < stop:
            if column >= len(lines[index]) - 1:
                index += 1
                continue
            self._write(lines, pending, index, widths, out)
            block_start = index
            width = self.minwidth
            while index < stop and column < len(lines[index]) - 1:
                width = max(width, len(lines[index][column]) + self.padding)
                index += 1
            widths.append(self._width(column, width))
            self._format(lines, block_start, index, widths, out)
            widths.pop()
            pending = index
        self._write(lines, pending, stop, widths, out)

    @staticmethod
    def _write(
        lines: list[list[str]], start: int, stop: int, widths: list[int], out: list[str]
    ) -> None:
        for cells in lines[start:stop]:
            parts = []
            for number, cell in enumerate(cells):
                parts.append(cell.ljust(widths[number]) if number < len(widths) else cell)
            out.append("".join(parts))


def tabulate(text: str, *, minwidth: int = 0, padding: int = 2) -> str:
    """One-off formatting with ``describe``'s settings (minwidth 0, padding 2)."""
    return TabWriter(minwidth=minwidth, padding=padding).format(text)
