"""How long a termination message may be, as the kubelet cuts it.

Sources: ``pkg/kubelet/container/runtime.go`` (the constants),
``pkg/kubelet/kuberuntime/kuberuntime_container.go`` (``getTerminationMessage`` reads the
last ``MaxContainerTerminationMessageLength`` bytes of the file;
``readLastStringFromContainerLogs`` keeps the last 2048 bytes of the last 80 log lines),
and ``pkg/kubelet/status/status_manager.go normalizeStatus``, called by
``updateStatusInternal`` on every status the kubelet stores: the pod's 12 KiB are shared
evenly by its containers and init containers, and each ``terminated.message`` (current
state and last state) keeps its *first* ``12288 // containers`` bytes.

The kubelet cuts Go strings, that is bytes, possibly in the middle of a character; the
API server then writes each invalid byte as U+FFFD. ``decode_like_go`` does the same, so
the message a client sees is the one the kubelet's would show.
"""

from __future__ import annotations

from dataclasses import replace

from minikubelet.model.spec import PodSpec
from minikubelet.model.status import ContainerStatus, PodStatus, Terminated

__all__ = [
    "MAX_CONTAINER_TERMINATION_MESSAGE_LENGTH",
    "MAX_CONTAINER_TERMINATION_MESSAGE_LOG_LENGTH",
    "MAX_CONTAINER_TERMINATION_MESSAGE_LOG_LINES",
    "MAX_POD_TERMINATION_MESSAGE_LOG_LENGTH",
    "bytes_per_status",
    "decode_like_go",
    "limit_pod_messages",
    "truncate_message",
]

MAX_POD_TERMINATION_MESSAGE_LOG_LENGTH = 1024 * 12
MAX_CONTAINER_TERMINATION_MESSAGE_LENGTH = 1024 * 4
MAX_CONTAINER_TERMINATION_MESSAGE_LOG_LENGTH = 1024 * 2
MAX_CONTAINER_TERMINATION_MESSAGE_LOG_LINES = 80


def decode_like_go(data: bytes) -> str:
    """UTF-8 text with one U+FFFD per invalid byte, as Go's JSON encoder writes it.

    Python's ``errors="replace"`` writes one U+FFFD for a whole truncated sequence; Go's
    ``utf8.DecodeRune`` rejects such a sequence one byte at a time.
    """
    parts: list[str] = []
    while data:
        try:
            parts.append(data.decode())
            break
        except UnicodeDecodeError as error:
            parts.append(data[: error.start].decode())
            parts.append("\ufffd")
            data = data[error.start + 1 :]
    return "".join(parts)


def bytes_per_status(spec: PodSpec) -> int:
    """Each container's share of the pod's 12 KiB (``normalizeStatus``'s ``bytesPerStatus``)."""
    containers = len(spec.containers) + len(spec.init_containers)
    if containers > 0:
        return MAX_POD_TERMINATION_MESSAGE_LOG_LENGTH // containers
    return MAX_POD_TERMINATION_MESSAGE_LOG_LENGTH


def truncate_message(message: str, limit: int) -> str:
    """The first ``limit`` bytes of ``message`` (``c.Terminated.Message[:bytesPerStatus]``)."""
    data = message.encode()
    if len(data) <= limit:
        return message
    return decode_like_go(data[: max(limit, 0)])


def _limit_state(terminated: Terminated, limit: int) -> Terminated:
    cut = truncate_message(terminated.message, limit)
    return terminated if cut == terminated.message else replace(terminated, message=cut)


def _limit_container(status: ContainerStatus, limit: int) -> ContainerStatus:
    state, last = status.state, status.last_state
    if isinstance(state, Terminated):
        state = _limit_state(state, limit)
    if last is not None:
        last = _limit_state(last, limit)
    if state is status.state and last is status.last_state:
        return status
    return replace(status, state=state, last_state=last)


def limit_pod_messages(status: PodStatus, spec: PodSpec) -> PodStatus:
    """``status`` with every terminated message cut to the container's share of 12 KiB."""
    limit = bytes_per_status(spec)
    init = tuple(_limit_container(s, limit) for s in status.init_container_statuses)
    main = tuple(_limit_container(s, limit) for s in status.container_statuses)
    if init == status.init_container_statuses and main == status.container_statuses:
        return status
    return replace(status, init_container_statuses=init, container_statuses=main)
