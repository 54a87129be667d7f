"""Run the real kubectl against a test daemon: find the binaries, isolate their caches.

``/usr/bin/kubectl`` is gcloud's dispatcher; the versioned clients (``kubectl.1.27`` …
``kubectl.1.33``) sit beside the file it links to. The server must be another process (a
``minikubelet serve`` daemon): a kubelet in the test process reaps the children it does not
own, kubectl included. kubectl reaches it as a user would: through the kubeconfig that
``minikubelet kubeconfig`` prints (HTTPS with the daemon's certificate, and its token).
Every run gets its own ``HOME`` so the discovery and HTTP caches (``~/.kube/cache``) of one
test never answer for another, and no kubeconfig of the machine is read.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess  # noqa: TID251 - the test runs kubectl as a user would
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["Kubectl", "find_kubectl", "kubectl_versions", "write_kubeconfig"]


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


def write_kubeconfig(socket: Path, path: Path) -> Path:
    """Ask the daemon for its kubeconfig over its unix socket (``minikubelet kubeconfig``)."""
    transport = httpx.HTTPTransport(uds=str(socket))
    with httpx.Client(transport=transport, base_url="http://minikubelet", timeout=10) as client:
        response = client.get("/kubeconfig")
    response.raise_for_status()
    path.write_text(json.dumps(response.json()))
    path.chmod(0o600)
    return path


@dataclass
class Kubectl:
    binary: Path
    kubeconfig: Path
    home: Path

    def environment(self) -> dict[str, str]:
        self.home.mkdir(parents=True, exist_ok=True)
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("KUBECONFIG", "HOME") and not key.startswith("KUBECTL_")
        }
        env["HOME"] = str(self.home)
        return env

    def command(self, *args: str) -> list[str]:
        return [str(self.binary), "--kubeconfig", str(self.kubeconfig), *args]

    def run(
        self, *args: str, stdin: bytes | None = None, timeout: float = 60
    ) -> tuple[int, str, str]:
        """Run ``kubectl --kubeconfig F ARGS``; returns (exit code, stdout, stderr)."""
        result = subprocess.run(
            self.command(*args),
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            check=False,
            env=self.environment(),
            timeout=timeout,
        )
        return result.returncode, result.stdout.decode(), result.stderr.decode()

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """Start a long-running kubectl (``get -w``, ``logs -f``); the caller ends it."""
        return subprocess.Popen(
            self.command(*args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.environment(),
        )
