"""Options shared by ``run`` and ``serve`` (the kubelet's flag names)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from minikubelet.model.duration import parse_duration

__all__ = ["DURATION", "default_root_dir", "default_socket", "engine_options"]

F = TypeVar("F", bound=Callable[..., Any])


class _Duration(click.ParamType):  # type: ignore[type-arg]
    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


DURATION = _Duration()


def default_root_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/minikubelet")
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "minikubelet"


def default_socket() -> Path:
    """The API socket: ``/run/minikubelet/minikubelet.sock`` as root, else in the user's
    runtime dir, else (no ``XDG_RUNTIME_DIR``) beside the state in ~/.local/state."""
    if os.geteuid() == 0:
        return Path("/run/minikubelet/minikubelet.sock")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "minikubelet.sock"
    return Path.home() / ".local" / "state" / "minikubelet" / "minikubelet.sock"


def engine_options(function: F) -> F:
    """The engine flags every long-running command takes."""
    decorators = [
        click.option(
            "--root-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="State and container logs. [default: /var/lib/minikubelet as root, "
            "else ~/.local/state/minikubelet]",
        ),
        click.option(
            "--initial-container-restart-period",
            type=DURATION,
            default="10s",
            show_default=True,
            help="First crash-loop back-off delay (never above the max).",
        ),
        click.option(
            "--max-container-restart-period",
            type=DURATION,
            default="300s",
            show_default=True,
            help="Cap of the crash-loop back-off (crashLoopBackOff.maxContainerRestartPeriod).",
        ),
        click.option(
            "--clean-env",
            is_flag=True,
            help="Start containers from only PATH, HOME, USER, LANG and TZ of minikubelet's "
            "environment instead of all of it.",
        ),
        click.option(
            "--socket",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="The API's unix socket (mode 0600, its directory made 0700 if missing). "
            "[default: /run/minikubelet/minikubelet.sock as root, else "
            "$XDG_RUNTIME_DIR/minikubelet.sock, else ~/.local/state/minikubelet/minikubelet.sock]",
        ),
        click.option(
            "--address",
            default=None,
            help="Address of the API's TCP listener, with --port. [default: 127.0.0.1]",
        ),
        click.option(
            "--port",
            type=int,
            default=None,
            help="Also serve the API on TCP, on this port (0: any free port). "
            "[default: no TCP listener]",
        ),
        click.option(
            "--log-format",
            type=click.Choice(["auto", "console", "json"]),
            default="auto",
            show_default=True,
            help="minikubelet's own log lines: console on a terminal, JSON otherwise.",
        ),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function
