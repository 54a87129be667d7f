"""A timeline as a standalone HTML page: the SVG inline, then every step as a table.

No script, no stylesheet or font from elsewhere: the file opens from disk, offline.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from minikubelet.timeline.build import Timeline
from minikubelet.timeline.svg import render_svg

__all__ = ["render_html"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1f2328; background: #fff; }
table { border-collapse: collapse; font-family: ui-monospace, monospace; font-size: 12px; }
th, td { text-align: left; padding: 2px 10px 2px 0; vertical-align: top; }
th { border-bottom: 1px solid #d0d7de; }
td.offset { text-align: right; color: #57606a; }
tr.Signal td { color: #953800; font-weight: bold; }
tr.Exited td.step, tr.Killing td.step { color: #0969da; }
"""


def render_html(timeline: Timeline) -> str:
    """The page, as HTML text."""
    title = f"pod {timeline.pod}" if timeline.pod else "pod"
    rows = "\n".join(
        f'<tr class="{escape(step.step)}"><td class="offset">+{step.offset:.3f}s</td>'
        f'<td class="step">{escape(step.step)}</td><td>{escape(step.container)}</td>'
        f"<td>{escape(step.detail)}</td><td>{escape(step.time)}</td></tr>"
        for step in timeline.steps
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}: timeline</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n"
        f"{render_svg(timeline)}"
        "<h2>Steps</h2>\n<table>\n"
        "<tr><th>offset</th><th>step</th><th>container</th><th>detail</th><th>time</th></tr>\n"
        f"{rows}\n</table>\n</body>\n</html>\n"
    )
