"""``minikubelet run FILE...``: run pods in the foreground until they are done.

Streams container logs on stdout (``pod/container | line``) and events on stderr. The
first SIGINT/SIGTERM stops every pod gracefully (preStop, stop signal, grace period), a
second one kills them at once. Exit status: 0 if every pod Succeeded, 1 otherwise, and
128+N when stopped by signal N (130 for Ctrl-C), once every container is gone.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import anyio
import click

from minikubelet.capabilities import without_unimplemented
from minikubelet.cli.options import default_root_dir, engine_options
from minikubelet.errors import ManifestError, MinikubeletError
from minikubelet.kubelet import Kubelet
from minikubelet.log import LogFormat, configure_logging
from minikubelet.logic.backoff import BackoffPolicy
from minikubelet.logic.environment import CLEAN_ENV_VARIABLES
from minikubelet.manifest import load_file
from minikubelet.model.events import Event, EventType
from minikubelet.model.spec import Pod
from minikubelet.model.status import PodPhase
from minikubelet.pod_worker import Settings

__all__ = ["load_pods", "run"]


def load_pods(files: Sequence[Path]) -> list[Pod]:
    """Every pod of every file; raises MinikubeletError naming every problem, before any start."""
    pods: list[Pod] = []
    errors: list[str] = []
    seen: dict[tuple[str, str], Path] = {}
    for path in files:
        try:
            result = load_file(path)
        except ManifestError as error:
            errors.append(str(error))
            continue
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
        for parsed in result.pods:
            pod, unimplemented = without_unimplemented(parsed)
            for warning in unimplemented:
                click.echo(f"warning: {warning}", err=True)
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
    return pods


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


async def _supervise(pods: list[Pod], settings: Settings) -> int:
    stopped_by: list[int] = []
    async with Kubelet(settings, log_sink=_print_log) as kubelet:
        kubelet.recorder.subscribe(_print_event)
        async with anyio.create_task_group() as group:

            async def on_signals() -> None:
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for signum in signals:
                        stopped_by.append(signum)
                        if len(stopped_by) == 1:
                            sys.stderr.write("stopping pods gracefully (again to kill them now)\n")
                            for worker in kubelet.workers():
                                worker.terminate()
                        else:
                            sys.stderr.write("killing pods\n")
                            kubelet.kill_all()

            group.start_soon(on_signals)
            for pod in pods:
                await kubelet.add_pod(pod)
            await kubelet.wait_all_done()
            group.cancel_scope.cancel()
        phases = {worker.pod.name: worker.status.phase for worker in kubelet.workers()}
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
def run(
    files: tuple[Path, ...],
    root_dir: Path | None,
    initial_container_restart_period: float,
    max_container_restart_period: float,
    clean_env: bool,
    log_format: LogFormat,
    log_level: str,
) -> None:
    """Run the pods in FILE... in the foreground, streaming their logs and events.

    Exits when every pod has reached a final phase and nothing will restart: 0 if all
    pods Succeeded, 1 otherwise. Ctrl-C stops the pods gracefully; a second Ctrl-C kills
    them at once.
    """
    configure_logging(log_level, log_format)
    try:
        pods = load_pods(files)
    except MinikubeletError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    base_env = dict(os.environ)
    if clean_env:
        base_env = {key: value for key, value in base_env.items() if key in CLEAN_ENV_VARIABLES}
    settings = Settings(
        root_dir=root_dir or default_root_dir(),
        backoff=BackoffPolicy(
            initial=initial_container_restart_period, maximum=max_container_restart_period
        ),
        base_env=base_env,
        node_name=os.uname().nodename,
    )
    sys.exit(anyio.run(_supervise, pods, settings))
