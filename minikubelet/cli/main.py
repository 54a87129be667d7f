"""The ``minikubelet`` command."""

from __future__ import annotations

import click

from minikubelet import __version__
from minikubelet.cli.run import run

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="minikubelet")
def cli() -> None:
    """A kubelet for local processes: run Kubernetes Pod manifests as supervised processes."""


cli.add_command(run)


def main() -> None:
    cli()
