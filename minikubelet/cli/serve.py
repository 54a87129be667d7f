"""``minikubelet serve``: the daemon's command line; the daemon itself is ``minikubelet.daemon``.

Flags given on the command line win over the ``--config`` file; the options shared with
``run`` (root dir, socket, TCP listener, TLS, authentication, back-off) are declared once in
``cli.options``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from minikubelet.cli.options import DURATION, engine_options
from minikubelet.collector import tune_collector
from minikubelet.config import FLAGS
from minikubelet.daemon import Invocation, run_daemon
from minikubelet.log import LogFormat, configure_logging

__all__ = ["serve"]


@click.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A KubeletConfiguration YAML file (kubelet.config.k8s.io/v1beta1); flags override it.",
)
@click.option(
    "--pod-manifest-path",
    type=click.Path(path_type=Path),
    default=None,
    help="Static pod manifests: a directory or one file (staticPodPath). [default: "
    "/etc/minikubelet/manifests as root, else ~/.config/minikubelet/manifests]",
)
@click.option(
    "--file-check-frequency",
    type=DURATION,
    default=None,
    help="Full rescan period of the manifest path; changes are also seen at once through "
    "inotify (fileCheckFrequency). [default: 20s]",
)
@engine_options
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="minikubelet's own log lines on stderr, events included.",
)
@click.pass_context
def serve(
    ctx: click.Context,
    /,
    config_file: Path | None,
    clean_env: bool,
    log_format: LogFormat,
    log_level: str,
    **_flags: Any,
) -> None:
    """Run the daemon: static pods from a directory, pods created through the API.

    Reads --config (a KubeletConfiguration file) and the flags, which win over the file.
    SIGTERM/SIGINT stops every pod gracefully and exits 0; SIGHUP reloads the config file
    and rescans the manifests. Speaks sd_notify when started by systemd (Type=notify).
    """
    configure_logging(log_level, log_format)
    tune_collector()
    given = {
        name: ctx.params[name]
        for name in FLAGS
        if name in ctx.params
        and ctx.get_parameter_source(name)
        in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    }
    code = run_daemon(Invocation(config_file, given, clean_env))
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)
