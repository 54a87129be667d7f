"""The root dir (state, logs, the API's token): private to its owner, and one daemon's at a time.

    prepare_root_dir(path)     create it 0700, or warn when an existing one is open to others
    RootDirLock(path)          the exclusive lock a daemon holds on it; RootDirInUseError
    write_private(path, data)  an owner-only file, written atomically, never through a link
    append_private(path, data) a record added to such a file, in one write
    api_token(root, file)      the TCP listener's bearer token: read, or generated and saved

Why owner-only: container logs can hold secrets, the saved API pods are manifests anyone
could otherwise read, and the token *is* the API over TCP. The root dir minikubelet
creates is 0700 and everything it writes there is 0600 (directories 0700) whatever the
umask; a root dir that already exists keeps its mode (the operator may have reasons), with
a ``root_dir.permissive`` warning when group or others have any access to it.

Why a lock: two daemons on one root dir would both restore and save the API pods and
fight over them. ``serve`` takes an exclusive ``flock`` on ``<root-dir>/serve.lock``
before any pod starts and holds it until it exits; the kernel drops it when the process
dies, so a crash never leaves a stale lock. The holder writes its pid into the file so a
second daemon can name it. ``run`` does not take the lock: it neither restores nor saves
API pods, and every file it writes is per pod instance (logs and termination messages
under the pod's uid), so ``minikubelet run app.yaml`` works beside the user's daemon.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import cast

import structlog

from minikubelet.errors import ConfigError, RootDirInUseError

__all__ = [
    "LOCK_FILE",
    "TOKEN_FILE",
    "RootDirLock",
    "api_token",
    "append_private",
    "make_private_dir",
    "prepare_root_dir",
    "write_private",
]

_log = structlog.get_logger("minikubelet.rootdir")

LOCK_FILE = "serve.lock"
TOKEN_FILE = "api-token"  # a generated token, for whoever reads it as the daemon's user


def make_private_dir(path: Path) -> bool:
    """Create ``path`` (and missing parents) with mode 0700; False if it already existed.

    Only the directories created here are made private: an existing parent is left alone.
    """
    if path.is_dir():
        return False
    if path.exists():
        raise NotADirectoryError(errno.ENOTDIR, "exists and is not a directory", str(path))
    missing = []
    parent = path
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
            os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask
    return True


def prepare_root_dir(path: Path) -> None:
    """Create the root dir 0700; warn (once, now) if an existing one is open to others."""
    if make_private_dir(path):
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        _log.warning(
            "root_dir.permissive",
            path=str(path),
            mode=f"{mode:04o}",
            effect="other users may read container logs and saved pods",
            fix=f"chmod 700 {path}",
        )


def write_private(path: Path, data: bytes) -> None:
    """Write ``path`` as an owner-only (0600) file, atomically (a hidden temporary renamed).

    The temporary is created exclusively and without following links, so nothing planted
    in the directory is written through or made private by mistake. An existing regular
    file is exchanged with the temporary (``renameat2(RENAME_EXCHANGE)``), then the
    temporary, now the old content, is removed: as atomic as a rename over it, and ext4
    does not flush the new file's data first (``auto_da_alloc``), which costs a rename
    over an existing file about three times as much; the daemon's checkpoints are written
    at every container start and exit.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    descriptor = os.open(temporary, flags, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(file.fileno(), 0o600)  # whatever the umask said
            file.write(data)
        if _is_regular_file(path) and _exchange(temporary, path):
            temporary.unlink()
        else:
            os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def append_private(path: Path, data: bytes) -> None:
    """Add ``data`` (one record of a few hundred bytes) to the end of ``path``, an existing
    file this process wrote with ``write_private``, in one ``write``, never through a link.

    Raises OSError when the file is gone or the write came out short (a full disk): the
    file may then end with a record cut short, and the caller writes it whole next time.
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        written = os.write(descriptor, data)
    finally:
        os.close(descriptor)
    if written != len(data):
        raise OSError(errno.ENOSPC, f"only {written} of {len(data)} bytes written", str(path))


def _is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # linux/fs.h


def _exchange(first: Path, second: Path) -> bool:
    """Swap two directory entries atomically; False where the kernel, the file system or
    the C library cannot (the caller renames instead)."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE):
        error = ctypes.get_errno()
        if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOENT):
            return False
        raise OSError(error, os.strerror(error), str(second))
    return True


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2  # glibc 2.28 and later
    except (AttributeError, OSError):
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    function.restype = ctypes.c_int
    return cast("Callable[..., int]", function)


class RootDirLock:
    """The exclusive lock of one daemon on its root dir; a context manager.

    ``acquire`` raises ``RootDirInUseError`` naming the pid of the daemon that holds it.
    """

    def __init__(self, root_dir: Path) -> None:
        self.path = root_dir / LOCK_FILE
        self._descriptor: int | None = None

    def acquire(self) -> None:
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        descriptor = os.open(self.path, flags, 0o600)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
                raise RootDirInUseError(
                    self.path.parent, int(holder) if holder.isdigit() else None
                ) from None
            os.fchmod(descriptor, 0o600)
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            os.close(descriptor)
            raise
        self._descriptor = descriptor

    def release(self) -> None:
        # The file stays: removing it would let a third daemon lock a new file while a
        # second one still waits on the old one. Its content is only read under contention.
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None

    def __enter__(self) -> RootDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def api_token(root_dir: Path, token_file: Path | None, *, save: bool = True) -> str:
    """The bearer token TCP clients must send.

    With ``token_file`` (``--token-file``), its content (surrounding whitespace removed);
    ConfigError when it cannot be read or is not a token, a warning when others may read
    it. Without, a new random token (256 bits), with ``save`` written 0600 as
    ``<root-dir>/api-token``: a new one at every start, so a token copied out lives no
    longer than the daemon.
    """
    if token_file is None:
        token = secrets.token_urlsafe(32)
        if save:
            write_private(root_dir / TOKEN_FILE, token.encode() + b"\n")
        return token
    try:
        raw = token_file.read_bytes()
    except OSError as error:
        raise ConfigError(f"{token_file}: cannot read the token file: {error.strerror}") from None
    token = raw.decode("ascii", "replace").strip()
    if not token or not all(33 <= ord(c) < 127 for c in token):
        raise ConfigError(
            f"{token_file}: not a token: the file must hold one line of printable ASCII "
            "without spaces"
        )
    mode = stat.S_IMODE(token_file.stat().st_mode)
    if mode & 0o077:
        _log.warning(
            "token_file.permissive",
            path=str(token_file),
            mode=f"{mode:04o}",
            effect="other users may read the API token",
            fix=f"chmod 600 {token_file}",
        )
    return token
