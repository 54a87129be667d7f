#!/usr/bin/env python3
"""Load: 500 pods with HTTP probes, a steady stream of API reads, and two watchers.

Built on ``bench/probes.py`` (its containers, schedule analysis, report and cleanup are
used as they are): ``minikubelet run`` with ``--pods`` one-container pods (default 500),
each with an HTTP liveness and readiness probe every second, and its API on a unix
socket. During the probe benchmark's measurement window, this script adds:

* **readers**: ``--rate`` requests per second (default 10), each on a new connection as
  the CLI makes them, cycling over the pod list (``/api/v1/namespaces/default/pods``, all
  500), one pod, its events (a field selector), the kubelet's ``/pods``, ``/healthz``;
  each timed from connect to the last byte;
* **a watcher that reads**: ``GET /api/v1/pods?watch=true``, every event read as it comes;
* **a watcher that never reads**: the same request, then nothing: its socket buffers
  fill and the server can no longer send to it. The engine must not notice (the probe
  lateness says whether it did), and the apiserver would cut such a watcher off with a
  ``Status`` (whether minikubelet does is reported: it is another change's work).

Reported: the probe benchmark's numbers (lateness vs its bound, p99 <= 50 ms), the API's
latency per path and overall (target p99 < 50 ms), the watchers' fate, and the load on
the machine. Needs only the standard library and psutil.

    .venv/bin/python bench/load.py                # 500 pods, 30 s window
    .venv/bin/python bench/load.py --pods 100 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import probes
import restart as rb
from daemon import UnixHTTPConnection

TARGET_API_P99_MS = 50.0
PATHS = [
    "/api/v1/namespaces/default/pods",
    "/api/v1/namespaces/default/pods/probed-000",
    "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dprobed-001",
    "/pods",
    "/healthz",
]


@dataclass
class ApiLoad:
    """The readers and the two watchers, in threads, while the window lasts."""

    socket_path: str
    rate: float
    stop: threading.Event = field(default_factory=threading.Event)
    samples: list[tuple[float, str, int, float]] = field(default_factory=list)  # t, path, ..
    errors: list[str] = field(default_factory=list)
    watch_events: int = 0
    watch_ended: str | None = None
    silent_watcher: str = "open"  # what happened to the watcher that never reads
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for name, target in (
            ("readers", self._readers),
            ("watch", self._watch),
            ("silent", self._silent),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self.threads.append(thread)

    def finish(self) -> None:
        """Stop the readers and look at the silent watcher; the reading watcher's thread
        may be blocked in a read (a daemon thread: left to the process's end)."""
        self.stop.set()
        for thread in self.threads:
            if thread.name != "watch":
                thread.join(35)

    def _readers(self) -> None:
        turn = 0
        next_at = time.monotonic()
        while not self.stop.is_set():
            path = PATHS[turn % len(PATHS)]
            turn += 1
            began = time.time()
            start = time.perf_counter()
            try:
                connection = UnixHTTPConnection(self.socket_path, 30)
                try:
                    connection.request("GET", path, headers={"Accept": "application/json"})
                    response = connection.getresponse()
                    response.read()
                    status = response.status
                finally:
                    connection.close()
            except OSError as error:
                self.errors.append(f"{path}: {error}")
                continue
            self.samples.append((began, path, status, time.perf_counter() - start))
            if status >= 400:
                self.errors.append(f"{path}: {status}")
            next_at += 1 / self.rate
            time.sleep(max(0.0, next_at - time.monotonic()))

    def _watch(self) -> None:
        try:
            connection = UnixHTTPConnection(self.socket_path, None)  # type: ignore[arg-type]
            connection.request("GET", "/api/v1/pods?watch=true")
            response = connection.getresponse()
            while not self.stop.is_set():
                line = response.readline()
                if not line:
                    if not self.stop.is_set():
                        self.watch_ended = "the server ended the stream"
                    return
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    self.watch_ended = f"ERROR event: {event['object'].get('message')}"
                    return
                self.watch_events += 1
            connection.close()
        except (OSError, ValueError) as error:
            self.watch_ended = f"failed: {error}"

    def _silent(self) -> None:
        """Ask for a watch, then never read: only notice whether the server hangs up."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills fast
        try:
            sock.connect(self.socket_path)
            sock.sendall(b"GET /api/v1/pods?watch=true HTTP/1.1\r\nHost: x\r\n\r\n")
            self.stop.wait()
            # Only now look: did the server close it (a cut-off) or is it still there?
            sock.setblocking(False)
            received = 0
            try:
                while chunk := sock.recv(1 << 20):
                    received += len(chunk)
            except BlockingIOError:
                self.silent_watcher = f"still open ({received} bytes waiting)"
            else:
                self.silent_watcher = f"closed by the server ({received} bytes waiting)"
        except OSError as error:
            self.silent_watcher = f"closed: {error}"
        finally:
            sock.close()


class LoadBench(probes.ProbeBench):
    """The probe benchmark, with the API load running during its window."""

    load: ApiLoad | None = None
    window: tuple[float, float] = (0.0, 0.0)

    def wait_for(self, kubelet: rb.Minikubelet, *args: Any, **kwargs: Any) -> None:
        super().wait_for(kubelet, *args, **kwargs)
        # The probe benchmark waits for every container to listen, then warms up and
        # measures: start the API load now, so the warm-up covers its start too.
        if self.load is None:
            self.load = ApiLoad(str(kubelet.workdir / "api.sock"), self.args.rate)
            self.load.start()

    def shutdown(self, kubelet: rb.Minikubelet, record_files: list[Path]) -> dict[str, Any]:
        if self.load is not None:  # the window is over: the API load ends before the daemon
            self.load.finish()
        return super().shutdown(kubelet, record_files)

    def analyze(
        self, records: list[Path], w0: float, w1: float, label: str = "probes"
    ) -> dict[str, Any]:
        if label == "probes":
            self.window = (w0, w1)
        return super().analyze(records, w0, w1, label)

    def run(self) -> None:
        try:
            super().run()
        finally:
            if self.load is not None:
                self.load.finish()
        self.results["api"] = self.api_results()

    def api_results(self) -> dict[str, Any]:
        load = self.load
        if load is None:
            return {}
        w0, w1 = self.window
        inside = [s for s in load.samples if w0 <= s[0] <= w1] or load.samples
        by_path: dict[str, Any] = {}
        for path in PATHS:
            latencies = [s[3] for s in inside if s[1] == path]
            if latencies:
                by_path[path] = rb.summary_ms(latencies)
        overall = [s[3] for s in inside]
        return {
            "requests": len(inside),
            "rate_per_s": round(len(inside) / (w1 - w0), 1) if w1 > w0 else None,
            "all": rb.summary_ms(overall) if overall else None,
            "by_path": by_path,
            "errors": load.errors[:10],
            "error_count": len(load.errors),
            "watch_events_read": load.watch_events,
            "watch_ended": load.watch_ended,
            "silent_watcher": load.silent_watcher,
            "load_avg": os.getloadavg(),
        }


def print_api(bench: LoadBench) -> None:
    api = bench.results.get("api") or {}
    if not api.get("all"):
        print("\nno API samples")
        return
    every = api["all"]
    print(f"\nAPI during the window: {api['requests']} requests ({api['rate_per_s']} /s)")
    width = max(len(path) for path in api["by_path"])
    for path, row in api["by_path"].items():
        print(
            f"  {path:{width}}  p50 {row['p50_ms']:7.1f}  p99 {row['p99_ms']:7.1f}  "
            f"max {row['max_ms']:7.1f} ms  (n={row['count']})"
        )
    verdict = rb.verdict(every["p99_ms"] < TARGET_API_P99_MS)
    print(
        f"  {'all':{width}}  p50 {every['p50_ms']:7.1f}  p99 {every['p99_ms']:7.1f}  "
        f"max {every['max_ms']:7.1f} ms   target p99 < {TARGET_API_P99_MS:g} ms: {verdict}"
    )
    print(f"  errors: {api['error_count']} {api['errors'][:3] if api['errors'] else ''}")
    print(
        f"  reading watcher: {api['watch_events_read']} events"
        f"{', then ' + api['watch_ended'] if api['watch_ended'] else ', open to the end'}"
    )
    print(f"  watcher that never reads: {api['silent_watcher']}")
    print("  load average at the end: " + " ".join(f"{x:.2f}" for x in api["load_avg"]))


def main(argv: list[str] | None = None) -> int:
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--rate", type=float, default=10.0, help="API reads per second")
    known, rest = own.parse_known_args(sys.argv[1:] if argv is None else argv)
    if not any(arg == "--pods" or arg.startswith("--pods=") for arg in rest):
        rest = ["--pods", "500", *rest]
    args = probes.parse_args(rest)
    args.rate = known.rate
    signal.signal(signal.SIGINT, rb._raise_interrupt)
    signal.signal(signal.SIGTERM, rb._raise_interrupt)
    bench = LoadBench(args)
    print(f"temporary directory: {bench.tmp}", flush=True)
    interrupted = False
    try:
        bench.run()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bench.cleanup()
    probes.print_report(bench)
    print_api(bench)
    if args.json:
        payload = {"results": bench.results, "problems": bench.problems, "argv": sys.argv}
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    if interrupted:
        return 130
    return 1 if bench.problems else 0


if __name__ == "__main__":
    sys.exit(main())
