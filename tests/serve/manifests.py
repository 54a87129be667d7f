"""Manifest texts for static pod tests: the test child, its uid written to a file."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import CHILD, PYTHON

__all__ = ["child_pod"]


def child_pod(
    name: str,
    facts: Path,
    *flags: str,
    grace: int = 5,
    pre_stop: Path | None = None,
    label: str = "",
) -> str:
    """A pod whose container writes its pod uid to ``facts/<name>.uid`` once it is ready,
    records start/sigterm/exit to ``facts/<name>.record`` and exits 0 on SIGTERM.

    ``label`` changes the manifest's content without changing what it runs (an edit).
    ``pre_stop`` adds a preStop exec hook that writes that file.
    """
    container: dict[str, object] = {
        "name": "app",
        "command": [
            PYTHON,
            CHILD,
            "--forever",
            "--sigterm-exit-code",
            "0",
            "--record",
            str(facts / f"{name}.record"),
            "--write-file",
            str(facts / f"{name}.uid"),
            "$(POD_UID)",
            *flags,
        ],
        "env": [{"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}}],
    }
    if pre_stop is not None:
        code = f"open({str(pre_stop)!r}, 'w').write('preStop ran')"
        container["lifecycle"] = {"preStop": {"exec": {"command": [PYTHON, "-c", code]}}}
    metadata: dict[str, object] = {"name": name}
    if label:
        metadata["labels"] = {"edit": label}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"terminationGracePeriodSeconds": grace, "containers": [container]},
    }
    return json.dumps(pod, indent=2)
