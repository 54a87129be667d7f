"""Go's tabwriter rules, which give kubectl's output its exact look."""

from __future__ import annotations

from minikubelet.cli.client.tabwriter import TabWriter, tabulate


def test_cells_align_per_column_and_trailing_text_is_not_padded() -> None:
    assert tabulate("a:\t1\nlonger:\t2\n") == "a:       1\nlonger:  2\n"


def test_a_line_without_tabs_ends_the_block() -> None:
    text = "Name:\tweb\nContainers:\n  a-long-label:\tx\n  b:\ty\n"
    assert tabulate(text) == "Name:  web\nContainers:\n  a-long-label:  x\n  b:             y\n"


def test_nested_columns() -> None:
    text = "Type\tReason\tMessage\nNormal\tStarted\thello\nWarning\tBackOff\tagain\n"
    assert tabulate(text) == (
        "Type     Reason   Message\nNormal   Started  hello\nWarning  BackOff  again\n"
    )


def test_empty_cells_and_minimum_width() -> None:
    writer = TabWriter(minwidth=6, padding=3)
    assert writer.format("A\tB\n\tx\n") == "A     B\n      x\n"


def test_remembered_widths_only_grow() -> None:
    writer = TabWriter(minwidth=0, padding=1, remember=True)
    assert writer.format("long-name\tx\n") == "long-name x\n"
    assert writer.format("a\ty\n") == "a         y\n"
    assert writer.format("even-longer-name\tz\n") == "even-longer-name z\n"


def test_text_without_final_newline() -> None:
    assert tabulate("a\tb") == "a  b"
