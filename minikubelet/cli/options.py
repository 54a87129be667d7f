"""Options shared by ``run`` and ``serve`` (the kubelet's flag names).

Their meaning, checks and config-file spelling are ``minikubelet.config.OPTIONS``; this
module only says how click reads them. Each defaults to ``None`` ("not given") so that a
flag given on the command line can be told apart from the file's value.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from minikubelet.model.duration import parse_duration
from minikubelet.paths import default_root_dir, default_socket

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
            help="Address of the API's TCP listener, with --port (always HTTPS). "
            "[default: 127.0.0.1]",
        ),
        click.option(
            "--port",
            type=int,
            default=None,
            help="Also serve the API on TCP, on this port (0: any free port); requests "
            "there need the token. [default: no TCP listener]",
        ),
        click.option(
            "--tls-cert-file",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Certificate (chain) the TCP listener serves HTTPS with (tlsCertFile); "
            "with --tls-private-key-file. [default: a self-signed one, made once under "
            "<root-dir>/pki]",
        ),
        click.option(
            "--tls-private-key-file",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="The private key of --tls-cert-file (tlsPrivateKeyFile).",
        ),
        click.option(
            "--token-file",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="A file holding the bearer token TCP clients must send "
            "(authentication.tokenFile). [default: a new token at each start, saved 0600 "
            "as <root-dir>/api-token; 'minikubelet kubeconfig' hands it out]",
        ),
        click.option(
            "--anonymous-auth/--no-anonymous-auth",
            default=None,
            help="Let TCP requests without a token in, with this process's privileges, on "
            "a loopback address only (authentication.anonymous.enabled). [default: off]",
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
