#!/usr/bin/env python3
"""Black-box benchmark of minikubelet's HTTP probes: 200 containers, 400 probes/s.

minikubelet is driven only through its CLI (``minikubelet run FILE.yaml`` in a subprocess,
``--root-dir`` and, when ``run`` has it, ``--socket`` in a temporary directory), as in
``bench/restart.py``, whose helpers this script imports. ``--pods`` one-container pods
(default 200) go in one manifest file. Each container has an ``httpGet`` liveness probe on
``/healthz`` and an ``httpGet`` readiness probe on ``/ready``, both ``periodSeconds: 1``,
``timeoutSeconds: 1``, ``failureThreshold: 3``, against a server in the container, on its
own port (chosen free up front, below the ephemeral port range, so that no probe's
outgoing connection can take it first).

The container: ``bash -c 'echo "start $EPOCHREALTIME $BASHPID" >> FILE; exec python3 -S -I
server.py PORT FILE'``. bash writes the container's start time about 1 ms after exec
(unbuffered, so the benchmark can watch starts as they happen), then execs a small HTTP
server written with ``socket`` + ``selectors`` (epoll) and no asyncio: ``-S -I`` and no
asyncio import keep it at about 10 MiB RSS and about 20 ms of start-up CPU (asyncio would
double both, which matters with 200 of them on 2 cores), and it only wakes up for a
connection. It answers ``GET /healthz`` and ``GET /ready`` with ``200 OK`` (anything else
404) and appends ``<path> <time.time() when it accepted the connection>`` per request to its
record file, buffered: flushed every 2 s and on SIGTERM. It also writes ``listen <time>
<pid>`` once it listens and ``term <time> <pid>`` on SIGTERM. There is no bash-only
alternative (bash cannot listen on a socket), and socat or a compiled server would add a
dependency; the Python server costs well under 0.1 ms of CPU per request.

Measured over ``--seconds`` (default 30), after every container listens and ``--warmup``
seconds (default 5):

* minikubelet's own CPU time (psutil user+system of the minikubelet process only, not its
  children) as a % of one core (target <= 15 % at 200 pods, within one core above), plus
  the containers' CPU and the machine;
* probe lateness. minikubelet schedules each probe at ``start + k * period``, where
  ``start`` is when it started the container instance (``prober/worker.py``), and skips
  missed ticks; both probes of a container share the schedule. Here the schedule's origin
  is the container's recorded start (bash, ~1 ms after exec). Each container's arrivals
  (both paths) are folded modulo the period; the phase is where the earliest ones fall
  (the residue after the largest empty arc of the circle), and each arrival belongs to the
  tick just before it at that phase, so all arrivals of a container are numbered alike
  however late the whole series is. A phase of 0.8 period or more is taken as a series
  slightly *before* the recorded start (the start record was delayed, e.g. by a
  CPU-saturated start-up burst): the origin is then moved back to the phase ("start
  records late" in the table), which can only understate lateness. Lateness = arrival -
  (origin + k * period); only ticks scheduled inside the window count. Lateness includes
  the container's own wake-up on accept (a Python process on a busy machine), so it is an
  upper bound of minikubelet's part. p50/p99/max, target p99 <= 50 ms. It is split in two:
  - start offset: per container, its smallest lateness in the window. It is constant for
    the container's lifetime: the gap between the real start and the origin of
    minikubelet's schedule (its ``started_at``);
  - jitter: lateness minus the container's start offset, i.e. against the container's own
    fixed-rate series (its best phase). This is the timer accuracy under load; the table
    also shows it against the 50 ms target, and in how many 1-s slots of the window some
    probe was more than 50 ms off;
* probes received per second (should be pods x 2 / period), missed ticks (a tick in the
  window without an arrival) and gaps (consecutive arrivals more than 1.5 periods apart);
* container starts: each container must have started exactly once (restartCount 0), and
  no container may have got SIGTERM before minikubelet did. Every probe must have hit
  ``/healthz`` or ``/ready``.

``--ports-per-server K`` (K > 1, for ``--pods 1000``: 1000 servers of ~10 MiB would take
~10 GiB): the benchmark starts ceil(pods / K) servers itself, before minikubelet, each
listening on K of the pods' ports and recording into each pod's record file; each
container only records its start and sleeps. The servers' CPU and RSS are shown apart.

Then SIGTERM to minikubelet, the time until it has exited, and a check that no container
process is left (by the recorded pids and by the environment marker), as in restart.py.
``--floor`` then starts the same number of servers from this process and probes them with a
bare asyncio prober (``FLOOR_PROBER``: one task per probe, the same schedule, raw sockets,
no timeout, no HTTP parsing) over the same window: its CPU and lateness are the least any
Python prober pays for this load on this machine. ``--py-spy PATH`` also samples minikubelet
with py-spy during the window and prints where it spends its time (add
``--py-spy-arg=--gil`` to count only samples holding the GIL: Python code, not syscalls or
being preempted inside them). Uses only the standard library and psutil.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import itertools
import json
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import restart as rb

# Issue 14, of one core, minikubelet's own process: <= 15 % with 200 pods (400 probes/s),
# and 1000 pods (2000 probes/s) within one core.
TARGET_CPU_PCT = 15.0
TARGET_CPU_PCT_LARGE = 100.0  # above 200 pods


def cpu_target(pods: int) -> float:
    return TARGET_CPU_PCT if pods <= 200 else TARGET_CPU_PCT_LARGE


TARGET_LATENESS_P99_MS = 50.0

PERIOD_S = 1  # periodSeconds of both probes
TIMEOUT_S = 1
FAILURE_THRESHOLD = 3
PATHS = {"/healthz": "liveness", "/ready": "readiness"}
TICK_SLACK = 0.2  # a series up to 0.2 periods before the recorded start: recorded late
FLUSH_S = 2.0  # how often a container flushes its record file

# Kubernetes expands $(NAME) in command/args: the script has none. $BASHPID is the pid the
# server keeps after exec.
CONTAINER_SCRIPT = """\
echo "start $EPOCHREALTIME $BASHPID" >> "$BENCH_FILE"
exec "$BENCH_PYTHON" -S -I "$BENCH_SERVER" "$BENCH_PORT" "$BENCH_FILE"
"""
# --ports-per-server K > 1: the servers run outside minikubelet, K ports each, and the
# container only records its start and sleeps.
SLEEPER_SCRIPT = """\
echo "start $EPOCHREALTIME $BASHPID" >> "$BENCH_FILE"
exec sleep 100000
"""

SERVER = f'''\
"""HTTP server of probes.py: GET /healthz and /ready -> 200 on each PORT, recording the
arrivals in that port's RECORD file. argv: PORT RECORD [PORT RECORD ...]."""
import os, selectors, signal, socket, sys, time

FLUSH_S = {FLUSH_S!r}
OK = (
    b"HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: 2\\r\\n"
    b"Connection: close\\r\\n\\r\\nok"
)
MISSING = b"HTTP/1.1 404 Not Found\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n"
PATHS = ("/healthz", "/ready")


def main():
    pairs = [(int(p), r) for p, r in zip(sys.argv[1::2], sys.argv[2::2])]
    outs = {{}}  # listener -> its record file
    selector = selectors.EpollSelector()
    for port, record in pairs:
        out = open(record, "a", buffering=1 << 16)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(("127.0.0.1", port))
        except OSError as error:
            when, pid = time.time(), os.getpid()
            out.write(f"error {{when:.6f}} {{pid}} bind {{port}}: {{error.errno}}\\n")
            out.close()
            return 1
        listener.listen(512)
        listener.setblocking(False)
        selector.register(listener, selectors.EVENT_READ)
        outs[listener] = out
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    signal.set_wakeup_fd(wake_w.fileno())
    signal.signal(signal.SIGTERM, lambda *_: None)  # the wake-up fd says it
    selector.register(wake_r, selectors.EVENT_READ)
    for out in outs.values():
        out.write(f"listen {{time.time():.6f}} {{os.getpid()}}\\n")
        out.flush()
    pending = {{}}  # connection -> [accepted at, request bytes, record file]
    next_flush = time.monotonic() + FLUSH_S
    while True:
        events = selector.select(max(0.0, next_flush - time.monotonic()))
        now = time.time()
        for key, _ in events:
            sock = key.fileobj
            if sock in outs:
                while True:
                    try:
                        connection, _ = sock.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    connection.setblocking(False)
                    pending[connection] = [now, b"", outs[sock]]
                    selector.register(connection, selectors.EVENT_READ)
            elif sock is wake_r:
                if signal.SIGTERM in wake_r.recv(64):
                    for out in outs.values():
                        out.write(f"term {{time.time():.6f}} {{os.getpid()}}\\n")
                        out.close()
                    return 0
            else:
                entry = pending[sock]
                try:
                    data = sock.recv(4096)
                except OSError:
                    data = b""
                entry[1] += data
                if data and b"\\r\\n\\r\\n" not in entry[1] and len(entry[1]) < 8192:
                    continue
                selector.unregister(sock)
                del pending[sock]
                words = entry[1].split(b"\\r\\n", 1)[0].split()
                target = words[1].decode("latin-1") if len(words) >= 2 else "-"
                if data:
                    try:
                        sock.send(OK if target in PATHS else MISSING)
                    except OSError:
                        pass
                sock.close()
                if target in PATHS:
                    entry[2].write(f"{{target}} {{entry[0]:.6f}}\\n")
                else:
                    entry[2].write(f"bad {{entry[0]:.6f}} {{target!r}}\\n")
        if time.monotonic() >= next_flush:
            for out in outs.values():
                out.flush()
            next_flush = time.monotonic() + FLUSH_S


sys.exit(main())
'''


# The floor: the least a Python prober pays for the same load. One asyncio task per probe
# (as minikubelet has one worker per probe), the same fixed-rate schedule anchored at the
# container's recorded start, and per probe: a non-blocking socket, loop.sock_connect,
# sock_sendall of a kube-probe-like request, sock_recv until the server closes, close. No
# timeout, no HTTP parsing beyond the status line, no bookkeeping.
FLOOR_PROBER = f'''\
"""probes.py floor: probe every (port, start) in argv[1] at a fixed rate, bare asyncio."""
import asyncio, json, math, signal, socket, sys, time

PERIOD = {PERIOD_S!r}
PATHS = {tuple(PATHS)!r}
REQUEST = (
    "GET {{path}} HTTP/1.1\\r\\nHost: 127.0.0.1:{{port}}\\r\\nUser-Agent: kube-probe/1.34\\r\\n"
    "Accept: */*\\r\\nConnection: close\\r\\n\\r\\n"
)


async def probe(loop, port, path, tick):
    request = REQUEST.format(path=path, port=port).encode()
    while True:
        delay = tick - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, ("127.0.0.1", port))
            await loop.sock_sendall(sock, request)
            while await loop.sock_recv(sock, 65536):
                pass
        except OSError:
            pass
        finally:
            sock.close()
        now = loop.time()
        tick += (max(math.floor((now - tick) / PERIOD), 0) + 1) * PERIOD


async def main():
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    offset = time.time() - loop.time()
    tasks = []
    for port, start in json.loads(open(sys.argv[1]).read()):
        first = start - offset  # tick 0, in loop time; the ones already past are skipped
        now = loop.time()
        first += max(math.ceil((now - first) / PERIOD), 0) * PERIOD
        for path in PATHS:
            tasks.append(asyncio.create_task(probe(loop, port, path, first)))
    await stop.wait()
    for task in tasks:
        task.cancel()


asyncio.run(main())
'''


# -- record files ------------------------------------------------------------------------


@dataclass
class Record:
    """What one container wrote: its starts, when it listened, the probes it received."""

    starts: list[tuple[float, int]] = field(default_factory=list)  # (time, pid)
    listens: list[float] = field(default_factory=list)
    terms: list[float] = field(default_factory=list)
    empty: list[float] = field(default_factory=list)  # connections closed without a request
    arrivals: dict[str, list[float]] = field(default_factory=lambda: {p: [] for p in PATHS})
    problems: list[str] = field(default_factory=list)


def read_record(path: Path) -> Record:
    record = Record()
    try:
        text = path.read_text()
    except FileNotFoundError:
        return record
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        if not line.endswith("\n"):
            break  # being written right now
        parts = line.split()
        try:
            if parts[0] in record.arrivals and len(parts) == 2:
                record.arrivals[parts[0]].append(float(parts[1]))
            elif parts[0] == "start" and len(parts) == 3:
                record.starts.append((rb.parse_time(parts[1]), int(parts[2])))
            elif parts[0] == "listen" and len(parts) == 3:
                record.listens.append(float(parts[1]))
            elif parts[0] == "term" and len(parts) == 3:
                record.terms.append(float(parts[1]))
            elif parts[0] == "bad" and len(parts) == 3 and parts[2] == "'-'":
                record.empty.append(float(parts[1]))
            else:  # "bad ..." (a request for another path), "error ..." (bind failed)
                record.problems.append(f"{path.name}:{number}: {line.strip()}")
        except (ValueError, IndexError):
            record.problems.append(f"{path.name}:{number}: unreadable line {line!r}")
    return record


@dataclass
class Schedule:
    """The probe ticks of one container, matched with the arrivals, inside the window."""

    lateness: dict[str, list[float]]  # per path, seconds, one per matched tick
    jitter: dict[str, list[float]]  # the same, against the container's own best phase
    slots: list[tuple[float, float]]  # (scheduled time, jitter) of every matched tick
    offset: float  # best phase - origin: the container's smallest lateness in the window
    expected: int  # ticks scheduled in the window, all paths
    missed: int  # of those, ticks without an arrival
    extra: int  # arrivals beyond the first for one tick
    gaps: int  # consecutive arrivals more than 1.5 periods apart
    origin_moved_s: float  # start record - origin used (> 0: the start record was late)


def phase(times: list[float], start: float, period: float) -> float:
    """Where, within a period after ``start``, a fixed-rate series' earliest arrivals fall.

    The residues ``(t - start) mod period`` lie on a circle; arrivals cluster just after
    their ticks, so the phase is the residue right after the largest empty arc. Unlike
    assigning each arrival to the nearest tick on its own, this keeps every arrival of a
    series on the same tick numbering, wherever the series' phase is.
    """
    residues = sorted((t - start) % period for t in times)
    arcs = [b - a for a, b in itertools.pairwise(residues)]
    arcs.append(residues[0] + period - residues[-1])  # the arc that wraps around
    return residues[(arcs.index(max(arcs)) + 1) % len(residues)]


def schedule(
    record: Record, period: float, w0: float, w1: float, until: float = math.inf
) -> Schedule:
    start = record.starts[-1][0]
    near = {
        # Not after ``until`` (minikubelet's SIGTERM): probes during its shutdown run late
        # by design and, folded in, could move the series' phase (as 2000 readiness probes
        # a second during a 1000-pod shutdown did).
        p: [t for t in ts if w0 - 2 * period <= t <= min(w1 + 2 * period, until)]
        for p, ts in record.arrivals.items()
    }
    every = [t for ts in near.values() for t in ts]
    if not every:
        k0 = math.ceil((w0 - start) / period)
        k1 = math.ceil((w1 - start) / period)
        expected = (k1 - k0) * len(near)
        return Schedule({}, {}, [], 0.0, expected, expected, 0, 0, 0.0)
    # The best phase: the schedule as the earliest arrivals show it. Both probes of a
    # container share it (minikubelet starts both workers' schedules at the same instant).
    best = phase(every, start, period)
    if best >= (1 - TICK_SLACK) * period:
        best -= period  # arrivals a little before the recorded start: it was recorded late
    fitted = start + best
    origin = min(start, fitted)  # the schedule lateness is measured against
    k0 = math.ceil((w0 - origin) / period)
    k1 = math.ceil((w1 - origin) / period)  # ticks k0 .. k1-1 are scheduled in [w0, w1)
    lateness: dict[str, list[float]] = {}
    ticks: list[tuple[float, float]] = []  # (scheduled, lateness)
    missed = extra = gaps = 0
    for p, ts in near.items():
        seen: dict[int, float] = {}
        for t in ts:
            k = math.floor((t - fitted) / period + 1e-9)
            if not k0 <= k < k1:
                continue
            if k in seen:
                extra += 1
                continue
            seen[k] = t - (origin + k * period)
        lateness[p] = list(seen.values())
        ticks.extend((origin + k * period, late) for k, late in seen.items())
        missed += (k1 - k0) - len(seen)
        inside = sorted(origin + k * period + late for k, late in seen.items())
        gaps += sum(1 for a, b in itertools.pairwise(inside) if b - a > 1.5 * period)
    offset = fitted - origin  # the container's smallest lateness, constant for its life
    jitter = {p: [x - offset for x in values] for p, values in lateness.items()}
    slots = [(at, late - offset) for at, late in ticks]
    return Schedule(
        lateness,
        jitter,
        slots,
        offset,
        (k1 - k0) * len(near),
        missed,
        extra,
        gaps,
        start - origin,
    )


# -- the benchmark -----------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """``count`` ports free on 127.0.0.1, below the ephemeral range (never an outgoing port)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    candidates = list(range(10000, low))
    random.shuffle(candidates)  # another benchmark running at the same time picks others
    ports: list[int] = []
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
        if len(ports) == count:
            return ports
    raise rb.BenchError(f"only {len(ports)} free ports below {low}")


def probe_pod(
    name: str, port: int, env: dict[str, str], script: str = CONTAINER_SCRIPT
) -> dict[str, Any]:
    def probe(path: str) -> dict[str, Any]:
        return {
            "httpGet": {"path": path, "port": port},
            "periodSeconds": PERIOD_S,
            "timeoutSeconds": TIMEOUT_S,
            "failureThreshold": FAILURE_THRESHOLD,
        }

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
                    "image": "python",
                    "command": ["bash", "-c", script],
                    "env": [{"name": k, "value": v} for k, v in env.items()],
                    "ports": [{"containerPort": port}],
                    "livenessProbe": probe("/healthz"),
                    "readinessProbe": probe("/ready"),
                }
            ],
        },
    }


def run_supports(argv: list[str], option: str) -> bool:
    try:
        result = subprocess.run(
            [*argv, "run", "--help"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return option in result.stdout


class ProbeBench(rb.Bench):
    def kubelet(self, name: str, pods: list[dict[str, Any]]) -> rb.Minikubelet:
        directory = self.tmp / name
        directory.mkdir()
        manifest = directory / "pods.yaml"
        manifest.write_text(rb.yaml_stream(pods))
        argv = [
            *self.args.minikubelet_argv,
            "run",
            str(manifest),
            "--root-dir",
            str(directory / "root"),
        ]
        if run_supports(self.args.minikubelet_argv, "--socket"):
            argv += ["--socket", str(directory / "api.sock")]  # not the default one
        kubelet = rb.Minikubelet([*argv, *self.args.minikubelet_arg], directory, name)
        self.kubelets.append(kubelet)
        return kubelet

    def run(self) -> None:
        try:
            self.results["probes"] = self.run_probes()
        except rb.BenchError as error:
            self.problem(f"probes: {error}")
        finally:
            for kubelet in self.kubelets:
                if kubelet.proc is not None and kubelet.proc.poll() is None:
                    kubelet.terminate(timeout=10)
                    kubelet.kill()
            self.stop_shared_servers()
        if self.args.floor:
            try:
                self.results["floor"] = self.run_probe_floor()
            except rb.BenchError as error:
                self.problem(f"floor: {error}")
            finally:
                self.stop_floor()

    def server_env(self, record: Path, port: int) -> dict[str, str]:
        server = self.tmp / "server.py"
        if not server.exists():
            server.write_text(SERVER)
        return self.container_env(
            record, BENCH_PYTHON=sys.executable, BENCH_SERVER=str(server), BENCH_PORT=str(port)
        )

    def run_probe_floor(self) -> dict[str, Any]:
        """The same servers, started by this process, probed by a bare asyncio prober."""
        args = self.args
        count: int = args.pods
        ports = free_ports(count)
        records = [self.tmp / f"floor-{i:03d}.rec" for i in range(count)]
        print(f"[floor] {count} servers, bare asyncio prober, no minikubelet ...", flush=True)
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ")}
        self.floor_procs: list[subprocess.Popen[bytes]] = []
        for port, record in zip(ports, records, strict=True):
            self.floor_procs.append(
                subprocess.Popen(
                    ["bash", "-c", CONTAINER_SCRIPT],
                    env={**base, **self.server_env(record, port)},
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        _wait_listening(records, "the floor's servers", self.floor_procs)
        spec = self.tmp / "floor.json"
        starts = [read_record(r).starts[0][0] for r in records]
        spec.write_text(json.dumps(list(zip(ports, starts, strict=True))))
        prober_script = self.tmp / "floor_prober.py"
        prober_script.write_text(FLOOR_PROBER)
        self.floor_prober = subprocess.Popen(
            [sys.executable, "-S", "-I", str(prober_script), str(spec)],
            env={**base, rb.MARK_VARIABLE: self.mark},
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(args.warmup)
        if self.floor_prober.poll() is not None:
            raise rb.BenchError(f"the floor prober exited {self.floor_prober.returncode}")
        process = psutil.Process(self.floor_prober.pid)
        cpu0, machine0 = process.cpu_times(), psutil.cpu_times()
        w0, m0 = time.time(), time.monotonic()
        time.sleep(args.seconds)
        cpu1, machine1 = process.cpu_times(), psutil.cpu_times()
        w1, m1 = time.time(), time.monotonic()
        elapsed = m1 - m0
        cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
        busy = sum(machine1) - sum(machine0)
        idle = (machine1.idle + machine1.iowait) - (machine0.idle + machine0.iowait)
        time.sleep(0.3)
        self.stop_floor()
        result: dict[str, Any] = {
            "seconds": round(elapsed, 2),
            "prober_cpu_pct_of_core": round(cpu / elapsed * 100, 2),
            "machine_busy_pct": round((busy - idle) / busy * 100, 1) if busy > 0 else None,
        }
        result.update(self.analyze(records, w0, w1, label="floor"))
        if result.get("probes_received"):
            result["prober_cpu_ms_per_probe"] = round(cpu * 1000 / result["probes_received"], 3)
        pids = {p.pid for p in self.floor_procs} | {self.floor_prober.pid}
        leaked = self.leftovers(pids)
        if leaked:
            self.problem(f"floor: {len(leaked)} process(es) left: {sorted(leaked)}")
            self.kill_pids(leaked)
        return result

    def stop_floor(self) -> None:
        """SIGTERM the floor's prober, then its servers (they flush their records)."""
        prober: subprocess.Popen[bytes] | None = getattr(self, "floor_prober", None)
        servers: list[subprocess.Popen[bytes]] = getattr(self, "floor_procs", [])
        processes = ([prober] if prober is not None else []) + servers
        self.sigterm_at = time.time()
        for proc in processes:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
            if proc is prober:  # no probe may hit a stopping server
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(5)
        for proc in processes:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def start_shared_servers(self, ports: list[int], records: list[Path]) -> None:
        """--ports-per-server K > 1: ceil(pods / K) servers started here, outside
        minikubelet, each listening on K of the pods' ports; wait until all listen."""
        per = self.args.ports_per_server
        server = self.tmp / "server.py"
        server.write_text(SERVER)
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ")}
        self.shared_servers: list[subprocess.Popen[bytes]] = []
        for i in range(0, len(ports), per):
            pairs = zip(ports[i : i + per], records[i : i + per], strict=True)
            argv = [sys.executable, "-S", "-I", str(server)]
            argv += [str(x) for pair in pairs for x in pair]
            self.shared_servers.append(
                subprocess.Popen(
                    argv,
                    env={**base, rb.MARK_VARIABLE: self.mark},
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        _wait_listening(records, "the shared servers", self.shared_servers)

    def stop_shared_servers(self) -> None:
        servers: list[subprocess.Popen[bytes]] = getattr(self, "shared_servers", [])
        for proc in servers:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
        for proc in servers:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self.shared_servers = []

    def leftovers(self, pids: set[int]) -> set[int]:
        """As restart.py's, but the shared servers are ours to stop, after minikubelet."""
        servers = {p.pid for p in getattr(self, "shared_servers", []) if p.poll() is None}
        return super().leftovers(pids) - servers

    def run_probes(self) -> dict[str, Any]:
        args = self.args
        count: int = args.pods
        shared = args.ports_per_server > 1
        ports = free_ports(count)
        records = [self.tmp / f"probes-{i:04d}.rec" for i in range(count)]
        if shared:
            print(
                f"[probes] {math.ceil(count / args.ports_per_server)} shared servers, "
                f"{args.ports_per_server} ports each ...",
                flush=True,
            )
            self.start_shared_servers(ports, records)
            pods = [
                probe_pod(f"probed-{i:04d}", port, self.container_env(record), SLEEPER_SCRIPT)
                for i, (port, record) in enumerate(zip(ports, records, strict=True))
            ]
        else:
            pods = [
                probe_pod(f"probed-{i:04d}", port, self.server_env(record, port))
                for i, (port, record) in enumerate(zip(ports, records, strict=True))
            ]
        kubelet = self.kubelet("probes", pods)
        rate = count * len(PATHS) / PERIOD_S
        print(f"[probes] {count} pods, {rate:.0f} HTTP probes/s ...", flush=True)
        kubelet.start()
        listening: dict[Path, float] = {}
        started: dict[Path, float] = {}

        def all_listening() -> bool:
            for path in records:
                if path not in listening:
                    record = read_record(path)
                    if record.listens and (record.starts or not shared):
                        listening[path] = record.listens[0]
                        started[path] = record.starts[0][0] if record.starts else 0.0
                    elif any(": error " in p for p in record.problems):
                        raise rb.BenchError(f"{path.name}: {record.problems[-1]}")
            return len(listening) == count

        what = f"{count} containers to " + ("start" if shared else "listen")
        self.wait_for(kubelet, all_listening, 300, 0.2, what)
        started = {path: read_record(path).starts[0][0] for path in records}
        result: dict[str, Any] = {
            "pods": count,
            "ports_per_server": args.ports_per_server,
            "probes_per_s_configured": rate,
        }
        if shared:
            result["launch_to_all_started_s"] = round(
                max(started.values()) - kubelet.launched_at, 3
            )
        else:
            result["launch_to_all_listening_s"] = round(
                max(listening.values()) - kubelet.launched_at, 3
            )
            result["start_to_listen_ms"] = rb.summary_ms(
                [listening[p] - started[p] for p in records]
            )
        print(f"[probes] all listening; warm-up {args.warmup:g} s ...", flush=True)
        end = time.monotonic() + args.warmup
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.5))
            kubelet.check_alive()

        process = psutil.Process(kubelet.pid)
        children0 = self.children_cpu(process)
        servers0 = self.shared_servers_cpu()
        print(f"[probes] measuring {args.seconds:g} s ...", flush=True)
        spy = self.start_py_spy(kubelet.pid)
        cpu0, ctx0, machine0 = process.cpu_times(), rb.ctx_switches(kubelet.pid), psutil.cpu_times()
        w0, m0 = time.time(), time.monotonic()
        end = m0 + args.seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 1.0))
            kubelet.check_alive()
        cpu1, ctx1, machine1 = process.cpu_times(), rb.ctx_switches(kubelet.pid), psutil.cpu_times()
        w1, m1 = time.time(), time.monotonic()
        children1 = self.children_cpu(process)
        servers1 = self.shared_servers_cpu()
        rss = process.memory_info().rss
        threads = process.num_threads()
        containers_rss = self.children_rss(process)
        elapsed = m1 - m0
        cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
        busy = sum(machine1) - sum(machine0)
        idle = (machine1.idle + machine1.iowait) - (machine0.idle + machine0.iowait)
        common = set(children0) & set(children1)
        result["window"] = {
            "seconds": round(elapsed, 2),
            "start_unix": round(w0, 3),
            "end_unix": round(w1, 3),
            "warmup_s": args.warmup,
            "minikubelet_cpu_s": round(cpu, 3),
            "minikubelet_cpu_pct_of_core": round(cpu / elapsed * 100, 2),
            "minikubelet_user_s": round(cpu1.user - cpu0.user, 3),
            "minikubelet_system_s": round(cpu1.system - cpu0.system, 3),
            "minikubelet_cpu_ms_per_probe": None,
            "containers_cpu_pct_of_core": round(
                sum(children1[p] - children0[p] for p in common) / elapsed * 100, 2
            ),
            "machine_busy_pct": round((busy - idle) / busy * 100, 1) if busy > 0 else None,
            "wakeups_per_s": round((sum(ctx1) - sum(ctx0)) / elapsed, 1),
            "voluntary_ctx_switches": ctx1[0] - ctx0[0],
            "involuntary_ctx_switches": ctx1[1] - ctx0[1],
            "threads": threads,
            "rss_mib": round(rss / 2**20, 1),
            "containers_rss_mib": round(containers_rss / 2**20, 1),
            "shared_servers_cpu_pct_of_core": round((servers1 - servers0) / elapsed * 100, 2),
            "shared_servers_rss_mib": round(self.shared_servers_rss() / 2**20, 1),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
        if spy is not None:
            result["py_spy"] = self.finish_py_spy(spy)
        time.sleep(0.3)
        result["shutdown"] = self.shutdown(kubelet, records)  # the containers flush on SIGTERM
        self.stop_shared_servers()  # they flush on SIGTERM too
        result.update(self.analyze(records, w0, w1))
        probes = result.get("probes_received", 0)
        if probes:
            result["window"]["minikubelet_cpu_ms_per_probe"] = round(cpu * 1000 / probes, 3)
        return result

    def shared_servers_cpu(self) -> float:
        total = 0.0
        for proc in getattr(self, "shared_servers", []):
            with contextlib.suppress(psutil.Error):
                t = psutil.Process(proc.pid).cpu_times()
                total += t.user + t.system
        return total

    def shared_servers_rss(self) -> int:
        total = 0
        for proc in getattr(self, "shared_servers", []):
            with contextlib.suppress(psutil.Error):
                total += psutil.Process(proc.pid).memory_info().rss
        return total

    @staticmethod
    def children_cpu(process: psutil.Process) -> dict[int, float]:
        times: dict[int, float] = {}
        for child in process.children():
            with contextlib.suppress(psutil.Error):
                t = child.cpu_times()
                times[child.pid] = t.user + t.system
        return times

    @staticmethod
    def children_rss(process: psutil.Process) -> int:
        total = 0
        for child in process.children():
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return total

    def analyze(
        self, records: list[Path], w0: float, w1: float, label: str = "probes"
    ) -> dict[str, Any]:
        lateness: dict[str, list[float]] = {p: [] for p in PATHS}
        jitter: list[float] = []
        worst: dict[int, float] = collections.defaultdict(float)  # second of window -> max
        offsets: list[float] = []
        expected = missed = extra = gaps = 0
        restarted: list[str] = []
        signalled: list[str] = []
        moved: list[float] = []
        for path in records:
            record = read_record(path)
            for text in record.problems:
                self.problem(f"{label}: {text}")
            # A prober stopped mid-probe closes its connection without a request: fine then.
            early = [t for t in record.empty if t < self.sigterm_at]
            if early:
                self.problem(f"{label}: {path.name}: {len(early)} connection(s) without a request")
            if len(record.starts) != 1:
                restarted.append(f"{path.name} ({len(record.starts)} starts)")
            if any(t < self.sigterm_at for t in record.terms):
                signalled.append(path.name)
            if not record.starts:
                continue
            s = schedule(record, PERIOD_S, w0, w1, self.sigterm_at)
            for p, values in s.lateness.items():
                lateness[p].extend(values)
            jitter.extend(x for values in s.jitter.values() for x in values)
            for at, late in s.slots:
                second = int(at - w0)
                worst[second] = max(worst[second], late)
            if any(s.lateness.values()):
                offsets.append(s.offset)
            expected += s.expected
            missed += s.missed
            extra += s.extra
            gaps += s.gaps
            moved.append(s.origin_moved_s)
        if restarted:
            self.problem(f"{label}: containers restarted: {', '.join(restarted[:10])}")
        if signalled:
            self.problem(
                f"{label}: containers got SIGTERM before they were stopped: {signalled[:10]}"
            )
        every = [x for values in lateness.values() for x in values]
        received = len(every)
        out: dict[str, Any] = {
            "probes_expected": expected,
            "probes_received": received,
            "probes_per_s": round(received / (w1 - w0), 1),
            "missed_ticks": missed,
            "extra_arrivals": extra,
            "gaps_over_1_5_periods": gaps,
            "containers_started_once": len(records) - len(restarted),
            "restarted_containers": len(restarted),
            "origin": {
                "series_with_late_start_record": sum(1 for m in moved if m > 0.001),
                "max_start_record_delay_ms": round(max(moved, default=0) * 1000, 1),
            },
        }
        if every:
            out["lateness"] = rb.summary_ms(every)
            out["lateness"]["min_ms"] = round(min(every) * 1000, 3)
            for p, values in lateness.items():
                if values:
                    out[f"lateness_{PATHS[p]}"] = rb.summary_ms(values)
            out["start_offset"] = rb.summary_ms(offsets)
            out["jitter"] = rb.summary_ms(jitter)
            limit = TARGET_LATENESS_P99_MS / 1000
            out["seconds_with_jitter_over_target"] = sum(1 for v in worst.values() if v > limit)
            out["jitter_worst_second_ms"] = round(max(worst.values(), default=0) * 1000, 1)
        if missed:
            self.problem(f"{label}: {missed} probe tick(s) in the window got no request")
        return out

    def shutdown(self, kubelet: rb.Minikubelet, record_files: list[Path]) -> dict[str, Any]:
        self.sigterm_at = time.time()
        return super().shutdown(kubelet, record_files)

    # -- py-spy ---------------------------------------------------------------------------

    def start_py_spy(self, pid: int) -> subprocess.Popen[bytes] | None:
        if not self.args.py_spy:
            return None
        self.spy_path = self.tmp / "py-spy.txt"
        argv = [
            self.args.py_spy, "record", "--pid", str(pid), "--rate", str(self.args.py_spy_rate),
            "--nonblocking", "--format", "raw", "--duration", str(math.ceil(self.args.seconds)),
            "-o", str(self.spy_path), *self.args.py_spy_arg,
        ]  # fmt: skip
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def finish_py_spy(self, spy: subprocess.Popen[bytes]) -> dict[str, Any]:
        try:
            _, err = spy.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()
            _, err = spy.communicate()
        if not self.spy_path.exists():
            self.problem("py-spy wrote nothing: " + err.decode(errors="replace")[-500:])
            return {}
        return summarize_raw(self.spy_path, self.args.py_spy_top)


_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def frame_name(frame: str) -> str:
    """``function (path/to/module.py:123)`` -> ``function (module.py)``."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    file = match["file"]
    for marker in ("site-packages/", "lib/python3."):
        if marker in file:
            file = file.split(marker, 1)[1]
            file = file.split("/", 1)[1] if marker == "lib/python3." else file
            break
    else:
        file = file.rsplit("minikubelet/", 1)[-1] if "minikubelet/" in file else file
    return f"{match['function']} ({file})"


def summarize_raw(path: Path, top: int) -> dict[str, Any]:
    """Self and inclusive shares of each function in py-spy's raw (collapsed) output."""
    own: collections.Counter[str] = collections.Counter()
    own_file: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame_name(f) for f in stack.split(";")]
        while frames and frames[0].startswith(("process ", "thread ")):
            frames = frames[1:]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        own_file[frames[-1].rpartition(" (")[2].rstrip(")")] += count
        for name in set(frames):
            inclusive[name] += count
    if not total:
        return {"samples": 0, "self_pct": {}, "self_by_file_pct": {}, "inclusive_pct": {}}
    # Frames in (nearly) every sample (the CLI, asyncio.run, ...) say nothing: left out.
    # (A few % of py-spy's --nonblocking stacks are cut short, hence not 100 %.)
    below = [(k, v) for k, v in inclusive.most_common() if v < 0.9 * total]
    return {
        "samples": total,
        "self_pct": {k: round(v / total * 100, 1) for k, v in own.most_common(top)},
        "self_by_file_pct": {k: round(v / total * 100, 1) for k, v in own_file.most_common(top)},
        "inclusive_pct": {k: round(v / total * 100, 1) for k, v in below[:top]},
    }


# -- report ------------------------------------------------------------------------------


def print_report(bench: ProbeBench) -> None:
    rows: list[tuple[str, str, str, str]] = []
    r = bench.results.get("probes")
    if r is not None:
        w = r["window"]
        n = r["pods"]
        if "launch_to_all_started_s" in r:
            rows.append(
                (
                    f"{n} pods, {r['ports_per_server']} ports a server: launch -> all started",
                    f"{r['launch_to_all_started_s']:.2f} s",
                    "",
                    "",
                )
            )
        else:
            listen = r["start_to_listen_ms"]
            rows.append(
                (
                    f"{n} pods: launch -> all listening",
                    f"{r['launch_to_all_listening_s']:.2f} s",
                    "",
                    "",
                )
            )
            rows.append(
                (
                    "  container start -> listen p50/max",
                    f"{listen['p50_ms']:.0f} / {listen['max_ms']:.0f} ms",
                    "",
                    "",
                )
            )
        rows.append(
            (
                f"minikubelet CPU, {w['seconds']:.0f} s window",
                f"{w['minikubelet_cpu_pct_of_core']:.1f} % of a core",
                f"<= {cpu_target(n):g} %",
                rb.verdict(w["minikubelet_cpu_pct_of_core"] <= cpu_target(n)),
            )
        )
        rows.append(
            (
                "  user / system",
                f"{w['minikubelet_user_s']:.2f} / {w['minikubelet_system_s']:.2f} s",
                "",
                "",
            )
        )
        if w["minikubelet_cpu_ms_per_probe"] is not None:
            rows.append(("  per probe", f"{w['minikubelet_cpu_ms_per_probe']:.3f} ms", "", ""))
        rows.append(
            (
                "  containers / machine busy",
                f"{w['containers_cpu_pct_of_core']:.1f} % of a core / "
                f"{w['machine_busy_pct']:.0f} % of {os.cpu_count()} cores",
                "",
                "",
            )
        )
        rows.append(
            (
                "  threads / RSS / ctx switches vol+invol",
                f"{w['threads']} / {w['rss_mib']} MiB / "
                f"{w['voluntary_ctx_switches'] / w['seconds']:.0f} + "
                f"{w['involuntary_ctx_switches'] / w['seconds']:.0f} /s",
                "",
                "",
            )
        )
        rows.append(("  containers' RSS", f"{w['containers_rss_mib']:.0f} MiB", "", ""))
        if r.get("ports_per_server", 1) > 1:
            rows.append(
                (
                    "  shared servers: CPU / RSS",
                    f"{w['shared_servers_cpu_pct_of_core']:.1f} % of a core / "
                    f"{w['shared_servers_rss_mib']:.0f} MiB",
                    "",
                    "",
                )
            )
        if "lateness" in r:
            lat = r["lateness"]
            for q in ("p50_ms", "p90_ms", "p99_ms", "max_ms"):
                t, v = "", ""
                if q == "p99_ms":
                    t = f"<= {TARGET_LATENESS_P99_MS:g} ms"
                    v = rb.verdict(lat[q] <= TARGET_LATENESS_P99_MS)
                rows.append(
                    (f"probe lateness vs container start {q[:-3]}", f"{lat[q]:.1f} ms", t, v)
                )
            for kind in PATHS.values():
                if f"lateness_{kind}" in r:
                    k = r[f"lateness_{kind}"]
                    rows.append(
                        (
                            f"  {kind} p50/p99/max",
                            f"{k['p50_ms']:.1f} / {k['p99_ms']:.1f} / {k['max_ms']:.1f} ms",
                            "",
                            "",
                        )
                    )
        if "start_offset" in r:
            o, j = r["start_offset"], r["jitter"]
            rows.append(
                (
                    "  = start offset, per container p50/p90/max",
                    f"{o['p50_ms']:.1f} / {o['p90_ms']:.1f} / {o['max_ms']:.1f} ms",
                    "",
                    "",
                )
            )
            rows.append(
                (
                    "  + jitter vs own series p50/p99/max",
                    f"{j['p50_ms']:.1f} / {j['p99_ms']:.1f} / {j['max_ms']:.1f} ms",
                    f"p99 <= {TARGET_LATENESS_P99_MS:g} ms",
                    rb.verdict(j["p99_ms"] <= TARGET_LATENESS_P99_MS),
                )
            )
            rows.append(
                (
                    "  seconds with jitter > target / worst",
                    f"{r['seconds_with_jitter_over_target']} of {w['seconds']:.0f} / "
                    f"{r['jitter_worst_second_ms']:.1f} ms",
                    "",
                    "",
                )
            )
        o = r["origin"]
        rows.append(
            (
                "  start records late (origin moved)",
                f"{o['series_with_late_start_record']} (max {o['max_start_record_delay_ms']} ms)",
                "",
                "",
            )
        )
        rows.append(
            (
                "probes received",
                f"{r['probes_per_s']:.1f} /s ({r['probes_received']} of {r['probes_expected']})",
                f"{r['probes_per_s_configured']:.0f} /s",
                rb.verdict(r["probes_received"] == r["probes_expected"]),
            )
        )
        rows.append(
            (
                "  missed ticks / gaps > 1.5 periods",
                f"{r['missed_ticks']} / {r['gaps_over_1_5_periods']}",
                "0 / 0",
                rb.verdict(r["missed_ticks"] == 0 and r["gaps_over_1_5_periods"] == 0),
            )
        )
        rows.append(
            (
                "containers started once (restarts 0)",
                f"{r['containers_started_once']} of {n}",
                f"{n}",
                rb.verdict(r["containers_started_once"] == n),
            )
        )
        sd = r["shutdown"]
        leaked = len(sd["leaked_pids"])
        rows.append(
            (
                "shutdown: SIGTERM -> exit",
                f"{sd['shutdown_s']:.3f} s, status {sd['exit_status']}",
                "0 left",
                f"{leaked} left" if leaked else "0 left",
            )
        )
    f = bench.results.get("floor")
    if f is not None and "lateness" in f:
        rows.append(
            (
                "floor (bare asyncio prober): CPU",
                f"{f['prober_cpu_pct_of_core']:.1f} % of a core, "
                f"{f.get('prober_cpu_ms_per_probe', 0):.3f} ms/probe",
                "",
                "",
            )
        )
        lat, jit = f["lateness"], f["jitter"]
        rows.append(
            (
                "  lateness vs start p50/p99/max",
                f"{lat['p50_ms']:.1f} / {lat['p99_ms']:.1f} / {lat['max_ms']:.1f} ms",
                "",
                "",
            )
        )
        rows.append(
            (
                "  jitter vs own series p50/p99/max",
                f"{jit['p50_ms']:.1f} / {jit['p99_ms']:.1f} / {jit['max_ms']:.1f} ms",
                "",
                "",
            )
        )
        rows.append(
            (
                "  probes received / machine busy",
                f"{f['probes_per_s']:.1f} /s / {f['machine_busy_pct']:.0f} % of "
                f"{os.cpu_count()} cores",
                "",
                "",
            )
        )
    header = ("metric", "measured", "target", "")
    width = [max(len(row[c]) for row in [header, *rows]) for c in range(4)]
    print()
    print("  ".join(h.ljust(wd) for h, wd in zip(header, width, strict=True)).rstrip())
    print("  ".join("-" * wd for wd in width))
    for row in rows:
        print("  ".join(c.ljust(wd) for c, wd in zip(row, width, strict=True)).rstrip())
    spy = (r or {}).get("py_spy")
    if spy:
        extra = " ".join(bench.args.py_spy_arg)
        print(
            f"\npy-spy {extra}, {spy['samples']} samples of minikubelet "
            "(non-idle samples only: on CPU or waiting for it)"
        )
        for title, key in (
            ("self, by function", "self_pct"),
            ("self, by file", "self_by_file_pct"),
            ("inclusive (frames in >= 90 % of samples left out)", "inclusive_pct"),
        ):
            print(f"  {title}:")
            for name, pct in spy[key].items():
                print(f"    {pct:5.1f} %  {name}")
    if bench.problems:
        print(f"\n{len(bench.problems)} problem(s):")
        for text in bench.problems[:30]:
            print("  - " + text.replace("\n", "\n    "))
        if len(bench.problems) > 30:
            print(f"  ... and {len(bench.problems) - 30} more")


# -- main --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Black-box benchmark of minikubelet's HTTP probes (CPU, lateness)."
    )
    parser.add_argument("--pods", type=int, default=200, help="one-container pods, 2 probes each")
    parser.add_argument(
        "--ports-per-server",
        type=int,
        default=1,
        metavar="K",
        help="1: each container runs its own server (~10 MiB each); K > 1: the benchmark "
        "runs ceil(pods / K) servers itself, K ports each, and the containers only sleep "
        "(for --pods 1000: K=10 keeps the servers near 1 GiB)",
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="measurement window")
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="seconds after all listen, before the window"
    )
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="also write the results")
    parser.add_argument("--minikubelet", default=None, help="the minikubelet executable")
    parser.add_argument(
        "--minikubelet-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for `minikubelet run` (repeatable)",
    )
    parser.add_argument(
        "--py-spy",
        default=None,
        metavar="PATH",
        help="sample minikubelet with this py-spy during the window and print the profile",
    )
    parser.add_argument("--py-spy-rate", type=int, default=250, help="py-spy samples/s")
    parser.add_argument(
        "--py-spy-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for `py-spy record` (repeatable), e.g. --py-spy-arg=--gil",
    )
    parser.add_argument("--py-spy-top", type=int, default=25)
    parser.add_argument(
        "--floor",
        action="store_true",
        help="afterwards, probe the same number of servers with a bare asyncio prober "
        "(no minikubelet) over the same window: the least a Python prober costs here",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--tmpdir",
        default=None,
        help="where to make the temporary directory [default: tempfile's, usually /tmp]",
    )
    args = parser.parse_args(argv)
    if args.ports_per_server < 1:
        parser.error("--ports-per-server must be at least 1")
    if args.ports_per_server > 1 and args.floor:
        parser.error("--floor runs one server per container: leave --ports-per-server at 1")
    args.minikubelet_argv = [args.minikubelet or rb.default_minikubelet()]
    args.profile = False  # restart.Bench's cProfile mode: not offered here
    args.python = sys.executable
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGINT, rb._raise_interrupt)
    signal.signal(signal.SIGTERM, rb._raise_interrupt)
    signal.signal(signal.SIGHUP, rb._raise_interrupt)
    bench = ProbeBench(args)
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
                "minikubelet_cpu_pct_of_core": cpu_target(args.pods),
                "lateness_p99_ms": TARGET_LATENESS_P99_MS,
            },
            "probe": {
                "period_s": PERIOD_S,
                "timeout_s": TIMEOUT_S,
                "failure_threshold": FAILURE_THRESHOLD,
            },
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
            "argv": sys.argv,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    if interrupted:
        return 130
    return 1 if bench.problems else 0


def _wait_listening(records: list[Path], what: str, servers: list[subprocess.Popen[bytes]]) -> None:
    """Until every record says its server listens (a bench's poll: 0.1 s, 120 s at most)."""
    deadline = time.monotonic() + 120
    while not all(read_record(r).listens for r in records):
        if time.monotonic() > deadline:
            raise rb.BenchError(f"timed out waiting for {what} to listen")
        if any(p.poll() is not None for p in servers):
            raise rb.BenchError(f"one of {what} exited: {read_record(records[0])}")
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
