"""The narrow interface between pod workers and whatever runs container processes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from minikubelet.runtime.process import ExitStatus

__all__ = ["ContainerProcess", "ContainerRuntime", "ExecResult", "Launch", "LineSink"]

LineSink = Callable[[str, str], None]  # (stream, text) for every complete log line


@dataclass(frozen=True)
class Launch:
    """Everything needed to start one container instance (or an exec inside it)."""

    tag: str  # "<pod uid>/<container name>": marks every process of the container
    argv: tuple[str, ...]
    cwd: str
    env: Mapping[str, str] = field(default_factory=dict)
    user: int | None = None
    group: int | None = None
    log_path: Path | None = None


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: bytes  # stdout and stderr interleaved, bounded
    timed_out: bool = False


class ContainerProcess(Protocol):
    pid: int
    spawned_at: float  # time.monotonic() right after the spawn

    async def pump_logs(self) -> None:
        """Copy the container's stdout/stderr to its log until every writer has closed."""

    async def wait(self) -> ExitStatus:
        """Wait for the main process to exit."""

    def signal_main(self, signum: int) -> bool:
        """Send ``signum`` to the main process only; False if it already exited."""

    async def kill_all(self, on_signal: Callable[[list[int]], None] | None = None) -> list[int]:
        """SIGKILL every process of the container until none is left; the pids killed.

        ``on_signal`` hears the pids as soon as they are signalled, before they are reaped.
        """


class ContainerRuntime(Protocol):
    async def start(self, launch: Launch, sink: LineSink | None = None) -> ContainerProcess:
        """Spawn the main process; raises RuntimeStartError if it cannot run."""

    async def exec(self, launch: Launch, timeout: float | None) -> ExecResult:
        """Run ``launch.argv`` as part of the container; on timeout kill its whole tree."""

    def reap_orphans(self) -> list[int]:
        """Reap exited orphans re-parented to us; the pids reaped."""
