"""Python's cyclic garbage collector, set for a long-running engine (``run``, ``serve``).

Why: with 1000 pods the engine holds about 600 000 GC-tracked objects, and a full
collection walks all of them: 300-560 ms on the 2-core dev machine, during which no
probe, restart or API request runs. With CPython's default thresholds (700, 10, 10) the
short-lived objects of 2000 probes a second (tasks, futures, sockets, cancel scopes) are
often alive when a young collection runs, get promoted, and make a full collection due
every 2-10 s: ``bench/probes.py --pods 1000`` saw probes up to 1.4 s late and 1509 ticks
missed in 30 s.

The collector counts allocations minus deallocations of tracked objects, so the
short-lived objects of a probe cancel out. A young collection comes after 50 000 more
survivors instead of 700, and every other one is also a middle one, so that what
survives (the pods' state, during start-up) moves on to the old generation soon, in
passes of about 150 000 objects at most. With the default middle threshold (10, or 20) the first
middle pass came ~50 s after a 1000-pod start-up and walked all of it: 350 ms. A full
collection needs 100 of those passes (and CPython's own rule still wants a quarter of the
long-lived objects new since the last one, ``gc_collect_generations``): under probe load,
one every few tens of minutes instead of every few seconds. Garbage in cycles waits
longer to be reclaimed (at most 50 000 objects' worth): a few MB, not a leak.
"""

from __future__ import annotations

import gc

__all__ = ["THRESHOLDS", "tune_collector"]

THRESHOLDS = (50_000, 1, 100)  # (young, middle, full); CPython's default is (700, 10, 10)


def tune_collector() -> None:
    """Set the collector's thresholds for the engine; once, at the entry point."""
    gc.set_threshold(*THRESHOLDS)
