#!/usr/bin/env python3
"""Soak of one daemon: container restarts and pod create/delete cycles, with watches and reads.

The daemon is minikubelet's engine and API as ``minikubelet serve`` assembles them (a
``Kubelet``, the API pod store, the static pod source on an empty directory, the API on a
unix socket), run *in this process* so that its anyio tasks can be counted; the clients
run in the same event loop, over the socket, as separate connections, like kubectl.

Load, in phases (a warm-up, then the measured run):

* ``--crashers`` pods (created through the API) whose container exits at once,
  ``restartPolicy: Always`` with no crash-loop back-off, until the phase's restarts are done;
* pod create/delete cycles through the API: POST a pod (``sleep``), wait until it runs,
  DELETE it with a short grace period, wait until it is gone;
* two watches that stay open for the whole soak (pods, events), each reading everything;
* a steady stream of reads on fresh connections: pod lists, one pod, events, a log, a
  trace, ``/metrics``, now and then ``/stats/summary``.

At the end of each phase the crash-looping pods are deleted and the reads stop, so both
samples are taken in the same quiet state (the two watches open, nothing else running):
open file descriptors, threads, anyio tasks, RSS, and the growth between the two samples
(target: < 5 % after warm-up). Closed connections' descriptors must be released within
hypercorn's keep-alive timeout (5 s). ``--tracemalloc`` traces allocations from the
warm-up on and prints those still alive at the end (slow: several times slower).

    .venv/bin/python bench/soak.py                     # 10,000 restarts, 1,000 cycles
    .venv/bin/python bench/soak.py --restarts 2000 --cycles 200 --tracemalloc

``tests/reliability/test_soak.py`` runs a short version in the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import httpx
import psutil
import structlog

from minikubelet.api.serialize import event_json
from minikubelet.events import EVENT_LIMIT, EventRecorder
from minikubelet.kubelet import Kubelet
from minikubelet.logic.backoff import BackoffPolicy
from minikubelet.model.events import Event, EventType
from minikubelet.server import ApiEndpoints
from minikubelet.server.changes import Snapshot
from minikubelet.server.serving import serve_api
from minikubelet.settings import Settings
from minikubelet.sources import ApiPodStore, StaticPodSource

__all__ = ["Sample", "SoakConfig", "SoakResult", "main", "soak"]

TARGET_GROWTH_PCT = 5.0
KEEP_ALIVE_S = 5.0  # hypercorn's keep_alive_timeout: how long an idle connection may stay


@dataclass(frozen=True)
class SoakConfig:
    restarts: int = 10_000
    cycles: int = 1_000
    # The warm-up fills every bounded history and turns the change log's over once (about
    # 5,000 changes each way here), after which the allocator's footprint is steady.
    warmup_fraction: float = 0.2
    crashers: int = 4
    readers: int = 2
    # Events live an hour (up to 5000): a soak of minutes never fills that bound, so it
    # runs with a small one that the warm-up fills, and reports what an event weighs.
    event_limit: int = 250
    tracemalloc: bool = False
    tmpdir: Path | None = None


@dataclass(frozen=True)
class Sample:
    fds: int
    threads: int
    tasks: int
    rss: int  # bytes
    objects: int  # gc-tracked objects
    traced: int = 0  # bytes tracemalloc sees (0 when off)

    @staticmethod
    def take() -> Sample:
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
        return Sample(
            fds=len(os.listdir("/proc/self/fd")),
            threads=threading.active_count(),
            tasks=len(anyio.get_running_tasks()),
            rss=psutil.Process().memory_info().rss,
            objects=len(gc.get_objects()),
            traced=traced,
        )


@dataclass
class Counters:
    restarts: int = 0
    cycles: int = 0
    reads: int = 0
    read_errors: list[str] = field(default_factory=list)
    watch_events: dict[str, int] = field(default_factory=lambda: {"pods": 0, "events": 0})
    watch_restarts: int = 0


@dataclass
class SoakResult:
    config: dict[str, Any]
    warm: Sample
    mid: Sample
    end: Sample
    counters: Counters
    seconds: float
    fds_released_s: float | None  # how long the fds of closed connections took to go
    top_growth: list[str] = field(default_factory=list)
    top_types: list[str] = field(default_factory=list)  # gc-tracked objects, by type
    event_bytes: float = 0.0  # what one event series weighs (recorder + API)
    load_avg: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def growth_pct(self, name: str, since: str = "warm") -> float:
        before, after = getattr(getattr(self, since), name), getattr(self.end, name)
        return (after - before) / before * 100 if before else 0.0


# -- the daemon --------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def daemon(root: Path, event_limit: int) -> AsyncIterator[tuple[Kubelet, Path]]:
    """The engine and its API, assembled as ``minikubelet serve`` does."""
    settings = Settings(
        root_dir=root / "root",
        backoff=BackoffPolicy(initial=0.0, maximum=0.0),  # restart at once: a fast soak
        minimum_grace_period=0.2,
        base_env={k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
    )
    manifests = root / "manifests"
    manifests.mkdir()
    socket = root / "api.sock"
    store = ApiPodStore(settings.root_dir)
    async with Kubelet(settings) as kubelet:
        # Before any pod or the API: both take the recorder when they start.
        kubelet.recorder = EventRecorder(kubelet.clock, limit=event_limit)
        detach = store.attach(kubelet)
        try:
            async with anyio.create_task_group() as group:
                source = StaticPodSource(kubelet, manifests, check_frequency=20.0)
                await group.start(source.run)
                await group.start(serve_api, kubelet, ApiEndpoints(socket=socket))
                yield kubelet, socket
                group.cancel_scope.cancel()
        finally:
            detach()


# -- the clients -------------------------------------------------------------------------


def client(socket: Path, *, keep_alive: bool) -> httpx.AsyncClient:
    limits = httpx.Limits(max_keepalive_connections=None if keep_alive else 0)
    transport = httpx.AsyncHTTPTransport(uds=str(socket), limits=limits)
    return httpx.AsyncClient(transport=transport, base_url="http://minikubelet", timeout=30)


def pod_manifest(name: str, command: list[str], grace: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"soak": "yes"}},
        "spec": {
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": grace,
            "containers": [{"name": "c", "image": "local", "command": command}],
        },
    }


PODS = "/api/v1/namespaces/default/pods"


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    with anyio.fail_after(timeout):
        while not predicate():  # noqa: ASYNC110 - the engine's state, read from outside
            await anyio.sleep(0.005)
    del what


async def crash_loop(
    kubelet: Kubelet, http: httpx.AsyncClient, count: int, restarts: int, counters: Counters
) -> None:
    """``count`` crash-looping pods until they restarted ``restarts`` times in all."""
    names = [f"crasher-{i}" for i in range(count)]
    for name in names:
        response = await http.post(PODS, json=pod_manifest(name, ["true"]))
        response.raise_for_status()

    def done() -> int:
        total = 0
        for name in names:
            snapshot = kubelet.snapshot("default", name)
            if snapshot is not None:
                total += sum(s.restart_count for s in snapshot.status.container_statuses)
        return total

    progress, since = done(), anyio.current_time()
    while (now := done()) < restarts:
        if now != progress:
            progress, since = now, anyio.current_time()
        elif anyio.current_time() - since > 60:
            raise RuntimeError(f"no restart for 60 s ({now} of {restarts})")
        await anyio.sleep(0.05)
    counters.restarts += done()
    for name in names:
        (await http.delete(f"{PODS}/{name}", params={"gracePeriodSeconds": "0"})).raise_for_status()
    await wait_for(lambda: all(kubelet.snapshot("default", n) is None for n in names), 60, "gone")


async def cycles(
    kubelet: Kubelet, http: httpx.AsyncClient, count: int, counters: Counters, tag: str
) -> None:
    """``count`` create / run / delete / gone cycles through the API."""
    for i in range(count):
        name = f"cycle-{tag}-{i}"
        response = await http.post(PODS, json=pod_manifest(name, ["sleep", "30"]))
        response.raise_for_status()

        def running(name: str = name) -> bool:
            snapshot = kubelet.snapshot("default", name)
            return snapshot is not None and snapshot.status.phase.value == "Running"

        await wait_for(running, 30, f"{name} running")
        response = await http.delete(f"{PODS}/{name}", params={"gracePeriodSeconds": "1"})
        response.raise_for_status()

        def gone(name: str = name) -> bool:
            return kubelet.snapshot("default", name) is None

        await wait_for(gone, 30, f"{name} gone")
        counters.cycles += 1


async def reader(socket: Path, stop: anyio.Event, counters: Counters, index: int) -> None:
    """Reads on fresh connections (``index`` 0) or one kept-alive connection, until stopped."""
    paths = [
        PODS,
        "/api/v1/pods?labelSelector=soak%3Dyes",
        "/pods",
        "/api/v1/events",
        "/metrics",
        f"{PODS}/crasher-0",
        f"{PODS}/crasher-0/log?tailLines=5",
        f"{PODS}/crasher-0/trace",
    ]
    async with client(socket, keep_alive=index % 2 == 1) as http:
        turn = 0
        while not stop.is_set():
            path = "/stats/summary" if turn % 50 == 49 else paths[turn % len(paths)]
            turn += 1
            response = await http.get(path)
            if response.status_code >= 500 or (
                response.status_code >= 400 and "crasher-0" not in path
            ):
                counters.read_errors.append(f"{path}: {response.status_code}")
            counters.reads += 1
            await anyio.sleep(0.01)


async def watcher(socket: Path, resource: str, counters: Counters) -> None:
    """A watch that reads every event, for as long as the soak runs (reconnecting if it ends)."""
    path = "/api/v1/events" if resource == "events" else "/api/v1/pods"
    async with client(socket, keep_alive=True) as http:
        version = "0"
        while True:
            params = {"watch": "true", "resourceVersion": version}
            async with http.stream("GET", path, params=params, timeout=None) as response:
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event["type"] == "ERROR":
                        version = "0"
                        break
                    version = event["object"]["metadata"]["resourceVersion"]
                    counters.watch_events[resource] += 1
            counters.watch_restarts += 1


def event_cost(count: int = 3000) -> float:
    """Bytes one event series costs, kept by the recorder and the API (traced)."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    recorder = EventRecorder(lambda: datetime.now(UTC), limit=count)
    kept: dict[str, Snapshot] = {}

    def publish(event: Event) -> None:
        snapshot = Snapshot(1, lambda: event_json(event))
        snapshot.compact()
        assert snapshot.data  # rendered, as a watcher would
        kept[event.name] = snapshot

    recorder.subscribe(publish)
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(count // 3):
        for reason, message in (
            ("Created", "Created"),
            ("Started", "Started"),
            ("Killing", "Kill"),
        ):
            recorder.record(
                namespace="default",
                pod=f"cycle-m-{i}",
                pod_uid=f"5c3e0f0e-1b7a-4f7e-9d55-{i:012d}",
                type=EventType.NORMAL,
                reason=reason,
                message=f"{message} container c",
                field_path="spec.containers{c}",
            )
    gc.collect()
    cost = (tracemalloc.get_traced_memory()[0] - before) / len(recorder)
    if not was_tracing:
        tracemalloc.stop()
    return cost


def type_counts() -> dict[str, int]:
    counts: dict[str, int] = {}
    for obj in gc.get_objects():
        name = type(obj).__qualname__
        counts[name] = counts.get(name, 0) + 1
    return counts


# -- phases ------------------------------------------------------------------------------


async def phase(
    kubelet: Kubelet, socket: Path, restarts: int, count: int, counters: Counters, tag: str
) -> None:
    stop = anyio.Event()
    async with client(socket, keep_alive=False) as http, anyio.create_task_group() as group:
        for index in range(2):
            group.start_soon(reader, socket, stop, counters, index)

        async def work() -> None:
            async with anyio.create_task_group() as inner:
                inner.start_soon(crash_loop, kubelet, http, 4, restarts, counters)
                inner.start_soon(cycles, kubelet, http, count, counters, tag)
            stop.set()

        group.start_soon(work)


async def quiet_sample(baseline_fds: int | None) -> tuple[Sample, float | None]:
    """A sample once the closed connections' descriptors are gone (keep-alive timeout)."""
    started = anyio.current_time()
    released: float | None = None
    if baseline_fds is not None:
        with anyio.move_on_after(KEEP_ALIVE_S * 3):
            while len(os.listdir("/proc/self/fd")) > baseline_fds:  # noqa: ASYNC110 - polled
                await anyio.sleep(0.1)
            released = anyio.current_time() - started
    else:
        await anyio.sleep(KEEP_ALIVE_S + 1)
    await anyio.sleep(0.5)
    return Sample.take(), released


async def soak(config: SoakConfig) -> SoakResult:
    warm_restarts = max(1, int(config.restarts * config.warmup_fraction))
    warm_cycles = max(1, int(config.cycles * config.warmup_fraction))
    counters = Counters()
    tmp = Path(tempfile.mkdtemp(prefix="mksoak", dir=config.tmpdir))
    began = time.monotonic()
    top: list[str] = []
    top_types: list[str] = []
    try:
        async with (
            daemon(tmp, config.event_limit) as (kubelet, socket),
            anyio.create_task_group() as group,
        ):
            group.start_soon(watcher, socket, "pods", counters)
            group.start_soon(watcher, socket, "events", counters)
            await phase(kubelet, socket, warm_restarts, warm_cycles, counters, "w")
            warm, _ = await quiet_sample(None)
            types_before = type_counts()
            if config.tracemalloc:  # from now on: what is still traced at the end grew
                tracemalloc.start(10)
            # The rest in two halves, sampled after each: a bound reached shows as a
            # second half that grows less than the first (or not at all).
            restarts_left = config.restarts - warm_restarts
            cycles_left = config.cycles - warm_cycles
            await phase(kubelet, socket, restarts_left // 2, cycles_left // 2, counters, "m")
            mid, _ = await quiet_sample(warm.fds)
            await phase(
                kubelet,
                socket,
                restarts_left - restarts_left // 2,
                cycles_left - cycles_left // 2,
                counters,
                "n",
            )
            end, released = await quiet_sample(warm.fds)
            types_after = type_counts()
            grown = sorted(
                ((types_after[t] - types_before.get(t, 0), t) for t in types_after),
                reverse=True,
            )
            top_types = [f"{name}: +{count}" for count, name in grown[:15] if count > 0]
            if config.tracemalloc:
                stats = tracemalloc.take_snapshot().statistics("lineno")
                top = [str(stat) for stat in stats[:25]]
                tracemalloc.stop()
            group.cancel_scope.cancel()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return SoakResult(
        config=asdict(config),
        warm=warm,
        mid=mid,
        end=end,
        counters=counters,
        seconds=time.monotonic() - began,
        fds_released_s=released,
        top_growth=top,
        top_types=top_types,
        event_bytes=event_cost(),
        load_avg=os.getloadavg(),
    )


# -- the report --------------------------------------------------------------------------


def report(result: SoakResult) -> str:
    c = result.counters
    lines = [
        f"soak: {c.restarts} restarts, {c.cycles} create/delete cycles, {c.reads} reads, "
        f"watch events pods {c.watch_events['pods']} / events {c.watch_events['events']} "
        f"in {result.seconds:.0f} s (load average {' '.join(f'{x:.2f}' for x in result.load_avg)},"
        f" {os.cpu_count()} cores)",
        f"{'':10}{'warm-up':>12}{'half-way':>12}{'end':>12}{'growth':>10}{'2nd half':>10}",
    ]
    for name, unit in (
        ("fds", ""),
        ("threads", ""),
        ("tasks", ""),
        ("rss", "MiB"),
        ("objects", ""),
        ("traced", "MiB"),
    ):
        before, after = getattr(result.warm, name), getattr(result.end, name)
        if name == "traced" and not before:
            continue
        scale = 2**20 if unit else 1
        middle = getattr(result.mid, name)
        lines.append(
            f"{name:10}{before / scale:>12.1f}{middle / scale:>12.1f}{after / scale:>12.1f}"
            f"{result.growth_pct(name):>9.1f}%{result.growth_pct(name, 'mid'):>9.1f}%"
        )
    lines.append(
        f"events capped at {result.config['event_limit']} for the soak (the daemon's bound is "
        f"{EVENT_LIMIT}, an hour's worth): one weighs {result.event_bytes / 1024:.1f} KiB, "
        f"{result.event_bytes * EVENT_LIMIT / 2**20:.1f} MiB at the daemon's bound"
    )
    verdict = "PASS" if result.growth_pct("rss") < TARGET_GROWTH_PCT else "FAIL"
    lines.append(f"RSS growth after warm-up: target < {TARGET_GROWTH_PCT:g} %: {verdict}")
    released = result.fds_released_s
    lines.append(
        "closed connections' fds released: "
        + (f"within {released:.1f} s" if released is not None else "NOT within 15 s")
    )
    if c.read_errors:
        lines.append(f"read errors: {len(c.read_errors)} (first: {c.read_errors[:3]})")
    if c.watch_restarts:
        lines.append(f"watches that ended and reconnected: {c.watch_restarts}")
    if result.top_types:
        lines.append("objects that grew the most after warm-up, by type:")
        lines.append("  " + ", ".join(result.top_types))
    if result.top_growth:
        lines.append("tracemalloc, largest growth after warm-up:")
        lines.extend(f"  {line}" for line in result.top_growth)
    return "\n".join(lines)


def quiet_logs(path: Path) -> None:
    """The daemon's log lines, rendered as ``serve`` renders them (JSON), into ``path``."""
    stream = path.open("w")
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(stream),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--restarts", type=int, default=10_000)
    parser.add_argument("--cycles", type=int, default=1_000)
    parser.add_argument("--warmup", type=float, default=0.2, help="fraction of the work")
    parser.add_argument("--event-limit", type=int, default=250, help="events kept (see above)")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--tmpdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    quiet_logs(Path(os.devnull))
    config = SoakConfig(
        restarts=args.restarts,
        cycles=args.cycles,
        warmup_fraction=args.warmup,
        event_limit=args.event_limit,
        tracemalloc=args.tracemalloc,
        tmpdir=args.tmpdir,
    )
    result = anyio.run(soak, config)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2, default=str) + "\n")
    return 0 if result.growth_pct("rss") < TARGET_GROWTH_PCT else 1


if __name__ == "__main__":
    sys.exit(main())
