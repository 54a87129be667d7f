"""``minikubelet trace POD``: the pod's lifecycle steps, as text or as a timeline picture.

Without ``--svg``/``--html`` it prints every kept step (``+1.002s  Signal  app  SIGTERM ->
pid 10070``), offsets from the first one. ``--svg F`` and ``--html F`` write the timeline
as a standalone picture (``-`` for stdout): one row per container, bars for its states,
marks for each probe verdict, hook, signal and exit, the grace periods shaded. The drawing
is ``minikubelet.timeline``: pure, offline, no ``ui`` extra needed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from minikubelet.cli.client.commands import common

__all__ = ["trace"]


def _write(target: str, text: str) -> None:
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    Path(target).write_text(text, encoding="utf-8")


@click.command()
@click.argument("pod_name", metavar="POD")
@click.option("--svg", "svg_file", metavar="FILE", help="Write the timeline as SVG ('-': stdout).")
@click.option(
    "--html", "html_file", metavar="FILE", help="Write the timeline as HTML ('-': stdout)."
)
@common.namespace_option
@common.server_option
@common.handles_errors
def trace(
    pod_name: str,
    svg_file: str | None,
    html_file: str | None,
    namespace: str,
    server: str | None,
) -> None:
    """Show POD's lifecycle: every process start, hook, probe verdict, signal and exit."""
    from minikubelet.timeline import build_timeline, describe_steps, render_html, render_svg

    resource, slash, rest = pod_name.partition("/")
    if slash:
        if resource not in common.POD_RESOURCES:
            common.fail(f'error: the server doesn\'t have a resource type "{resource}"')
        pod_name = rest
    with common.connect(server) as connection:
        path = common.pod_path(namespace, pod_name)
        pod = connection.get(path)
        data = connection.get(path + "/trace")
    if "steps" not in data:
        common.fail("error: this server's trace has no steps (an older minikubelet?)")
    timeline = build_timeline(data, pod)
    if svg_file is None and html_file is None:
        lines = describe_steps(timeline.steps)
        click.echo("\n".join(lines) if lines else f"pod {pod_name}: no steps yet")
        return
    if svg_file is not None:
        _write(svg_file, render_svg(timeline))
    if html_file is not None:
        _write(html_file, render_html(timeline))
