"""Who is restarted when: ``kubecontainer.ShouldContainerBeRestarted`` and friends.

Sources: ``pkg/kubelet/container/helpers.go ShouldContainerBeRestarted``,
``kuberuntime_container.go computeInitContainerActions``.
"""

from __future__ import annotations

from typing import assert_never

from minikubelet.model.spec import Container, RestartPolicy

__all__ = ["should_restart"]


def should_restart(
    container: Container, pod_policy: RestartPolicy, exit_code: int, *, is_init: bool
) -> bool:
    """Whether an exited instance of ``container`` must be replaced by a new one."""
    if container.is_sidecar:
        return True  # sidecars restart after any exit, whatever the pod's policy
    if is_init and pod_policy is RestartPolicy.ALWAYS:
        pod_policy = RestartPolicy.ON_FAILURE  # a succeeded init container never re-runs
    match pod_policy:
        case RestartPolicy.ALWAYS:
            return True
        case RestartPolicy.ON_FAILURE:
            return exit_code != 0
        case RestartPolicy.NEVER:
            return False
        case _:
            assert_never(pod_policy)
