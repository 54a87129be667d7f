"""Build Pod objects for tests without YAML."""

from __future__ import annotations

from pathlib import Path

from minikubelet.kubelet import Kubelet
from minikubelet.model.spec import (
    Container,
    ExecAction,
    Lifecycle,
    ObjectMeta,
    Pod,
    PodSpec,
    RestartPolicy,
    Source,
)
from minikubelet.pod_worker import PodWorker
from tests.conftest import CHILD, PYTHON

__all__ = ["child", "pod", "py", "start"]


async def start(kubelet: Kubelet, pod: Pod, *, is_static: bool = False) -> PodWorker:
    """Add ``pod`` and return its worker, the handle engine tests wait on."""
    snapshot = await kubelet.add_pod(pod, is_static=is_static)
    worker = kubelet.worker(*snapshot.key)
    assert worker is not None
    return worker


def child(
    name: str, *flags: str, lifecycle: Lifecycle | None = None, **fields: object
) -> Container:
    """A container running the test child program with ``flags``."""
    return Container(
        name=name,
        command=(PYTHON, CHILD, *flags),
        lifecycle=lifecycle or Lifecycle(),
        **fields,  # type: ignore[arg-type]
    )


def py(code: str) -> ExecAction:
    """An exec handler running a Python one-liner."""
    return ExecAction((PYTHON, "-c", code))


def pod(
    name: str,
    *containers: Container,
    init: tuple[Container, ...] = (),
    policy: RestartPolicy = RestartPolicy.ALWAYS,
    grace: int = 30,
    directory: Path | None = None,
) -> Pod:
    return Pod(
        metadata=ObjectMeta(name=name),
        spec=PodSpec(
            containers=containers,
            init_containers=init,
            restart_policy=policy,
            termination_grace_period_seconds=grace,
        ),
        source=Source(path=(directory / "pod.yaml") if directory else None),
    )
