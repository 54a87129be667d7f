"""Shared fixtures: a leak check on every test, an engine on real processes, the child."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psutil
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from minikubelet.kubelet import Kubelet
from minikubelet.logic.backoff import BackoffPolicy
from minikubelet.runtime.process import become_subreaper
from minikubelet.settings import Settings

CHILD = str(Path(__file__).parent / "helpers" / "child.py")
PYTHON = sys.executable


# Hypothesis (the fuzzers in tests/fuzz): the same examples every run, a bounded number,
# no example database and no deadline (a busy 2-core machine is slow, not wrong; the fuzzers
# bound time themselves). A longer, random run (about 15 min; faulthandler's dump of a test
# past 55 s can crash the interpreter in a deep YAML recursion, hence its 0):
#     HYPOTHESIS_PROFILE=long scripts/test tests/fuzz -o faulthandler_timeout=0
hypothesis_settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=60,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
hypothesis_settings.register_profile(
    "long",
    max_examples=3000,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# The test process is the child subreaper, so whatever a test starts stays among its
# descendants even after its parent died (a double-forked daemon included).
become_subreaper()


def _ours() -> dict[int, str]:
    """Live descendants of this test process: whatever the tests started."""
    found = {}
    for process in psutil.Process().children(recursive=True):
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            found[process.pid] = " ".join(process.cmdline())
        except psutil.Error:
            continue
    return found


@pytest.fixture(autouse=True)
def no_leaked_processes() -> Iterator[None]:
    """Fail the test that left a process behind, after killing it."""
    before = set(_ours())
    yield
    leaked = {pid: cmd for pid, cmd in _ours().items() if pid not in before}
    for pid in leaked:
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()
    assert not leaked, f"test leaked processes: {leaked}"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short temp dir (unix socket paths must stay under 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="mk") as path:
        yield Path(path)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        root_dir=tmp_path / "root",
        backoff=BackoffPolicy(initial=0.1, maximum=0.4),
        minimum_grace_period=0.2,
        base_env=dict(os.environ),
    )


@pytest.fixture
async def kubelet(settings: Settings) -> AsyncIterator[Kubelet]:
    async with Kubelet(settings) as running:
        yield running
