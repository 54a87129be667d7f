"""Containment: a cgroup per container, chosen at start-up (``detect``), or none and why.

In Kubernetes a container *is* a cgroup: the runtime finds every process of the container
through it, enforces ``resources.limits`` with it, kills the whole container at once, and
reports ``OOMKilled`` when the kernel's OOM killer fired in it. This package gives plain
processes the same, wherever the machine allows it.

Why it is built this way:

* **The levels: ``<own cgroup>/<subtree>/pod<uid>/<container>``.** Like the kubelet's
  ``kubepods/pod<uid>/<container>`` (``pkg/kubelet/cm/pod_container_manager_linux.go``
  names pod cgroups ``pod<uid>``), one pod cgroup per pod so that "the pod's processes" and
  "the pod is gone" are one directory, and one child per container. ``<own cgroup>`` is the
  cgroup minikubelet itself runs in (per hierarchy on v1), never the root or a sibling: that
  is what systemd delegates to a unit with ``Delegate=yes``, and on these machines the memory
  hierarchy places us in a nested cgroup. ``<subtree>`` (``minikubelet`` by default) keeps
  our cgroups in one place, and lets several daemons (or tests) that share a cgroup keep
  apart. The kubelet's QoS level (``burstable/``, ``besteffort/``) is left out: it exists to
  weight and reserve node resources per class (``qos_container_manager_linux.go``), which
  minikubelet does not do; the class itself is computed (``logic/qos.py``). The container's
  cgroup is kept across its restarts, so take counters before an instance and compare after.
* **Placed before exec, without slowing the spawn** (details in ``v1.py``, ``v2.py``). The
  first cgroup migration after a quiet spell waits for an RCU grace period in the kernel
  (~6 ms measured here, p99 up to 30 ms), so any design that moves a process at every start
  misses a 1 ms budget. On v1 a thread parked in the container's cgroups forks the process
  there (``runtime/parking.py``): no migration at start, ``vfork`` kept. On v2, where
  threads cannot be split across cgroups, the child waits behind a gate until it is moved,
  then execs.
* **Kill all.** v2: ``cgroup.kill``, else freeze and SIGKILL. v1: ``pids.max=0`` as a fence,
  then SIGKILL every pid in ``cgroup.procs``. Either way no process can escape by forking,
  setsid or double-forking, because membership is inherited and only root can leave.
* **OOM.** The kernel counts its OOM kills per cgroup (``memory.events`` ``oom_kill`` on v2,
  ``memory.oom_control`` ``oom_kill`` on v1). The kubelet reports a container ``OOMKilled``
  (exit 137) when its cgroup had an OOM kill, also when the kernel killed a child rather
  than the main process: compare ``oom_kills()`` before the instance and after it exits.
* **Blocking I/O.** Every call reads or writes cgroupfs. ``detect`` runs once at start-up;
  ``create``, ``spawn``, ``kill_all``, ``remove`` and ``remove_pod`` may wait for the kernel
  and must run in a worker thread; ``pids``, ``is_empty``, ``oom_kills`` and ``usage`` are a
  few small reads (tens of microseconds) and may run in the event loop when that is cheaper
  than a thread hop.
* **No cgroups** (not root, read-only, some containers): ``NoCgroups`` says why in one
  sentence; the runtime then tracks process trees and enforces memory by sampling
  (``logic/memory_limit.py``).

The local runtime's bookkeeping around the driver (when cgroups are made and removed, the
kill-and-wait, the sampled limit) is ``runtime/containment.py``; everything that spawns a
container's process goes through ``LocalRuntime.spawn_in_container``, which calls
``spawn_async`` here. Placement needs nothing but a ``start`` callable, so a spawning
helper process could call the driver the same way.
"""

from __future__ import annotations

from minikubelet.runtime.cgroups.base import (
    CgroupDriver,
    CgroupUsage,
    ContainerCgroup,
    HasPid,
    NoCgroups,
    SpawnPlan,
)
from minikubelet.runtime.cgroups.detect import Containment, detect
from minikubelet.runtime.cgroups.v1 import V1Container, V1Driver
from minikubelet.runtime.cgroups.v2 import V2Container, V2Driver

__all__ = [
    "CgroupDriver",
    "CgroupUsage",
    "ContainerCgroup",
    "Containment",
    "HasPid",
    "NoCgroups",
    "SpawnPlan",
    "V1Container",
    "V1Driver",
    "V2Container",
    "V2Driver",
    "detect",
]
