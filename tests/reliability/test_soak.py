"""The soak in short form: restarts and pod cycles leave fds, threads and tasks flat.

``bench/soak.py`` (10,000 restarts, 1,000 cycles) is the full run; this is the same code
with 300 restarts and 50 cycles, on real processes, through the API, with two watches and
a stream of reads. Tolerances are for a busy 2-core machine: descriptors and tasks must
come back exactly (once the keep-alive timeout let go of the closed connections), threads
may differ by anyio's idle worker threads, memory may grow a little (the change history is
not full yet in a run this short; events are capped low so that their bound is reached).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import soak

pytestmark = [pytest.mark.anyio, pytest.mark.integration, pytest.mark.timeout(240)]


@pytest.fixture
def quiet_logs() -> Iterator[None]:
    """Only warnings: thousands of info lines captured by pytest would be memory too."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        yield
    finally:
        structlog.reset_defaults()


@pytest.mark.usefixtures("quiet_logs")
async def test_restarts_and_pod_cycles_leave_the_daemon_flat() -> None:
    config = soak.SoakConfig(restarts=300, cycles=50, warmup_fraction=0.2, event_limit=40)
    result = await soak.soak(config)
    print(soak.report(result))
    counters = result.counters
    assert counters.restarts >= 300
    assert counters.cycles == 50
    assert not counters.read_errors
    assert counters.watch_events["pods"] > 0
    assert counters.watch_events["events"] > 0
    warm, end = result.warm, result.end
    assert result.fds_released_s is not None, "closed connections kept their descriptors"
    assert end.fds <= warm.fds
    assert end.tasks <= warm.tasks
    assert end.threads <= warm.threads + 4  # anyio's idle worker threads come and go
    assert result.growth_pct("objects") < 10
    assert result.growth_pct("rss") < 20
