"""Every exception minikubelet raises on purpose.

    MinikubeletError                 base: catch this to handle anything of ours
    ├── ManifestError                a manifest file cannot be used; lists every FieldError
    ├── DuplicatePodError            two manifests define the same namespace/name
    ├── DuplicateObjectError         a ConfigMap or Secret of that namespace/name exists
    ├── ConfigError                  a flag or config file value is invalid
    ├── RequestError                 an API request cannot be honoured as asked (bad patch,
    │                                selector, Table option); carries the HTTP code, the
    │                                apiserver's reason and details, answered as a Status
    ├── SocketInUseError             the API socket belongs to another live minikubelet
    │                                (also an OSError: "could not listen")
    ├── CgroupError                  a cgroup file could not be written, or a cgroup could
    │                                not be created or removed; names the file
    ├── RootDirInUseError            another daemon holds the root dir's lock
    ├── KeeperError                  the keeper (the process that holds serve's
    │                                containers) cannot be started or reached; the
    │                                daemon does not start
    ├── ContainerConfigError         a container's configuration cannot be made (runAsNonRoot
    │                                with a root user, a user minikubelet cannot switch to);
    │                                the container waits: CreateContainerConfigError
    └── RuntimeStartError            a container process could not be started (bad argv,
                                     missing executable, working dir, user); the pod worker
                                     reports it as exited 128, StartError

Messages quote the offending value and name where it came from, so the user can fix it
without reading our code. Nothing here coerces a bad value into a good one.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minikubelet.api.reasons import STATUS_REASONS

__all__ = [
    "CgroupError",
    "ConfigError",
    "ContainerConfigError",
    "DuplicateObjectError",
    "DuplicatePodError",
    "FieldError",
    "KeeperError",
    "ManifestError",
    "ManifestWarning",
    "MinikubeletError",
    "RequestError",
    "RootDirInUseError",
    "RuntimeStartError",
    "SocketInUseError",
]


class MinikubeletError(Exception):
    """Base of every error minikubelet raises deliberately."""


@dataclass(frozen=True)
class FieldError:
    """One problem at one field path, worded as Kubernetes' ``field.Error``.

    ``kind`` is Kubernetes' error type text: "Invalid value", "Required value",
    "Unsupported value", "Duplicate value", "Forbidden", "Unknown field", "Too long".
    """

    path: str
    kind: str
    detail: str = ""
    value: object = None
    show_value: bool = False

    def __str__(self) -> str:
        text = f"{self.path}: {self.kind}" if self.path else self.kind
        if self.show_value:
            text += f": {_quote(self.value)}"
        if self.detail:
            text += f": {self.detail}"
        return text


def _quote(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list | tuple | dict | set | frozenset):
        # A list where a mapping was expected (or the reverse): show it as JSON, shortened.
        try:
            text = json.dumps(value, ensure_ascii=False, default=_jsonable)
        except (TypeError, ValueError, RecursionError):
            text = type(value).__name__
        return text if len(text) <= 80 else text[:76] + " ..."
    return str(value)


def _jsonable(value: object) -> object:
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def _where(
    path: Path | None, pod: str | None, location: str | None = None, kind: str = "pod"
) -> str:
    parts = []
    if path is not None:
        parts.append(str(path))
    if pod:
        parts.append(f'{kind} "{pod}"')
    elif location:
        parts.append(location)
    return ": ".join(parts)


class ManifestError(MinikubeletError):
    """Raised when a manifest cannot be run; the pod (or the whole file) is skipped.

    Fix the manifest: each line of the message names the file, the pod and the field.
    ``location`` (e.g. ``document 2`` or ``items[1]``) says where in the file, when the pod
    has no usable name. One file with several bad pods raises one error built by
    ``combine``, whose ``parts`` are the per-pod errors. ``kind`` is what ``pod`` names:
    ``pod``, or ``configmap`` / ``secret`` for the objects a file may hold beside pods.
    """

    def __init__(
        self,
        path: Path | None,
        pod: str | None,
        errors: list[FieldError],
        *,
        location: str | None = None,
        kind: str = "pod",
    ) -> None:
        self.path = path
        self.pod = pod
        self.kind = kind
        self.location = location
        self.errors = errors
        self.parts: tuple[ManifestError, ...] = (self,)
        where = _where(path, pod, location, kind)
        lines = [f"{where}: {error}" if where else str(error) for error in errors]
        super().__init__("\n".join(lines))

    @classmethod
    def combine(cls, parts: Sequence[ManifestError]) -> ManifestError:
        """One error for a whole file, listing every part's lines in order."""
        if len(parts) == 1:
            return parts[0]
        named = {(part.kind, part.pod) for part in parts}
        kind, pod = named.pop() if len(named) == 1 else ("pod", None)
        combined = cls(
            parts[0].path,
            pod,
            [error for part in parts for error in part.errors],
            kind=kind,
        )
        combined.parts = tuple(parts)
        combined.args = ("\n".join(str(part) for part in parts),)
        return combined


@dataclass(frozen=True)
class ManifestWarning:
    """A field Kubernetes accepts but minikubelet cannot honour; the pod still runs."""

    path: Path | None
    pod: str | None
    field_path: str
    message: str
    kind: str = "pod"  # what ``pod`` names: pod, configmap, secret

    def __str__(self) -> str:
        where = _where(self.path, self.pod, kind=self.kind)
        text = f"{self.field_path}: {self.message}"
        return f"{where}: {text}" if where else text


class DuplicatePodError(MinikubeletError):
    """Raised before anything starts when two manifests define the same pod."""


class DuplicateObjectError(MinikubeletError):
    """Raised when a ConfigMap or Secret is added under a namespace/name already taken.

    ``file`` is the manifest that defines the existing object (None: it was created through
    the API). Delete that one first, or choose another name.
    """

    def __init__(self, message: str, file: Path | None = None) -> None:
        super().__init__(message)
        self.file = file


class ConfigError(MinikubeletError):
    """Raised for an invalid flag or configuration value; names the flag or field."""


class CgroupError(MinikubeletError):
    """Raised by the cgroup driver when the kernel refuses a cgroup operation.

    The message names the cgroup file or directory and the kernel's reason (e.g. "Device or
    resource busy" for a cgroup that still has processes). A container whose cgroup cannot
    be set up is not started; one whose cgroup cannot be removed is retried later.
    ``process`` is the process that was started but could not be placed in its cgroup (it
    has been sent SIGKILL): the caller still owns it and must reap it.
    """

    def __init__(self, message: str, *, process: object | None = None) -> None:
        super().__init__(message)
        self.process = process


class RequestError(MinikubeletError):
    """Raised by the API (the pure modules of ``minikubelet.api`` and the server's handlers)
    for a request it must refuse; the server answers it as a ``Status``.

    ``code`` is the HTTP status, ``reason`` the apiserver's ``StatusReason`` (by default the
    one of the code: ``BadRequest``, ``NotFound``, ``Invalid``...), ``message`` its wording
    and ``details`` the ``Status`` details (``causes`` and friends), so the server answers
    exactly as the apiserver would. The client fixes its request; nothing on the server is
    wrong.
    """

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or STATUS_REASONS.get(code, "Unknown")
        self.details = details


class ContainerConfigError(MinikubeletError):
    """Raised while building a container's launch, before any process exists, when its
    configuration cannot be honoured (``generateContainerConfig`` failing in the kubelet).

    The container stays Waiting with reason ``CreateContainerConfigError`` and this message,
    and the start is tried again later, as the kubelet's next sync does. Fix the manifest
    (or what it refers to).
    """


class RuntimeStartError(MinikubeletError):
    """Raised by the runtime when a container's process cannot be started.

    The message is the operating system's reason (e.g. the executable was not found);
    the pod worker reports the instance as exited 128, reason StartError (as containerd
    does), and the restart policy applies with back-off.
    """


class SocketInUseError(MinikubeletError, OSError):
    """Raised when the API socket answers: another minikubelet is serving on it.

    Stop that daemon, or give this one another ``--socket``. An ``OSError`` (EADDRINUSE)
    too, so callers that handle "could not listen" handle this as well.
    """

    def __init__(self, path: Path) -> None:
        self.message = (
            f"{path}: the socket is in use by another running minikubelet "
            "(stop it, or choose another --socket)"
        )
        super().__init__(errno.EADDRINUSE, self.message)
        self.path = path

    def __str__(self) -> str:
        return self.message


class KeeperError(MinikubeletError):
    """Raised when ``serve`` cannot start or reach its keeper (``runtime/keeper``).

    The message says what failed (the socket, the start, the greeting) and where the
    keeper's own log is; nothing is started without a keeper, since nothing would
    survive the daemon.
    """


class RootDirInUseError(MinikubeletError):
    """Raised at start-up when another daemon holds the lock on the same root dir.

    Stop that daemon, or give this one another ``--root-dir``. ``pid`` is the holder's,
    when it could be read.
    """

    def __init__(self, root_dir: Path, pid: int | None) -> None:
        self.root_dir = root_dir
        self.pid = pid
        holder = f"minikubelet pid {pid}" if pid is not None else "another minikubelet"
        super().__init__(
            f"{root_dir}: the root dir is in use by {holder} "
            "(stop it, or choose another --root-dir)"
        )
