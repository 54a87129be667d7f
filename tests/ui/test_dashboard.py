"""The dashboard against a real daemon (``serve`` as a subprocess), driven with Textual's Pilot."""

from __future__ import annotations

import psutil
import pytest

from minikubelet.cli.client.connection import Server
from minikubelet.ui.app import Dashboard
from minikubelet.ui.screens import Confirm
from tests.serve.daemon import Daemon, wait_for
from tests.ui.dashboard import cells, child_pod_json, create_pod, until

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

BACKOFF = ("--initial-container-restart-period", "1s", "--max-container-restart-period", "2s")


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def dashboard(daemon: Daemon) -> Dashboard:
    return Dashboard(Server(socket=str(daemon.socket)), title="minikubelet ui · test")


async def select(pilot, app: Dashboard, key: str) -> None:  # type: ignore[no-untyped-def]
    """Move the cursor to ``key`` with the arrow keys, as a person would."""
    await until(pilot, lambda: key in app._row_keys, f"{key} in the table")
    while app.selected != key:
        index, target = app._row_keys.index(app.selected or ""), app._row_keys.index(key)
        await pilot.press("down" if target > index else "up")


async def test_a_pod_appears_runs_crash_loops_shows_its_log_and_is_deleted(
    daemon: Daemon,
) -> None:
    facts = daemon.facts
    daemon.start(*BACKOFF).wait_ready()
    app = dashboard(daemon)
    async with app.run_test(size=(110, 32)) as pilot:
        await until(pilot, lambda: app.connected, "the connection")
        create_pod(
            daemon.socket,
            child_pod_json(
                "web", "--forever", "--print", "hello from web", "--ready-file", str(facts / "pid")
            ),
        )
        create_pod(daemon.socket, child_pod_json("crash", "--exit-code", "1"))
        row = await until(pilot, lambda: cells(app, "default/web"), "web to appear")
        assert row is not None
        assert row[0] == "web"
        await until(
            pilot, lambda: (cells(app, "default/web") or [""] * 3)[2] == "Running", "Running"
        )
        pid = int(daemon.wait_fact("pid"))

        seen: set[str] = set()

        def crash_looping() -> bool:
            row = cells(app, "default/crash") or ["", "", "", "0"]
            seen.add(row[2])
            return "CrashLoopBackOff" in seen and int(row[3].split()[0]) >= 2

        await until(pilot, crash_looping, "crash to crash-loop", timeout=30)
        assert "(" in (cells(app, "default/crash") or [])[3]  # "2 (1s ago)"

        await select(pilot, app, "default/web")
        await pilot.press("2")  # the logs pane
        await until(pilot, lambda: "hello from web" in app.log_lines, "the log line")

        await pilot.press("ctrl+d")
        await until(pilot, lambda: isinstance(app.screen, Confirm), "the confirmation")
        await pilot.press("y")
        await until(pilot, lambda: "default/web" not in app.store.pods, "web to go")
        assert cells(app, "default/web") is None
        wait_for(lambda: gone(pid), what=f"pid {pid} to be gone")
        assert "sigterm" not in daemon.fact("web.record")  # (no record flag: nothing to say)


async def test_80x24_and_restarting_a_container_from_the_dashboard(daemon: Daemon) -> None:
    facts = daemon.facts
    daemon.start().wait_ready()
    create_pod(
        daemon.socket,
        child_pod_json(
            "web", "--forever", "--sigterm-exit-code", "0", "--record", str(facts / "r")
        ),
    )
    app = dashboard(daemon)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(
            pilot, lambda: (cells(app, "default/web") or [""] * 3)[2] == "Running", "Running"
        )
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.2)
        assert app.screen.size == (80, 24)
        for widget in ("#topbar", "#pods", "#details"):
            region = app.query_one(widget).region
            assert region.height >= 1, widget
            assert region.right <= 80, widget
            assert region.bottom <= 23, widget  # the key line keeps the last row
        assert app.pods_table.region.height >= 3  # header and rows still show
        assert cells(app, "default/web") is not None

        await select(pilot, app, "default/web")
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, Confirm), "the confirmation")
        await pilot.press("y")
        await until(
            pilot, lambda: (cells(app, "default/web") or ["0"] * 4)[3].startswith("1"), "a restart"
        )
        assert daemon.fact("r").count("start") == 2
        assert "sigterm" in daemon.fact("r")
        await pilot.press("3")  # events
        await until(
            pilot,
            lambda: any(e.get("message") == "Container app restart requested" for e in app.events),
            "the Killing event",
        )


async def test_the_dashboard_reconnects_when_the_daemon_restarts(daemon: Daemon) -> None:
    daemon.start().wait_ready()
    create_pod(daemon.socket, child_pod_json("web", "--forever"))
    app = dashboard(daemon)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: cells(app, "default/web"), "web")
        assert daemon.stop() == 0
        await until(pilot, lambda: not app.connected, "the disconnection")
        assert "reconnecting" in app.connection_note
        assert cells(app, "default/web") is not None  # the last known pods stay on screen
        daemon.start().wait_ready()
        await until(pilot, lambda: app.connected, "the reconnection", timeout=30)
        create_pod(daemon.socket, child_pod_json("after", "--forever"))
        await until(pilot, lambda: cells(app, "default/after"), "a pod created after it")
        await until(pilot, lambda: (cells(app, "default/web") or [""] * 3)[2] == "Running", "web")
