"""``minikubelet ui``: the live dashboard of a running daemon (``serve`` or ``run``).

Found as the other client commands find it: ``--server``, ``$MINIKUBELET_SERVER``, the
default socket. Quitting closes the dashboard only: the daemon's pods go on. Needs the
``ui`` extra; without it, says how to install it and exits 2.
"""

from __future__ import annotations

import sys

import click

from minikubelet.cli.client.commands import common

__all__ = ["ui"]


@click.command()
@common.server_option
def ui(server: str | None) -> None:
    """A live dashboard of the daemon's pods: status, containers, logs, events, timeline.

    Keys: arrows select a pod, / filters, d describes, ctrl+d deletes, ctrl+k kills,
    r restarts a container, tab switches pane, ? lists every key, q quits (the pods go on).
    """
    from minikubelet.ui import require_textual

    missing = require_textual()
    if missing is not None:
        click.echo(missing, err=True)
        sys.exit(2)
    from minikubelet.cli.client.connection import resolve_server
    from minikubelet.ui.app import Dashboard

    Dashboard(resolve_server(server)).run()
