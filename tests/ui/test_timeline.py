"""The timeline picture: a pure function of a fixed trace, snapshot-tested, valid XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from minikubelet.timeline import build_timeline, render_html, render_svg
from minikubelet.timeline.build import BarKind, MarkKind
from tests.ui.samples import POD, TRACE

SVG_NS = "{http://www.w3.org/2000/svg}"


class _SVGExtension(SingleFileSnapshotExtension):
    file_extension = "svg"
    _file_extension = "svg"
    _write_mode = WriteMode.TEXT


@pytest.fixture
def svg_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(_SVGExtension)


def test_the_svg_of_a_fixed_trace_matches_its_snapshot(svg_snapshot: SnapshotAssertion) -> None:
    svg = render_svg(build_timeline(TRACE, POD))
    assert svg == render_svg(build_timeline(TRACE, POD))  # the same bytes every time
    assert svg == svg_snapshot


def test_the_svg_parses_and_has_a_mark_for_every_signal() -> None:
    root = ET.fromstring(render_svg(build_timeline(TRACE, POD)))
    assert root.tag == f"{SVG_NS}svg"
    marks = [g for g in root.iter(f"{SVG_NS}g") if "signal" in g.get("class", "").split()]
    signals = [step for step in TRACE["steps"] if step["step"] == "Signal"]
    assert len(marks) == len(signals) == 5
    assert sorted((g.get("data-signal"), g.get("data-pids")) for g in marks) == [
        ("SIGKILL", "111"),
        ("SIGKILL", "120 121 122"),
        ("SIGTERM", "110"),
        ("SIGTERM", "120"),
        ("SIGTERM", "140"),
    ]
    titles = [g.findtext(f"{SVG_NS}title") or "" for g in marks]
    for step in signals:  # each mark says which step it draws
        assert sum(step["detail"] in title for title in titles) == 1, step
    # One row per container, init containers and sidecars first, each with its role.
    rows = [g for g in root.iter(f"{SVG_NS}g") if g.get("class") == "row"]
    assert [g.get("data-container") for g in rows] == ["migrate", "shipper", "app"]
    roles = [t.text for g in rows for t in g.iter(f"{SVG_NS}text") if t.get("class") == "role"]
    assert roles == ["init", "sidecar", "container"]


def test_the_timeline_reads_states_windows_and_marks_from_the_steps() -> None:
    timeline = build_timeline(TRACE, POD)
    app = timeline.rows[2]
    assert [(bar.kind, bar.start, bar.end) for bar in app.bars if bar.kind is not BarKind.HOOK] == [
        (BarKind.WAITING, 0.0, 0.92),
        (BarKind.RUNNING, 0.92, 7.03),
        (BarKind.TERMINATED, 7.03, 7.04),
        (BarKind.WAITING, 7.04, 7.05),
        (BarKind.RUNNING, 7.05, 7.4),
        (BarKind.TERMINATED, 7.4, 7.41),
        (BarKind.BACKOFF, 7.41, 9.41),
        (BarKind.WAITING, 9.41, 9.42),
        (BarKind.RUNNING, 9.42, 11.2),
        (BarKind.TERMINATED, 11.2, pytest.approx(11.31 * 1.04)),
    ]
    assert app.bars[0].label == "PodInitializing"  # a main container waits for the init ones
    hooks = [(bar.start, bar.end, bar.label) for bar in app.bars if bar.kind is BarKind.HOOK]
    assert hooks == [(0.92, 1.1, "postStart exec true"), (4.0, 5.0, "preStop sleep 1s")]
    # The first stop ran out of grace at the Grace step; the last one is cut at the end.
    assert [(w.start, w.end, w.grace) for w in app.windows] == [
        (4.0, 7.0, 3.0),
        (11.0, pytest.approx(11.31 * 1.04), 3.0),
    ]
    kinds = [(mark.kind, mark.label) for mark in app.marks if mark.kind is not MarkKind.SIGNAL]
    assert (MarkKind.PROBE, "liveness failure") in kinds
    assert (MarkKind.EXIT, "exit 137 SIGKILL") in kinds
    assert (MarkKind.RESTART, "back-off 2s") in kinds
    assert (MarkKind.GRACE, "grace over") in kinds
    assert timeline.end == pytest.approx(11.31 * 1.04)  # nothing runs: the last step, and a margin


def test_a_running_container_is_drawn_up_to_the_moment_observed() -> None:
    trace = {
        "steps": [{"container": "app", "step": "Spawned", "detail": "pid 7: sleep", "offset": 0}],
        "observed": {"offset": 42.0},
    }
    [row] = build_timeline(trace).rows
    assert [(bar.kind, bar.end, bar.label) for bar in row.bars] == [
        (BarKind.RUNNING, 42.0, "pid 7")
    ]


def test_an_empty_trace_still_draws() -> None:
    root = ET.fromstring(render_svg(build_timeline({"steps": []}, POD)))
    assert [
        g.get("data-container") for g in root.iter(f"{SVG_NS}g") if g.get("class") == "row"
    ] == [
        "migrate",
        "shipper",
        "app",
    ]


def test_the_html_page_is_standalone() -> None:
    page = render_html(build_timeline(TRACE, POD))
    tags: list[str] = []
    urls: list[str] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            tags.append(tag)
            urls.extend(v or "" for k, v in attrs if k in ("src", "href"))

    Collect().feed(page)
    assert "svg" in tags
    assert "table" in tags
    assert "script" not in tags
    assert urls == []  # nothing to fetch: it opens offline
    assert page.count("<tr") == len(TRACE["steps"]) + 1
