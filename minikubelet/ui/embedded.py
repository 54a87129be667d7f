"""``run --ui``: the dashboard inside ``run``'s own event loop, talking to run's own API.

Textual is asyncio-only, so ``run --ui`` runs on anyio's asyncio backend (``run`` without
``--ui`` is unchanged and still runs on trio too). The app is started with
``App.run_async()`` as one more task of run's task group, beside the pods and the API; it
reads run's API over its unix socket exactly as ``minikubelet ui`` reads a daemon's (one
code path, one set of tests). When run serves no socket (the default one belongs to
another minikubelet and no ``--socket`` was given), a private socket in a temporary
directory serves the dashboard alone.

Quitting is Ctrl-C: the first quit stops every pod gracefully and the dashboard stays up,
showing them stop; a second one kills them; once every pod is gone, run closes the
dashboard and exits 130, as after Ctrl-C. When the pods finish by themselves the
dashboard stays until quit (then the exit status is the pods': 0 or 1). Should the app end
any other way while pods run, they are stopped gracefully as on a quit.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.abc

from minikubelet.cli.client.connection import Server
from minikubelet.kubelet import Kubelet
from minikubelet.server import ApiEndpoints, Listening
from minikubelet.server.serving import serve_api
from minikubelet.ui.app import Dashboard

__all__ = ["EmbeddedDashboard"]


class EmbeddedDashboard:
    """The dashboard of one ``run --ui``; ``start`` it in run's task group."""

    def __init__(self, kubelet: Kubelet, stop: Callable[[], None]) -> None:
        self._kubelet = kubelet
        self._stop = stop  # what Ctrl-C does: graceful the first time, a kill after
        self._quit_asked = False
        self._ended = anyio.Event()
        self._private: Path | None = None
        self.app: Dashboard | None = None

    def _all_done(self) -> bool:
        return all(pod.finished for pod in self._kubelet.snapshots())

    def _on_quit(self) -> bool:
        if self._all_done():
            return True
        self._quit_asked = True
        self._stop()
        return False

    async def start(self, group: anyio.abc.TaskGroup, listening: Listening | None) -> None:
        """Serve a private socket if need be, and start the app in ``group``."""
        if listening is not None and listening.socket is not None:
            server = Server(socket=str(listening.socket))
        else:
            self._private = Path(tempfile.mkdtemp(prefix="mk-ui-"))
            endpoints = ApiEndpoints(socket=self._private / "api.sock")
            private = await group.start(serve_api, self._kubelet, endpoints)
            server = Server(socket=str(private.socket))
        names = ", ".join(pod.pod.name for pod in self._kubelet.snapshots()) or "pods"
        self.app = Dashboard(server, on_quit=self._on_quit, title=f"minikubelet run · {names}")
        group.start_soon(self._run)

    async def _run(self) -> None:
        assert self.app is not None
        try:
            await self.app.run_async()
        finally:
            self._ended.set()
            if not self._quit_asked and not self._all_done():
                self._quit_asked = True
                self._stop()  # the dashboard went away: treat it as a quit

    def say(self, text: str) -> None:
        """A notice on the dashboard's status line (where ``run`` would write to stderr)."""
        if self.app is not None and self.app.is_running:
            self.app.say(text)

    async def finish(self) -> None:
        """Every pod is done: close the dashboard now if quitting, else when the user quits."""
        if self.app is not None and not self._ended.is_set():
            if self._quit_asked:
                self.app.exit()
            else:
                self.app.say("every pod has finished · q to exit")
            await self._ended.wait()
        if self._private is not None:
            shutil.rmtree(self._private, ignore_errors=True)

    @property
    def quit_asked(self) -> bool:
        return self._quit_asked
