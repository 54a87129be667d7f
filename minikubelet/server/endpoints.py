"""Where the API listens (``ApiEndpoints``) and where it did (``Listening``).

Data only, apart from the web stack: the daemon reads these before it starts any pod, and
imports the server itself (``serving``) only once its pods are on their way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from minikubelet.server.tls import TlsSource

__all__ = ["ApiEndpoints", "Listening"]


@dataclass(frozen=True)
class ApiEndpoints:
    """Where the API listens: the unix socket (None: none), and TCP only with a port.

    Over TCP, requests must carry ``token`` (``Authorization: Bearer``) unless
    ``anonymous``; with ``tls`` the TCP listener serves HTTPS (the daemon always gives
    one; without, as embedded in a test, plain HTTP). Without a token and
    anonymous requests, TCP answers only ``/healthz`` and ``/version``. Whether a
    non-loopback address is safe is for the caller to decide (``minikubelet.config``).
    """

    socket: Path | None
    address: str = "127.0.0.1"
    port: int | None = None  # 0: any free port (``Listening.port`` says which)
    tls: TlsSource | None = None  # the daemon always gives one (``daemon.api_endpoints``)
    token: str | None = None
    anonymous: bool = False
    # Where resourceVersions are reserved across restarts (the daemon's root dir); None:
    # they start at the wall clock in milliseconds.
    versions: Path | None = None


@dataclass(frozen=True)
class Listening:
    """Where the API listens once started: ``await group.start(serve_api, …)`` returns it."""

    socket: Path | None
    address: str | None
    port: int | None  # the real TCP port, also when 0 was asked for
    tls: bool = False

    @property
    def url(self) -> str | None:
        if self.port is None or self.address is None:
            return None
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"
