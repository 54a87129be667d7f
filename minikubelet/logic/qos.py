"""What the kubelet derives from ``resources``: the QoS class and each container's cgroup values.

Both are pure functions of the spec, computed the way Kubernetes does:

* ``pod_qos_class`` is ``ComputePodQOS`` (``pkg/apis/core/v1/helper/qos/qos.go``): requests
  and limits of ``cpu`` and ``memory`` only, summed over containers *and* init containers,
  zero quantities ignored. Requests already default to limits (the parser applies
  ``SetDefaults_Pod``), as they do in the API server. Pod-level ``spec.resources`` (the
  ``PodLevelResources`` feature) is not in our model, so its branch does not exist here.
* ``container_resources`` is what the kubelet asks the runtime for
  (``pkg/kubelet/kuberuntime/kuberuntime_container_linux.go`` ``calculateLinuxResources``,
  with ``pkg/kubelet/cm/helpers_linux.go`` ``MilliCPUToShares`` and ``MilliCPUToQuota``): CPU
  shares from the CPU request (the limit when only a limit is set, 2 when neither is), a CFS
  quota over a 100 ms period from the CPU limit, and the memory limit in bytes. Swap is off
  for the container (the kubelet's ``NoSwap``: ``memory.swap.max=0`` on cgroup v2, memsw
  equal to the limit on v1).
* ``cpu_weight`` is the conversion runc applies on cgroup v2 (``opencontainers/cgroups``
  ``ConvertCPUSharesToCgroupV2Value``; the quadratic form since runc 1.3.2, which maps the v1
  default of 1024 shares to the v2 default weight of 100; kubernetes/kubernetes#131216,
  opencontainers/runc#4785). The older linear form (1024 shares -> weight 39) is kept as
  ``cpu_weight_linear`` because runtimes before that change, and the kubelet's own pod-level
  ``getCPUWeight`` in ``pkg/kubelet/cm/cgroup_manager_linux.go``, still use it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from minikubelet.model.spec import Container, PodSpec, Quantity

__all__ = [
    "CPU_PERIOD_US",
    "MAX_SHARES",
    "MIN_QUOTA_US",
    "MIN_SHARES",
    "CgroupResources",
    "QOSClass",
    "container_resources",
    "cpu_weight",
    "cpu_weight_linear",
    "milli_cpu_to_quota",
    "milli_cpu_to_shares",
    "pod_qos_class",
]

# pkg/kubelet/cm/helpers_linux.go
MIN_SHARES = 2
MAX_SHARES = 262144
SHARES_PER_CPU = 1024
MILLI_CPU_TO_CPU = 1000
CPU_PERIOD_US = 100_000  # QuotaPeriod: 100 ms
MIN_QUOTA_US = 1000  # MinQuotaPeriod: the kernel refuses a quota under 1 ms

_QOS_RESOURCES = ("cpu", "memory")  # supportedQoSComputeResources


class QOSClass(StrEnum):
    GUARANTEED = "Guaranteed"
    BURSTABLE = "Burstable"
    BEST_EFFORT = "BestEffort"


def pod_qos_class(spec: PodSpec) -> QOSClass:
    """The pod's ``status.qosClass``, as ``ComputePodQOS`` computes it."""
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for container in spec.containers + spec.init_containers:
        _add_positive(requests, container.resources.requests)
        found = _add_positive(limits, container.resources.limits)
        # Every container needs both a cpu and a memory limit to be Guaranteed.
        if not found.issuperset(_QOS_RESOURCES):
            guaranteed = False
    if not requests and not limits:
        return QOSClass.BEST_EFFORT
    # Guaranteed: every request equals its limit, and nothing is limited but not requested.
    if (
        guaranteed
        and all(limits.get(name) == value for name, value in requests.items())
        and len(requests) == len(limits)
    ):
        return QOSClass.GUARANTEED
    return QOSClass.BURSTABLE


def _add_positive(totals: dict[str, Fraction], quantities: Mapping[str, Quantity]) -> set[str]:
    """Add the positive cpu/memory quantities into ``totals``; the names that were added."""
    found = set()
    for name, quantity in quantities.items():
        if name in _QOS_RESOURCES and quantity.value > 0:
            totals[name] = totals.get(name, Fraction(0)) + quantity.value
            found.add(name)
    return found


@dataclass(frozen=True)
class CgroupResources:
    """The cgroup values for one container; ``None`` means "no limit"."""

    cpu_shares: int = MIN_SHARES
    cpu_quota_us: int | None = None
    cpu_period_us: int = CPU_PERIOD_US
    memory_limit_bytes: int | None = None

    @property
    def cpu_weight(self) -> int:
        return cpu_weight(self.cpu_shares)

    @property
    def cpu_max(self) -> str:
        """The cgroup v2 ``cpu.max`` line."""
        quota = "max" if self.cpu_quota_us is None else str(self.cpu_quota_us)
        return f"{quota} {self.cpu_period_us}"


def container_resources(container: Container) -> CgroupResources:
    """The runtime's cgroup settings for ``container`` (``calculateLinuxResources``)."""
    requests, limits = container.resources.requests, container.resources.limits
    cpu_request = _milli(requests.get("cpu"))
    cpu_limit = _milli(limits.get("cpu"))
    # "If request is not specified, but limit is, we want request to default to limit."
    shares = milli_cpu_to_shares(cpu_limit if cpu_request == 0 and cpu_limit else cpu_request)
    quota = milli_cpu_to_quota(cpu_limit, CPU_PERIOD_US)
    memory = limits.get("memory")
    memory_bytes = int(memory) if memory is not None else 0
    return CgroupResources(
        cpu_shares=shares,
        cpu_quota_us=quota or None,  # 0: unset, which the runtime leaves unlimited
        memory_limit_bytes=memory_bytes or None,
    )


def _milli(quantity: Quantity | None) -> int:
    return quantity.milli if quantity is not None else 0


def milli_cpu_to_shares(milli_cpu: int) -> int:
    """``MilliCPUToShares``: 2 for no request, else milli x 1024 / 1000 within [2, 262144]."""
    if milli_cpu == 0:
        return MIN_SHARES
    shares = milli_cpu * SHARES_PER_CPU // MILLI_CPU_TO_CPU
    return max(MIN_SHARES, min(MAX_SHARES, shares))


def milli_cpu_to_quota(milli_cpu: int, period_us: int) -> int:
    """``MilliCPUToQuota``: the CFS quota in microseconds, at least 1 ms; 0 for no limit."""
    if milli_cpu == 0:
        return 0
    return max(MIN_QUOTA_US, milli_cpu * period_us // MILLI_CPU_TO_CPU)


def cpu_weight(shares: int) -> int:
    """cgroup v2 ``cpu.weight`` for v1 ``shares``, as runc >= 1.3.2 converts it.

    A quadratic in log2(shares) through (2, 1), (1024, 100) and (262144, 10000).
    """
    if shares <= MIN_SHARES:
        return 1
    if shares >= MAX_SHARES:
        return 10000
    log = math.log2(shares)
    exponent = (log * log + 125 * log) / 612.0 - 7.0 / 34.0
    return math.ceil(10**exponent)


def cpu_weight_linear(shares: int) -> int:
    """The older linear conversion: ``1 + (shares - 2) x 9999 / 262142``."""
    shares = max(MIN_SHARES, min(MAX_SHARES, shares))
    return 1 + (shares - 2) * 9999 // 262142
