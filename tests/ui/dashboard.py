"""Driving the dashboard in tests: wait for what it shows, read its tables, make pods."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets.data_table import RowDoesNotExist

from minikubelet.ui.app import Dashboard
from tests.conftest import CHILD, PYTHON

__all__ = ["cells", "child_pod_json", "create_pod", "screen_text", "until"]

T = TypeVar("T")


def cells(app: Dashboard, key: str) -> list[str] | None:
    """The pods table's row of ``key`` as text, or None when it is not shown."""
    try:
        row = app.pods_table.get_row(key)
    except RowDoesNotExist:
        return None
    return [cell.plain if isinstance(cell, Text) else str(cell) for cell in row]


def screen_text(app: Dashboard) -> str:
    """What a person sees, roughly: the table rows and the status line."""
    rows = [" | ".join(cells(app, key) or []) for key in app._row_keys]
    return "\n".join([app.heading, app.connection_note, app.notice, *rows])


async def until(
    pilot: Pilot[Any], predicate: Callable[[], T], what: str, timeout: float = 20.0
) -> T:
    """Wait until ``predicate()`` is true (the app keeps running meanwhile)."""
    try:
        with anyio.fail_after(timeout):
            while not (value := predicate()):
                await pilot.pause(0.05)
    except TimeoutError:
        app = pilot.app
        assert isinstance(app, Dashboard)
        raise AssertionError(f"timed out waiting for {what}; screen:\n{screen_text(app)}") from None
    return value


def child_pod_json(name: str, *flags: str, grace: int = 5, **spec: Any) -> dict[str, Any]:
    """A pod running the test child with ``flags``."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "terminationGracePeriodSeconds": grace,
            "containers": [{"name": "app", "command": [PYTHON, CHILD, *flags]}],
            **spec,
        },
    }


def create_pod(socket: Path, pod: dict[str, Any]) -> None:
    transport = httpx.HTTPTransport(uds=str(socket))
    with httpx.Client(transport=transport, base_url="http://minikubelet", timeout=10) as client:
        response = client.post("/api/v1/namespaces/default/pods", content=json.dumps(pod))
        assert response.status_code == 201, response.text
