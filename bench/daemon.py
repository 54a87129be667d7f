#!/usr/bin/env python3
"""Black-box benchmark of ``minikubelet serve`` with many pods (issue 4's speed targets).

The daemon is driven only from outside: ``minikubelet serve`` in a subprocess on an empty
manifest directory, a ``--root-dir`` and a ``--socket`` inside one temporary directory. The
pods are static pods, one file each, written into the directory while the daemon runs. Each
pod has one container, ``echo "$EPOCHREALTIME $BASHPID" > file; exec sleep 300``, so the
containers record their own start times. The API is read over the unix socket with
``http.client`` (a fresh connection per request, as the CLI does).

Phases, in order, all on the same daemon:

1. **start-up**: launch the daemon, wait for ``GET /healthz``; then write ``--pods`` manifests
   as fast as possible (each to a dot-file, which the daemon ignores, then renamed to
   ``NAME.yaml``, so it never reads half a file). Measures the time from the first write to
   the last container's recorded start, and to the first poll of
   ``GET /api/v1/namespaces/default/pods`` (every ``--poll-interval``) that shows every pod
   ``Running``. Target: all Running <= 5 s.
2. **API latency**: ``--requests`` sequential ``GET /pods`` (p50/p99; target p50 <= 20 ms),
   then as many ``GET /api/v1/namespaces/default/pods``.
3. **CLI**: ``minikubelet get pods --server SOCK`` in a subprocess, ``--cli-runs`` times
   (median/min/max wall time, Python start-up included; target <= 300 ms); the output must
   have a header and one row per pod. ``python -c pass`` is timed the same way as a floor.
4. **memory**: the daemon's RSS (psutil, the daemon process only), once every pod is
   running and again after phases 2-3. Target <= 150 MB (MB = 10^6 bytes).
5. **shutdown**: SIGTERM to the daemon, time until it exits (on a pidfd; expected exit
   status 0), then a check that no container process is left (by the pids the containers
   recorded, by an environment marker every container carries, and among our descendants).

``--py-spy PATH`` additionally samples the daemon with py-spy (``record --format raw
--nonblocking``) during phase 1 and during phases 2-3, and prints where it spends its time
by function. This perturbs the numbers: use it for a separate run.

Uses only the standard library and psutil. Exit status: 0 when nothing went wrong (even if a
target was missed), 1 when a problem was found (the daemon crashed or exited non-zero, a pod
did not start, a container was left behind, the CLI output was wrong), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import http.client
import json
import os
import select
import shutil
import signal
import socket
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from restart import (  # the process and report helpers the benchmarks share
    BenchError,
    _process_or_none,
    _raise_interrupt,
    become_subreaper,
    default_minikubelet,
    summary_ms,
    verdict,
)

# Targets (issue 4; see bench/README.md).
TARGET_ALL_RUNNING_S = 5.0
TARGET_PODS_P50_MS = 20.0
TARGET_CLI_MS = 300.0
TARGET_RSS_MB = 150.0

MARK_VARIABLE = "MINIKUBELET_BENCH_MARK"

# Kubernetes expands $(NAME) and turns $$ into $ in command/args: the script uses neither
# (hence $BASHPID). One line, written once; a restart would overwrite it with a new pid.
SCRIPT = 'echo "$EPOCHREALTIME $BASHPID" > "$BENCH_FILE"; exec sleep 300'

PODS_PATH = "/pods"
LIST_PATH = "/api/v1/namespaces/default/pods"


# -- small helpers ---------------------------------------------------------------------


def machine_busy_pct(before: Any, after: Any) -> float | None:
    """How busy all cores were between two ``psutil.cpu_times()``, in % (steal counts)."""
    total = sum(after) - sum(before)
    idle = (after.idle + after.iowait) - (before.idle + before.iowait)
    return round((total - idle) / total * 100, 1) if total > 0 else None


def read_record(path: Path) -> tuple[float, int] | None:
    """(start time, pid) a container wrote, or None if it has not (completely) yet."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    if not text.endswith("\n"):
        return None  # not written yet, or being written
    parts = text.split()
    if len(parts) != 2:
        raise BenchError(f"{path.name}: unreadable record {text!r}")
    return float(parts[0].replace(",", ".")), int(parts[1])  # $EPOCHREALTIME follows LC_NUMERIC


def manifest(name: str, env: dict[str, str]) -> str:
    """One pod as YAML (JSON is YAML, so no YAML library is needed)."""
    pod = {
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
                    "command": ["bash", "-c", SCRIPT],
                    "env": [{"name": k, "value": v} for k, v in env.items()],
                }
            ],
        },
    }
    return json.dumps(pod, indent=1) + "\n"


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def http_get(sock_path: str, path: str, timeout: float = 30.0) -> tuple[int, bytes, float]:
    """GET over the unix socket on a new connection: (status, body, seconds incl. connect)."""
    began = time.perf_counter()
    conn = UnixHTTPConnection(sock_path, timeout)
    try:
        conn.request("GET", path, headers={"Accept": "application/json"})
        response = conn.getresponse()
        body = response.read()
        return response.status, body, time.perf_counter() - began
    finally:
        conn.close()


# -- the daemon process ------------------------------------------------------------------


@dataclass
class Daemon:
    """One ``minikubelet serve`` subprocess in its own session (process group = its pid)."""

    argv: list[str]
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    launched_at: float = 0.0  # time.monotonic() just before Popen
    stdout_path: Path = field(init=False)
    stderr_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.stdout_path = self.workdir / "daemon.stdout"
        self.stderr_path = self.workdir / "daemon.stderr"

    def start(self) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS")
        }
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.launched_at = time.monotonic()
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                cwd=self.workdir,
                env=env,
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise BenchError(
                f"the daemon exited early with status {self.proc.returncode}\n" + self.stderr_tail()
            )

    def stderr_tail(self, lines: int = 25) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "  stderr tail:\n" + "\n".join("    " + line[:300] for line in text[-lines:])

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
        """SIGKILL the daemon's whole process group (its containers have their own)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)


# -- py-spy (optional) -------------------------------------------------------------------


class PySpy:
    """``py-spy record --format raw`` attached to the daemon, stopped with SIGINT."""

    def __init__(self, exe: str, pid: int, out: Path, rate: int) -> None:
        self.out = out
        self.log = out.with_suffix(".log")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    exe,
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    str(rate),
                    "--nonblocking",
                    "--format",
                    "raw",
                    "--output",
                    str(out),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        time.sleep(0.5)  # let it attach before the phase begins
        if self.proc.poll() is not None:
            raise BenchError(f"py-spy exited {self.proc.returncode}: {self.log.read_text()}")
        self.began = time.monotonic()
        self.seconds = 0.0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.seconds = time.monotonic() - self.began
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def _frame_name(frame: str) -> str:
    """``func (path/to/module.py:123)`` -> ``func (module.py)``: one row per function."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    # keep the package-relative path for minikubelet, the file name for the rest
    if "minikubelet" in parts:
        short = "/".join(parts[len(parts) - 1 - parts[::-1].index("minikubelet") :])
    else:
        short = parts[-1] if parts else path
    return f"{name} ({short})"


# Leaves that mean "waiting", not working: the event loop in epoll, an idle worker thread.
_WAITING = ("EpollSelector.select (selectors.py)", "Condition.wait (threading.py)")


def summarize_raw(path: Path, top: int, rate: int, seconds: float) -> dict[str, Any]:
    """Where the daemon spent its time, from a py-spy raw (collapsed stacks) file.

    Samples are split by thread: the event loop (the stack goes through ``<module>``),
    worker threads (``Thread._bootstrap``) and truncated stacks py-spy could not unwind
    (``--nonblocking`` reads a running process). Samples whose leaf is a wait (epoll,
    an idle worker's ``Condition.wait``) are counted apart. ``busy %`` is busy samples /
    (rate x seconds): the share of one core each kind of thread kept busy.
    """
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    kinds: collections.Counter[str] = collections.Counter()
    waiting = 0
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";") if f]
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        if frames[-1] in _WAITING:
            waiting += count
            continue
        if frames[0].startswith("<module> "):
            kinds["event loop"] += count
        elif frames[0].startswith("Thread._bootstrap "):
            kinds["worker threads"] += count
        else:
            kinds["truncated stacks"] += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    busy = sum(kinds.values())
    loop = kinds["event loop"]
    # minikubelet's own functions, without the entry points every loop sample goes through
    mine = collections.Counter(
        {
            name: n
            for name, n in inclusive.items()
            if "(minikubelet/" in name
            and not (loop and n >= 0.95 * loop)
            and not name.startswith("<module> ")
        }
    )

    def rows(counter: collections.Counter[str]) -> list[dict[str, Any]]:
        return [
            {"function": name, "samples": n, "pct": round(100 * n / busy, 1)}
            for name, n in counter.most_common(top)
        ]

    expected = rate * seconds
    return {
        "seconds": round(seconds, 2),
        "rate": rate,
        "busy_samples": busy,
        "waiting_samples": waiting,
        "threads": {
            kind: {"samples": n, "busy_pct_of_core": round(100 * n / expected, 1)}
            for kind, n in kinds.most_common()
        },
        "self": rows(own),
        "inclusive_minikubelet": rows(mine),
    }


# -- the benchmark -----------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="minikubelet-daemon-", dir=args.tmpdir))
        self.mark = uuid.uuid4().hex
        self.daemon: Daemon | None = None
        self.spies: list[PySpy] = []
        self.recorded_pids: set[int] = set()
        self.results: dict[str, Any] = {}
        self.profiles: dict[str, Any] = {}
        self.problems: list[str] = []
        self.is_subreaper = become_subreaper()
        self.manifests = self.tmp / "manifests"
        self.records = self.tmp / "records"
        self.socket = str(self.tmp / "api.sock")

    def problem(self, text: str) -> None:
        self.problems.append(text)
        print(f"PROBLEM: {text}", file=sys.stderr, flush=True)

    def record_paths(self) -> list[Path]:
        return [self.records / f"pod-{i:04d}" for i in range(self.args.pods)]

    # -- phases -----------------------------------------------------------------------

    def start_daemon(self) -> Daemon:
        self.manifests.mkdir()
        self.records.mkdir()
        argv = [
            *self.args.minikubelet_argv,
            "serve",
            "--pod-manifest-path",
            str(self.manifests),
            "--root-dir",
            str(self.tmp / "root"),
            "--socket",
            self.socket,
            *self.args.minikubelet_arg,
        ]
        daemon = self.daemon = Daemon(argv, self.tmp)
        print(f"[start] {' '.join(argv)}", flush=True)
        daemon.start()
        deadline = time.monotonic() + 60
        while True:
            daemon.check_alive()
            if os.path.exists(self.socket):
                with contextlib.suppress(OSError, http.client.HTTPException):
                    status, _, _ = http_get(self.socket, "/healthz", timeout=5)
                    if status == 200:
                        break
            if time.monotonic() > deadline:
                raise BenchError("the daemon's /healthz did not answer within 60 s")
            time.sleep(0.01)
        self.results["launch_to_healthz_s"] = round(time.monotonic() - daemon.launched_at, 3)
        return daemon

    def spy(self, name: str) -> PySpy | None:
        if not self.args.py_spy or self.daemon is None:
            return None
        spy = PySpy(
            self.args.py_spy, self.daemon.pid, self.tmp / f"pyspy-{name}.txt", self.args.py_spy_rate
        )
        self.spies.append(spy)
        return spy

    def end_spy(self, name: str, spy: PySpy | None) -> None:
        if spy is None:
            return
        spy.stop()
        self.profiles[name] = summarize_raw(
            spy.out, self.args.profile_top, self.args.py_spy_rate, spy.seconds
        )

    def phase_startup(self, daemon: Daemon) -> None:
        count = self.args.pods
        records = self.record_paths()
        texts = [
            (
                f"pod-{i:04d}",
                manifest(
                    f"pod-{i:04d}",
                    {MARK_VARIABLE: self.mark, "BENCH_FILE": str(path), "LC_ALL": "C"},
                ),
            )
            for i, path in enumerate(records)
        ]
        process = psutil.Process(daemon.pid)
        spy = self.spy("startup")
        cpu0, machine0 = process.cpu_times(), psutil.cpu_times()
        print(f"[startup] writing {count} manifests ...", flush=True)
        t0_wall = time.time()
        t0 = time.monotonic()
        for name, text in texts:
            hidden = self.manifests / f".{name}.tmp"
            hidden.write_text(text)
            os.rename(hidden, self.manifests / f"{name}.yaml")
        t_written = time.monotonic()

        seen: dict[int, tuple[float, int]] = {}
        api_all_running: float | None = None
        api_first_all_seen: float | None = None
        polls: list[float] = []
        running_counts: list[tuple[float, int]] = []
        deadline = t0 + self.args.timeout
        while True:
            loop_began = time.monotonic()
            daemon.check_alive()
            if len(seen) < count:
                for i, path in enumerate(records):
                    if i not in seen:
                        found = read_record(path)
                        if found is not None:
                            seen[i] = found
            if api_all_running is None:
                try:
                    status, body, seconds = http_get(self.socket, LIST_PATH)
                except (OSError, http.client.HTTPException) as error:
                    time.sleep(0.2)
                    daemon.check_alive()  # "the daemon exited" says more than "reset"
                    raise BenchError(f"GET {LIST_PATH} failed: {error!r}") from error
                answered = time.monotonic()
                polls.append(seconds)
                if status != 200:
                    raise BenchError(f"GET {LIST_PATH}: HTTP {status}: {body[:300]!r}")
                items = json.loads(body)["items"]
                running = sum(1 for p in items if p.get("status", {}).get("phase") == "Running")
                running_counts.append((answered - t0, running))
                if api_first_all_seen is None and len(items) >= count:
                    api_first_all_seen = answered
                if running >= count:
                    api_all_running = answered
            if len(seen) == count and api_all_running is not None:
                break
            if time.monotonic() > deadline:
                raise BenchError(
                    f"timed out after {self.args.timeout:.0f} s: {len(seen)}/{count} containers "
                    f"started, API shows {running_counts[-1][1] if running_counts else 0} Running"
                )
            time.sleep(max(0.0, self.args.poll_interval - (time.monotonic() - loop_began)))
        cpu1, machine1 = process.cpu_times(), psutil.cpu_times()
        self.end_spy("startup", spy)
        starts = sorted(s for s, _ in seen.values())
        pids = {pid for _, pid in seen.values()}
        self.recorded_pids.update(pids)
        if len(pids) != count:
            self.problem(f"startup: {count} containers but {len(pids)} distinct pids")
        self.results["startup"] = {
            "pods": count,
            "write_s": round(t_written - t0, 3),
            "first_write_to_first_started_s": round(starts[0] - t0_wall, 3),
            "first_write_to_all_started_s": round(starts[-1] - t0_wall, 3),
            "first_write_to_api_all_listed_s": round(api_first_all_seen - t0, 3)
            if api_first_all_seen is not None
            else None,
            "first_write_to_api_all_running_s": round(api_all_running - t0, 3),
            "api_polls": summary_ms(polls),
            "poll_interval_s": self.args.poll_interval,
            "daemon_cpu_s": round((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system), 3),
            "machine_busy_pct": machine_busy_pct(machine0, machine1),
            "running_over_time": [(round(t, 2), n) for t, n in running_counts],
        }
        self.results["memory_after_startup"] = self.memory(process)

    def memory(self, process: psutil.Process) -> dict[str, Any]:
        info = process.memory_info()
        return {
            "rss_mb": round(info.rss / 1e6, 1),
            "rss_mib": round(info.rss / 2**20, 1),
            "threads": process.num_threads(),
            "fds": process.num_fds(),
            "children": len(process.children()),
        }

    def phase_api(self, daemon: Daemon) -> None:
        print(f"[api] {self.args.requests} x GET {PODS_PATH}, GET {LIST_PATH} ...", flush=True)
        process = psutil.Process(daemon.pid)
        for key, path in (("pods", PODS_PATH), ("list", LIST_PATH)):
            times: list[float] = []
            size = 0
            cpu0, machine0 = process.cpu_times(), psutil.cpu_times()
            for n in range(self.args.requests):
                daemon.check_alive()
                status, body, seconds = http_get(self.socket, path)
                if status != 200:
                    raise BenchError(f"GET {path}: HTTP {status}: {body[:300]!r}")
                if n == 0:
                    items = json.loads(body)["items"]
                    if len(items) != self.args.pods:
                        self.problem(f"GET {path}: {len(items)} items, expected {self.args.pods}")
                    restarts = sum(
                        c.get("restartCount", 0)
                        for p in items
                        for c in p.get("status", {}).get("containerStatuses", [])
                    )
                    if restarts:
                        self.problem(f"GET {path}: {restarts} container restart(s)")
                size = len(body)
                times.append(seconds)
            cpu1, machine1 = process.cpu_times(), psutil.cpu_times()
            cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
            self.results[f"get_{key}"] = {
                "path": path,
                "bytes": size,
                "first_ms": round(times[0] * 1000, 2),
                **summary_ms(times),
                "daemon_cpu_ms_per_request": round(cpu * 1000 / len(times), 2),
                "machine_busy_pct": machine_busy_pct(machine0, machine1),
            }

    def phase_cli(self, daemon: Daemon) -> None:
        runs = self.args.cli_runs
        print(f"[cli] {runs} x minikubelet get pods --server ... ", flush=True)
        argv = [*self.args.minikubelet_argv, "get", "pods", "--server", self.socket]
        env = {k: v for k, v in os.environ.items() if k != "MINIKUBELET_SERVER"}
        times: list[float] = []
        for _ in range(runs):
            daemon.check_alive()
            began = time.perf_counter()
            done = subprocess.run(argv, capture_output=True, env=env, stdin=subprocess.DEVNULL)
            times.append(time.perf_counter() - began)
            if done.returncode != 0:
                raise BenchError(
                    f"`{' '.join(argv)}` exited {done.returncode}: "
                    f"{done.stderr.decode(errors='replace')[-500:]}"
                )
            rows = done.stdout.decode().splitlines()
            if len(rows) != self.args.pods + 1 or not rows[0].startswith("NAME"):
                self.problem(
                    f"get pods printed {len(rows)} lines, expected a header and "
                    f"{self.args.pods} rows; first: {rows[:2]}"
                )
            not_running = [r for r in rows[1:] if " Running " not in r]
            if not_running:
                self.problem(f"get pods: {len(not_running)} rows not Running: {not_running[:3]}")
        floor: list[float] = []
        for _ in range(runs):
            began = time.perf_counter()
            subprocess.run([self.args.python, "-c", "pass"], check=True)
            floor.append(time.perf_counter() - began)
        self.results["cli"] = {
            "runs": runs,
            "median_ms": round(statistics.median(times) * 1000, 1),
            "min_ms": round(min(times) * 1000, 1),
            "max_ms": round(max(times) * 1000, 1),
            "rows": self.args.pods,
            "python_floor_median_ms": round(statistics.median(floor) * 1000, 1),
        }

    def phase_shutdown(self, daemon: Daemon) -> None:
        for path in self.record_paths():
            with contextlib.suppress(BenchError):
                found = read_record(path)
                if found is not None:
                    self.recorded_pids.add(found[1])
        print("[shutdown] SIGTERM ...", flush=True)
        seconds, status = daemon.terminate(timeout=self.args.timeout)
        result: dict[str, Any] = {"shutdown_s": round(seconds, 3), "exit_status": status}
        if status is None:
            self.problem(
                f"the daemon did not exit within {self.args.timeout:.0f} s of SIGTERM\n"
                + daemon.stderr_tail()
            )
            daemon.kill()
        elif status != 0:
            self.problem(
                f"the daemon exited {status} after SIGTERM (expected 0)\n" + daemon.stderr_tail()
            )
        leaked = self.leftovers(set(self.recorded_pids))
        result["container_pids_checked"] = len(self.recorded_pids)
        result["leaked_pids"] = sorted(leaked)
        if leaked:
            self.problem(
                f"{len(leaked)} container process(es) still running after the daemon exited: "
                + ", ".join(self.describe(p) for p in sorted(leaked)[:20])
            )
            self.kill_pids(leaked)
        self.results["shutdown"] = result

    def run(self) -> None:
        daemon = self.start_daemon()
        self.phase_startup(daemon)
        spy = self.spy("api")
        self.phase_api(daemon)
        self.phase_cli(daemon)
        self.end_spy("api", spy)
        self.results["memory_after_api"] = self.memory(psutil.Process(daemon.pid))
        self.phase_shutdown(daemon)

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
            found.update(
                p.pid
                for p in psutil.Process().children(recursive=True)
                if not any(p.pid == s.proc.pid for s in self.spies)
            )
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
        ours = {s.proc.pid for s in self.spies}
        if self.daemon is not None and self.daemon.proc is not None:
            ours.add(self.daemon.proc.pid)
        for child in psutil.Process().children():
            if child.pid in ours:
                continue  # Popen reaps those itself
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child.pid, os.WNOHANG)

    def cleanup(self) -> None:
        for spy in self.spies:
            spy.stop()
        for path in self.record_paths():
            with contextlib.suppress(BenchError, ValueError):
                found = read_record(path)
                if found is not None:
                    self.recorded_pids.add(found[1])
        if self.daemon is not None and self.daemon.alive():
            self.daemon.terminate(timeout=30)
            self.daemon.kill()
        leaked = self.leftovers(set(self.recorded_pids))
        if leaked:
            self.kill_pids(leaked)
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


# -- report ------------------------------------------------------------------------------


def print_report(bench: Bench) -> None:
    r = bench.results
    rows: list[tuple[str, str, str, str]] = []
    if "launch_to_healthz_s" in r:
        rows.append(
            ("daemon launch -> /healthz answers", f"{r['launch_to_healthz_s']:.3f} s", "", "")
        )
    if "startup" in r:
        s = r["startup"]
        n = s["pods"]
        rows.append((f"write {n} manifests", f"{s['write_s']:.3f} s", "", ""))
        rows.append(
            (
                f"first write -> all {n} started",
                f"{s['first_write_to_all_started_s']:.3f} s",
                "",
                "",
            )
        )
        rows.append(
            (
                "  first write -> first started",
                f"{s['first_write_to_first_started_s']:.3f} s",
                "",
                "",
            )
        )
        if s["first_write_to_api_all_listed_s"] is not None:
            rows.append(
                (
                    f"  first write -> API lists {n}",
                    f"{s['first_write_to_api_all_listed_s']:.3f} s",
                    "",
                    "",
                )
            )
        t = s["first_write_to_api_all_running_s"]
        rows.append(
            (
                f"first write -> API shows {n} Running",
                f"{t:.3f} s",
                f"<= {TARGET_ALL_RUNNING_S:g} s",
                verdict(t <= TARGET_ALL_RUNNING_S),
            )
        )
        p = s["api_polls"]
        rows.append(
            (
                f"  API polls meanwhile (every {s['poll_interval_s'] * 1000:.0f} ms)",
                f"{p['count']}, p50 {p['p50_ms']:.0f} / max {p['max_ms']:.0f} ms",
                "",
                "",
            )
        )
        busy = s["machine_busy_pct"]
        rows.append(
            (
                "  daemon CPU; machine busy meanwhile",
                f"{s['daemon_cpu_s']:.2f} s; "
                + (f"{busy:.0f} % of {os.cpu_count()} cores" if busy is not None else "?"),
                "",
                "",
            )
        )
    for key, target in (("get_pods", TARGET_PODS_P50_MS), ("get_list", None)):
        if key in r:
            g = r[key]
            label = f"GET {g['path']} ({g['bytes'] / 1e6:.2f} MB)"
            rows.append(
                (
                    f"{label} p50",
                    f"{g['p50_ms']:.1f} ms",
                    f"<= {target:g} ms" if target else "",
                    verdict(g["p50_ms"] <= target) if target else "",
                )
            )
            rows.append(
                (
                    "  p90 / p99 / max; first request",
                    f"{g['p90_ms']:.1f} / {g['p99_ms']:.1f} / {g['max_ms']:.1f}; "
                    f"{g['first_ms']:.1f} ms",
                    "",
                    "",
                )
            )
            busy = g["machine_busy_pct"]
            rows.append(
                (
                    "  daemon CPU per request; machine busy",
                    f"{g['daemon_cpu_ms_per_request']:.1f} ms; "
                    + (f"{busy:.0f} % of {os.cpu_count()} cores" if busy is not None else "?"),
                    "",
                    "",
                )
            )
    if "cli" in r:
        c = r["cli"]
        rows.append(
            (
                f"`get pods` ({c['rows']} rows), {c['runs']} runs: median",
                f"{c['median_ms']:.0f} ms",
                f"<= {TARGET_CLI_MS:g} ms",
                verdict(c["median_ms"] <= TARGET_CLI_MS),
            )
        )
        rows.append(("  min / max", f"{c['min_ms']:.0f} / {c['max_ms']:.0f} ms", "", ""))
        rows.append(
            ("  floor: python -c pass (median)", f"{c['python_floor_median_ms']:.0f} ms", "", "")
        )
    for key, label, target in (
        ("memory_after_startup", "daemon RSS, all pods running", False),
        ("memory_after_api", "daemon RSS, after API + CLI", True),
    ):
        if key in r:
            m = r[key]
            rows.append(
                (
                    label,
                    f"{m['rss_mb']:.1f} MB ({m['rss_mib']:.1f} MiB)",
                    f"<= {TARGET_RSS_MB:g} MB" if target else "",
                    verdict(m["rss_mb"] <= TARGET_RSS_MB) if target else "",
                )
            )
            rows.append(
                (
                    "  threads / fds / children",
                    f"{m['threads']} / {m['fds']} / {m['children']}",
                    "",
                    "",
                )
            )
    if "shutdown" in r:
        sd = r["shutdown"]
        leaked = len(sd["leaked_pids"])
        rows.append(
            (
                "SIGTERM -> daemon exited",
                f"{sd['shutdown_s']:.3f} s, status {sd['exit_status']}",
                "status 0",
                verdict(sd["exit_status"] == 0),
            )
        )
        rows.append(
            (
                "containers left after shutdown",
                f"{leaked} (of {sd['container_pids_checked']} checked)",
                "0",
                verdict(leaked == 0),
            )
        )
    header = ("metric", "measured", "target", "")
    width = [max(len(row[c]) for row in [header, *rows]) for c in range(4)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(header, width, strict=True)).rstrip())
    print("  ".join("-" * w for w in width))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, width, strict=True)).rstrip())
    for name, profile in bench.profiles.items():
        print(
            f"\n== py-spy, phase {name}: {profile['seconds']:.1f} s at {profile['rate']} Hz, "
            f"{profile['busy_samples']} busy samples ({profile['waiting_samples']} waiting)"
        )
        for kind, t in profile["threads"].items():
            print(f"  {kind}: {t['samples']} samples = {t['busy_pct_of_core']:.0f} % of a core")
        for key, title in (
            ("self", "self time (the function itself), % of busy samples"),
            ("inclusive_minikubelet", "minikubelet's functions, inclusive, % of busy samples"),
        ):
            print(f"  by {title}:")
            for row in profile[key]:
                print(f"    {row['pct']:5.1f} %  {row['function']}")
    if bench.problems:
        print(f"\n{len(bench.problems)} problem(s):")
        for text in bench.problems:
            print("  - " + text.replace("\n", "\n    "))


# -- main --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Black-box benchmark of `minikubelet serve` with many static pods "
        "(start-up, API latency, `get pods`, RSS, shutdown)."
    )
    parser.add_argument("--pods", type=int, default=500, help="pods (one container each)")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="also write the results")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--requests", type=int, default=50, help="sequential GETs per endpoint")
    parser.add_argument("--cli-runs", type=int, default=10, help="runs of `get pods`")
    parser.add_argument(
        "--poll-interval", type=float, default=0.1, help="seconds between API polls at start-up"
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for start-up / shutdown"
    )
    parser.add_argument("--minikubelet", default=None, help="the minikubelet executable")
    parser.add_argument(
        "--minikubelet-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for `minikubelet serve` (repeatable), "
        "e.g. --minikubelet-arg=--log-level=warning",
    )
    parser.add_argument(
        "--tmpdir",
        default=None,
        help="where to make the temporary directory [default: tempfile's, usually /tmp]; "
        "e.g. /dev/shm to take disk latency out",
    )
    parser.add_argument(
        "--py-spy",
        metavar="PATH",
        default=None,
        help="sample the daemon with this py-spy during start-up and during the API/CLI "
        "phase, and print the top functions (perturbs the numbers)",
    )
    parser.add_argument("--py-spy-rate", type=int, default=250, help="samples per second")
    parser.add_argument("--profile-top", type=int, default=20)
    args = parser.parse_args(argv)
    exe = args.minikubelet or default_minikubelet()
    args.minikubelet_argv = [exe]
    args.python = sys.executable
    with contextlib.suppress(OSError), open(exe, "rb") as script:
        first = script.readline()
        if first.startswith(b"#!"):
            args.python = first[2:].decode().strip().split()[0]  # the CLI's own interpreter
    return args


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
    except BenchError as error:
        bench.problem(str(error))
    except (OSError, http.client.HTTPException) as error:  # the API went away mid-phase
        alive = bench.daemon is not None and bench.daemon.alive()
        bench.problem(f"{error!r} (daemon {'still running' if alive else 'exited'})")
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
            "profiles": bench.profiles,
            "problems": bench.problems,
            "targets": {
                "all_running_s": TARGET_ALL_RUNNING_S,
                "get_pods_p50_ms": TARGET_PODS_P50_MS,
                "cli_ms": TARGET_CLI_MS,
                "rss_mb": TARGET_RSS_MB,
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
