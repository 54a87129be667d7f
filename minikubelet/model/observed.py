"""What the pod worker knows about each container between syncs.

A ``ContainerRecord`` is the kubelet's runtime view of one container (its newest two
instances), plus the two caches that shape its status: the last start failure (the
kubelet's reason cache) and the prober's latest results.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from minikubelet.model.status import Exit, Instance, StartFailure

__all__ = ["ContainerRecord"]


@dataclass(frozen=True)
class ContainerRecord:
    name: str
    instances: tuple[Instance, ...] = ()  # newest first, at most two
    start_failure: StartFailure | None = None
    startup_succeeded: bool = False  # no startup probe counts as succeeded (set by the prober)
    readiness_succeeded: bool = False  # no readiness probe counts as succeeded
    # Set when the prober decided this instance must be killed ("liveness", "startup").
    unhealthy: str | None = None

    @property
    def latest(self) -> Instance | None:
        return self.instances[0] if self.instances else None

    @property
    def previous(self) -> Instance | None:
        return self.instances[1] if len(self.instances) > 1 else None

    @property
    def latest_exit(self) -> Exit | None:
        latest = self.latest
        return latest.exit if latest is not None else None

    @property
    def is_running(self) -> bool:
        latest = self.latest
        return latest is not None and latest.exit is None

    @property
    def next_restart_count(self) -> int:
        latest = self.latest
        return 0 if latest is None else latest.restart_count + 1

    def with_new_instance(self, instance: Instance) -> ContainerRecord:
        """A new instance becomes the newest; probe results reset as the kubelet's do."""
        return replace(
            self,
            instances=(instance, *self.instances[:1]),
            start_failure=None,
            startup_succeeded=False,
            readiness_succeeded=False,
            unhealthy=None,
        )

    def with_latest(self, instance: Instance) -> ContainerRecord:
        """Replace the newest instance with an updated copy of itself."""
        return replace(self, instances=(instance, *self.instances[1:]))
