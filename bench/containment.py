"""Containment through the real runtime: start latency with and without a cgroup, and the
CPU of usage sampling and of the sampled memory limit for many containers.

    .venv/bin/python bench/containment.py                  # about two minutes
    .venv/bin/python bench/containment.py --samples 300 --containers 200 --json out.json

Needs root and writable cgroups for the cgroup rows (it says which mode it got otherwise).
Everything runs through ``LocalRuntime`` as the engine drives it, in an anyio event loop, in
a process grown to a daemon's size (``--ballast-mb``):

**Start latency**, from ``runtime.start()`` being called to the program running (its first
line reaching the log sink: ``/bin/echo``, through the runtime's pipes and log pump), and
until ``start()`` returns, ``--gap`` seconds of quiet between starts. Rows:

    none: start                 containment none: a worker thread runs Popen (the floor)
    cgroup: restart             the container's cgroup exists (every restart)
    cgroup: first start, made at admission
                                ``prepare_pod`` made it ``--gap`` earlier (what the engine does)
    cgroup: first start, made at start
                                no ``prepare_pod``: the start makes the cgroup (and on v1
                                parks its thread, paying an RCU grace period)

**Usage**: the process's CPU per ``runtime.usage()`` of ``--containers`` running containers
(each a sleeping process), with cgroups and without (psutil over the process trees), as a
share of one core at a scrape every 10 s and 15 s. Nothing samples between requests: the
idle CPU of the process with all of them running is shown over ``--idle`` seconds, with
memory limits (none mode: the sampler runs for each) and without.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from minikubelet.logic.qos import CgroupResources
from minikubelet.model.launch import Launch
from minikubelet.runtime.base import ContainerProcess
from minikubelet.runtime.containment import ContainmentRequest
from minikubelet.runtime.local import LocalRuntime

ENV = {"PATH": "/usr/bin:/bin"}
Timing = tuple[float, float, float]  # call returned, program running, process CPU (s)


def percentile(data: list[float], fraction: float) -> float:
    ordered = sorted(data)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def summarize(values: list[Timing]) -> dict[str, float]:
    returned, running, cpu = ([v[i] for v in values] for i in range(3))
    return {
        "running_p50_ms": statistics.median(running) * 1e3,
        "running_p99_ms": percentile(running, 0.99) * 1e3,
        "returned_p50_ms": statistics.median(returned) * 1e3,
        "returned_p99_ms": percentile(returned, 0.99) * 1e3,
        "cpu_ms": statistics.mean(cpu) * 1e3,
        "samples": len(values),
    }


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class Runtime:
    """One LocalRuntime, running, with a scratch directory for its logs."""

    def __init__(self, mode: ContainmentRequest, directory: Path) -> None:
        self.runtime = LocalRuntime(containment=mode, cgroup_subtree=f"mk-bench-{mode}")
        self.directory = directory
        self.count = 0

    def launch(self, tag: str, argv: tuple[str, ...]) -> Launch:
        self.count += 1
        log = self.directory / tag.replace("/", "_") / f"{self.count}.log"
        return Launch(tag=tag, argv=argv, cwd="/", env=ENV, log_path=log)

    async def timed_start(self, tag: str) -> Timing:
        line = anyio.Event()
        cpu0 = time.process_time()
        began = time.perf_counter()
        process = await self.runtime.start(
            self.launch(tag, ("/bin/echo", "x")), lambda stream, text: line.set()
        )
        returned = time.perf_counter()
        async with anyio.create_task_group() as group:
            group.start_soon(process.pump_logs)
            await line.wait()
            running = time.perf_counter()
            cpu = time.process_time() - cpu0
            await process.wait()
            await process.kill_all()
        return returned - began, running - began, cpu


async def starts(args: argparse.Namespace, directory: Path) -> tuple[dict[str, Any], str]:
    results: dict[str, Any] = {}
    modes = {}
    modes_requested: tuple[ContainmentRequest, ...] = ("none", "auto")
    for mode in modes_requested:
        bench = Runtime(mode, directory / mode)
        async with anyio.create_task_group() as group:
            await group.start(bench.runtime.run)
            runtime = bench.runtime
            modes[mode] = runtime.containment
            contained = runtime.cgroups is not None
            rows: dict[str, list[Timing]] = {}
            await runtime.prepare_pod("restart", {"app": CgroupResources()})
            for index in range(args.samples + 3):
                await anyio.sleep(args.gap)
                timing = await bench.timed_start("restart/app")
                if index >= 3:  # warm-up
                    rows.setdefault("restart" if contained else "start", []).append(timing)
                if not contained:
                    continue
                uid = f"admitted{index}"
                await runtime.prepare_pod(uid, {"app": CgroupResources()})
                await anyio.sleep(args.gap)  # the engine admits a pod before its first start
                timing = await bench.timed_start(f"{uid}/app")
                rows.setdefault("first start, made at admission", []).append(timing)
                await runtime.remove_pod(uid)
                await anyio.sleep(args.gap)
                uid = f"unprepared{index}"
                timing = await bench.timed_start(f"{uid}/app")
                rows.setdefault("first start, made at start", []).append(timing)
                await runtime.remove_pod(uid)
            await runtime.remove_pod("restart")
            prefix = "cgroup" if contained else "none"
            for name, values in rows.items():
                results[f"{prefix}: {name}"] = summarize(values)
            group.cancel_scope.cancel()
    note = "; ".join(f"{mode}: {info.mode.value} ({info.reason})" for mode, info in modes.items())
    return results, note


async def usage(args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    requested: tuple[ContainmentRequest, ...] = ("auto", "none")
    for mode in requested:
        for limited in (False, True):
            bench = Runtime(mode, directory / f"usage-{mode}-{limited}")
            memory = 256 * 2**20 if limited else None
            async with anyio.create_task_group() as group:
                await group.start(bench.runtime.run)
                runtime = bench.runtime
                name = f"{runtime.containment.mode.value}, {'limits' if limited else 'no limits'}"
                processes: dict[str, ContainerProcess] = {}
                for index in range(args.containers):
                    uid = f"u{index}"
                    resources = {"app": CgroupResources(memory_limit_bytes=memory)}
                    await runtime.prepare_pod(uid, resources)
                    launch = bench.launch(f"{uid}/app", ("sleep", "600"))
                    started = await runtime.start(launch)
                    group.start_soon(started.pump_logs)
                    processes[uid] = started
                await anyio.sleep(2)  # settle: the last starts, the first samples
                idle = await _idle_cpu(args.idle)
                row: dict[str, float] = {"idle_core_percent": idle}
                if not limited:
                    per_call = await _usage_cpu(runtime, processes, args.rounds)
                    row |= {
                        "ms_per_call": per_call * 1e3,
                        "core_percent_every_10s": per_call / 10 * 100,
                        "core_percent_every_15s": per_call / 15 * 100,
                    }
                results[name] = row
                with anyio.CancelScope(shield=True):
                    for uid, process in processes.items():
                        await process.kill_all()
                        await process.wait()
                        await runtime.remove_pod(uid)
                group.cancel_scope.cancel()
    return results


async def _usage_cpu(
    runtime: LocalRuntime, processes: Mapping[str, ContainerProcess], rounds: int
) -> float:
    await runtime.usage(processes)  # warm-up
    cpu0 = time.process_time()  # every thread of the process: the sampling is in a worker
    for _ in range(rounds):
        samples = await runtime.usage(processes)
        assert len(samples) == len(processes)
    return (time.process_time() - cpu0) / rounds


async def _idle_cpu(seconds: float) -> float:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await anyio.sleep(seconds)
    return (time.process_time() - cpu0) / (time.perf_counter() - wall0) * 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=200, help="starts per row")
    parser.add_argument("--gap", type=float, default=0.05, help="quiet seconds between starts")
    parser.add_argument("--ballast-mb", type=int, default=60, help="grow this process by MiB")
    parser.add_argument("--containers", type=int, default=200, help="containers for usage")
    parser.add_argument("--rounds", type=int, default=20, help="usage() calls to average")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle CPU to measure")
    parser.add_argument("--skip-usage", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    ballast = bytearray(args.ballast_mb * 2**20)
    for index in range(0, len(ballast), 4096):
        ballast[index] = 1
    import tempfile

    results: dict[str, Any] = {"load_before": load(), "args": vars(args) | {"json": None}}
    with tempfile.TemporaryDirectory(prefix="mk-bench-") as scratch:
        directory = Path(scratch)
        results["starts"], results["modes"] = anyio.run(starts, args, directory)
        if not args.skip_usage:
            results["usage"] = anyio.run(usage, args, directory)
    results["load_after"] = load()
    print(
        f"start latency through LocalRuntime, N={args.samples} per row, gap "
        f"{args.gap * 1e3:.0f} ms, ballast {args.ballast_mb} MiB; load {results['load_before']}"
        f" -> {results['load_after']} (1/5/15 min, 2 cores shared)"
    )
    print(f"modes: {results['modes']}")
    print(f"{'row':40} {'running p50':>11} {'p99':>8}  {'call p50':>9} {'p99':>8}  {'CPU':>7}")
    for name, row in results["starts"].items():
        print(
            f"{name:40} {row['running_p50_ms']:8.2f} ms {row['running_p99_ms']:5.2f} ms"
            f"  {row['returned_p50_ms']:6.2f} ms {row['returned_p99_ms']:5.2f} ms"
            f"  {row['cpu_ms']:4.2f} ms"
        )
    for name, row in results.get("usage", {}).items():
        text = f"{args.containers} containers, {name}: idle {row['idle_core_percent']:.2f} % core"
        if "ms_per_call" in row:
            text += (
                f"; usage() {row['ms_per_call']:.1f} ms CPU per call = "
                f"{row['core_percent_every_10s']:.2f} % of a core every 10 s, "
                f"{row['core_percent_every_15s']:.2f} % every 15 s"
            )
        print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
