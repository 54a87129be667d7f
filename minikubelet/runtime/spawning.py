"""Starting one process: ``Popen`` with a new session, the tag, the user, and clear errors.

Kept apart from ``process.py`` (pidfds, anyio, psutil) so the keeper
(``runtime/keeper``), which spawns the daemon's containers, imports nothing but the
standard library and this: its memory is paid once per root dir, for as long as
containers run.
"""

from __future__ import annotations

import ctypes
import subprocess  # noqa: TID251 - the one module that spawns processes
from collections.abc import Mapping, Sequence

from minikubelet.errors import RuntimeStartError
from minikubelet.runtime.files import UserIds, check_working_dir

__all__ = ["TAG_VARIABLE", "become_subreaper", "start_process"]

TAG_VARIABLE = "MINIKUBELET_CONTAINER"
_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make this process the child subreaper; False where the kernel refuses."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def start_process(
    argv: Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    tag: str,
    stdout: int,
    stderr: int,
    identity: UserIds | None = None,
    pass_fds: Sequence[int] = (),
    stdin: int | None = None,
    program: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` directly (no shell) in a new session; raise RuntimeStartError.

    ``env`` gets ``MINIKUBELET_CONTAINER=<tag>``. ``pass_fds`` stay open in the child (the
    termination-message file). ``stdin`` is the child's stdin (None: /dev/null); a cgroup
    driver's ``SpawnPlan`` may ask for one (the v2 gate's pipe), with ``argv`` prefixed,
    and ``program`` then names the container's own program in error messages.
    """
    if not argv:
        raise RuntimeStartError("no command to run")
    program = program or argv[0]
    if identity is not None:
        check_working_dir(cwd, identity)
    try:
        return subprocess.Popen(
            list(argv),
            cwd=cwd,
            env={**env, TAG_VARIABLE: tag},
            stdin=subprocess.DEVNULL if stdin is None else stdin,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            close_fds=True,
            pass_fds=tuple(pass_fds),
            user=identity.uid if identity is not None else None,
            group=identity.gid if identity is not None else None,
            extra_groups=list(identity.groups) if identity is not None else None,
        )
    except FileNotFoundError as error:
        if (error.filename or argv[0]) == cwd:
            message = f'chdir to working directory "{cwd}": no such directory'
        else:
            message = f'exec: "{program}": executable file not found in $PATH'
        raise RuntimeStartError(message) from None
    except PermissionError:
        raise RuntimeStartError(f'exec: "{program}": permission denied') from None
    except (OSError, ValueError, subprocess.SubprocessError) as error:
        raise RuntimeStartError(f'exec: "{program}": {error}') from None
