"""sd_notify: tell the service manager (systemd) how the daemon is doing.

The protocol is one ``AF_UNIX``/``SOCK_DGRAM`` datagram of newline-separated ``KEY=VALUE``
lines sent to the socket named by ``$NOTIFY_SOCKET`` (see ``sd_notify(3)``): ``READY=1``
once the API listens and the static pods are loaded, ``STATUS=...`` for ``systemctl
status``, ``WATCHDOG=1`` every ``WATCHDOG_USEC / 2`` and ``STOPPING=1`` when shutting down.
A name starting with ``@`` is a Linux abstract socket (a leading NUL byte on the wire).

Why no library: the protocol is a dozen lines of the standard library, and the wrappers
(``systemd-python``, ``sdnotify``) need a C build or add nothing. Why best-effort: exactly
as ``sd_notify(3)``, a failed send is logged and ignored; a daemon must not die because the
service manager went away. Without ``$NOTIFY_SOCKET`` (not started by systemd, or
``Type=simple``) every call does nothing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, MutableMapping

import structlog

__all__ = ["NOTIFY_VARIABLES", "Notifier", "without_notify_variables"]

_log = structlog.get_logger("minikubelet.notify")

# The variables systemd passes to the main process for the protocol. They are removed from
# the environment containers inherit: a container must not speak for the daemon.
NOTIFY_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


class Notifier:
    """Sends sd_notify messages to one socket address (or nowhere, when it is None)."""

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = address
        self._watchdog_usec = watchdog_usec

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """The notifier systemd asked for through ``$NOTIFY_SOCKET`` and ``$WATCHDOG_USEC``.

        ``WATCHDOG_USEC`` counts only when ``WATCHDOG_PID`` is unset or names this process,
        as ``sd_watchdog_enabled(3)`` says.
        """
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        watchdog: int | None = None
        pid = env.get("WATCHDOG_PID")
        if pid is None or pid == str(os.getpid()):
            try:
                watchdog = int(env.get("WATCHDOG_USEC", ""))
            except ValueError:
                watchdog = None
            if watchdog is not None and watchdog <= 0:
                watchdog = None
        return cls(address, watchdog)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between ``WATCHDOG=1`` pings (half the timeout), None when not asked for."""
        if self.address is None or self._watchdog_usec is None:
            return None
        return self._watchdog_usec / 2 / 1_000_000

    def notify(self, *lines: str) -> bool:
        """Send ``lines`` as one datagram; True if it was sent."""
        if self.address is None or not lines:
            return False
        target = self.address
        if target.startswith("@"):
            target = "\0" + target[1:]
        message = "\n".join(lines).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                # A datagram socket never blocks for long; a full receive queue fails fast.
                sock.setblocking(False)
                sock.sendto(message, target)
        except OSError as error:
            _log.warning("notify.failed", socket=self.address, error=str(error))
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={_one_line(text)}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        return self.notify("STOPPING=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def reloading(self, monotonic_usec: int) -> bool:
        """``RELOADING=1`` with the ``MONOTONIC_USEC`` systemd 253+ wants for Type=notify-reload."""
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec}")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def without_notify_variables(environ: MutableMapping[str, str]) -> None:
    """Remove the sd_notify variables from ``environ`` (the containers' base environment)."""
    for name in NOTIFY_VARIABLES:
        environ.pop(name, None)
