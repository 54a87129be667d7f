"""Containment costs: container start latency per cgroup placement option, and usage reads.

    .venv/bin/python bench/cgroups.py                 # everything, about a minute
    .venv/bin/python bench/cgroups.py --samples 500 --gap 0.2 --json out.json

Needs root and writable cgroups (it says why not otherwise). Everything it creates lives
under ``<own cgroup>/minikubelet-bench-<pid>`` and is removed at the end, Ctrl-C included.

**Start latency** is measured from the spawn call to the program running (its first byte
read from its stdout pipe; the program is ``/bin/echo``), and separately until the spawn call
returns, with ``--gap`` seconds of quiet between starts (0.05 by default: a start is rarely
back-to-back with another cgroup migration, and the kernel's first migration after a quiet
spell waits for an RCU grace period; ``--gap 0`` shows the back-to-back case). Each spawn is
called from a worker thread, as the runtime does, in a process made as big as the daemon
(``--ballast-mb``, since ``fork`` costs grow with the parent's memory while ``vfork`` does
not). Options, interleaved so that load drift hits all alike:

    none              plain Popen (vfork): the floor, no cgroup
    v1 parked         the driver's v1 placement, cgroup already made (every restart)
    v1 first start    the same plus creating the cgroup, its limits, parking the thread
    v1 thread hop     the spawning thread joins the cgroups, forks, goes back (rejected)
    v1 preexec_fn     the child writes itself into every cgroup.procs (fork; rejected)
    v1 sh shim        /bin/sh writes $$ into every cgroup.procs, then execs (rejected)
    v2 gate           the driver's v2 placement (on the unified hierarchy here)
    v2 preexec_fn     as above, v2 (rejected)
    v2 sh shim        as above, v2 (rejected)

**From the event loop**, as the runtime spawns (anyio on asyncio): today's path (a worker
thread runs Popen), the v1 driver's ``spawn_async`` (the loop hands the job straight to the
parked thread: still one thread hop), ``spawn`` through a worker thread (two hops), and v2's
``spawn_async``.

**Usage reads**: the CPU time of reading ``usage()`` (CPU, memory, working set, OOM kills) of
``--containers`` cgroups, each with a sleeping process, against the psutil process-tree
sampling used without cgroups; as a share of one core at ``--interval`` seconds (10 s: the
kubelet's default housekeeping interval; usage is read on demand, so this is an upper bound
for a scraper polling that often).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from minikubelet.logic.qos import CgroupResources
from minikubelet.runtime.cgroups import (
    SpawnPlan,
    V1Container,
    V1Driver,
    V2Driver,
    detect,
)
from minikubelet.runtime.cgroups.files import write_value
from minikubelet.runtime.process import ProcessTable
from minikubelet.runtime.stats import sample_many

PROGRAM = ("/bin/echo", "x")
ENV = {"PATH": "/usr/bin:/bin"}
LIMITS = CgroupResources(cpu_shares=512, cpu_quota_us=50_000, memory_limit_bytes=256 * 2**20)

Timing = tuple[float, float, float]  # call returned, program running, process CPU (s)
Option = Callable[[], Timing]


def popen(plan: SpawnPlan, **options: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        plan.argv,
        stdin=subprocess.DEVNULL if plan.stdin is None else plan.stdin,
        stdout=options.pop("stdout"),
        start_new_session=True,
        close_fds=True,
        cwd="/",
        env=ENV,
        **options,
    )


def timed(spawn: Callable[[int], subprocess.Popen[bytes]]) -> Timing:
    """Run ``spawn(stdout_fd)``; time until it returns and until the program wrote a byte."""
    read_end, write_end = os.pipe()
    cpu0 = time.process_time()
    start = time.perf_counter()
    try:
        child = spawn(write_end)
        returned = time.perf_counter()
    finally:
        os.close(write_end)
    os.read(read_end, 16)
    running = time.perf_counter()
    cpu = time.process_time() - cpu0
    os.close(read_end)
    child.wait()
    return returned - start, running - start, cpu


def write_procs(paths: list[Path]) -> Callable[[], None]:
    def preexec() -> None:
        for path in paths:
            fd = os.open(path, os.O_WRONLY)
            os.write(fd, b"0")
            os.close(fd)

    return preexec


def shim(paths: list[Path]) -> tuple[str, ...]:
    script = "; ".join(f"echo $$ > {path}" for path in paths) + '; exec "$@"'
    return ("/bin/sh", "-c", script, "shim", *PROGRAM)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.subtree = f"minikubelet-bench-{os.getpid()}"
        self.pod = str(uuid.uuid4())
        self.v1: V1Driver | None = None
        self.v2: V2Driver | None = None
        self.notes: list[str] = []
        self.first_starts = 0

    # --- set-up ---

    def open(self) -> None:
        v1 = detect(self.subtree, layout="v1")
        if isinstance(v1, V1Driver):
            self.v1 = v1
        else:
            self.notes.append(f"v1 options skipped: {v1.reason}")
        v2 = detect(self.subtree, layout="v2")
        if isinstance(v2, V2Driver):
            self.v2 = v2
        else:
            self.notes.append(f"v2 options skipped: {v2.reason}")

    def options(self) -> dict[str, Option]:
        options: dict[str, Option] = {
            "none (plain vfork)": lambda: timed(lambda out: popen(SpawnPlan(PROGRAM), stdout=out))
        }
        if self.v1 is not None:
            self._v1_options(self.v1, options)
        if self.v2 is not None:
            self._v2_options(self.v2, options)
        return options

    def _v1_options(self, v1: V1Driver, options: dict[str, Option]) -> None:
        parked = v1.container(self.pod, "parked")
        parked.create(LIMITS)
        options["v1 parked (restart)"] = lambda: timed(
            lambda out: parked.spawn(lambda plan: popen(plan, stdout=out), PROGRAM)
        )

        def first_start() -> Timing:
            self.first_starts += 1
            cgroup = v1.container(self.pod, f"first-{self.first_starts}")

            def spawn(out: int) -> subprocess.Popen[bytes]:
                cgroup.create(LIMITS)
                return cgroup.spawn(lambda plan: popen(plan, stdout=out), PROGRAM)

            try:
                return timed(spawn)
            finally:
                cgroup.remove(timeout=5)

        options["v1 first start (create+park)"] = first_start

        hop = v1.container(self.pod, "hop")
        hop.create(LIMITS, park=False)
        targets = [directory / f"pod{self.pod}" / "hop" / "tasks" for directory in v1.directories]
        homes = [directory.parent / "tasks" for directory in v1.directories]

        def hop_spawn(out: int) -> subprocess.Popen[bytes]:
            tid = threading.get_native_id()
            for path in targets:
                write_value(path, tid)
            try:
                return popen(SpawnPlan(PROGRAM), stdout=out)
            finally:
                for path in homes:
                    write_value(path, tid)

        options["v1 thread hop"] = lambda: timed(hop_spawn)
        pre = v1.container(self.pod, "preexec")
        pre.create(LIMITS, park=False)
        pre_procs = [d / f"pod{self.pod}" / "preexec" / "cgroup.procs" for d in v1.directories]
        options["v1 preexec_fn (fork)"] = lambda: timed(
            lambda out: popen(SpawnPlan(PROGRAM), stdout=out, preexec_fn=write_procs(pre_procs))
        )
        sh = v1.container(self.pod, "shim")
        sh.create(LIMITS, park=False)
        sh_procs = [d / f"pod{self.pod}" / "shim" / "cgroup.procs" for d in v1.directories]
        options["v1 sh shim"] = lambda: timed(
            lambda out: popen(SpawnPlan(shim(sh_procs)), stdout=out)
        )

    def _v2_options(self, v2: V2Driver, options: dict[str, Option]) -> None:
        gate = v2.container(self.pod, "gate")
        gate.create()
        options["v2 gate"] = lambda: timed(
            lambda out: gate.spawn(
                lambda plan: popen(plan, stdout=out), PROGRAM, cwd="/", env_path=ENV["PATH"]
            )
        )
        pre = v2.container(self.pod, "preexec")
        pre.create()
        options["v2 preexec_fn (fork)"] = lambda: timed(
            lambda out: popen(
                SpawnPlan(PROGRAM), stdout=out, preexec_fn=write_procs([pre.dir / "cgroup.procs"])
            )
        )
        sh = v2.container(self.pod, "shim")
        sh.create()
        options["v2 sh shim"] = lambda: timed(
            lambda out: popen(SpawnPlan(shim([sh.dir / "cgroup.procs"])), stdout=out)
        )

    # --- measurements ---

    def starts(self) -> dict[str, dict[str, float]]:
        options = self.options()
        timings: dict[str, list[Timing]] = {name: [] for name in options}
        for option in options.values():  # warm-up: page cache, the parked thread
            for _ in range(3):
                option()
        for _ in range(self.args.samples):
            for name, option in options.items():
                time.sleep(self.args.gap)
                timings[name].append(option())
        return {name: summarize(values) for name, values in timings.items()}

    def loop_starts(self) -> dict[str, dict[str, float]]:
        """Spawns made from an event loop, as the runtime makes them."""
        return anyio.run(self._loop_starts)

    async def _loop_starts(self) -> dict[str, dict[str, float]]:
        limiter = anyio.CapacityLimiter(2)  # as the runtime's spawning threads

        def plain(out: int) -> subprocess.Popen[bytes]:
            return popen(SpawnPlan(PROGRAM), stdout=out)

        options: dict[str, Callable[[int], Any]] = {
            "loop: to_thread(Popen), no cgroup": lambda out: anyio.to_thread.run_sync(
                plain, out, limiter=limiter
            )
        }
        if self.v1 is not None:
            parked = self.v1.container(self.pod, "loop")
            parked.create(LIMITS)

            def start(out: int) -> Callable[[SpawnPlan], subprocess.Popen[bytes]]:
                return functools.partial(popen, stdout=out)

            options["loop: v1 spawn_async (1 hop)"] = lambda out: parked.spawn_async(
                start(out), PROGRAM
            )
            options["loop: to_thread(v1 spawn) (2 hops)"] = lambda out: anyio.to_thread.run_sync(
                functools.partial(parked.spawn, start(out), PROGRAM), limiter=limiter
            )
        if self.v2 is not None:
            gate = self.v2.container(self.pod, "loop")
            gate.create()
            options["loop: v2 spawn_async (gate)"] = lambda out: gate.spawn_async(
                functools.partial(popen, stdout=out), PROGRAM, cwd="/", env_path=ENV["PATH"]
            )
        timings: dict[str, list[Timing]] = {name: [] for name in options}
        for round_ in range(self.args.samples + 3):
            for name, option in options.items():
                await anyio.sleep(self.args.gap)
                timing = await _atimed(option)
                if round_ >= 3:  # warm-up
                    timings[name].append(timing)
        return {name: summarize(values) for name, values in timings.items()}

    def usage(self) -> dict[str, float]:
        assert self.v1 is not None
        count, rounds = self.args.containers, self.args.rounds
        cgroups: list[V1Container] = []
        sleepers = []
        try:
            for index in range(count):
                cgroup = self.v1.container(self.pod, f"usage-{index}")
                cgroup.create(LIMITS)
                cgroups.append(cgroup)
                sleepers.append(
                    cgroup.spawn(
                        lambda plan: subprocess.Popen(plan.argv, stdin=subprocess.DEVNULL),
                        ("sleep", "600"),
                    )
                )
            cgroup_cpu = _cpu_per_round(lambda: [cgroup.usage() for cgroup in cgroups], rounds)
            table = ProcessTable()
            roots = {f"c{index}": (f"c{index}", [p.pid]) for index, p in enumerate(sleepers)}
            psutil_cpu = _cpu_per_round(lambda: sample_many(roots, table), rounds)
        finally:
            for cgroup in cgroups:
                cgroup.kill_all()
            for sleeper in sleepers:
                sleeper.wait()
            for cgroup in cgroups:
                cgroup.remove(timeout=5)
        interval = self.args.interval
        return {
            "containers": count,
            "interval_s": interval,
            "cgroup_ms_per_read": cgroup_cpu * 1e3,
            "cgroup_core_percent": cgroup_cpu / interval * 100,
            "psutil_ms_per_read": psutil_cpu * 1e3,
            "psutil_core_percent": psutil_cpu / interval * 100,
        }

    def close(self) -> None:
        for driver in (self.v1, self.v2):
            if driver is None:
                continue
            for name in driver.pod_containers(self.pod):
                driver.container(self.pod, name).kill_all()
            if self.pod in driver.pods():
                driver.remove_pod(self.pod, timeout=5)
            driver.close()


async def _atimed(spawn: Callable[[int], Any]) -> Timing:
    read_end, write_end = os.pipe()
    cpu0 = time.process_time()
    start = time.perf_counter()
    try:
        child = await spawn(write_end)
        returned = time.perf_counter()
    finally:
        os.close(write_end)
    os.read(read_end, 16)  # blocking: nothing else runs in this loop
    running = time.perf_counter()
    cpu = time.process_time() - cpu0
    os.close(read_end)
    child.wait()
    return returned - start, running - start, cpu


def _cpu_per_round(read: Callable[[], object], rounds: int) -> float:
    read()  # warm-up
    cpu0 = time.thread_time()
    for _ in range(rounds):
        read()
    return (time.thread_time() - cpu0) / rounds


def summarize(values: list[Timing]) -> dict[str, float]:
    def percentile(data: list[float], fraction: float) -> float:
        ordered = sorted(data)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]

    returned = [value[0] for value in values]
    running = [value[1] for value in values]
    cpu = [value[2] for value in values]
    return {
        "running_p50_ms": statistics.median(running) * 1e3,
        "running_p99_ms": percentile(running, 0.99) * 1e3,
        "returned_p50_ms": statistics.median(returned) * 1e3,
        "returned_p99_ms": percentile(returned, 0.99) * 1e3,
        "cpu_ms": statistics.mean(cpu) * 1e3,
    }


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=200, help="starts per option")
    parser.add_argument("--gap", type=float, default=0.05, help="quiet seconds between starts")
    parser.add_argument("--ballast-mb", type=int, default=60, help="grow this process by MiB")
    parser.add_argument("--containers", type=int, default=200, help="cgroups for the usage read")
    parser.add_argument("--rounds", type=int, default=20, help="usage reads of all containers")
    parser.add_argument("--interval", type=float, default=10.0, help="assumed usage interval")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()

    ballast = bytearray(args.ballast_mb * 2**20)
    for index in range(0, len(ballast), 4096):
        ballast[index] = 1
    bench = Bench(args)
    results: dict[str, Any] = {"load_before": load(), "args": vars(args) | {"json": None}}
    outcome: dict[str, Any] = {}

    def run() -> None:
        bench.open()
        outcome["starts"] = bench.starts()
        outcome["loop_starts"] = bench.loop_starts()
        if bench.v1 is not None:
            outcome["usage"] = bench.usage()

    worker = threading.Thread(target=run, name="bench")  # spawns come from a worker thread
    try:
        worker.start()
        worker.join()
    finally:
        bench.close()
    results |= outcome
    results["load_after"] = load()
    results["notes"] = bench.notes
    rss = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    print(
        f"start latency, N={args.samples} per option, gap {args.gap * 1e3:.0f} ms, "
        f"parent RSS {rss / 2**20:.0f} MiB; load {results['load_before']} -> "
        f"{results['load_after']} (1/5/15 min, 2 cores shared)"
    )
    print(f"{'option':36} {'running p50':>11} {'p99':>8}  {'call p50':>9} {'p99':>8}  {'CPU':>7}")
    rows = {**outcome.get("starts", {}), **outcome.get("loop_starts", {})}
    for name, row in rows.items():
        print(
            f"{name:36} {row['running_p50_ms']:8.2f} ms {row['running_p99_ms']:5.2f} ms"
            f"  {row['returned_p50_ms']:6.2f} ms {row['returned_p99_ms']:5.2f} ms"
            f"  {row['cpu_ms']:4.2f} ms"
        )
    if "usage" in outcome:
        usage = outcome["usage"]
        print(
            f"usage of {usage['containers']} containers, one read each: cgroup files "
            f"{usage['cgroup_ms_per_read']:.1f} ms CPU = {usage['cgroup_core_percent']:.2f} % "
            f"of a core every {usage['interval_s']:g} s; psutil process trees "
            f"{usage['psutil_ms_per_read']:.1f} ms = {usage['psutil_core_percent']:.2f} %"
        )
    for note in bench.notes:
        print(note)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
