"""The signal timeline as a picture: a pure function of a ``PodTrace`` (and its Pod).

    build_timeline(trace, pod)   rows of bars, grace windows and marks (``build``)
    render_svg(timeline)         a standalone SVG (``svg``)
    render_html(timeline)        a standalone HTML page: the SVG and the steps (``html``)

``minikubelet trace POD --svg F`` draws a live pod's; ``scripts/lesson-pictures`` draws
the tutorial's from real runs. Nothing here does I/O or imports the UI framework, so the
pictures need neither the ``ui`` extra nor a network.
"""

from minikubelet.timeline.build import (
    Timeline,
    TraceStep,
    build_timeline,
    describe_steps,
    trace_steps,
)
from minikubelet.timeline.html import render_html
from minikubelet.timeline.svg import render_svg

__all__ = [
    "Timeline",
    "TraceStep",
    "build_timeline",
    "describe_steps",
    "render_html",
    "render_svg",
    "trace_steps",
]
