"""Python's cyclic garbage collector, set for a long-running engine (``run``, ``serve``).

Why: with 1000 pods the engine holds about 600 000 GC-tracked objects, and a full
collection walks all of them: 300-560 ms on the 2-core dev machine, during which no
probe, restart or API request runs. With CPython's default thresholds (700, 10, 10) the
short-lived objects of 2000 probes a second (tasks, futures, sockets, cancel scopes) are
often alive when a young collection runs, get promoted, and make a full collection due
every 2-10 s: ``bench/probes.py --pods 1000`` saw probes up to 1.4 s late and 1509 ticks
missed in 30 s.

The collector counts allocations minus deallocations of tracked objects, so the
short-lived objects of a probe cancel out; a young collection comes after 50 000 more
survivors instead of 700, the middle one after 20 of those, a full one after 100 middle
ones (and CPython's own rule still wants a quarter of the long-lived objects new since
the last, ``gc_collect_generations``). Measured with 1000 pods: no full collection over
the window, every probe on time (0 missed ticks), one young pass of 15-40 ms every
10-25 s, and one middle pass of ~350 ms some 50 s after start-up, when it first sorts
the start-up's objects into the old generation. Garbage in cycles waits longer (at most
50 000 objects' worth), which costs a few MB, not a leak.
"""

from __future__ import annotations

import gc

__all__ = ["THRESHOLDS", "tune_collector"]

THRESHOLDS = (50_000, 20, 100)  # (young, middle, full); CPython's default is (700, 10, 10)


def tune_collector() -> None:
    """Set the collector's thresholds for the engine; once, at the entry point."""
    gc.set_threshold(*THRESHOLDS)
