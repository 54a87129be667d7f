"""Fixtures of the dashboard and timeline tests: a real daemon, the in-process API, a stub."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import server, socket_dir
from tests.cli.conftest import stub
from tests.serve.daemon import Daemon

__all__ = ["daemon", "server", "socket_dir", "stub"]


@pytest.fixture
def daemon(tmp_path: Path, short_tmp: Path) -> Iterator[Daemon]:
    """``minikubelet serve`` as a subprocess (not started: the test starts it)."""
    running = Daemon(tmp_path, short_tmp)
    yield running
    running.close()
