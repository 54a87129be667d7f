"""``minikubelet serve``: the daemon, as a kubelet runs static pods under systemd.

Start-up, in order (nothing starts when the configuration is bad: exit status 2):

1. read the KubeletConfiguration file and the flags (``minikubelet.config``);
2. open the API (``minikubelet.server.serve_api``) on the socket and, with ``--port``,
   on loopback TCP;
3. load the static pods of ``staticPodPath`` (``sources.file``) and restore the pods that
   were created through the API before the last stop (``sources.store``);
4. ``READY=1`` to systemd (``minikubelet.notify``), then ``STATUS=`` lines as pods come
   and go, and ``WATCHDOG=1`` when the unit asks for a watchdog.

Signals: SIGTERM or SIGINT stops the daemon: ``STOPPING=1``, the manifest watch and the
API stop (so nothing new can start), every pod terminates gracefully and in parallel
(preStop hooks, each pod's own grace period, capped by ``shutdownGracePeriod`` when it is
set), the logs are flushed, exit status 0. A second SIGTERM/SIGINT kills what is left at
once. SIGHUP reloads the configuration file and rescans the manifests; settings fixed at
start-up (socket, root dir, back-off, log rotation) are logged as ignored until a restart.
API pods are *not* forgotten by a stop, only by a deletion, so they come back next time.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import click
import structlog
from click.core import ParameterSource

from minikubelet.cli.options import DURATION, engine_options
from minikubelet.config import (
    FLAGS,
    RESTART_REQUIRED,
    KubeletConfiguration,
    default_static_pod_path,
    load_config,
)
from minikubelet.errors import ConfigError
from minikubelet.log import LogFormat, configure_logging
from minikubelet.logic.environment import CLEAN_ENV_VARIABLES
from minikubelet.notify import Notifier, without_notify_variables

if TYPE_CHECKING:
    # Imported when the daemon starts, not when the CLI loads: the client commands share
    # this process's start-up time and need neither the engine nor the HTTP server.
    from minikubelet.kubelet import Kubelet
    from minikubelet.model.snapshot import PodSnapshot, WatchEventType
    from minikubelet.settings import Settings
    from minikubelet.sources import ApiPodStore, StaticPodSource

__all__ = ["serve"]

_log = structlog.get_logger("minikubelet.serve")

_STATUS_COALESCE = 0.2  # seconds: one STATUS= line for a burst of pod changes


@dataclass(frozen=True)
class _Invocation:
    """What the command line said: the file to (re)read and the flags that override it."""

    config_file: Path | None
    flags: dict[str, Any]
    clean_env: bool

    def load(self) -> KubeletConfiguration:
        return load_config(self.config_file, self.flags)


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
    given = {
        name: ctx.params[name]
        for name in FLAGS
        if name in ctx.params
        and ctx.get_parameter_source(name)
        in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    }
    invocation = _Invocation(config_file, given, clean_env)
    try:
        config = invocation.load()
    except ConfigError as error:
        for line in str(error).splitlines():
            click.echo(f"error: {line}", err=True)
        sys.exit(2)
    try:
        _prepare_directories(config)
    except OSError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    code = anyio.run(_daemon, invocation, config)
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)


def _prepare_directories(config: KubeletConfiguration) -> None:
    config.root_dir.mkdir(parents=True, exist_ok=True)
    if config.static_pod_path == default_static_pod_path():
        # The default directory is created so `cp pod.yaml` into it just works; a path that
        # was asked for explicitly is the user's to create (missing: no static pods).
        config.static_pod_path.mkdir(parents=True, exist_ok=True)


def _settings(config: KubeletConfiguration, clean_env: bool) -> Settings:
    from minikubelet.settings import Settings

    base_env = dict(os.environ)
    without_notify_variables(base_env)
    if clean_env:
        base_env = {key: value for key, value in base_env.items() if key in CLEAN_ENV_VARIABLES}
    return Settings(
        root_dir=config.root_dir,
        backoff=config.backoff,
        base_env=base_env,
        node_name=os.uname().nodename,
        log_rotation=config.log_rotation,
    )


async def _daemon(invocation: _Invocation, config: KubeletConfiguration) -> int:
    from minikubelet.kubelet import Kubelet
    from minikubelet.sources import ApiPodStore

    notifier = Notifier.from_environment()
    settings = _settings(config, invocation.clean_env)
    store = ApiPodStore(config.root_dir)
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        async with Kubelet(settings) as kubelet:
            detach = store.attach(kubelet)  # before the API can add the first pod
            try:
                return await _serve(invocation, config, kubelet, store, notifier, signals)
            finally:
                detach()


async def _serve(
    invocation: _Invocation,
    config: KubeletConfiguration,
    kubelet: Kubelet,
    store: ApiPodStore,
    notifier: Notifier,
    signals: AsyncIterator[int],
) -> int:
    from minikubelet.server import ApiEndpoints, serve_api
    from minikubelet.sources import StaticPodSource

    notifier.status("Starting")
    source = StaticPodSource(kubelet, config.static_pod_path, config.file_check_frequency)
    intake: list[anyio.CancelScope] = []  # the API and the manifest watch: what brings pods in
    async with anyio.create_task_group() as group:
        endpoints = ApiEndpoints(socket=config.socket, address=config.address, port=config.port)
        try:
            listening = await group.start(_within, intake, serve_api, kubelet, endpoints)
        except (OSError, ConfigError) as error:
            _log.error("daemon.api_failed", socket=str(config.socket), error=str(error))
            group.cancel_scope.cancel()
            return 1
        await group.start(_within, intake, source.run)
        restored = await store.restore(kubelet)
        _log.info(
            "daemon.ready",
            pods=len(kubelet.snapshots()),
            static=len(source.pods()),
            restored=restored,
            socket=str(config.socket),
            url=listening.url,
            manifests=str(config.static_pod_path),
        )
        notifier.ready(_status_text(kubelet))
        group.start_soon(_report_status, kubelet, notifier)
        if notifier.watchdog_interval is not None:
            group.start_soon(_watchdog, notifier, notifier.watchdog_interval)

        stop_signal = 0
        async for signum in signals:
            if signum == signal.SIGHUP:
                config = _reload(invocation, config, source, notifier, kubelet)
                continue
            stop_signal = signum
            break

        _log.info("daemon.stopping", signal=signal.Signals(stop_signal).name)
        notifier.stopping(f"Stopping {_plural(len(kubelet.snapshots()), 'pod')}")
        for scope in intake:
            scope.cancel()
        await _shut_down(kubelet, config, signals)
        group.cancel_scope.cancel()
    _log.info("daemon.stopped")
    return 0


async def _within(
    scopes: list[anyio.CancelScope],
    function: Callable[..., Awaitable[None]],
    *args: Any,
    task_status: anyio.abc.TaskStatus[Any] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Run ``function(*args, task_status=...)`` in a scope added to ``scopes``, so that it
    can be stopped before the rest of the daemon."""
    with anyio.CancelScope() as scope:
        scopes.append(scope)
        await function(*args, task_status=task_status)


async def _shut_down(
    kubelet: Kubelet, config: KubeletConfiguration, signals: AsyncIterator[int]
) -> None:
    """Every pod terminates gracefully, in parallel; what outlives the deadline is killed."""
    pods = kubelet.snapshots()
    longest = max((p.pod.spec.termination_grace_period_seconds for p in pods), default=0)
    deadline = config.shutdown_deadline(longest)

    async with anyio.create_task_group() as group:

        async def kill_on_second_signal() -> None:
            async for signum in signals:
                if signum != signal.SIGHUP:
                    _log.warning("daemon.killing", signal=signal.Signals(signum).name)
                    kubelet.kill_all()

        group.start_soon(kill_on_second_signal)
        with anyio.move_on_after(deadline) as within_deadline:
            if config.shutdown_grace_period is None:
                await kubelet.terminate_all()
            else:
                # The kubelet's node shutdown: each pod gets its own grace period, but no
                # more than shutdownGracePeriod.
                cap = math.ceil(config.shutdown_grace_period)
                for pod in pods:
                    grace = min(pod.pod.spec.termination_grace_period_seconds, cap)
                    kubelet.terminate(*pod.key, grace)
                await kubelet.wait_all_done()
        if within_deadline.cancelled_caught:
            _log.warning("daemon.shutdown_deadline", seconds=deadline)
            kubelet.kill_all()
            await kubelet.wait_all_done()
        group.cancel_scope.cancel()


def _reload(
    invocation: _Invocation,
    current: KubeletConfiguration,
    source: StaticPodSource,
    notifier: Notifier,
    kubelet: Kubelet,
) -> KubeletConfiguration:
    """SIGHUP: read the file again, apply what can change live, rescan the manifests."""
    notifier.reloading(time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)
    try:
        new = invocation.load()
    except ConfigError as error:
        _log.error("config.reload_failed", error=str(error), effect="configuration unchanged")
        source.rescan()
        notifier.ready(_status_text(kubelet))
        return current
    changed = current.changed_fields(new)
    ignored = sorted(name for name in changed if name in RESTART_REQUIRED)
    if ignored:
        _log.warning("config.reload_ignored", fields=ignored, effect="applied at the next restart")
    applied = replace(
        current,
        static_pod_path=new.static_pod_path,
        file_check_frequency=new.file_check_frequency,
    )
    _log.info(
        "config.reloaded",
        changed=sorted(set(changed) - set(ignored)),
        manifests=str(applied.static_pod_path),
    )
    source.reconfigure(applied.static_pod_path, applied.file_check_frequency)
    notifier.ready(_status_text(kubelet))
    return applied


async def _report_status(kubelet: Kubelet, notifier: Notifier) -> None:
    """Keep ``systemctl status`` current: one STATUS= line per burst of pod changes."""
    changed = anyio.Event()

    def on_change(kind: WatchEventType, pod: PodSnapshot) -> None:
        changed.set()

    unwatch = kubelet.watch(on_change)
    last = _status_text(kubelet)
    try:
        while True:
            await changed.wait()
            await anyio.sleep(_STATUS_COALESCE)
            changed = anyio.Event()
            text = _status_text(kubelet)
            if text != last:
                notifier.status(text)
                last = text
    finally:
        unwatch()


async def _watchdog(notifier: Notifier, interval: float) -> None:
    """``WATCHDOG=1`` every half timeout: proof that the event loop still turns."""
    while True:
        notifier.watchdog()
        await anyio.sleep(interval)


def _status_text(kubelet: Kubelet) -> str:
    active = [pod for pod in kubelet.snapshots() if not pod.finished]
    static = sum(1 for pod in active if pod.is_static)
    text = f"Running {_plural(len(active), 'pod')}"
    if active:
        text += f" ({static} static, {len(active) - static} from the API)"
    return text


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
