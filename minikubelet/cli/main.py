"""The ``minikubelet`` command.

Subcommands are imported when they run, not before: ``run`` and ``serve`` bring the whole
engine (anyio, structlog, psutil), which the client commands must not pay for at start-up
(``get pods`` answers in well under 300 ms, Python included).
"""

from __future__ import annotations

import importlib
import importlib.util

import click

from minikubelet import __version__

__all__ = ["cli", "main"]

# name -> "module:attribute"; a module that is not there (yet) leaves its command out.
_COMMANDS = {
    "run": "minikubelet.cli.run:run",
    "serve": "minikubelet.cli.serve:serve",
    "get": "minikubelet.cli.client.commands.get:get",
    "describe": "minikubelet.cli.client.commands.describe:describe",
    "logs": "minikubelet.cli.client.commands.logs:logs",
    "delete": "minikubelet.cli.client.commands.delete:delete",
    "apply": "minikubelet.cli.client.commands.apply:apply",
    "top": "minikubelet.cli.client.commands.top:top",
    "label": "minikubelet.cli.client.commands.label:label",
    "annotate": "minikubelet.cli.client.commands.label:annotate",
    "exec": "minikubelet.cli.client.commands.exec:exec_command",
    "kubeconfig": "minikubelet.cli.client.commands.kubeconfig:kubeconfig",
    "trace": "minikubelet.cli.trace:trace",
    "ui": "minikubelet.cli.ui:ui",
}


def _available(target: str) -> bool:
    module = target.partition(":")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class _LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, target in _COMMANDS.items() if _available(target)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None or not _available(target):
            return None
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="minikubelet")
def cli() -> None:
    """A kubelet for local processes: run Kubernetes Pod manifests as supervised processes."""


def main() -> None:
    cli()
