"""The sampling memory limit: kill or not, and when to sample next (tables)."""

from __future__ import annotations

import pytest

from minikubelet.logic.memory_limit import (
    MemoryExceeded,
    MemorySample,
    MemoryWithinLimit,
    check_memory,
)

MI = 2**20
LIMIT = 64 * MI


def samples(*points: tuple[float, int]) -> list[MemorySample]:
    return [MemorySample(at, usage) for at, usage in points]


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        # nothing known yet: look again soon
        ([], MemoryWithinLimit(0.1)),
        (samples((0.0, 10 * MI)), MemoryWithinLimit(0.1)),
        # over the limit once is enough, as for the kernel
        (samples((0.0, 65 * MI)), MemoryExceeded(65 * MI, LIMIT)),
        (samples((0.0, 10 * MI), (1.0, 300 * MI)), MemoryExceeded(300 * MI, LIMIT)),
        # at the limit is not over it
        (samples((0.0, LIMIT), (1.0, LIMIT)), MemoryWithinLimit(1.0)),
        # flat or shrinking: the longest interval
        (samples((0.0, 10 * MI), (1.0, 10 * MI)), MemoryWithinLimit(1.0)),
        (samples((0.0, 20 * MI), (1.0, 10 * MI)), MemoryWithinLimit(1.0)),
        # slow growth: 1 MiB/s with 54 MiB to go is 54 s away: still the longest interval
        (samples((0.0, 9 * MI), (1.0, 10 * MI)), MemoryWithinLimit(1.0)),
        # 20 MiB/s with 24 MiB to go: 1.2 s away, look again in 0.6 s
        (samples((0.0, 20 * MI), (1.0, 40 * MI)), MemoryWithinLimit(0.6)),
        # fast growth: never below the shortest interval
        (samples((0.0, 10 * MI), (0.1, 60 * MI)), MemoryWithinLimit(0.1)),
        # only the last two samples matter
        (samples((0.0, 60 * MI), (1.0, 10 * MI), (2.0, 10 * MI)), MemoryWithinLimit(1.0)),
        # samples at the same instant carry no trend
        (samples((1.0, 10 * MI), (1.0, 30 * MI)), MemoryWithinLimit(1.0)),
    ],
)
def test_check_memory(
    history: list[MemorySample], expected: MemoryExceeded | MemoryWithinLimit
) -> None:
    decision = check_memory(history, LIMIT)
    if isinstance(expected, MemoryWithinLimit):
        assert isinstance(decision, MemoryWithinLimit)
        assert decision.next_sample_in == pytest.approx(expected.next_sample_in)
    else:
        assert decision == expected


def test_intervals_are_the_callers() -> None:
    steady = samples((0.0, MI), (5.0, MI))
    assert check_memory(steady, LIMIT, max_interval=5.0) == MemoryWithinLimit(5.0)
    assert check_memory([], LIMIT, min_interval=0.5) == MemoryWithinLimit(0.5)


def test_the_message_says_it_was_sampled() -> None:
    decision = check_memory(samples((0.0, 300 * MI)), LIMIT)
    assert isinstance(decision, MemoryExceeded)
    assert decision.message == (
        "memory usage 300Mi exceeded its limit of 64Mi (sampled; no cgroup enforces the limit here)"
    )
