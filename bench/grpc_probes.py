#!/usr/bin/env python3
"""Benchmark of gRPC probes: 200 gRPC health servers, one probe each per second.

Two ways to make the gRPC health check part of the default install are compared on the
same servers, probing from the same in-process harness:

* ``native``: minikubelet's own client (``minikubelet.prober.grpc.grpc_probe``: HTTP/2
  with h2 on anyio sockets, no thread), under asyncio and under trio;
* ``grpcio``: grpcio's blocking API in an anyio worker thread (``grpcio_probe_factory``:
  the implementation minikubelet had while grpcio was an optional extra), under asyncio
  (its asyncio API does not run under trio); ``grpcio_noclose``: the same without the
  blocking ``close()``, grpcio's cheapest correct use;
* ``floor``: the same harness with a probe that does nothing (one checkpoint): what the
  schedule itself costs, to subtract.

The servers: ``--servers`` (200) ``grpc.server`` objects with grpcio's
``HealthServicer`` ("" SERVING), each on its own port, spread over ``--server-processes``
(4) Python processes (200 processes of ~35 MB each would not fit the machine next to
other work). ``--closed N`` makes the last N targets closed ports (bound, not listening):
each of those probes takes its whole timeout.

The prober runs in a fresh subprocess per variant (``--worker``), so imports and threads
of one variant do not touch another's numbers. It holds one task per target, as
minikubelet holds one worker per probe: ticks at ``start + phase + k * period`` (phases
spread evenly over the period), a tick missed while the previous probe ran is skipped
(``prober/worker.py``), ``timeoutSeconds`` 1. Measured over ``--seconds`` (30) after
``--warmup`` (5):

* CPU: ``getrusage(RUSAGE_SELF)`` user+system of the prober process (every thread of it,
  grpcio's own included), per probe and as a % of one core; the CPU time is what counts
  on a shared machine, wall time is shown for scale only;
* lateness: when the probe's task woke up, after its tick (p50/p99/max); and latency:
  when the outcome was known, after the tick;
* probes done per second, of the ticks in the window (a closed port's probe lasts its
  whole timeout, so with ``periodSeconds`` = ``timeoutSeconds`` every other tick of it is
  skipped, as the kubelet's worker skips it: 50 closed of 200 make 175/s the most), the
  outcomes (all "service healthy", or the connect timeout for closed ports), threads (the
  most seen), max RSS, context switches;
* the servers' CPU and the machine's (psutil), and the load average before and after:
  other sessions share the machine.

Uses the project's venv: grpcio and grpcio-health-checking are test dependencies.

    .venv/bin/python bench/grpc_probes.py                 # every variant, ~3 min
    .venv/bin/python bench/grpc_probes.py --variants native-asyncio,grpcio-asyncio
    .venv/bin/python bench/grpc_probes.py --closed 50     # a quarter of the ports closed
    .venv/bin/python bench/grpc_probes.py --json out.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psutil

ADDRESS = re.compile(r'"127\.0\.0\.1:\d+"')  # outcomes are counted without the port
PERIOD_S = 1.0
TIMEOUT_S = 1.0
KINDS = ("floor", "native", "grpcio", "grpcio_noclose")
BACKENDS = ("asyncio", "trio")
VARIANTS = (
    "floor-asyncio",
    "native-asyncio",
    "native-trio",
    "grpcio-asyncio",
    "grpcio_noclose-asyncio",
)

SERVER = """\
import os, signal, sys, threading
from concurrent.futures import ThreadPoolExecutor
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

count, out = int(sys.argv[1]), sys.argv[2]
servers, ports = [], []
for _ in range(count):
    server = grpc.server(ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    ports.append(server.add_insecure_port("127.0.0.1:0"))
    server.start()
    servers.append(server)
with open(out + ".tmp", "w") as file:
    file.write(" ".join(map(str, ports)))
os.rename(out + ".tmp", out)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
stop.wait(3600)  # a safety timeout: a leaked server ends by itself
for server in servers:
    server.stop(None)
"""


# -- the prober (one subprocess per variant) -----------------------------------------------


def grpcio_probe_factory(*, close: bool) -> Any:
    """The grpcio variants: minikubelet's implementation while grpcio was an optional extra
    (``prober/grpc.py`` before the native client), kept here in behaviour.

    ``close``: as it was, ``with grpc.insecure_channel(...)``, whose ``close()`` blocks
    its thread about 200 ms (grpc's poller). Without: grpcio's cheapest correct use, the
    channel dropped unclosed (grpc's own clean-up closes the connection later) and given
    its own subchannel pool, else a new channel to the same address would reuse the
    connection of the previous, not yet collected one (the kubelet dials anew each time).
    """
    import anyio.to_thread
    import grpc
    from grpc_health.v1 import health_pb2

    from minikubelet.model.probe import ProbeOutcome, ProbeResult
    from minikubelet.prober.http import PROBE_USER_AGENT
    from minikubelet.prober.net import DEFAULT_HOST, go_duration, go_quote, join_host_port

    check_path = "/grpc.health.v1.Health/Check"

    def check(port: int, service: str, timeout: float) -> ProbeOutcome:
        address = join_host_port(DEFAULT_HOST, port)
        deadline = time.monotonic() + timeout
        options: list[tuple[str, str | int]] = [("grpc.primary_user_agent", PROBE_USER_AGENT)]
        if not close:
            options.append(("grpc.use_local_subchannel_pool", 1))
        channel = grpc.insecure_channel(address, options=options)
        with channel if close else contextlib.nullcontext(channel):
            try:
                grpc.channel_ready_future(channel).result(timeout=timeout)
            except grpc.FutureTimeoutError:
                return ProbeOutcome(
                    ProbeResult.FAILURE,
                    f"timeout: failed to connect service {go_quote(address)} within "
                    f"{go_duration(timeout)}: context deadline exceeded",
                )
            call = channel.unary_unary(
                check_path,
                request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                response_deserializer=health_pb2.HealthCheckResponse.FromString,
            )
            remaining = max(deadline - time.monotonic(), 0.0)
            try:
                response = call(health_pb2.HealthCheckRequest(service=service), timeout=remaining)
            except grpc.RpcError as error:
                return ProbeOutcome(ProbeResult.FAILURE, f"error: {error}")
        if response.status != health_pb2.HealthCheckResponse.SERVING:
            return ProbeOutcome(ProbeResult.FAILURE, "service unhealthy")
        return ProbeOutcome(ProbeResult.SUCCESS, "service healthy")

    async def probe(action: Any, timeout: float) -> ProbeOutcome:
        return await anyio.to_thread.run_sync(
            check, action.port, action.service or "", timeout, abandon_on_cancel=True
        )

    return probe


def run_worker(args: argparse.Namespace) -> int:
    import anyio
    import anyio.lowlevel

    from minikubelet.model.probe import ProbeOutcome, ProbeResult
    from minikubelet.model.spec import GRPCAction

    kind, backend = args.worker.split("-")
    probe: Callable[[Any, float], Awaitable[ProbeOutcome]]
    if kind == "native":
        from minikubelet.prober.grpc import grpc_probe

        probe = grpc_probe
    elif kind in ("grpcio", "grpcio_noclose"):
        probe = grpcio_probe_factory(close=kind == "grpcio")
    else:

        async def no_op(action: Any, timeout: float) -> ProbeOutcome:
            await anyio.lowlevel.checkpoint()
            return ProbeOutcome(ProbeResult.SUCCESS, "service healthy")

        probe = no_op

    ports = [int(p) for p in Path(args.ports_file).read_text().split()]
    period, timeout = PERIOD_S, TIMEOUT_S
    lateness: list[float] = []
    latency: list[float] = []
    outcomes: Counter[str] = Counter()
    expected = 0
    threads_max = 0

    async def main() -> dict[str, Any]:
        nonlocal expected, threads_max
        start = anyio.current_time() + 0.2
        window = (start + args.warmup, start + args.warmup + args.seconds)

        async def target(index: int, port: int) -> None:
            nonlocal expected
            action = GRPCAction(port=port)
            tick = start + index / len(ports) * period
            while tick < window[1]:
                await anyio.sleep_until(tick)
                woke = anyio.current_time()
                outcome = await probe(action, timeout)
                done = anyio.current_time()
                if window[0] <= tick < window[1]:
                    lateness.append(woke - tick)
                    latency.append(done - tick)
                    text = ADDRESS.sub('"127.0.0.1:PORT"', outcome.output)
                    outcomes[f"{outcome.result.value}: {text}"] += 1
                # the next tick not yet begun; missed ones are skipped, as the worker does
                tick += (max(math.floor((done - tick) / period), 0) + 1) * period
            expected_here = sum(
                1
                for k in range(math.ceil((window[1] - start) / period) + 1)
                if window[0] <= start + index / len(ports) * period + k * period < window[1]
            )
            expected += expected_here

        async def sample_threads() -> None:
            nonlocal threads_max
            while anyio.current_time() < window[1]:
                threads_max = max(threads_max, threading.active_count())
                await anyio.sleep(0.5)

        marks: dict[str, Any] = {}

        async def mark() -> None:
            await anyio.sleep_until(window[0])
            marks["start"] = (resource.getrusage(resource.RUSAGE_SELF), time.monotonic())
            await anyio.sleep_until(window[1])
            marks["end"] = (resource.getrusage(resource.RUSAGE_SELF), time.monotonic())

        async with anyio.create_task_group() as group:
            group.start_soon(mark)
            group.start_soon(sample_threads)
            for index, port in enumerate(ports):
                group.start_soon(target, index, port)
        (r0, t0), (r1, t1) = marks["start"], marks["end"]
        user, system = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
        done = sum(outcomes.values())
        return {
            "variant": args.worker,
            "targets": len(ports),
            "window_s": round(t1 - t0, 3),
            "probes": done,
            "probes_expected": expected,
            "probes_per_s": round(done / (t1 - t0), 1),
            "cpu_user_s": round(user, 3),
            "cpu_system_s": round(system, 3),
            "cpu_pct_of_core": round((user + system) / (t1 - t0) * 100, 1),
            "cpu_ms_per_probe": round((user + system) / done * 1000, 4) if done else None,
            "lateness_ms": quantiles(lateness),
            "latency_ms": quantiles(latency),
            "outcomes": dict(outcomes.most_common(5)),
            "threads_max": threads_max,
            "max_rss_mib": round(r1.ru_maxrss / 1024, 1),
            "ctx_switches_per_s": {
                "voluntary": round((r1.ru_nvcsw - r0.ru_nvcsw) / (t1 - t0)),
                "involuntary": round((r1.ru_nivcsw - r0.ru_nivcsw) / (t1 - t0)),
            },
        }

    result = anyio.run(main, backend=backend)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


def quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": round(ordered[-1] * 1000, 2)}


# -- the driver -----------------------------------------------------------------------------


class Servers:
    """The gRPC health servers, in a few processes; stopped (and killed if need be) on exit."""

    def __init__(self, tmp: Path, count: int, processes: int) -> None:
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []
        self.files: list[Path] = []
        per = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
        for index, n in enumerate(p for p in per if p):
            out = tmp / f"ports-{index}"
            self.files.append(out)
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", SERVER, str(n), str(out)],
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )

    def ports(self, timeout: float = 120) -> list[int]:
        deadline = time.monotonic() + timeout
        while not all(f.exists() for f in self.files):
            for proc in self.procs:
                if proc.poll() is not None:
                    raise SystemExit(f"a server process exited with status {proc.returncode}")
            if time.monotonic() > deadline:
                raise SystemExit("the servers did not start in time")
            time.sleep(0.1)
        return [int(p) for f in self.files for p in f.read_text().split()]

    def cpu_s(self) -> float:
        total = 0.0
        for proc in self.procs:
            with contextlib.suppress(psutil.Error):
                times = psutil.Process(proc.pid).cpu_times()
                total += times.user + times.system
        return total

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def closed_ports(count: int) -> tuple[list[int], list[Any]]:
    """Ports bound by nobody listening (kept bound so nothing else takes them)."""
    import socket

    socks, ports = [], []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        socks.append(sock)
        ports.append(sock.getsockname()[1])
    return ports, socks


def run_variant(
    args: argparse.Namespace, tmp: Path, variant: str, servers: Servers
) -> dict[str, Any]:
    out = tmp / f"{variant}.json"
    argv = [
        sys.executable, __file__, "--worker", variant, "--ports-file", str(tmp / "targets"),
        "--seconds", str(args.seconds), "--warmup", str(args.warmup), "--json", str(out),
    ]  # fmt: skip
    load_before = os.getloadavg()
    psutil.cpu_percent()  # reset the machine's counter
    server_cpu0 = servers.cpu_s()
    worker = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    # The machine and the servers, over the window only.
    time.sleep(0.2 + args.warmup + 0.5)
    psutil.cpu_percent()
    server_cpu0, t0 = servers.cpu_s(), time.monotonic()
    time.sleep(max(args.seconds - 1.0, 1.0))
    busy = psutil.cpu_percent()
    server_cpu = (servers.cpu_s() - server_cpu0) / (time.monotonic() - t0) * 100
    status = worker.wait(args.seconds + args.warmup + 120)
    if status != 0:
        raise SystemExit(f"{variant}: the prober exited with status {status}")
    result: dict[str, Any] = json.loads(out.read_text())
    result["machine_busy_pct"] = round(busy, 1)
    result["servers_cpu_pct_of_core"] = round(server_cpu, 1)
    result["load_before"] = [round(x, 2) for x in load_before]
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    return result


def print_report(results: list[dict[str, Any]], closed: int) -> None:
    header = (
        "variant", "probes/s", "CPU/probe", "CPU % core", "lateness p50/p99/max",
        "latency p50/p99/max", "threads", "RSS", "servers CPU", "machine", "load 1m",
    )  # fmt: skip
    rows = [header]
    for r in results:
        lat, dur = r["lateness_ms"], r["latency_ms"]
        rows.append(
            (
                r["variant"],
                f"{r['probes_per_s']:.1f} ({r['probes']}/{r['probes_expected']})",
                f"{r['cpu_ms_per_probe']:.3f} ms",
                f"{r['cpu_pct_of_core']:.1f} %",
                f"{lat['p50']:.1f} / {lat['p99']:.1f} / {lat['max']:.1f} ms",
                f"{dur['p50']:.1f} / {dur['p99']:.1f} / {dur['max']:.1f} ms",
                str(r["threads_max"]),
                f"{r['max_rss_mib']:.0f} MiB",
                f"{r['servers_cpu_pct_of_core']:.0f} %",
                f"{r['machine_busy_pct']:.0f} %",
                f"{r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f}",
            )
        )
    width = [max(len(row[c]) for row in rows) for c in range(len(header))]
    print()
    for number, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, width, strict=True)).rstrip())
        if number == 0:
            print("  ".join("-" * w for w in width))
    print(f"\n(closed ports among the targets: {closed}; CPU of the prober process only)")
    for r in results:
        print(f"{r['variant']} outcomes: {r['outcomes']}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--servers", type=int, default=200, help="gRPC health servers")
    parser.add_argument("--server-processes", type=int, default=4)
    parser.add_argument("--closed", type=int, default=0, help="closed ports among the targets")
    parser.add_argument("--seconds", type=float, default=30.0, help="measurement window")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"KIND-BACKEND,... with KIND in {', '.join(KINDS)} and BACKEND asyncio or trio "
        "[default: %(default)s]",
    )
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="also write the results")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: run one prober
    parser.add_argument("--ports-file", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return run_worker(args)
    variants = [v for v in args.variants.split(",") if v]
    unknown = set(variants) - {f"{k}-{b}" for k in KINDS for b in BACKENDS}
    if unknown:
        raise SystemExit(f"unknown variant(s): {', '.join(sorted(unknown))}")
    results = []
    with tempfile.TemporaryDirectory(prefix="grpc-bench-") as name:
        tmp = Path(name)
        servers = Servers(tmp, args.servers - args.closed, args.server_processes)
        closed, holders = closed_ports(args.closed)
        try:
            ports = servers.ports() + closed
            (tmp / "targets").write_text(" ".join(map(str, ports)))
            print(f"{len(ports)} targets ({args.closed} closed); load {os.getloadavg()}")
            for variant in variants:
                print(f"running {variant} ...", flush=True)
                results.append(run_variant(args, tmp, variant, servers))
        finally:
            servers.stop()
            for sock in holders:
                sock.close()
    print_report(results, args.closed)
    if args.json:
        args.json.write_text(json.dumps({"results": results, "argv": sys.argv}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
