"""Files the runtime makes for a container: as the container, never through a symlink.

The kubelet bind-mounts a fresh, per-instance file at the container's
``terminationMessagePath`` (``kuberuntime_container.go makeMounts``); a local process has
no mount namespace, so minikubelet does the nearest safe thing, and does it as root
without ever lending root's rights to the container:

* **The default message file** lives beside the instance's log, under the root dir, which
  no container can reach (owner-only directories). The runtime creates it (0600, owned by
  the container's user), and hands it to the process as an open descriptor: the
  container writes ``$MINIKUBELET_TERMINATION_LOG`` (``/dev/fd/N``), as it would write
  ``/dev/termination-log`` in a pod. Exec hooks and probes get their own descriptor of the
  same file. The container can change what the file says, never which file it is.
* **An explicit ``terminationMessagePath``** is a host path the manifest chose. It is opened
  by walking every component with ``O_NOFOLLOW`` (a symlink anywhere is refused), each
  directory must be searchable by the container's user, an existing file must be a
  regular file that user may write, and it is truncated; a missing file is created owned
  by that user. Nothing else is touched: no directory is created, no mode or owner of a
  file minikubelet did not create is changed. Reading it back takes the same walk, so a
  container that swaps its file for a symlink to a root-only file publishes nothing.

Everything here blocks: call it from a worker thread (the local runtime's spawning thread).
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from minikubelet.errors import RuntimeStartError

if TYPE_CHECKING:  # the keeper imports this module: it stays light
    from minikubelet.model.launch import Identity


class UserIds(Protocol):
    """Who a process runs as, as far as a file check goes (an ``Identity``, or the
    keeper's ``SpawnUser``)."""

    @property
    def uid(self) -> int: ...
    @property
    def gid(self) -> int: ...
    @property
    def groups(self) -> tuple[int, ...]: ...


__all__ = [
    "TERMINATION_LOG_VARIABLE",
    "FileRefused",
    "UserIds",
    "check_working_dir",
    "open_default_message",
    "open_for_container",
    "prepare_explicit_message",
]

# Where a container whose terminationMessagePath is left at its default writes its message.
TERMINATION_LOG_VARIABLE = "MINIKUBELET_TERMINATION_LOG"
_WALK = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class FileRefused(RuntimeStartError):
    """A path a manifest names that the container may not have (a symlink on the way, a
    directory its user cannot search, a file its user cannot write, not a regular file)."""


def _may(info: os.stat_result, identity: UserIds | None, bit: int) -> bool:
    """Whether ``identity`` has permission ``bit`` (4 read, 2 write, 1 search) on ``info``."""
    if identity is None or identity.uid == 0:
        return True  # minikubelet's own user, or root: as the process itself would be
    mode = info.st_mode
    if info.st_uid == identity.uid:
        return bool(mode & (bit << 6))
    if info.st_gid == identity.gid or info.st_gid in identity.groups:
        return bool(mode & (bit << 3))
    return bool(mode & bit)


def _walk_to_parent(path: Path, identity: UserIds | None) -> int:
    """An open descriptor of ``path``'s directory, reached without following any symlink,
    every directory on the way searchable by ``identity``."""
    if not path.is_absolute():
        raise FileRefused(f"{path}: not an absolute path")
    current = os.open("/", _WALK)
    try:
        for part in path.parent.parts[1:]:
            try:
                child = os.open(part, _WALK, dir_fd=current)
            except OSError as error:
                raise FileRefused(_refusal(path, error)) from None
            os.close(current)
            current = child
            if not _may(os.fstat(current), identity, 1):
                raise FileRefused(f'{path}: the container\'s user cannot enter "{part}"')
    except BaseException:
        os.close(current)
        raise
    return current


def _refusal(path: Path, error: OSError) -> str:
    if error.errno in (40, 20):  # ELOOP, ENOTDIR: a symlink (or a file) where a directory is
        return f"{path}: a path component is a symlink or not a directory"
    return f"{path}: {error.strerror or error}"


def open_for_container(path: Path, identity: Identity | None, *, write: bool) -> int:
    """Open an existing file as the container may: no symlink anywhere on the path, a
    regular file, readable (or writable) by ``identity``. Raises FileRefused."""
    parent = _walk_to_parent(path, identity)
    try:
        flags = (os.O_WRONLY if write else os.O_RDONLY) | os.O_NOFOLLOW | os.O_NONBLOCK
        try:
            fd = os.open(path.name, flags | os.O_CLOEXEC, dir_fd=parent)
        except OSError as error:
            if error.errno == 2:  # ENOENT
                raise
            raise FileRefused(_refusal(path, error)) from None
    finally:
        os.close(parent)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise FileRefused(f"{path}: not a regular file")
    if not _may(info, identity, 2 if write else 4) or not _may(info, identity, 2):
        # Read back only what the container's user could have written: a file it merely
        # reached (a hard link to a file it cannot write) is not its message.
        os.close(fd)
        raise FileRefused(f"{path}: the container's user may not write this file")
    return fd


def prepare_explicit_message(path: Path, identity: Identity | None) -> None:
    """An explicit ``terminationMessagePath``: empty before each start (the kubelet makes
    a fresh file per instance). Created, owned by the container's user, when missing."""
    try:
        fd = open_for_container(path, identity, write=True)
    except FileNotFoundError:
        parent = _walk_to_parent(path, identity)
        try:
            if not _may(os.fstat(parent), identity, 2):
                raise FileRefused(f"{path}: the container's user may not create files there")
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                fd = os.open(path.name, flags, 0o600, dir_fd=parent)
            except OSError as error:
                raise FileRefused(_refusal(path, error)) from None
        finally:
            os.close(parent)
        if identity is not None:
            os.fchown(fd, identity.uid, identity.gid)
        os.close(fd)
        return
    try:
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def open_default_message(path: Path, identity: Identity | None, *, truncate: bool) -> int:
    """The per-instance message file under the root dir, open for the container to write
    (the descriptor it inherits); created 0600 and owned by the container's user."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags | (os.O_TRUNC if truncate else 0), 0o600)
    try:
        if identity is not None and os.fstat(fd).st_uid != identity.uid:
            os.fchown(fd, identity.uid, identity.gid)
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise
    return fd


def check_working_dir(path: str, identity: UserIds) -> None:
    """Refuse a working directory the container's user could not enter.

    ``subprocess`` changes directory before it drops privileges (as root, in the child),
    which would let a container start where its user may not go. Every directory of the
    resolved path must be searchable by the user, as its own ``chdir`` would need.
    """
    resolved = Path(os.path.realpath(path))
    current = Path("/")
    for part in resolved.parts[1:] if resolved != current else ():
        current = current / part
        try:
            info = os.stat(current)
        except OSError as error:
            raise RuntimeStartError(
                f'chdir to working directory "{path}": {error.strerror or error}'
            ) from None
        if not stat.S_ISDIR(info.st_mode):
            raise RuntimeStartError(f'chdir to working directory "{path}": not a directory')
        if not _may(info, identity, 1):
            raise RuntimeStartError(
                f'chdir to working directory "{path}": permission denied for uid '
                f"{identity.uid} (it cannot enter {current})"
            )
