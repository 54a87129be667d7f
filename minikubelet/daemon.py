"""The daemon behind ``minikubelet serve``: static pods and API pods, as a kubelet under systemd.

Start-up, in order (a bad configuration starts nothing: exit status 2):

1. read the KubeletConfiguration file and the flags (``minikubelet.config``), which also
   refuses unsafe combinations (anonymous requests off this machine);
2. create the root dir 0700, or warn when an existing one is open to others, and take the
   root dir's lock (``minikubelet.rootdir``): a second daemon on the same root dir exits at
   once (status 1) naming the first one's pid, before any pod could start twice;
3. with a TCP listener: load the TLS files, or reuse (or generate) the self-signed
   certificate under ``<root-dir>/pki/``, and read the token file or generate a token
   (saved 0600 under the root dir) that TCP clients must send;
4. open the API (``minikubelet.server.serve_api``) on the socket and, with ``--port``, on
   TCP;
5. load the static pods of ``staticPodPath`` (``sources.file``) and restore the pods that
   were created through the API before the last stop (``sources.store``), each with its
   containers' history (restart counts, last states) from ``<root-dir>/checkpoints``
   (``minikubelet.checkpoints``); checkpoints of pods that did not come back are removed.
   The runtime has chosen its containment by then (``containment.mode``: a cgroup per
   container, or none and why; the mode is repeated in ``daemon.ready``), under cgroups
   named after the root dir, which are all removed when the daemon stops. Containers are
   spawned by the root dir's keeper (``runtime/keeper``, started if none answers), so
   they outlive a daemon that dies: each restored pod adopts the instances its checkpoint
   says were running, when the keeper still holds them (same pid and start time, tag,
   cgroup), and whatever the keeper holds that no pod adopted is killed before READY;
6. ``READY=1`` to systemd (``minikubelet.notify``), then ``STATUS=`` lines as pods come
   and go, and ``WATCHDOG=1`` when the unit asks for a watchdog.

``kill -9`` (or a crash) stops nothing: the containers run on under the keeper, and the next
daemon adopts them (step 5). Signals: SIGTERM or SIGINT stops the daemon: ``STOPPING=1``,
the manifest watch and the API stop (so nothing new can start), every pod terminates
gracefully and in parallel (preStop hooks, each pod's own grace period, capped by
``shutdownGracePeriod`` when it is set), the logs are flushed, exit status 0. A second
SIGTERM/SIGINT kills what is left at once. SIGHUP reloads the configuration file and rescans
the manifests; settings fixed at start-up (socket, root dir, TLS, token, back-off, log
rotation) are logged as ignored until a restart. API pods are *not* forgotten by a stop,
only by a deletion, so they come back next time, the same pods (uid, creation time, labels);
the containers the stop terminated start again, their ``restartCount`` one higher.

Why here and not in the click command: the command parses flags, this module runs the
daemon; tests and ``run`` share its pieces (``api_endpoints``) without a CLI in between.
"""

from __future__ import annotations

import functools
import importlib
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
import structlog

from minikubelet import eventloop
from minikubelet.config import (
    RESTART_REQUIRED,
    KubeletConfiguration,
    default_static_pod_path,
    load_config,
)
from minikubelet.errors import ConfigError, KeeperError, RootDirInUseError
from minikubelet.logic.environment import CLEAN_ENV_VARIABLES
from minikubelet.notify import Notifier, without_notify_variables
from minikubelet.rootdir import RootDirLock, api_token, prepare_root_dir

if TYPE_CHECKING:
    # Imported when the daemon starts, not when the CLI loads: the client commands share
    # this process's start-up time (``minikubelet --help`` loads every command's module)
    # and need neither the engine nor the HTTP server.
    from minikubelet.checkpoints import CheckpointStore
    from minikubelet.kubelet import Kubelet
    from minikubelet.model.snapshot import PodSnapshot, WatchEventType
    from minikubelet.server import ApiEndpoints
    from minikubelet.settings import Settings
    from minikubelet.sources import ApiPodStore, StaticPodSource

__all__ = ["Invocation", "api_endpoints", "run_daemon"]

_log = structlog.get_logger("minikubelet.serve")

_STATUS_COALESCE = 0.2  # seconds: one STATUS= line for a burst of pod changes


@dataclass(frozen=True)
class Invocation:
    """What the command line said: the file to (re)read and the flags that override it."""

    config_file: Path | None
    flags: dict[str, Any]
    clean_env: bool

    def load(self) -> KubeletConfiguration:
        return load_config(self.config_file, self.flags)


def _error(error: BaseException | str) -> None:
    for line in str(error).splitlines():
        sys.stderr.write(f"error: {line}\n")
    sys.stderr.flush()


def run_daemon(invocation: Invocation) -> int:
    """Run the daemon until it is stopped; its exit status (see the module docstring)."""
    try:
        config = invocation.load()
    except ConfigError as error:
        _error(error)
        return 2
    try:
        prepare_root_dir(config.root_dir)
        if config.static_pod_path == default_static_pod_path():
            # The default directory is created so `cp pod.yaml` into it just works; a path
            # that was asked for explicitly is the user's to create (missing: no static pods).
            config.static_pod_path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        _error(error)
        return 2
    lock = RootDirLock(config.root_dir)
    try:
        lock.acquire()
    except RootDirInUseError as error:
        _error(error)
        return 1
    except OSError as error:
        _error(f"{lock.path}: cannot lock the root dir: {error.strerror or error}")
        return 2
    try:
        try:
            endpoints = api_endpoints(config)
            loop = eventloop.choose()
        except (ConfigError, OSError) as error:
            _error(error)
            return 2
        try:
            return eventloop.run(loop, _daemon, invocation, config, endpoints)
        except (KeeperError, BaseExceptionGroup) as error:
            keeper = _keeper_error(error)
            if keeper is None:
                raise
            _error(keeper)  # nothing started: without a keeper nothing would survive us
            return 1
    finally:
        lock.release()


def _keeper_error(error: BaseException) -> KeeperError | None:
    """The KeeperError ``error`` is or holds (task groups wrap what their tasks raise)."""
    if isinstance(error, KeeperError):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _keeper_error(inner)
            if found is not None:
                return found
    return None


_SERVING = "minikubelet.server.serving"  # serve_api, with the web stack under it

RESOURCE_VERSION_FILE = "resource-version"  # the reserved top of the API's versions


def api_endpoints(config: KubeletConfiguration, *, save_token: bool = True) -> ApiEndpoints:
    """Where and how the API is served, for ``serve`` and ``run`` alike.

    With a TCP listener, always HTTPS: the TLS files are loaded (ConfigError naming the
    file when they cannot be), or the self-signed pair of ``<root-dir>/pki`` is reused or
    made (saved only with ``save_token``); the token is read or generated (and, with
    ``save_token``, saved under the root dir), and the warnings an operator must see are
    logged.
    """
    from minikubelet.server import ApiEndpoints, TlsFiles, TlsSource
    from minikubelet.server.tls import PKI_DIR, listener_names, self_signed

    # The daemon's resourceVersions keep growing across its restarts; ``run``'s are its own.
    versions = config.root_dir / RESOURCE_VERSION_FILE if save_token else None
    if config.port is None:
        return ApiEndpoints(socket=config.socket, versions=versions)
    tls: TlsSource
    if config.tls_cert_file is not None and config.tls_private_key_file is not None:
        files = TlsFiles(config.tls_cert_file, config.tls_private_key_file)
        files.context()  # a bad file is a start-up error, before anything listens
        if not files.key_is_private():
            _log.warning(
                "tls.key_permissive",
                path=str(files.key),
                effect="other users may read the TLS private key",
                fix=f"chmod 600 {files.key}",
            )
        tls = files
    else:
        # The kubelet's way: no files configured, a self-signed pair of our own, made once
        # and kept under the root dir (``run``, which must not change it, keeps a new one
        # in memory only).
        names = listener_names(config.address, os.uname().nodename)
        tls = self_signed(config.root_dir / PKI_DIR, names, save=save_token)
    if config.anonymous_auth:
        _log.warning(
            "api.anonymous_auth",
            address=config.address,
            port=config.port,
            effect="every local user may use the API over TCP without a token, with this "
            "daemon's privileges",
        )
    return ApiEndpoints(
        socket=config.socket,
        address=config.address,
        port=config.port,
        tls=tls,
        token=api_token(config.root_dir, config.token_file, save=save_token),
        anonymous=config.anonymous_auth,
        versions=versions,
    )


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


async def _daemon(
    invocation: Invocation, config: KubeletConfiguration, endpoints: ApiEndpoints
) -> int:
    from minikubelet.checkpoints import CheckpointStore
    from minikubelet.kubelet import Kubelet
    from minikubelet.sources import ApiPodStore

    notifier = Notifier.from_environment()
    settings = _settings(config, invocation.clean_env)
    store = ApiPodStore(config.root_dir)
    checkpoints = CheckpointStore(config.root_dir)
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        async with Kubelet(settings, history=checkpoints, keeper=True) as kubelet:
            # Both before the API or the manifests can add the first pod.
            detach = store.attach(kubelet)
            stop_checkpoints = checkpoints.attach(kubelet)
            try:
                return await _serve(
                    invocation,
                    config,
                    endpoints,
                    kubelet,
                    store,
                    notifier,
                    signals,
                    checkpoints,
                    stop_checkpoints,
                )
            finally:
                stop_checkpoints()
                detach()


async def _serve(
    invocation: Invocation,
    config: KubeletConfiguration,
    endpoints: ApiEndpoints,
    kubelet: Kubelet,
    store: ApiPodStore,
    notifier: Notifier,
    signals: AsyncIterator[int],
    checkpoints: CheckpointStore,
    stop_checkpoints: Callable[[], None],
) -> int:
    from minikubelet.server.listen import open_listeners
    from minikubelet.sources import StaticPodSource

    notifier.status("Starting")
    source = StaticPodSource(kubelet, config.static_pod_path, config.file_check_frequency)
    intake: list[anyio.CancelScope] = []  # the API and the manifest watch: what brings pods in
    try:
        # Bound before any pod starts: a socket that is another daemon's stops this one.
        listeners = open_listeners(endpoints.socket, endpoints.address, endpoints.port)
    except (OSError, ConfigError) as error:
        _log.error("daemon.api_failed", socket=str(config.socket), error=str(error))
        return 1
    async with anyio.create_task_group() as group:
        # The pods, then the API: its web stack takes longer to import than the pods take
        # to start, so it is imported in a thread while they start. A client connecting
        # meanwhile waits in the socket's backlog, as for any daemon starting.
        try:
            await group.start(_within, intake, source.run)
            restored = await store.restore(kubelet)
            checkpoints.prune({pod.uid for pod in kubelet.snapshots()})
            # Every pod that can come back is back, its running containers adopted: what
            # the keeper still holds for no pod is killed, never left running.
            await kubelet.adoption_done()
            serving = await anyio.to_thread.run_sync(importlib.import_module, _SERVING)
        except BaseException:
            listeners.close()
            raise
        listening = await group.start(
            functools.partial(_within, listeners=listeners),
            intake,
            serving.serve_api,
            kubelet,
            endpoints,
        )
        _log.info(
            "daemon.ready",
            pods=len(kubelet.snapshots()),
            static=len(source.pods()),
            restored=restored,
            socket=str(config.socket),
            url=listening.url,
            manifests=str(config.static_pod_path),
            containment=kubelet.containment.mode.value,
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
        # What ran until now is what the checkpoints keep: the pods' terminations below
        # are the daemon's, and those containers start again when it does.
        stop_checkpoints()
        await _shut_down(kubelet, config, signals)
        group.cancel_scope.cancel()
    _log.info("daemon.stopped")
    return 0


async def _within(
    scopes: list[anyio.CancelScope],
    function: Callable[..., Awaitable[None]],
    *args: Any,
    task_status: anyio.abc.TaskStatus[Any] = anyio.TASK_STATUS_IGNORED,
    **keywords: Any,
) -> None:
    """Run ``function(*args, task_status=..., **keywords)`` in a scope added to ``scopes``,
    so that it can be stopped before the rest of the daemon."""
    with anyio.CancelScope() as scope:
        scopes.append(scope)
        await function(*args, task_status=task_status, **keywords)


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
                now = anyio.current_time()
                for pod in pods:
                    grace = min(pod.pod.spec.termination_grace_period_seconds, cap)
                    kubelet.terminate(*pod.key, grace, since=now)
                await kubelet.wait_all_done()
        if within_deadline.cancelled_caught:
            _log.warning("daemon.shutdown_deadline", seconds=deadline)
            kubelet.kill_all()
            await kubelet.wait_all_done()
        group.cancel_scope.cancel()


def _reload(
    invocation: Invocation,
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
