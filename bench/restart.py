#!/usr/bin/env python3
"""Black-box benchmark of minikubelet: restart latency, 100-pod start-up, idle cost, shutdown.

minikubelet is driven only through its CLI (``minikubelet run FILE.yaml`` in a subprocess,
zero crash-loop back-off, ``--root-dir`` in a temporary directory). The containers record
their own times (bash ``$EPOCHREALTIME``, wall clock, microseconds) in files, so nothing
here depends on minikubelet's logs or events.

Scenarios (``--scenario``):

* ``restart1``  one crash-looping container: ``start`` at the top, ``sleep 0.05``, ``exit``
  just before ``exit 1``; latency of restart k = start(k+1) - exit(k), over ``--restarts``
  restarts. Also measures a floor: the same container restarted by a bare
  ``Popen(); wait()`` loop in this process (what any supervisor has to pay at least).
* ``restart50`` 50 pods of one crash-looping container each, ``--restarts-each`` restarts
  per container, all at once.
* ``startup``   100 one-container pods (``echo $EPOCHREALTIME > file; exec sleep 300``):
  time from just before launching minikubelet until every container has started.
* ``idle``      after ``startup``: minikubelet's own CPU time (not its children's) and
  context switches over ``--idle-seconds`` with 100 idle containers.

Every scenario ends with SIGTERM to minikubelet, the time until it has exited, and a check
that no container process is left (by the pids the containers recorded, and by an
environment marker every container carries). Uses only the standard library and psutil.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import itertools
import json
import math
import os
import pstats
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

SCENARIOS = ("restart1", "restart50", "startup", "idle")

# Targets and comparison points (see bench/README.md).
TARGET_RESTART1_P50_MS = 5.0
TARGET_RESTART50_P99_MS = 50.0
TARGET_STARTUP_S = 2.0
TARGET_IDLE_CPU_PCT = 0.5

MARK_VARIABLE = "MINIKUBELET_BENCH_MARK"

# Kubernetes expands $(NAME) and turns $$ into $ in command/args: the scripts use neither
# (hence $BASHPID rather than $$). Each instance appends its own lines to $BENCH_FILE.
CRASH_SCRIPT = """\
echo "start $EPOCHREALTIME $BASHPID" >> "$BENCH_FILE"
trap 'echo "signal $EPOCHREALTIME $BASHPID TERM" >> "$BENCH_FILE"; exit 143' TERM
trap 'echo "signal $EPOCHREALTIME $BASHPID HUP" >> "$BENCH_FILE"; exit 129' HUP
mapfile -t lines < "$BENCH_FILE"
if (( ${#lines[@]} > 2 * BENCH_RESTARTS )); then exec sleep 300; fi
sleep 0.05
echo "exit $EPOCHREALTIME" >> "$BENCH_FILE"
exit 1
"""

IDLE_SCRIPT = """\
echo "start $EPOCHREALTIME $BASHPID" >> "$BENCH_FILE"
exec sleep 300
"""


class BenchError(Exception):
    """A scenario could not be measured (minikubelet died, timed out, ...)."""


# -- small helpers ---------------------------------------------------------------------


def become_subreaper() -> bool:
    """Orphans of our descendants (containers of a dead minikubelet) re-parent to us."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(36, 1, 0, 0, 0) == 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(latencies_s: list[float]) -> dict[str, float]:
    ms = [x * 1000 for x in latencies_s]
    return {
        "count": len(ms),
        "min_ms": round(min(ms), 3),
        "p50_ms": round(percentile(ms, 50), 3),
        "p90_ms": round(percentile(ms, 90), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "max_ms": round(max(ms), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
    }


def parse_time(text: str) -> float:
    return float(text.replace(",", "."))  # $EPOCHREALTIME follows LC_NUMERIC


@dataclass
class Instance:
    start: float
    pid: int
    exit: float | None = None


def read_instances(path: Path) -> tuple[list[Instance], list[str]]:
    """The instances a record file describes, and every irregularity in it."""
    instances: list[Instance] = []
    problems: list[str] = []
    try:
        text = path.read_text()
    except FileNotFoundError:
        return [], []
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        if not line.endswith("\n"):
            break  # being written right now
        parts = line.split()
        try:
            if parts[0] == "start" and len(parts) == 3:
                if instances and instances[-1].exit is None:
                    problems.append(
                        f"{path.name}:{number}: a new instance (pid {parts[2]}) started before "
                        f"instance pid {instances[-1].pid} recorded its exit"
                    )
                instances.append(Instance(parse_time(parts[1]), int(parts[2])))
            elif parts[0] == "signal" and len(parts) == 4:
                problems.append(f"{path.name}:{number}: pid {parts[2]} got SIG{parts[3]}")
            elif parts[0] == "exit" and len(parts) == 2:
                if not instances or instances[-1].exit is not None:
                    problems.append(f"{path.name}:{number}: exit without a start")
                    continue
                instances[-1].exit = parse_time(parts[1])
            else:
                problems.append(f"{path.name}:{number}: unreadable line {line!r}")
        except (ValueError, IndexError):
            problems.append(f"{path.name}:{number}: unreadable line {line!r}")
    return instances, problems


def latencies(instances: list[Instance]) -> list[float]:
    return [
        nxt.start - cur.exit for cur, nxt in itertools.pairwise(instances) if cur.exit is not None
    ]


def ctx_switches(pid: int) -> tuple[int, int]:
    """Voluntary and involuntary context switches summed over every thread of ``pid``.

    ``/proc/PID/status`` (what psutil reads) counts the main thread only.
    """
    voluntary = involuntary = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                voluntary += int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches:"):
                involuntary += int(line.split()[1])
    return voluntary, involuntary


def yaml_stream(documents: list[dict[str, Any]]) -> str:
    """A multi-document YAML file (JSON is YAML), so no YAML library is needed."""
    return "".join("---\n" + json.dumps(doc, indent=1) + "\n" for doc in documents)


def pod(name: str, script: str, env: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 10,
            "containers": [
                {
                    "name": "c",
                    "image": "bash",
                    "command": ["bash", "-c", script],
                    "env": [{"name": k, "value": v} for k, v in env.items()],
                }
            ],
        },
    }


# -- the minikubelet process -------------------------------------------------------------


@dataclass
class Minikubelet:
    """One ``minikubelet run`` subprocess in its own session (process group = its pid)."""

    argv: list[str]
    workdir: Path
    name: str
    proc: subprocess.Popen[bytes] | None = None
    launched_at: float = 0.0  # time.time() just before Popen
    stdout_path: Path = field(init=False)
    stderr_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.stdout_path = self.workdir / f"{self.name}.stdout"
        self.stderr_path = self.workdir / f"{self.name}.stderr"

    def start(self) -> None:
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.launched_at = time.time()
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                cwd=self.workdir,
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def check_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise BenchError(
                f"minikubelet exited early with status {self.proc.returncode}\n"
                + self.stderr_tail()
            )

    def stderr_tail(self, lines: int = 25) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "  stderr tail:\n" + "\n".join("    " + line for line in text[-lines:])

    def terminate(self, timeout: float) -> tuple[float, int | None]:
        """SIGTERM, wait up to ``timeout``; (seconds until it exited, exit status)."""
        assert self.proc is not None
        # Popen.wait(timeout) polls with sleeps of up to 50 ms: a pidfd says when exactly.
        pidfd = os.pidfd_open(self.proc.pid)
        try:
            began = time.monotonic()
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)
            select.select([pidfd], [], [], timeout)
            seconds = time.monotonic() - began
        finally:
            os.close(pidfd)
        try:
            status: int | None = self.proc.wait(1)
        except subprocess.TimeoutExpired:
            status = None
        return seconds, status

    def kill(self) -> None:
        """SIGKILL minikubelet's whole process group (its containers have their own)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)


# -- the benchmark -----------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="minikubelet-bench-", dir=args.tmpdir))
        self.mark = uuid.uuid4().hex
        self.kubelets: list[Minikubelet] = []
        self.recorded_pids: set[int] = set()
        self.results: dict[str, Any] = {}
        self.problems: list[str] = []
        self.is_subreaper = become_subreaper()

    # -- running minikubelet --------------------------------------------------------

    def kubelet(self, name: str, pods: list[dict[str, Any]]) -> Minikubelet:
        directory = self.tmp / name
        directory.mkdir()
        manifest = directory / "pods.yaml"
        manifest.write_text(yaml_stream(pods))
        argv = [
            *self.args.minikubelet_argv,
            "run",
            str(manifest),
            "--root-dir",
            str(directory / "root"),
            "--initial-container-restart-period",
            "0s",
            "--max-container-restart-period",
            "0s",
            *self.args.minikubelet_arg,
        ]
        if self.args.profile:
            self.profile_path = directory / "minikubelet.prof"
            argv = [self.args.python, "-m", "cProfile", "-o", str(self.profile_path), *argv]
        kubelet = Minikubelet(argv, directory, name)
        self.kubelets.append(kubelet)
        return kubelet

    def container_env(self, record: Path, **extra: str) -> dict[str, str]:
        return {MARK_VARIABLE: self.mark, "BENCH_FILE": str(record), "LC_ALL": "C", **extra}

    def wait_for(
        self, kubelet: Minikubelet, done: Any, timeout: float, interval: float, what: str
    ) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            kubelet.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(interval)

    def shutdown(self, kubelet: Minikubelet, record_files: list[Path]) -> dict[str, Any]:
        """SIGTERM minikubelet, time its exit, check that no container process is left."""
        for path in record_files:
            self.recorded_pids.update(i.pid for i in read_instances(path)[0])
        seconds, status = kubelet.terminate(timeout=30)
        result: dict[str, Any] = {"shutdown_s": round(seconds, 3), "exit_status": status}
        if status is None:
            self.problem(
                f"{kubelet.name}: minikubelet did not exit within 30 s of SIGTERM\n"
                + kubelet.stderr_tail()
            )
            kubelet.kill()
        elif status != 128 + signal.SIGTERM and not self.args.profile:  # cProfile exits 0
            self.problem(
                f"{kubelet.name}: minikubelet exited {status} after SIGTERM "
                f"(expected {128 + signal.SIGTERM})\n" + kubelet.stderr_tail()
            )
        pids: set[int] = set()
        for path in record_files:
            pids.update(i.pid for i in read_instances(path)[0])
        leaked = self.leftovers(pids)
        result["container_pids_checked"] = len(pids)
        result["leaked_pids"] = sorted(leaked)
        if leaked:
            self.problem(
                f"{kubelet.name}: {len(leaked)} container process(es) still running after "
                f"minikubelet exited: " + ", ".join(self.describe(p) for p in sorted(leaked))
            )
            self.kill_pids(leaked)
        return result

    # -- leftovers --------------------------------------------------------------------

    def is_ours(self, process: psutil.Process) -> bool:
        try:
            return process.environ().get(MARK_VARIABLE) == self.mark
        except (psutil.Error, OSError):
            return False

    def leftovers(self, pids: set[int]) -> set[int]:
        """Live processes among ``pids`` or anywhere carrying our marker or descending from us."""
        found: set[int] = set()
        candidates = [p for p in map(_process_or_none, pids) if p is not None]
        candidates += list(psutil.process_iter())
        with contextlib.suppress(psutil.Error):
            found.update(p.pid for p in psutil.Process().children(recursive=True))
        for process in candidates:
            if self.is_ours(process):
                found.add(process.pid)
        alive = set()
        for pid in found:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.add(pid)
            except psutil.Error:
                continue
        self.reap()
        return alive

    def describe(self, pid: int) -> str:
        try:
            process = psutil.Process(pid)
            return f"{pid} ({' '.join(process.cmdline())[:60]}, ppid {process.ppid()})"
        except psutil.Error:
            return str(pid)

    def kill_pids(self, pids: set[int]) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        psutil.wait_procs([p for p in map(_process_or_none, pids) if p], timeout=3)
        self.reap()

    def reap(self) -> None:
        """Reap zombies re-parented to us (we are a child subreaper)."""
        for child in psutil.Process().children():
            if any(k.proc is not None and k.proc.pid == child.pid for k in self.kubelets):
                continue  # Popen reaps minikubelet itself
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child.pid, os.WNOHANG)

    def cleanup(self) -> None:
        for kubelet in self.kubelets:
            if kubelet.proc is not None and kubelet.proc.poll() is None:
                kubelet.terminate(timeout=10)
                kubelet.kill()
        leaked = self.leftovers(set(self.recorded_pids))
        if leaked:
            self.kill_pids(leaked)
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def problem(self, text: str) -> None:
        self.problems.append(text)
        print(f"PROBLEM: {text}", file=sys.stderr, flush=True)

    # -- profiling --------------------------------------------------------------------

    def report_profile(self, name: str) -> None:
        path = getattr(self, "profile_path", None)
        if not self.args.profile or path is None or not path.exists():
            return
        print(f"\n== cProfile of minikubelet, {name} (top {self.args.profile_top} by tottime)")
        stats = pstats.Stats(str(path), stream=sys.stdout)
        stats.strip_dirs().sort_stats("tottime").print_stats(self.args.profile_top)
        stats.sort_stats("cumulative").print_stats(self.args.profile_top)
        print(f"(saved: {path}; --keep to retain it)")

    # -- scenarios --------------------------------------------------------------------

    def run_restart(self, name: str, containers: int, restarts_each: int) -> dict[str, Any]:
        records = [self.tmp / f"{name}-{i:03d}.rec" for i in range(containers)]
        pods = [
            pod(
                f"crash-{i:03d}",
                CRASH_SCRIPT,
                self.container_env(record, BENCH_RESTARTS=str(restarts_each)),
            )
            for i, record in enumerate(records)
        ]
        kubelet = self.kubelet(name, pods)
        print(
            f"[{name}] {containers} crash-looping container(s) x {restarts_each} restarts ...",
            flush=True,
        )
        kubelet.start()
        wanted = restarts_each + 1  # instances

        def counts() -> list[int]:
            return [len(read_instances(r)[0]) for r in records]

        self.wait_for(
            kubelet,
            lambda: all(c >= 1 for c in counts()),
            60,
            0.05,
            "every container's first start",
        )
        cpu0 = psutil.Process(kubelet.pid).cpu_times()
        machine0 = psutil.cpu_times()
        wall0 = time.monotonic()
        starts0 = sum(counts())
        timeout = 60 + restarts_each * containers * 0.2
        self.wait_for(
            kubelet,
            lambda: all(c >= wanted for c in counts()),
            timeout,
            0.1,
            f"{wanted} instances of every container",
        )
        cpu1 = psutil.Process(kubelet.pid).cpu_times()
        machine1 = psutil.cpu_times()
        wall1 = time.monotonic()
        starts1 = sum(counts())
        time.sleep(0.3)  # an extra restart of a finished container would show up here
        result: dict[str, Any] = {"containers": containers, "restarts_each": restarts_each}
        all_latencies: list[float] = []
        for record in records:
            instances, problems = read_instances(record)
            for text in problems:
                self.problem(f"{name}: {text}")
            if len(instances) != wanted:
                self.problem(
                    f"{name}: {record.name} has {len(instances)} instances, expected {wanted}"
                )
            if len({i.pid for i in instances}) != len(instances):
                self.problem(f"{name}: {record.name}: a pid was recorded twice")
            lat = latencies(instances)
            negative = [x for x in lat if x < 0]
            if negative:
                self.problem(
                    f"{name}: {record.name}: {len(negative)} restart(s) started before the "
                    f"previous instance exited"
                )
            all_latencies.extend(lat)
        result["latency"] = summary_ms(all_latencies)
        cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
        restarts = starts1 - starts0
        if restarts > 0:
            result["minikubelet_cpu_ms_per_restart"] = round(cpu * 1000 / restarts, 3)
        # While restarting: minikubelet's share of one core, and how busy the machine was.
        result["restart_phase_s"] = round(wall1 - wall0, 3)
        result["minikubelet_cpu_pct_of_core"] = round(cpu / (wall1 - wall0) * 100, 1)
        busy = sum(machine1) - sum(machine0)
        idle = (machine1.idle + machine1.iowait) - (machine0.idle + machine0.iowait)
        result["machine_busy_pct"] = round((busy - idle) / busy * 100, 1) if busy > 0 else None
        result["shutdown"] = self.shutdown(kubelet, records)
        self.report_profile(name)
        return result

    def run_floor(self, restarts: int) -> dict[str, Any]:
        """The same crash-looping container restarted by a bare Popen/wait loop here."""
        record = self.tmp / "floor.rec"
        env = {**os.environ, **self.container_env(record, BENCH_RESTARTS=str(restarts + 10))}
        for _ in range(restarts + 1):
            child = subprocess.Popen(
                ["bash", "-c", CRASH_SCRIPT],
                env=env,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            child.wait()
        instances, problems = read_instances(record)
        for text in problems:
            self.problem(f"floor: {text}")
        return {"latency": summary_ms(latencies(instances))}

    def run_startup(self, idle: bool) -> dict[str, Any]:
        count = self.args.pods
        records = [self.tmp / f"startup-{i:03d}.rec" for i in range(count)]
        pods = [
            pod(f"idle-{i:03d}", IDLE_SCRIPT, self.container_env(record))
            for i, record in enumerate(records)
        ]
        kubelet = self.kubelet("startup", pods)
        print(f"[startup] {count} pods ...", flush=True)
        kubelet.start()
        seen: dict[Path, Instance] = {}

        def all_started() -> bool:
            for record in records:
                if record not in seen:
                    instances, _ = read_instances(record)
                    if instances:
                        seen[record] = instances[0]
            return bool(len(seen) == count)

        self.wait_for(kubelet, all_started, 60, 0.02, f"{count} containers to start")
        starts = sorted(i.start for i in seen.values())
        result: dict[str, Any] = {
            "pods": count,
            "launch_to_all_started_s": round(starts[-1] - kubelet.launched_at, 3),
            "launch_to_first_started_s": round(starts[0] - kubelet.launched_at, 3),
            "first_to_last_started_s": round(starts[-1] - starts[0], 3),
        }
        if idle:
            print(f"[idle] {count} idle containers, {self.args.idle_seconds:.0f} s ...", flush=True)
            result["idle"] = self.measure_idle(kubelet, records)
        result["shutdown"] = self.shutdown(kubelet, records)
        self.report_profile("startup")
        return result

    def measure_idle(self, kubelet: Minikubelet, records: list[Path]) -> dict[str, Any]:
        time.sleep(self.args.idle_settle)
        kubelet.check_alive()
        process = psutil.Process(kubelet.pid)
        cpu0 = process.cpu_times()
        ctx0 = ctx_switches(kubelet.pid)
        began = time.monotonic()
        end = began + self.args.idle_seconds
        while (left := end - time.monotonic()) > 0:  # polls minikubelet's exit from here only
            time.sleep(min(left, 1.0))
            kubelet.check_alive()
        cpu1 = process.cpu_times()
        ctx1 = ctx_switches(kubelet.pid)
        elapsed = time.monotonic() - began
        kubelet.check_alive()
        cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
        voluntary, involuntary = ctx1[0] - ctx0[0], ctx1[1] - ctx0[1]
        restarted = [r.name for r in records if len(read_instances(r)[0]) != 1]
        if restarted:
            self.problem(f"idle: containers restarted while idle: {restarted[:10]}")
        return {
            "seconds": round(elapsed, 2),
            "settle_s": self.args.idle_settle,
            "cpu_s": round(cpu, 4),
            "cpu_pct_of_core": round(cpu / elapsed * 100, 4),
            "voluntary_ctx_switches": voluntary,
            "involuntary_ctx_switches": involuntary,
            "wakeups_per_s": round((voluntary + involuntary) / elapsed, 3),
            "threads": process.num_threads(),
            "rss_mib": round(process.memory_info().rss / 2**20, 1),
        }

    def run(self) -> None:
        scenarios = SCENARIOS if self.args.scenario == "all" else (self.args.scenario,)
        for scenario in scenarios:
            if scenario == "startup" and "idle" in scenarios:
                continue  # idle runs the start-up scenario and measures it too
            try:
                if scenario == "restart1":
                    self.results["restart1"] = self.run_restart("restart1", 1, self.args.restarts)
                    if not self.args.no_floor:
                        print("[floor] Popen/wait loop, no minikubelet ...", flush=True)
                        self.results["floor"] = self.run_floor(min(self.args.restarts, 100))
                elif scenario == "restart50":
                    self.results["restart50"] = self.run_restart(
                        "restart50", self.args.containers, self.args.restarts_each
                    )
                elif scenario == "startup":
                    self.results["startup"] = self.run_startup(idle=False)
                elif scenario == "idle":
                    self.results["startup"] = self.run_startup(idle=True)
            except BenchError as error:
                self.problem(f"{scenario}: {error}")
            finally:
                for kubelet in self.kubelets:  # nothing of this scenario survives it
                    if kubelet.proc is not None and kubelet.proc.poll() is None:
                        kubelet.terminate(timeout=10)
                        kubelet.kill()


def _process_or_none(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


# -- report ------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_report(bench: Bench) -> None:
    r = bench.results
    rows: list[tuple[str, str, str, str]] = []

    def restart_rows(key: str, label: str, target_key: str, target: float) -> None:
        if key not in r:
            return
        lat = r[key]["latency"]
        for q in ("p50_ms", "p90_ms", "p99_ms", "max_ms"):
            t, v = "", ""
            if q == target_key:
                t = f"<= {target:g} ms"
                v = verdict(lat[q] <= target)
            rows.append((f"{label} {q[:-3]}", f"{lat[q]:.2f} ms", t, v))
        rows.append((f"{label} restarts measured", str(lat["count"]), ">= 200", ""))
        if "minikubelet_cpu_ms_per_restart" in r[key]:
            cpu = r[key]["minikubelet_cpu_ms_per_restart"]
            rows.append((f"{label} minikubelet CPU/restart", f"{cpu:.2f} ms", "", ""))
            rows.append(
                (
                    f"{label} minikubelet / machine busy",
                    f"{r[key]['minikubelet_cpu_pct_of_core']:.0f} % of a core / "
                    f"{r[key]['machine_busy_pct']:.0f} % of {os.cpu_count()} cores",
                    "",
                    "",
                )
            )

    restart_rows("restart1", "restart, 1 container:", "p50_ms", TARGET_RESTART1_P50_MS)
    if "floor" in r:
        lat = r["floor"]["latency"]
        rows.append(
            (
                "floor (Popen+wait loop) p50/p99",
                f"{lat['p50_ms']:.2f} / {lat['p99_ms']:.2f} ms",
                "",
                "",
            )
        )
    restart_rows("restart50", "restart, 50 at once:", "p99_ms", TARGET_RESTART50_P99_MS)
    if "startup" in r:
        s = r["startup"]
        rows.append(
            (
                f"{s['pods']} pods: launch -> all started",
                f"{s['launch_to_all_started_s']:.3f} s",
                f"<= {TARGET_STARTUP_S:g} s",
                verdict(s["launch_to_all_started_s"] <= TARGET_STARTUP_S),
            )
        )
        rows.append(
            ("  launch -> first started", f"{s['launch_to_first_started_s']:.3f} s", "", "")
        )
        rows.append(("  first -> last started", f"{s['first_to_last_started_s']:.3f} s", "", ""))
        if "idle" in s:
            i = s["idle"]
            rows.append(
                (
                    f"idle CPU, {s['pods']} containers, {i['seconds']:.0f} s",
                    f"{i['cpu_pct_of_core']:.3f} % of a core",
                    f"< {TARGET_IDLE_CPU_PCT:g} %",
                    verdict(i["cpu_pct_of_core"] < TARGET_IDLE_CPU_PCT),
                )
            )
            rows.append(
                (
                    "idle wake-ups (ctx switches)",
                    f"{i['wakeups_per_s']:.2f} /s",
                    "~0 /s",
                    "",
                )
            )
            rows.append(
                (
                    "  voluntary + involuntary",
                    f"{i['voluntary_ctx_switches']} + {i['involuntary_ctx_switches']}",
                    "",
                    "",
                )
            )
            rows.append(("  threads / RSS", f"{i['threads']} / {i['rss_mib']} MiB", "", ""))
    for key in ("restart1", "restart50", "startup"):
        if key in r and "shutdown" in r[key]:
            sd = r[key]["shutdown"]
            leaked = len(sd["leaked_pids"])
            rows.append(
                (
                    f"shutdown ({key}): SIGTERM -> exit",
                    f"{sd['shutdown_s']:.3f} s, status {sd['exit_status']}",
                    "0 left",
                    f"{leaked} left" if leaked else "0 left",
                )
            )
    width = [
        max(len(row[c]) for row in [("metric", "measured", "target", ""), *rows]) for c in range(4)
    ]
    print()
    header = ("metric", "measured", "target", "")
    print("  ".join(h.ljust(w) for h, w in zip(header, width, strict=True)).rstrip())
    print("  ".join("-" * w for w in width))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, width, strict=True)).rstrip())
    print(
        "\ncomparison: supervisord restarts after ~1 s (p50 1019 ms), runit ~1 s, "
        "pm2 p50 8 ms (1 process), p50 30 ms / p99 109 ms (50 at once)"
    )
    if bench.problems:
        print(f"\n{len(bench.problems)} problem(s):")
        for text in bench.problems:
            print("  - " + text.replace("\n", "\n    "))


# -- main --------------------------------------------------------------------------------


def default_minikubelet() -> str:
    beside = Path(sys.executable).parent / "minikubelet"
    if beside.exists():
        return str(beside)
    found = shutil.which("minikubelet")
    if found is None:
        raise SystemExit("minikubelet not found: pass --minikubelet PATH")
    return found


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Black-box benchmark of minikubelet (restart latency, start-up, idle cost)."
    )
    parser.add_argument("--scenario", choices=("all", *SCENARIOS), default="all")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument(
        "--idle-settle",
        type=float,
        default=2.0,
        help="seconds to wait after the last start before measuring idle cost",
    )
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="also write the results")
    parser.add_argument(
        "--restarts", type=int, default=200, help="restarts of the single container (restart1)"
    )
    parser.add_argument("--containers", type=int, default=50, help="containers for restart50")
    parser.add_argument(
        "--restarts-each", type=int, default=8, help="restarts per container (restart50)"
    )
    parser.add_argument("--pods", type=int, default=100, help="pods for startup/idle")
    parser.add_argument("--minikubelet", default=None, help="the minikubelet executable")
    parser.add_argument(
        "--no-floor", action="store_true", help="skip the Popen/wait floor measurement"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run minikubelet under cProfile and print where it spends time "
        "(inflates every number)",
    )
    parser.add_argument("--profile-top", type=int, default=25)
    parser.add_argument(
        "--minikubelet-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for `minikubelet run` (repeatable), "
        "e.g. --minikubelet-arg=--log-level=info",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--tmpdir",
        default=None,
        help="where to make the temporary directory (records, manifests, --root-dir) "
        "[default: tempfile's, usually /tmp]; e.g. /dev/shm to take disk latency out",
    )
    args = parser.parse_args(argv)
    exe = args.minikubelet or default_minikubelet()
    args.minikubelet_argv = [exe]
    args.python = sys.executable
    if args.profile:
        # the console script's own interpreter, so cProfile runs in minikubelet's venv
        with open(exe, "rb") as script:
            first = script.readline()
        if first.startswith(b"#!"):
            args.python = first[2:].decode().strip().split()[0]
    return args


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGINT explicitly too: a background job of a script inherits it ignored.
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    bench = Bench(args)
    print(f"temporary directory: {bench.tmp}", flush=True)
    interrupted = False
    try:
        bench.run()
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: cleaning up", file=sys.stderr)
    finally:
        bench.cleanup()
    if args.keep:
        print(f"kept: {bench.tmp}")
    print_report(bench)
    if args.json:
        payload = {
            "results": bench.results,
            "problems": bench.problems,
            "targets": {
                "restart1_p50_ms": TARGET_RESTART1_P50_MS,
                "restart50_p99_ms": TARGET_RESTART50_P99_MS,
                "startup_s": TARGET_STARTUP_S,
                "idle_cpu_pct": TARGET_IDLE_CPU_PCT,
            },
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
            "argv": sys.argv,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    if interrupted:
        return 130
    return 1 if bench.problems else 0


if __name__ == "__main__":
    sys.exit(main())
