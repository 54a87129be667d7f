#!/usr/bin/env python3
"""Issue 14's table, side by side with the peers, in one run of the shared peer harness.

The harness (``../shared/peer-bench`` beside this checkout, or ``--harness DIR``) measures
supervisors black-box with the same bash worker; see its README for installing the peers
(``setup.sh``). This script only drives it and reads its JSON: it runs every metric for
minikubelet ``--before`` (a ``minikubelet`` executable, e.g. an older checkout's venv) and
``--after`` (default: the one next to this interpreter) and for each ``--peer``, in one
run, then prints the issue's rows with before / after / best peer and the ratios.

    .venv/bin/python bench/peers.py --before /path/to/old/venv/bin/minikubelet \\
        --peer pm2 --peer s6 --peer runit --peer supervisord
    .venv/bin/python bench/peers.py --report results.json   # the table again, no run
    .venv/bin/python bench/peers.py --metric stopkill --before ... --peer s6  # some rows only

The harness's scratch paths hold the peer's label, and unix socket paths have at most
107 bytes: give the executables short paths (a symlink such as ``/tmp/b/mk`` will do).
Lower is better in every row.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_HARNESS = HERE.parent.parent / "shared" / "peer-bench"

Scenario = dict[str, Any]


def _get(data: object, *path: str) -> float | None:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return float(data) if isinstance(data, int | float) else None


# (title, unit, scenario id, how to read the number)
ROWS: list[tuple[str, str, str, Callable[[Scenario], float | None]]] = [
    ("restart, 50 x 0.2 s runs: p50", "ms", "restart-50", lambda s: _get(s, "latency_ms", "p50")),
    ("restart, 50 x 0.2 s runs: p99", "ms", "restart-50", lambda s: _get(s, "latency_ms", "p99")),
    (
        "restart, 50 x 1.2 s runs: p50",
        "ms",
        "restart-50-long",
        lambda s: _get(s, "latency_ms", "p50"),
    ),
    (
        "restart, 50 x 1.2 s runs: p99",
        "ms",
        "restart-50-long",
        lambda s: _get(s, "latency_ms", "p99"),
    ),
    ("restart, 1 x 0.2 s runs: p50", "ms", "restart-1", lambda s: _get(s, "latency_ms", "p50")),
    (
        "supervisor CPU in the 50 x 0.2 s storm",
        "% of a core",
        "restart-50",
        lambda s: _get(s, "supervisor_cpu_pct"),
    ),
    ("spawn 500: start → last running", "s", "life-500", lambda s: _get(s, "spawn", "total_s")),
    ("spawn 500: start → first running", "s", "life-500", lambda s: _get(s, "spawn", "first_s")),
    ("spawn 100: start → last running", "s", "life-100", lambda s: _get(s, "spawn", "total_s")),
    ("spawn 100: start → first running", "s", "life-100", lambda s: _get(s, "spawn", "first_s")),
    ("idle, 100 sleepers: CPU in the window", "s", "life-100", lambda s: _get(s, "idle", "cpu_s")),
    ("idle, 500 sleepers: CPU in the window", "s", "life-500", lambda s: _get(s, "idle", "cpu_s")),
    ("memory (PSS), 100 sleepers", "MB", "life-100", lambda s: _get(s, "idle", "pss_mb")),
    ("memory (PSS), 500 sleepers", "MB", "life-500", lambda s: _get(s, "idle", "pss_mb")),
    (
        "SIGKILL after a 2 s grace, 20 ignoring TERM: p50",
        "ms",
        "stopkill",
        lambda s: _get(s, "stop", "kill_ms", "p50"),
    ),
    (
        "SIGKILL after a 2 s grace, 20 ignoring TERM: max",
        "ms",
        "stopkill",
        lambda s: _get(s, "stop", "kill_ms", "max"),
    ),
    (
        "stop-all 500 (exit on TERM): all exited",
        "s",
        "life-500",
        lambda s: _get(s, "stop", "all_exited_s"),
    ),
]


def run_harness(args: argparse.Namespace, out: Path) -> None:
    harness = Path(args.harness)
    if not (harness / "run.py").exists():
        sys.exit(f"error: no peer harness at {harness} (--harness DIR)")
    work = harness
    if not os.access(harness, os.W_OK):  # it writes its venv, tools and scratch dirs
        work = Path(tempfile.mkdtemp(prefix="pb")) / "h"  # short: socket paths
        shutil.copytree(harness, work, symlinks=True, ignore=shutil.ignore_patterns(".scratch"))
    peers = [f"minikubelet:bin={args.before}"] if args.before else []
    peers.append(f"minikubelet:bin={args.after}")
    peers += args.peer
    command = [sys.executable, str(work / "run.py"), "--metric", args.metric, "--out", str(out)]
    for peer in peers:
        command += ["--peer", peer]
    command += ["--idle-seconds", str(args.idle_seconds)]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, cwd=work, check=True)


def table(data: dict[str, Any], before: str | None, after: str) -> str:
    peers = {label: entry.get("scenarios", {}) for label, entry in data["peers"].items()}
    ours_before = peers.get(f"minikubelet:bin={before}") if before else None
    ours = peers[f"minikubelet:bin={after}"]
    others = {
        label: scenarios
        for label, scenarios in peers.items()
        if not label.startswith("minikubelet") and scenarios
    }
    lines = [
        "| metric | before | after | best peer | after / before | after / best peer |",
        "|---|---|---|---|---|---|",
    ]
    for title, unit, scenario, read in ROWS:
        now = _read(ours, scenario, read)
        then = _read(ours_before, scenario, read) if ours_before is not None else None
        best_label, best = None, None
        for label, scenarios in others.items():
            value = _read(scenarios, scenario, read)
            if value is not None and (best is None or value < best):
                best_label, best = label, value
        if now is None and then is None and best is None:
            continue  # a metric this run did not measure (--metric)
        lines.append(
            f"| {title} ({unit}) | {_cell(then)} | {_cell(now)} | "
            f"{_cell(best)}{f' ({best_label})' if best_label else ''} | "
            f"{_ratio(now, then)} | {_ratio(now, best)} |"
        )
    return "\n".join(lines)


def _read(
    scenarios: dict[str, Scenario], scenario: str, read: Callable[[Scenario], float | None]
) -> float | None:
    found = scenarios.get(scenario)
    if not isinstance(found, dict) or "error" in found:
        return None
    return read(found)


def _cell(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def _ratio(value: float | None, reference: float | None) -> str:
    if value is None or reference is None or reference == 0:
        return "-"
    return f"{value / reference:.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--harness", default=str(DEFAULT_HARNESS))
    parser.add_argument("--before", help="the minikubelet executable to compare against")
    parser.add_argument(
        "--after", default=shutil.which("minikubelet", path=os.path.dirname(sys.executable))
    )
    parser.add_argument("--peer", action="append", default=[], help="pm2, s6, runit, ...")
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument(
        "--metric",
        default="all",
        help="one of the harness's metrics (restart, spawn, idle, stop, stopkill, orphan) "
        "to reproduce its rows alone; default all",
    )
    parser.add_argument("--out", default="peers.json", help="the harness's JSON")
    parser.add_argument("--report", help="only print the table of an earlier run's JSON")
    args = parser.parse_args()
    if args.after is None:
        sys.exit("error: no minikubelet next to this interpreter (--after PATH)")
    path = Path(args.report or args.out).resolve()
    if not args.report:
        run_harness(args, path)
    print(table(json.loads(path.read_text()), args.before, args.after))


if __name__ == "__main__":
    main()
