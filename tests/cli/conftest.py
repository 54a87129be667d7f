"""Fixtures of the CLI tests: a fixed local time zone, a stub API server on a unix socket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.stub import StubServer


@pytest.fixture
def utc_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC, so describe's local timestamps are predictable."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def stub(short_tmp: Path) -> Iterator[StubServer]:
    """A scripted Kubernetes-shaped API on a unix socket."""
    with StubServer(str(short_tmp / "stub.sock")) as server:
        yield server
