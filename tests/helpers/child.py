"""The one test child program. Every real-process test runs this, with flags.

It records facts to files so tests wait for facts, never for time: ``--record FILE``
appends ``<event> <unix time> <pid>`` lines (start, ready, sigterm, exit); ``--pids-file``
lists the pids of the processes it spawned. It exits by itself after ``--safety``
seconds (default 60), so even a leaked child cannot outlive CI.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def record(path: str | None, event: str) -> None:
    if path:
        with open(path, "a") as handle:
            handle.write(f"{event} {time.time():.6f} {os.getpid()}\n")


def spawn(kind: str) -> int:
    if kind == "grandchild":
        return subprocess.Popen(SLEEPER).pid
    if kind == "setsid":
        return subprocess.Popen(SLEEPER, start_new_session=True).pid
    # double fork: the intermediate parent exits, the daemon is re-parented
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.setsid()
        daemon = subprocess.Popen(SLEEPER, close_fds=True, stdout=subprocess.DEVNULL)
        os.write(write_end, str(daemon.pid).encode())
        os._exit(0)
    os.waitpid(middle, 0)
    os.close(write_end)
    pid = int(os.read(read_end, 64))
    os.close(read_end)
    return pid


def serve_health(port: int, healthy_file: str | None) -> None:
    """A /healthz endpoint in a thread: 200 while ``healthy_file`` exists (or always)."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            healthy = healthy_file is None or os.path.exists(healthy_file)
            self.send_response(200 if healthy else 500)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok" if healthy else b"no")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.allow_reuse_address = True
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--record")
    parser.add_argument("--ready-file")
    parser.add_argument("--exit-code", type=int, default=0)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--forever", action="store_true")
    parser.add_argument("--ignore-sigterm", action="store_true")
    parser.add_argument("--sigterm-exit-code", type=int, default=None)
    parser.add_argument(
        "--spawn", action="append", default=[], choices=["grandchild", "setsid", "double-fork"]
    )
    parser.add_argument("--pids-file")
    parser.add_argument("--print", action="append", default=[])
    parser.add_argument("--stderr", action="append", default=[])
    parser.add_argument("--no-newline")
    parser.add_argument("--write-file", nargs=2, metavar=("PATH", "TEXT"))
    parser.add_argument("--kill-self", type=int, default=None)
    parser.add_argument("--http-port", type=int, default=None, help="serve /healthz on 127.0.0.1")
    parser.add_argument(
        "--healthy-file", help="/healthz answers 200 while this file exists, else 500"
    )
    parser.add_argument("--tick", type=float, default=None, help="print 'tick N' every TICK s")
    parser.add_argument("--tick-bytes", type=int, default=0, help="pad each tick line to N")
    parser.add_argument("--usr1-exit-code", type=int, default=None, help="exit so on SIGUSR1")
    parser.add_argument("--safety", type=float, default=60.0)
    options = parser.parse_args()

    record(options.record, "start")
    if options.ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    elif options.sigterm_exit_code is not None:

        def on_sigterm(signum: int, frame: object) -> None:
            record(options.record, "sigterm")
            record(options.record, "exit")
            sys.stdout.flush()
            os._exit(options.sigterm_exit_code)

        signal.signal(signal.SIGTERM, on_sigterm)
    if options.usr1_exit_code is not None:

        def on_usr1(signum: int, frame: object) -> None:
            record(options.record, "exit")
            os._exit(options.usr1_exit_code)

        signal.signal(signal.SIGUSR1, on_usr1)
    if options.http_port is not None:
        serve_health(options.http_port, options.healthy_file)
    pids = [spawn(kind) for kind in options.spawn]
    if options.pids_file:  # renamed into place: a reader never sees it half written
        with open(options.pids_file + ".tmp", "w") as handle:
            handle.write(" ".join(map(str, pids)))
        os.replace(options.pids_file + ".tmp", options.pids_file)
    for line in options.print:
        print(line, flush=True)
    for line in options.stderr:
        print(line, file=sys.stderr, flush=True)
    if options.no_newline:
        sys.stdout.write(options.no_newline)
        sys.stdout.flush()
    if options.write_file:  # renamed into place, as the pids file
        with open(options.write_file[0] + ".tmp", "w") as handle:
            handle.write(options.write_file[1])
        os.replace(options.write_file[0] + ".tmp", options.write_file[0])
    if options.ready_file:
        with open(options.ready_file, "w") as handle:
            handle.write(str(os.getpid()))
    record(options.record, "ready")
    if options.kill_self is not None:
        os.kill(os.getpid(), options.kill_self)
    deadline = time.monotonic() + (
        options.safety if options.forever else min(options.sleep, options.safety)
    )
    ticks = 0
    while time.monotonic() < deadline:
        if options.tick is None:
            time.sleep(deadline - time.monotonic())  # a signal handler may interrupt it
            continue
        line = f"tick {ticks} "
        # Blocks while the pipe is full; EPIPE (no reader left) kills.
        print(line + "x" * max(options.tick_bytes - len(line) - 1, 0), flush=True)
        ticks += 1
        time.sleep(options.tick)
    record(options.record, "exit")
    sys.exit(options.exit_code)


if __name__ == "__main__":
    main()
