"""``minikubelet run FILE...``: run pods in the foreground until they are done.

Streams container logs on stdout (``pod/container | line``) and events on stderr. The
first SIGINT/SIGTERM stops every pod gracefully (preStop, stop signal, grace period), a
second one kills them at once. Exit status: 0 if every pod Succeeded, 1 otherwise, and
128+N when stopped by signal N (130 for Ctrl-C), once every container is gone.

``run`` serves the same HTTP API as ``serve`` (``minikubelet.server``), so the client
commands work against it: on ``--socket`` (default: the daemon's default socket) and,
with ``--port``, on TCP, with the same flags and the same rules as ``serve`` (a token,
TLS off loopback; ``minikubelet.daemon.api_endpoints``). When the *default* socket is
already served by another minikubelet (a ``serve`` daemon, another ``run`` in another
terminal), this one warns and goes on without it; a ``--socket`` given explicitly that is
in use is an error (exit 1). Bad or unsafe flags exit 2 before anything starts.

``run`` shares the daemon's default root dir but not its lock (``minikubelet.rootdir``):
it never touches the daemon's saved API pods, and its own files are per pod instance. Nor
does it share the daemon's cgroups: its containers' cgroups are under a subtree of its
own (``minikubelet-run-<pid>``), removed when it exits. Its
token is kept in memory only (``minikubelet kubeconfig --server <its socket>`` hands it
out), so it never replaces the daemon's ``api-token``.

``run --ui`` shows the dashboard (``minikubelet.ui.embedded``) instead of the lines, in the
same event loop (asyncio: Textual's), and quitting it is a Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import click
import structlog

from minikubelet import eventloop
from minikubelet.cli.options import engine_options
from minikubelet.collector import tune_collector
from minikubelet.config import FLAGS, build_config
from minikubelet.daemon import api_endpoints
from minikubelet.errors import ConfigError, ManifestError, MinikubeletError
from minikubelet.kubelet import Kubelet
from minikubelet.log import LogFormat, configure_logging
from minikubelet.logic.environment import CLEAN_ENV_VARIABLES
from minikubelet.manifest import load_file
from minikubelet.model.events import Event, EventType
from minikubelet.model.objects import ConfigObject
from minikubelet.model.spec import Pod
from minikubelet.model.status import PodPhase
from minikubelet.model.trace import TraceEntry
from minikubelet.rootdir import prepare_root_dir
from minikubelet.server import ApiEndpoints, Listening, SocketInUseError
from minikubelet.server.serving import serve_api
from minikubelet.settings import Settings

if TYPE_CHECKING:
    from minikubelet.ui.embedded import EmbeddedDashboard

__all__ = [
    "ApiOptions",
    "Manifests",
    "TracePrinter",
    "load_manifests",
    "load_pods",
    "run",
    "start_api",
]

# Whose file objects these are in the kubelet's object store.
_OBJECT_OWNER = "run"


@dataclass(frozen=True)
class Manifests:
    """What the files of ``run FILE...`` hold: pods, and the objects beside them by file."""

    pods: list[Pod]
    objects: dict[Path, list[ConfigObject]]


def load_pods(files: Sequence[Path]) -> list[Pod]:
    """Every pod of every file (``load_manifests`` without the objects)."""
    return load_manifests(files).pods


def load_manifests(files: Sequence[Path]) -> Manifests:
    """Every pod and object of every file; raises MinikubeletError naming every problem,
    before anything starts (two files defining the same ConfigMap or Secret included)."""
    pods: list[Pod] = []
    objects: dict[Path, list[ConfigObject]] = {}
    errors: list[str] = []
    seen: dict[tuple[str, str], Path] = {}
    seen_objects: dict[tuple[str, str, str], Path] = {}
    for path in files:
        try:
            result = load_file(path)  # the manifest intake: warnings included
        except ManifestError as error:
            errors.append(str(error))
            continue
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
        for obj in result.objects:
            kind = obj.kind.singular
            object_key = (kind, obj.namespace, obj.name)
            if object_key in seen_objects:
                errors.append(
                    f'{path}: {kind} "{obj.name}": metadata.name: Duplicate value: '
                    f'"{obj.name}": {kind} {obj.namespace}/{obj.name} is already defined in '
                    f"{seen_objects[object_key]}"
                )
                continue
            seen_objects[object_key] = path
            objects.setdefault(path, []).append(obj)
        for pod in result.pods:
            key = (pod.namespace, pod.name)
            if key in seen:
                errors.append(
                    f'{path}: pod "{pod.name}": metadata.name: Duplicate value: "{pod.name}": '
                    f"pod {pod.namespace}/{pod.name} is already defined in {seen[key]}"
                )
                continue
            seen[key] = path
            pods.append(pod)
    if errors:
        raise MinikubeletError("\n".join(errors))
    return Manifests(pods, objects)


def _print_log(pod: Pod, container: str, stream: str, text: str) -> None:
    sys.stdout.write(f"{pod.name}/{container} | {text}\n")
    sys.stdout.flush()


def _print_event(event: Event) -> None:
    container = ""
    if event.field_path:
        container = "/" + event.field_path.split("{", 1)[1].rstrip("}")
    kind = event.type.value if event.type is EventType.WARNING else "Normal "
    when = event.last_timestamp.astimezone().strftime("%H:%M:%S")
    count = f" (x{event.count})" if event.count > 1 else ""
    sys.stderr.write(
        f"{when} {kind} {event.reason:<12} {event.pod}{container}: {event.message}{count}\n"
    )
    sys.stderr.flush()


@dataclass(frozen=True)
class ApiOptions:
    """Where ``run`` serves the API, and whether the socket was asked for by name."""

    endpoints: ApiEndpoints
    explicit_socket: bool = False


async def start_api(
    group: anyio.abc.TaskGroup, kubelet: Kubelet, api: ApiOptions
) -> Listening | None:
    """Serve the API in ``group``; without the default socket if another daemon has it.

    Returns where it listens (None: nowhere, the default socket being taken and no port).
    """
    endpoints = api.endpoints
    listening: Listening
    try:
        listening = await group.start(serve_api, kubelet, endpoints)
    except SocketInUseError as error:
        if api.explicit_socket:
            raise
        sys.stderr.write(f"warning: {error}; this run serves no API on it\n")
        if endpoints.port is None:
            return None
        listening = await group.start(serve_api, kubelet, replace(endpoints, socket=None))
    where = [str(place) for place in (listening.socket, listening.url) if place is not None]
    if where:
        sys.stderr.write(f"serving the API on {' and '.join(where)}\n")
        sys.stderr.flush()
    return listening


class TracePrinter:
    """``run --trace``: each lifecycle step, timed from the start of its operation.

    An operation is a start (Spawned) or a stop (Killing) of one container; the steps that
    follow it are shown as offsets from it, e.g. ``+1.002s  Signal     web/app  SIGTERM``.
    """

    def __init__(self) -> None:
        self._began: dict[tuple[str, str], float] = {}

    def __call__(self, entry: TraceEntry) -> None:
        key = (entry.pod, entry.container)
        if entry.step.begins_operation or key not in self._began:
            self._began[key] = entry.at
        offset = entry.at - self._began[key]
        pod = entry.pod.split("/", 1)[-1]
        sys.stdout.write(
            f"+{offset:.3f}s  {entry.step.value:<10} {pod}/{entry.container}  {entry.detail}\n"
        )
        sys.stdout.flush()


async def _supervise(
    manifests: Manifests,
    settings: Settings,
    api: ApiOptions | None = None,
    trace: bool = False,
    ui: bool = False,
) -> int:
    stopped_by: list[int] = []
    dashboard: EmbeddedDashboard | None = None
    # run shares the daemon's root dir, not its cgroups: a subtree of its own, per process.
    subtree = f"minikubelet-run-{os.getpid()}"
    log_sink = None if ui else _print_log
    async with Kubelet(settings, log_sink=log_sink, cgroup_subtree=subtree) as kubelet:
        # The files' ConfigMaps and Secrets, before any pod that reads them starts.
        kubelet.objects.replace_files(_OBJECT_OWNER, manifests.objects)
        if not ui:
            kubelet.recorder.subscribe(_print_event)
        async with anyio.create_task_group() as group:
            listening = None
            if api is not None:
                try:
                    listening = await start_api(group, kubelet, api)
                except (MinikubeletError, OSError) as error:
                    sys.stderr.write(f"error: {error}\n")
                    group.cancel_scope.cancel()
                    return 1

            def say(text: str) -> None:
                if dashboard is not None:
                    dashboard.say(text)
                    return
                sys.stderr.write(text + "\n")

            def stop(signum: int) -> None:
                stopped_by.append(signum)
                if len(stopped_by) == 1:
                    say("stopping pods gracefully (again to kill them now)")
                    now = anyio.current_time()
                    for running in kubelet.snapshots():
                        kubelet.terminate(*running.key, since=now)
                else:
                    say("killing pods")
                    kubelet.kill_all()

            async def on_signals() -> None:
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for signum in signals:
                        stop(signum)

            group.start_soon(on_signals)
            printer = TracePrinter()
            for pod in manifests.pods:
                added = await kubelet.add_pod(pod)
                if trace and not ui:
                    kubelet.on_trace(added.uid, printer)
            if ui:
                # The dashboard replaces the interleaved lines; quitting it is a Ctrl-C.
                from minikubelet.ui.embedded import EmbeddedDashboard

                dashboard = EmbeddedDashboard(kubelet, lambda: stop(signal.SIGINT))
                await dashboard.start(group, listening)
            await kubelet.wait_all_done()
            if dashboard is not None:
                await dashboard.finish()
            group.cancel_scope.cancel()
        phases = {snapshot.pod.name: snapshot.status.phase for snapshot in kubelet.snapshots()}
    for name, phase in phases.items():
        sys.stderr.write(f"pod {name}: {phase.value}\n")
    if stopped_by:
        return 128 + stopped_by[0]
    return 0 if all(phase is PodPhase.SUCCEEDED for phase in phases.values()) else 1


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@engine_options
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="minikubelet's own log lines on stderr (events are always shown).",
)
@click.option(
    "--trace",
    is_flag=True,
    help="Print every lifecycle step as it happens: processes spawned, hooks, probe "
    "verdicts, each signal and to which pids, grace periods, exits, restart decisions.",
)
@click.option(
    "--ui",
    is_flag=True,
    help="Show the live dashboard instead of the interleaved lines (needs the 'ui' "
    "extra). Quitting it is Ctrl-C: the pods stop gracefully; quit again to kill them.",
)
def run(
    files: tuple[Path, ...],
    clean_env: bool,
    log_format: LogFormat,
    log_level: str,
    trace: bool,
    ui: bool,
    **flags: Any,
) -> None:
    """Run the pods in FILE... in the foreground, streaming their logs and events.

    Exits when every pod has reached a final phase and nothing will restart: 0 if all
    pods Succeeded, 1 otherwise. Ctrl-C stops the pods gracefully; a second Ctrl-C kills
    them at once.
    """
    if ui:
        from minikubelet.ui import require_textual

        missing = require_textual()
        if missing is not None:
            click.echo(missing, err=True)
            sys.exit(2)
    configure_logging(log_level, "json" if ui else log_format)
    tune_collector()
    try:
        config = build_config({}, {name: value for name, value in flags.items() if name in FLAGS})
    except ConfigError as error:
        for line in str(error).splitlines():
            click.echo(f"error: {line}", err=True)
        sys.exit(2)
    try:
        manifests = load_manifests(files)
    except MinikubeletError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    try:
        prepare_root_dir(config.root_dir)
        endpoints = api_endpoints(config, save_token=False)
        loop = eventloop.choose()
    except (ConfigError, OSError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    api = ApiOptions(endpoints, explicit_socket=flags.get("socket") is not None)
    if ui:
        # The terminal is the dashboard's: minikubelet's own log lines go to a file.
        append = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        log_file = os.fdopen(os.open(config.root_dir / "run-ui.log", append, 0o600), "a")
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(log_file))
    base_env = dict(os.environ)
    if clean_env:
        base_env = {key: value for key, value in base_env.items() if key in CLEAN_ENV_VARIABLES}
    settings = Settings(
        root_dir=config.root_dir,
        backoff=config.backoff,
        base_env=base_env,
        node_name=os.uname().nodename,
    )
    sys.exit(eventloop.run(loop, _supervise, manifests, settings, api, trace, ui))
