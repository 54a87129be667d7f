"""Choosing the cgroup driver at start-up, from ``/proc/self/cgroup`` and ``/proc/self/mountinfo``.

Our subtree is always created under the cgroup this process is in, in each hierarchy
(``/proc/self/cgroup`` gives the path, ``mountinfo`` where that hierarchy is mounted and
which part of it the mount shows), never elsewhere. The choice, with ``layout="auto"``:

1. cgroup v2, when our v2 cgroup offers the ``memory`` controller (a pure v2 machine; under
   systemd with ``Delegate=yes``). To enable controllers below our cgroup, which v2 forbids
   while processes sit in it ("no internal processes"), the daemon first moves itself into
   a ``supervisor`` child, as systemd's delegation documentation asks. If other processes
   share our cgroup (a login shell's scope) they are left alone and no controller is enabled.
2. cgroup v1, when a v1 ``memory`` hierarchy is mounted (v1 only, or the hybrid layout, whose
   v2 hierarchy at ``/sys/fs/cgroup/unified`` carries no controllers and is not used).
3. cgroup v2 without controllers (containment and kill-all, no limits).
4. ``NoCgroups``, with the reason as one sentence, e.g. "cgroup v1 memory hierarchy is
   read-only: limits are enforced by sampling".

Detection creates our subtree roots (``mkdir``), so it does blocking I/O: call it once, at
start-up, outside the event loop or before it starts.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from minikubelet.errors import CgroupError
from minikubelet.runtime.cgroups.base import NoCgroups
from minikubelet.runtime.cgroups.files import read_bytes, read_procs, write_value
from minikubelet.runtime.cgroups.v1 import V1Driver
from minikubelet.runtime.cgroups.v2 import V2Driver

__all__ = ["SUPERVISOR", "Containment", "detect"]

Containment = V1Driver | V2Driver | NoCgroups

SUPERVISOR = "supervisor"  # the v2 leaf the daemon moves itself into
_SAMPLING = "limits are enforced by sampling"
_V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "pids", "freezer")
_V2_CONTROLLERS = frozenset({"memory", "cpu", "pids"})


@dataclass(frozen=True)
class _Mount:
    point: Path
    root: str  # the part of the hierarchy this mount shows
    fstype: str
    read_only: bool
    controllers: frozenset[str]  # for v1: the super options naming controllers


@dataclass(frozen=True)
class _Location:
    mount: _Mount
    directory: Path | None  # our cgroup's directory; None if the mount does not show it
    path: str  # our cgroup's path in the hierarchy


def detect(
    subtree: str = "minikubelet",
    *,
    layout: Literal["auto", "v1", "v2"] = "auto",
    proc: Path = Path("/proc"),
    idle_timeout: float | None = 60.0,
) -> Containment:
    """The containment this process can use: a driver ready to make pod cgroups, or why not.

    ``subtree`` names our directory under our own cgroup (give each daemon its own name when
    several share a cgroup, as tests do). ``idle_timeout``: see ``ParkedSpawner``.
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", subtree):
        raise ValueError(f"invalid cgroup subtree name {subtree!r}")
    try:
        memberships = _parse_cgroup((proc / "self" / "cgroup").read_text())
        mounts = _parse_mountinfo((proc / "self" / "mountinfo").read_text())
    except (OSError, ValueError) as error:
        return NoCgroups(f"cannot read this process's cgroups ({error}): {_SAMPLING}")
    v2 = _v2_location(mounts, memberships)
    v1 = _v1_locations(mounts, memberships)
    if layout == "v2":
        return _open_v2(v2, subtree) if v2 else NoCgroups(f"no cgroup v2 hierarchy: {_SAMPLING}")
    if layout == "v1":
        return _open_v1(v1, v2, subtree, idle_timeout)
    if v2 is not None and v2.directory is not None and "memory" in _controllers(v2.directory):
        return _open_v2(v2, subtree)
    if "memory" in v1:
        return _open_v1(v1, v2, subtree, idle_timeout)
    if v2 is not None:
        return _open_v2(v2, subtree)
    return NoCgroups(f"no cgroup hierarchy is mounted: {_SAMPLING}")


# --- /proc parsing -----------------------------------------------------------------------


def _parse_cgroup(text: str) -> dict[str, str]:
    """``/proc/self/cgroup`` as controller -> path; the v2 entry under the key ``""``."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line:
            continue
        hierarchy, controllers, path = line.split(":", 2)
        if hierarchy == "0" and not controllers:
            found[""] = path
        for controller in controllers.split(","):
            if controller:
                found[controller] = path
    return found


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), field)


def _parse_mountinfo(text: str) -> list[_Mount]:
    mounts = []
    for line in text.splitlines():
        fields = line.split(" ")
        if "-" not in fields:
            continue
        dash = fields.index("-")
        fstype, super_options = fields[dash + 1], fields[dash + 3].split(",")
        if fstype not in ("cgroup", "cgroup2"):
            continue
        mounts.append(
            _Mount(
                point=Path(_unescape(fields[4])),
                root=_unescape(fields[3]),
                fstype=fstype,
                read_only="ro" in fields[5].split(","),
                controllers=frozenset(super_options) & frozenset(_V1_CONTROLLERS),
            )
        )
    return mounts


def _locate(mount: _Mount, path: str) -> _Location:
    root = mount.root.rstrip("/")
    if path == root or path.startswith(root + "/") or not root:
        relative = path[len(root) :].lstrip("/")
        return _Location(mount, mount.point / relative if relative else mount.point, path)
    return _Location(mount, None, path)


def _v2_location(mounts: list[_Mount], memberships: Mapping[str, str]) -> _Location | None:
    if "" not in memberships:
        return None
    for mount in mounts:
        if mount.fstype == "cgroup2":
            return _locate(mount, memberships[""])
    return None


def _v1_locations(mounts: list[_Mount], memberships: Mapping[str, str]) -> dict[str, _Location]:
    found = {}
    for controller in _V1_CONTROLLERS:
        for mount in mounts:
            if mount.fstype == "cgroup" and controller in mount.controllers:
                if controller in memberships:
                    found[controller] = _locate(mount, memberships[controller])
                break
    return found


def _controllers(directory: Path) -> set[str]:
    try:
        return set(read_bytes(directory / "cgroup.controllers").decode().split())
    except OSError:
        return set()


def _problem(error: OSError, path: Path) -> str:
    if error.errno == errno.EROFS:
        return "is read-only"
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"is not writable by uid {os.geteuid()} ({path}: permission denied)"
    return f"cannot be used ({path}: {error.strerror})"


def _enforcement(memory: bool, cpu: bool) -> str:
    if memory and cpu:
        return "limits.memory and limits.cpu are enforced by the kernel"
    if memory:
        return "limits.memory is enforced by the kernel; limits.cpu is not enforced"
    if cpu:
        return "limits.cpu is enforced by the kernel; limits.memory is enforced by sampling"
    return "limits.memory is enforced by sampling and limits.cpu is not enforced"


# --- cgroup v1 ---------------------------------------------------------------------------


def _open_v1(
    locations: Mapping[str, _Location],
    v2: _Location | None,
    subtree: str,
    idle_timeout: float | None,
) -> Containment:
    if "memory" not in locations:
        return NoCgroups(f"no cgroup v1 memory hierarchy is mounted: {_SAMPLING}")
    roots: dict[str, Path] = {}
    notes = []
    for controller, location in locations.items():
        if controller == "freezer" and "pids" in roots:
            continue  # the pids fence does its job without freezing our own thread
        problem = _make_root(location, subtree)
        if problem is not None:
            if controller == "memory":
                return NoCgroups(f"cgroup v1 memory hierarchy {problem}: {_SAMPLING}")
            notes.append(f"the {controller} hierarchy {problem}")
            continue
        assert location.directory is not None
        roots[controller] = location.directory / subtree
    layout = "hybrid" if v2 is not None else "v1"
    reason = (
        f"cgroup v1 ({layout}): a cgroup per container in the {', '.join(roots)} hierarchies, "
        f"under this process's own cgroups ({roots['memory']}); "
        f"{_enforcement(True, 'cpu' in roots)}"
    )
    if v2 is not None:
        reason += f"; the v2 hierarchy at {v2.mount.point} is not used"
    if notes:
        reason += "; " + "; ".join(notes)
    return V1Driver(roots, reason, idle_timeout=idle_timeout)


def _make_root(location: _Location, subtree: str) -> str | None:
    """Create our subtree root in one hierarchy; what is wrong, or None."""
    if location.directory is None:
        mount = location.mount.point
        return f"does not show this process's cgroup {location.path} (mounted at {mount})"
    if location.mount.read_only:
        return "is read-only"
    path = location.directory / subtree
    try:
        path.mkdir(exist_ok=True)
    except OSError as error:
        return _problem(error, path)
    return None


# --- cgroup v2 ---------------------------------------------------------------------------


def _open_v2(location: _Location, subtree: str) -> Containment:
    if location.mount.read_only:
        return NoCgroups(f"cgroup v2 hierarchy is read-only: {_SAMPLING}")
    own = location.directory
    if own is None:
        return NoCgroups(
            f"the cgroup v2 mount at {location.mount.point} does not show this process's "
            f"cgroup {location.path}: {_SAMPLING}"
        )
    if own.name == SUPERVISOR and (own.parent / subtree).is_dir():
        own = own.parent  # we moved ourselves there earlier: our cgroup is its parent
    if not os.access(own / "cgroup.procs", os.W_OK):
        return NoCgroups(
            f"cgroup v2: {own} is not delegated to uid {os.geteuid()} "
            f"(no write access to its cgroup.procs): {_SAMPLING}"
        )
    notes = []
    try:
        wanted = _controllers(own) & _V2_CONTROLLERS
        enabled = set(read_bytes(own / "cgroup.subtree_control").decode().split())
        if wanted - enabled and own != location.mount.point:
            others = read_procs(own / "cgroup.procs") - {os.getpid()}
            if others:
                notes.append(
                    f"{own} also holds other processes, so no controller can be enabled "
                    "below it (run minikubelet as a systemd unit with Delegate=yes)"
                )
                wanted &= enabled
            else:
                _move_self(own / SUPERVISOR)
        if wanted - enabled:
            write_value(own / "cgroup.subtree_control", _plus(wanted - enabled))
        root = own / subtree
        root.mkdir(exist_ok=True)
        if wanted:
            write_value(root / "cgroup.subtree_control", _plus(wanted))
    except OSError as error:
        path = Path(error.filename) if error.filename else own
        return NoCgroups(f"cgroup v2 hierarchy {_problem(error, path)}: {_SAMPLING}")
    except CgroupError as error:
        return NoCgroups(f"cgroup v2: {error}: {_SAMPLING}")
    controllers = frozenset(wanted)
    reason = (
        f"cgroup v2: a cgroup per container under {root}; "
        f"{_enforcement('memory' in controllers, 'cpu' in controllers)}"
    )
    if notes:
        reason += "; " + "; ".join(notes)
    return V2Driver(root, controllers, reason)


def _plus(controllers: set[str]) -> str:
    return " ".join(f"+{name}" for name in sorted(controllers))


def _move_self(leaf: Path) -> None:
    """Move this whole process into ``leaf`` (v2 moves every thread of it together)."""
    leaf.mkdir(exist_ok=True)
    write_value(leaf / "cgroup.procs", os.getpid())
