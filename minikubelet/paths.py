"""Where minikubelet keeps things by default: one answer for the daemon, ``run`` and the client.

    default_root_dir()         state and container logs
    default_socket()           the API's unix socket
    default_static_pod_path()  the static pod manifests of ``serve``

As root (the system service), the paths are the system's (``/var/lib``, ``/run``,
``/etc``); for anyone else they follow the XDG base directories, so a user's daemon and
``run`` never touch another user's files. Each function takes the effective uid and the
environment as arguments so that tests can ask for another user's answer; light enough
for the client commands' start-up (``os`` and ``pathlib`` only).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["default_root_dir", "default_socket", "default_static_pod_path"]


def _who(euid: int | None, environ: Mapping[str, str] | None) -> tuple[int, Mapping[str, str]]:
    return (os.geteuid() if euid is None else euid), (os.environ if environ is None else environ)


def default_root_dir(
    euid: int | None = None, environ: Mapping[str, str] | None = None, home: Path | None = None
) -> Path:
    """``/var/lib/minikubelet`` as root, else ``$XDG_STATE_HOME/minikubelet``."""
    euid, environ = _who(euid, environ)
    if euid == 0:
        return Path("/var/lib/minikubelet")
    state = environ.get("XDG_STATE_HOME") or str((home or Path.home()) / ".local" / "state")
    return Path(state) / "minikubelet"


def default_socket(
    euid: int | None = None, environ: Mapping[str, str] | None = None, home: Path | None = None
) -> Path:
    """``/run/minikubelet/minikubelet.sock`` as root, else in the user's runtime dir, else
    (no ``XDG_RUNTIME_DIR``) beside the state in ``~/.local/state/minikubelet``."""
    euid, environ = _who(euid, environ)
    if euid == 0:
        return Path("/run/minikubelet/minikubelet.sock")
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "minikubelet.sock"
    return (home or Path.home()) / ".local" / "state" / "minikubelet" / "minikubelet.sock"


def default_static_pod_path(
    euid: int | None = None, environ: Mapping[str, str] | None = None, home: Path | None = None
) -> Path:
    """``/etc/minikubelet/manifests`` as root, else ``$XDG_CONFIG_HOME/minikubelet/manifests``."""
    euid, environ = _who(euid, environ)
    if euid == 0:
        return Path("/etc/minikubelet/manifests")
    config = environ.get("XDG_CONFIG_HOME") or str((home or Path.home()) / ".config")
    return Path(config) / "minikubelet" / "manifests"
