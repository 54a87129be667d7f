"""Run the real kubectl against a test server: find the binaries, isolate their caches.

``/usr/bin/kubectl`` is gcloud's dispatcher; the versioned clients (``kubectl.1.27`` …
``kubectl.1.33``) sit beside the file it links to. The server must be another process (a
``minikubelet serve`` daemon): a kubelet in the test process reaps the children it does not
own, kubectl included. Every run gets its own ``HOME`` so the
discovery and HTTP caches (``~/.kube/cache``) of one test never answer for another, and no
kubeconfig of the machine is read.
"""

from __future__ import annotations

import os
import shutil
import subprocess  # noqa: TID251 - the test runs kubectl as a user would
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Kubectl", "find_kubectl", "kubectl_versions"]


def find_kubectl(minor: int | None = None) -> Path | None:
    """``kubectl`` (None) or ``kubectl.1.<minor>``, or None when this machine has none."""
    found = shutil.which("kubectl")
    if found is None:
        return None
    if minor is None:
        return Path(found)
    versioned = Path(found).resolve().parent / f"kubectl.1.{minor}"
    return versioned if versioned.exists() else None


def kubectl_versions() -> list[int]:
    """The minor versions of the versioned kubectl binaries present (e.g. [27, …, 33])."""
    return [minor for minor in range(20, 40) if find_kubectl(minor) is not None]


@dataclass
class Kubectl:
    binary: Path
    server: str  # http://127.0.0.1:PORT
    home: Path

    def run(self, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
        """Run ``kubectl --server URL ARGS``; returns (exit code, stdout, stderr)."""
        self.home.mkdir(parents=True, exist_ok=True)
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("KUBECONFIG", "HOME") and not key.startswith("KUBECTL_")
        }
        env["HOME"] = str(self.home)
        result = subprocess.run(
            [str(self.binary), "--server", self.server, *args],
            input=stdin,
            capture_output=True,
            check=False,
            env=env,
            timeout=60,
        )
        return result.returncode, result.stdout.decode(), result.stderr.decode()
