"""An exec with its streams attached (``kubectl exec``), on real processes.

``LocalRuntime.exec_stream`` starts the command as the runtime starts an exec probe: the
container's working dir, environment and user, and the container's tag with an ``/exec/N``
suffix, so the command and whatever it starts belong to the container and die with it.
Unlike a probe, its stdin, stdout and stderr are attached:

* without a tty, three pipes; closing stdin gives the command EOF;
* with a tty (``-t``), a pseudo-terminal: the command gets the slave side as stdin,
  stdout and stderr, and as its controlling terminal (so ``^C`` typed into it is SIGINT to
  the command's foreground process group, and a resize is SIGWINCH), the runtime keeps the
  master, read and written through ``anyio.wait_readable``/``wait_writable``. Python's
  ``subprocess`` can start a new session but cannot make a terminal the controlling one
  (that takes ``ioctl(TIOCSCTTY)`` between ``setsid`` and ``exec``, which only a
  ``preexec_fn`` could do, and that is unsafe from the worker threads spawns run in), so
  the command is started through a three-line Python shim that does just that and
  ``exec``\\ s it.

The output ends when the main process has exited and its streams have reached EOF, or
``DRAIN_AFTER_EXIT`` seconds after the exit when something it left behind still holds
them (a daemon it started in the background keeps running, as in a container, and is
still part of it).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import struct
import sys
import termios

import anyio
import anyio.to_thread

from minikubelet.errors import RuntimeStartError
from minikubelet.runtime.base import ExitStatus, Launch, OutputSink
from minikubelet.runtime.process import ChildProcess, ProcessTable, kill_tagged, spawn

__all__ = ["DRAIN_AFTER_EXIT", "LocalExec", "start_attached"]

DRAIN_AFTER_EXIT = 1.0  # seconds the output may still come once the command exited
_READ = 65536

# The controlling terminal: fd 0 is the pty's slave side, in a new session (setsid).
_CTTY_SHIM = (
    "import fcntl,os,sys,termios\n"
    "fcntl.ioctl(0,termios.TIOCSCTTY,0)\n"
    "os.execvp(sys.argv[1],sys.argv[1:])\n"
)


def _nonblocking(fd: int) -> int:
    os.set_blocking(fd, False)
    return fd


class LocalExec:
    """One attached exec: the child and the runtime's ends of its streams."""

    def __init__(
        self,
        child: ChildProcess,
        table: ProcessTable,
        *,
        stdin: int | None,
        outputs: dict[str, int],
        tty: int | None,
    ) -> None:
        self._child = child
        self._table = table
        self._stdin = stdin  # our end of its stdin (the pty master with a tty)
        self._outputs = outputs  # stream -> our end (the master is "stdout" with a tty)
        self._tty = tty
        self._stdin_closed = False
        self._writing = anyio.Lock()
        self._waiting = anyio.Lock()  # one waiter on the pidfd at a time (anyio's rule)

    @property
    def pid(self) -> int:
        return self._child.pid

    async def write_stdin(self, data: bytes) -> None:
        async with self._writing:
            view = memoryview(data)
            while view and not self._stdin_closed and self._stdin is not None:
                try:
                    written = os.write(self._stdin, view)
                except BlockingIOError:
                    await anyio.wait_writable(self._stdin)
                    continue
                except OSError as error:
                    if error.errno in (errno.EPIPE, errno.EIO, errno.EBADF):
                        self._stdin_closed = True  # the command no longer reads it
                        return
                    raise
                view = view[written:]

    def close_stdin(self) -> None:
        if self._stdin_closed or self._stdin is None:
            return
        if self._tty is not None:
            # A terminal has no EOF of its own: the line discipline's EOF character
            # (^D at the start of a line) is what a shell reading it takes as the end.
            with contextlib.suppress(OSError):
                os.write(self._tty, b"\x04")
            self._stdin_closed = True
            return
        self._stdin_closed = True
        os.close(self._stdin)
        self._stdin = None

    def resize(self, columns: int, rows: int) -> None:
        if self._tty is None or columns <= 0 or rows <= 0:
            return
        size = struct.pack("HHHH", min(rows, 65535), min(columns, 65535), 0, 0)
        with contextlib.suppress(OSError):
            fcntl.ioctl(self._tty, termios.TIOCSWINSZ, size)

    async def pump_output(self, sink: OutputSink) -> None:
        exited = anyio.Event()

        async def watch_exit() -> None:
            await self.wait()
            exited.set()

        async def drain(stream: str, fd: int) -> None:
            while True:
                await anyio.wait_readable(fd)
                try:
                    data = os.read(fd, _READ)
                except BlockingIOError:
                    continue
                except OSError as error:
                    if error.errno == errno.EIO:  # a pty whose every slave is closed
                        return
                    raise
                if not data:
                    return
                await sink(stream, data)

        async with anyio.create_task_group() as group:
            group.start_soon(watch_exit)
            async with anyio.create_task_group() as readers:
                for stream, fd in self._outputs.items():
                    readers.start_soon(drain, stream, fd)

                async def stop_after_exit() -> None:
                    await exited.wait()
                    await anyio.sleep(DRAIN_AFTER_EXIT)
                    readers.cancel_scope.cancel()

                group.start_soon(stop_after_exit)
            group.cancel_scope.cancel()

    async def wait(self) -> ExitStatus:
        async with self._waiting:
            return await self._child.wait()

    async def kill(self) -> None:
        with anyio.CancelScope(shield=True):
            roots = [self._child.pid] if self._child.status is None else []
            await kill_tagged(self._child.tag, roots, self._table)
            await self.wait()

    def close(self) -> None:
        """Close the runtime's ends of the streams (after the exec is over)."""
        fds = {*self._outputs.values()}
        if self._stdin is not None:
            fds.add(self._stdin)
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._outputs = {}
        self._stdin = None
        self._stdin_closed = True


def _resolve(argv: tuple[str, ...], launch: Launch) -> tuple[str, ...]:
    """The argv with its program found on the container's PATH (the shim must not fail)."""
    if not argv:
        raise RuntimeStartError("no command to run")
    program = argv[0]
    if "/" in program:
        found = program if os.access(program, os.X_OK) else None
    else:
        found = shutil.which(program, path=launch.env.get("PATH", os.defpath))
    if found is None:
        raise RuntimeStartError(f'exec: "{program}": executable file not found in $PATH')
    return (found, *argv[1:])


def start_attached(
    launch: Launch,
    tag: str,
    table: ProcessTable,
    *,
    tty: bool,
    argv: tuple[str, ...] | None = None,
) -> LocalExec:
    """Spawn the exec (blocking: from the thread the runtime's ``spawn_in_container``
    chose); raises RuntimeStartError. ``argv``: the command as that spawn plan says."""
    command = launch.argv if argv is None else argv
    if tty:
        argv = _resolve(command, launch)
        master, slave = os.openpty()
        try:
            child = spawn(
                (sys.executable, "-I", "-S", "-c", _CTTY_SHIM, *argv),
                cwd=launch.cwd,
                env=launch.env,
                table=table,
                tag=tag,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                identity=launch.identity,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        _nonblocking(master)
        return LocalExec(child, table, stdin=master, outputs={"stdout": master}, tty=master)
    in_read, in_write = os.pipe2(os.O_CLOEXEC)
    out_read, out_write = os.pipe2(os.O_CLOEXEC)
    err_read, err_write = os.pipe2(os.O_CLOEXEC)
    ours = (in_write, out_read, err_read)
    try:
        child = spawn(
            command,
            cwd=launch.cwd,
            env=launch.env,
            table=table,
            tag=tag,
            stdin=in_read,
            stdout=out_write,
            stderr=err_write,
            identity=launch.identity,
        )
    except BaseException:
        for fd in ours:
            os.close(fd)
        raise
    finally:
        for fd in (in_read, out_write, err_write):
            os.close(fd)
    outputs = {"stdout": _nonblocking(out_read), "stderr": _nonblocking(err_read)}
    return LocalExec(child, table, stdin=_nonblocking(in_write), outputs=outputs, tty=None)
