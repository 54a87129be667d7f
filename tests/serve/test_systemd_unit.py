"""``systemd/minikubelet.service``: systemd accepts it, and it says what the daemon needs."""

from __future__ import annotations

import shutil
import subprocess  # noqa: TID251 - the test runs the CLI as a user would
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).parent.parent.parent / "systemd" / "minikubelet.service"
BINARY = "/usr/local/bin/minikubelet"


def settings() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    # verify also checks that ExecStart's program exists; point it at one that does.
    unit = tmp_path / "minikubelet.service"
    unit.write_text(UNIT.read_text().replace(BINARY, sys.executable))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # Unknown or misspelt keys are only warnings: any output at all is a failure here.
    assert result.stdout + result.stderr == ""


def test_the_unit_runs_serve_as_a_notify_service_that_stops_its_own_pods() -> None:
    unit = settings()
    assert unit["ExecStart"] == [f"{BINARY} serve --config /etc/minikubelet/config.yaml"]
    assert unit["Type"] == ["notify"]
    assert unit["NotifyAccess"] == ["main"]
    # SIGTERM to the daemon alone (it stops its pods itself), and a crash-restart that
    # kills nothing: the containers live on under the keeper and are adopted.
    assert unit["KillMode"] == ["process"]
    assert unit["Delegate"] == ["yes"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    # shutdownGracePeriod's default is 30 s + the longest pod grace (30 s by default).
    assert unit["TimeoutStopSec"] == ["90s"]
    for directory in ("StateDirectory", "RuntimeDirectory", "ConfigurationDirectory"):
        assert unit[directory] == ["minikubelet"]
    for breaking in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp"):
        assert breaking not in unit  # containers are arbitrary local processes
