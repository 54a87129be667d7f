"""A timeline as a standalone SVG picture: plain templated SVG, no library, no network.

Why by hand: the picture is rectangles, lines and text on a linear time axis, about two
hundred lines of string formatting. A plotting library (matplotlib, plotly) would bring
megabytes and a font or browser dependency, and its output changes between versions, which
would break the snapshot test; this output depends on the input only. Numbers are rounded
to one decimal and everything is drawn in a fixed order, so the same trace always gives the
same bytes.

The picture: a heading, one row per container (name and role on the left), time on the x
axis. Each row has its bars (Waiting, Running, Terminated, CrashLoopBackOff, and hooks as
a thin bar inside), its grace windows shaded behind, and its marks above the bar, each
label in the first free lane. Every element has a ``<title>`` (a tooltip in a browser) with
the step it comes from, and a class (``mark signal``, ``bar running``, ``window grace``...)
so that tests and stylesheets can find them.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from minikubelet.timeline.build import Bar, BarKind, Mark, MarkKind, Row, Timeline, Window

__all__ = ["WIDTH", "render_svg"]

WIDTH = 960
_LEFT = 170  # the container names
_RIGHT = 28
_TOP = 56
_LANE = 14  # one line of mark labels
_MAX_LANES = 4
_BAR = 18
_ROW_GAP = 14
_CHAR = 6.1  # the width of one character at the label font size, roughly
_NICE = (1, 2, 5)

_STYLE = """
text { font-family: ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace; fill: #1f2328; }
.bg { fill: #ffffff; }
.heading { font-size: 15px; font-weight: bold; }
.sub { font-size: 11px; fill: #57606a; }
.name { font-size: 12px; font-weight: bold; }
.role { font-size: 10px; fill: #57606a; }
.tick line { stroke: #d0d7de; stroke-width: 1; }
.tick text { font-size: 10px; fill: #57606a; }
.bar text { font-size: 10px; }
.bar.running rect { fill: #2da44e; }
.bar.running text { fill: #ffffff; }
.bar.terminated rect { fill: #8c959f; }
.bar.terminated text { fill: #ffffff; }
.bar.waiting rect { fill: #fff8c5; stroke: #d4a72c; stroke-dasharray: 3 2; }
.bar.backoff rect { fill: url(#hatch); stroke: #bc4c00; }
.bar.backoff text { fill: #953800; }
.bar.hook rect { fill: #0969da; }
.window.grace rect { fill: #fb8f44; fill-opacity: 0.16; stroke: #fb8f44; stroke-dasharray: 4 3; }
.window.grace text { font-size: 9px; fill: #bc4c00; }
.mark text { font-size: 10px; }
.mark line.leader { stroke: #8c959f; stroke-width: 0.6; }
.mark.signal line { stroke-width: 1.6; }
.mark.signal.SIGKILL line, .mark.signal.SIGKILL path { stroke: #cf222e; fill: #cf222e; }
.mark.signal.SIGKILL text { fill: #cf222e; font-weight: bold; }
.mark.signal line, .mark.signal path { stroke: #bc4c00; fill: #bc4c00; }
.mark.signal text { fill: #953800; font-weight: bold; }
.mark.ok circle, .mark.ok rect, .mark.ok path { fill: #2da44e; stroke: #1a7f37; }
.mark.failed circle, .mark.failed rect, .mark.failed path { fill: #cf222e; stroke: #82071e; }
.mark.failed text { fill: #cf222e; }
.mark.killing line { stroke: #bc4c00; stroke-dasharray: 2 2; }
.mark.grace line { stroke: #cf222e; stroke-width: 2.5; }
.mark.restart circle { fill: #ffffff; stroke: #0969da; stroke-width: 1.5; }
.mark.restart text { fill: #0969da; }
.legend text { font-size: 10px; fill: #57606a; }
"""


def _f(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _tick_step(end: float) -> float:
    magnitude = 0.001
    while True:
        for nice in _NICE:
            step = nice * magnitude
            if end / step <= 10:
                return step
        magnitude *= 10


def _time_label(seconds: float, step: float) -> str:
    if step >= 60 and seconds >= 60:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    digits = 0 if step >= 1 else len(f"{step:.3f}".rstrip("0").split(".")[1])
    return f"{seconds:.{digits}f}s"


class _Lanes:
    """Where the labels of one row go: the first lane where a label does not overlap."""

    def __init__(self) -> None:
        self.used: list[list[tuple[float, float]]] = []

    def place(self, left: float, right: float) -> int | None:
        for number, lane in enumerate(self.used):
            if all(right + 4 < a or left - 4 > b for a, b in lane):
                lane.append((left, right))
                return number
        if len(self.used) < _MAX_LANES:
            self.used.append([(left, right)])
            return len(self.used) - 1
        return None


class _Canvas:
    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.x0 = float(_LEFT)
        self.x1 = float(WIDTH - _RIGHT)
        self.parts: list[str] = []

    def x(self, seconds: float) -> float:
        end = self.timeline.end or 1.0
        return self.x0 + (self.x1 - self.x0) * min(max(seconds / end, 0.0), 1.0)

    def add(self, text: str) -> None:
        self.parts.append(text)


def _title(text: str) -> str:
    return f"<title>{escape(text)}</title>"


def _label_box(canvas: _Canvas, x: float, label: str) -> tuple[float, float, str]:
    """(left, right, anchor) of a label written beside ``x``, kept inside the plot."""
    width = len(label) * _CHAR
    if x + 3 + width <= canvas.x1 + _RIGHT - 2:
        return x + 3, x + 3 + width, "start"
    return x - 3 - width, x - 3, "end"


def _row_marks(canvas: _Canvas, row: Row) -> tuple[list[tuple[Mark, int | None]], int]:
    lanes = _Lanes()
    placed = []
    for mark in sorted(row.marks, key=lambda m: (m.at, m.kind.value)):
        left, right, _ = _label_box(canvas, canvas.x(mark.at), mark.label)
        placed.append((mark, lanes.place(left, right)))
    return placed, len(lanes.used)


def _bar(canvas: _Canvas, bar: Bar, y: float) -> None:
    left, right = canvas.x(bar.start), canvas.x(bar.end)
    width = max(right - left, 1.0)
    height, top = (_BAR, y)
    if bar.kind is BarKind.HOOK:
        height, top = 5, y + _BAR - 5  # along the bottom of the running bar
    seconds = f"+{bar.start:.3f}s to +{bar.end:.3f}s"
    kind = {
        BarKind.WAITING: "Waiting",
        BarKind.RUNNING: "Running",
        BarKind.TERMINATED: "Terminated",
        BarKind.BACKOFF: "Waiting",
        BarKind.HOOK: "Hook",
    }[bar.kind]
    tooltip = f"{kind} {bar.label}".strip() + f", {seconds}"
    if bar.detail and bar.detail != bar.label:
        tooltip += f": {bar.detail}"
    canvas.add(f'<g class="bar {bar.kind.value}">{_title(tooltip)}')
    canvas.add(
        f'<rect x="{_f(left)}" y="{_f(top)}" width="{_f(width)}" height="{_f(height)}" rx="2"/>'
    )
    if bar.kind is not BarKind.HOOK and bar.label and len(bar.label) * _CHAR + 6 < width:
        canvas.add(f'<text x="{_f(left + 4)}" y="{_f(top + 12.5)}">{escape(bar.label)}</text>')
    canvas.add("</g>")


def _window(canvas: _Canvas, window: Window, top: float, bottom: float) -> None:
    left, right = canvas.x(window.start), canvas.x(window.end)
    tooltip = f"grace period {window.grace:g}s from +{window.start:.3f}s: {window.detail}"
    canvas.add(f'<g class="window grace">{_title(tooltip)}')
    canvas.add(
        f'<rect x="{_f(left)}" y="{_f(top)}" width="{_f(max(right - left, 1.0))}" '
        f'height="{_f(bottom - top)}"/>'
    )
    text = f"grace {window.grace:g}s"
    if len(text) * 5.4 + 4 < right - left:
        x, y = _f(right - 3), _f(bottom - 2)
        canvas.add(f'<text x="{x}" y="{y}" text-anchor="end">{text}</text>')
    canvas.add("</g>")


def _mark(canvas: _Canvas, mark: Mark, lane: int | None, bar_top: float) -> None:
    x = canvas.x(mark.at)
    mid = bar_top + _BAR / 2
    classes = ["mark", mark.kind.value]
    if mark.signal:
        classes.append(mark.signal)
    if mark.ok is not None:
        classes.append("ok" if mark.ok else "failed")
    attributes = ""
    if mark.kind is MarkKind.SIGNAL:
        pids = " ".join(map(str, mark.pids))
        attributes = f" data-signal={quoteattr(mark.signal)} data-pids={quoteattr(pids)}"
    canvas.add(f'<g class="{" ".join(classes)}"{attributes}>{_title(mark.detail)}')
    label_y = None
    if lane is not None:
        label_y = bar_top - 4 - lane * _LANE
    match mark.kind:
        case MarkKind.SIGNAL:
            top = label_y - 9 if label_y is not None else bar_top - 4
            canvas.add(
                f'<line x1="{_f(x)}" y1="{_f(top)}" x2="{_f(x)}" y2="{_f(bar_top + _BAR + 3)}"/>'
            )
            canvas.add(
                f'<path d="M{_f(x - 4)} {_f(bar_top - 5)} L{_f(x + 4)} {_f(bar_top - 5)} '
                f'L{_f(x)} {_f(bar_top)} Z"/>'
            )
        case MarkKind.PROBE:
            canvas.add(f'<circle cx="{_f(x)}" cy="{_f(mid)}" r="3.5"/>')
        case MarkKind.HOOK:
            canvas.add(
                f'<path d="M{_f(x)} {_f(mid - 5)} L{_f(x + 5)} {_f(mid)} L{_f(x)} {_f(mid + 5)} '
                f'L{_f(x - 5)} {_f(mid)} Z"/>'
            )
        case MarkKind.EXIT:
            canvas.add(f'<rect x="{_f(x - 3.5)}" y="{_f(mid - 3.5)}" width="7" height="7"/>')
        case MarkKind.KILLING | MarkKind.GRACE:
            canvas.add(
                f'<line x1="{_f(x)}" y1="{_f(bar_top - 3)}" x2="{_f(x)}" '
                f'y2="{_f(bar_top + _BAR + 3)}"/>'
            )
        case MarkKind.RESTART:
            canvas.add(f'<circle cx="{_f(x)}" cy="{_f(mid)}" r="3"/>')
    if label_y is not None:
        left, _, anchor = _label_box(canvas, x, mark.label)
        if mark.kind is not MarkKind.SIGNAL:
            canvas.add(
                f'<line class="leader" x1="{_f(x)}" y1="{_f(label_y + 2)}" x2="{_f(x)}" '
                f'y2="{_f(bar_top)}"/>'
            )
        start = left if anchor == "start" else x - 3
        canvas.add(
            f'<text x="{_f(start)}" y="{_f(label_y)}" text-anchor="{anchor}">'
            f"{escape(mark.label)}</text>"
        )
    canvas.add("</g>")


_LEGEND = (
    ("bar running", "Running"),
    ("bar terminated", "Terminated"),
    ("bar waiting", "Waiting"),
    ("bar backoff", "CrashLoopBackOff"),
    ("bar hook", "hook"),
    ("window grace", "grace period"),
)


def _legend(canvas: _Canvas, y: float) -> None:
    canvas.add('<g class="legend">')
    x = canvas.x0
    for classes, text in _LEGEND:
        canvas.add(f'<g class="{classes}"><rect x="{_f(x)}" y="{_f(y)}" width="14" height="10"/>')
        canvas.add(f'</g><text x="{_f(x + 18)}" y="{_f(y + 9)}">{escape(text)}</text>')
        x += 26 + len(text) * _CHAR
    canvas.add(
        f'<text x="{_f(x)}" y="{_f(y + 9)}">▼ signal  ● probe  ◆ hook  ■ exit  ○ restart</text>'
    )
    canvas.add("</g>")


def render_svg(timeline: Timeline) -> str:
    """The picture, as SVG text (UTF-8, no external reference)."""
    canvas = _Canvas(timeline)
    layouts = [_row_marks(canvas, row) for row in timeline.rows]
    y = float(_TOP)
    positions = []
    for _, lanes in layouts:
        bar_top = y + max(lanes, 1) * _LANE + 6
        positions.append((y, bar_top))
        y = bar_top + _BAR + _ROW_GAP
    axis_y = y + 2
    height = axis_y + 46

    heading = f"pod {timeline.pod}" if timeline.pod else "pod"
    sub = f"{len(timeline.steps)} steps"
    if timeline.started:
        began = timeline.started.replace("T", " ").split(".", 1)[0].removesuffix("Z")
        sub = f"{sub} from {began} UTC; time in seconds from the first step"
    canvas.add(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{_f(height)}" '
        f'viewBox="0 0 {WIDTH} {_f(height)}" role="img" aria-labelledby="title">'
    )
    canvas.add(f'<title id="title">{escape(heading)}: lifecycle and signal timeline</title>')
    canvas.add(f"<style>{_STYLE}</style>")
    canvas.add(
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff1e5"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#fb8f44" stroke-width="2.5"/></pattern></defs>'
    )
    canvas.add(f'<rect class="bg" x="0" y="0" width="{WIDTH}" height="{_f(height)}"/>')
    canvas.add(f'<text class="heading" x="12" y="22">{escape(heading)}</text>')
    canvas.add(f'<text class="sub" x="12" y="40">{escape(sub)}</text>')

    step = _tick_step(timeline.end)
    canvas.add('<g class="axis">')
    count = int(timeline.end / step + 1e-9)
    for number in range(count + 1):
        seconds = number * step
        x = canvas.x(seconds)
        canvas.add(
            f'<g class="tick"><line x1="{_f(x)}" y1="{_TOP - 4}" x2="{_f(x)}" y2="{_f(axis_y)}"/>'
            f'<text x="{_f(x)}" y="{_f(axis_y + 12)}" text-anchor="middle">'
            f"{_time_label(seconds, step)}</text></g>"
        )
    canvas.add("</g>")

    for row, (placed, _), (top, bar_top) in zip(timeline.rows, layouts, positions, strict=True):
        canvas.add(f'<g class="row" data-container={quoteattr(row.container)}>')
        name = escape(row.container)
        canvas.add(f'<text class="name" x="12" y="{_f(bar_top + 9)}">{name}</text>')
        canvas.add(f'<text class="role" x="12" y="{_f(bar_top + 21)}">{escape(row.role)}</text>')
        for window in row.windows:
            _window(canvas, window, top + 2, bar_top + _BAR + 12)
        for bar in row.bars:
            if bar.kind is not BarKind.HOOK:
                _bar(canvas, bar, bar_top)
        for bar in row.bars:
            if bar.kind is BarKind.HOOK:
                _bar(canvas, bar, bar_top)
        for mark, lane in placed:
            _mark(canvas, mark, lane, bar_top)
        canvas.add("</g>")
    _legend(canvas, axis_y + 24)
    canvas.add("</svg>")
    return "\n".join(canvas.parts) + "\n"
