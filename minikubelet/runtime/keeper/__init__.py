"""The keeper: one small process per root dir that holds ``serve``'s containers, so they
survive the daemon's death (``kill -9``, a crash) and the next daemon takes them back.

Why a process apart, and what it does (the daemon's side is ``client.py``):

* **It is the parent.** It spawns every container on the daemon's request (the daemon
  prepares everything: argv, environment, user, files, and the cgroup gate's pipe), so a
  container's parent never dies with the daemon. It is the child subreaper too, so what a
  container double-forks is re-parented to it, not to pid 1, and stays findable.
* **It holds the pipes.** It makes each container's stdout and stderr pipes, keeps its own
  copy of their read ends and hands the daemon another (``SCM_RIGHTS``). While no daemon
  runs, a chatty container fills its pipe (64 KiB) and blocks: it never gets SIGPIPE, and
  the next daemon reads on from where the pipe is. (What the dying daemon had read but
  not yet written, one read at most, is lost with it.)
* **It reaps,** on SIGCHLD (``signal.set_wakeup_fd``: no polling), and tells the daemon
  each container's ``waitpid`` status; a status nobody acknowledged is kept and told to
  the next daemon, with the pipes, so an exit while no daemon ran has its real code and
  its last lines.
* **It does nothing else.** No probes, no logs, no kills: the daemon signals its
  containers itself (same user). Its imports are the standard library and the spawn
  code (``runtime/spawning.py``), so it costs one small interpreter per root dir.
* **It ends by itself:** when the daemon says ``stopping`` (a graceful stop, once the pods
  are stopped) or is gone, as soon as no container of its is alive; with exits no daemon
  took yet, only after ``--linger`` seconds without a daemon.

The wire format is ``model/keeper.py``; identity checks are ``logic/adoption.py``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["KEEPER_LOG", "KEEPER_SOCKET", "socket_address"]

KEEPER_SOCKET = "keeper.sock"  # under the root dir, 0600
KEEPER_LOG = "keeper.log"  # the keeper's stderr, under the root dir
_SUN_PATH = 100  # a Unix socket's path must fit in 108 bytes


@contextlib.contextmanager
def socket_address(root_dir: Path) -> Iterator[str]:
    """The keeper socket's address to bind or connect to: its path, or, when that is too
    long for a Unix socket, the same file through ``/proc/self/fd`` of the open root dir."""
    path = root_dir / KEEPER_SOCKET
    if len(os.fsencode(path)) < _SUN_PATH:
        yield str(path)
        return
    directory = os.open(root_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{directory}/{KEEPER_SOCKET}"
    finally:
        os.close(directory)
