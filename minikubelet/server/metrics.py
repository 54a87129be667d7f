"""``/metrics`` and ``/metrics/probes``: Prometheus text from the kubelet's state.

A custom prometheus_client ``Collector`` reads the kubelet when scraped (nothing is
counted twice, nothing goes stale when a pod goes away). Names follow the kubelet's
(``pkg/kubelet/metrics/metrics.go``, ``pkg/kubelet/prober/prober_manager.go``) where one
exists:

* ``kubelet_running_pods`` (gauge): pods whose worker still runs (the kubelet counts
  pods with a live sandbox; ours is the worker).
* ``kubelet_running_containers{container_state}`` (gauge): container instances the
  runtime knows, by state ``created`` / ``running`` / ``exited`` — the newest and the one
  before it of each container, as the kubelet keeps one dead instance.
* ``kubelet_container_restarts_total{namespace,pod,container}`` (counter, ours — the
  kubelet exposes restarts only through pod status): each container's ``restartCount``.
* ``prober_probe_total{probe_type,result,container,pod,namespace,pod_uid}`` (counter).
* ``prober_probe_duration_seconds{probe_type,container,pod,namespace}`` (histogram of
  successful and unknown runs, with only the ``+Inf`` bucket: we keep count and sum).
* ``container_cpu_usage_seconds_total``, ``container_memory_working_set_bytes`` and
  ``container_oom_events_total`` ``{container,pod,namespace}`` of every running container,
  with the label names of the kubelet's resource metrics and cAdvisor
  (``pkg/kubelet/metrics/collectors/resource_metrics.go``; cAdvisor's
  ``metrics/prometheus.go``): the kernel's counters of the container's cgroup, or the sums
  over its process tree without one (``Kubelet.usage``, as ``/stats/summary`` and
  ``top pods`` read it). Sampled when scraped, never in between.
* ``minikubelet_containment_info{mode,reason}`` (gauge, 1): which containment is in force.
* ``process_*`` of minikubelet itself (prometheus_client's process collector);
  ``/metrics/probes`` carries only ``process_start_time_seconds`` beside the probe series,
  as the kubelet's does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import ProcessCollector
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from minikubelet.kubelet import ContainerUsage, Kubelet

__all__ = [
    "KubeletCollector",
    "ProbeCollector",
    "UsageCollector",
    "metrics_registries",
    "render",
    "render_metrics",
]

_CONTAINER_LABELS = ["container", "pod", "namespace"]


class KubeletCollector(Collector):
    def __init__(self, kubelet: Kubelet) -> None:
        self._kubelet = kubelet

    def collect(self) -> Iterable[Metric]:
        pods = self._kubelet.snapshots()
        running_pods = GaugeMetricFamily(
            "kubelet_running_pods", "Number of pods that have a running pod worker"
        )
        running_pods.add_metric([], sum(1 for pod in pods if not pod.finished))
        yield running_pods

        states = {"created": 0, "running": 0, "exited": 0}
        restarts = CounterMetricFamily(
            "kubelet_container_restarts",
            "Restarts of each container (its restartCount)",
            labels=["namespace", "pod", "container"],
        )
        for pod in pods:
            for name, record in pod.records.items():
                for instance in record.instances:
                    if instance.exit is not None:
                        states["exited"] += 1
                    elif instance.started_at is None:
                        states["created"] += 1
                    else:
                        states["running"] += 1
                latest = record.latest
                restarts.add_metric(
                    [pod.pod.namespace, pod.pod.name, name],
                    latest.restart_count if latest is not None else 0,
                )
        containers = GaugeMetricFamily(
            "kubelet_running_containers",
            "Number of containers currently running",
            labels=["container_state"],
        )
        for state, count in states.items():
            containers.add_metric([state], count)
        yield containers
        yield restarts
        containment = self._kubelet.containment
        info = GaugeMetricFamily(
            "minikubelet_containment_info",
            "Which containment is in force (a cgroup per container, or none) and why",
            labels=["mode", "reason"],
        )
        info.add_metric([containment.mode.value, containment.reason], 1)
        yield info


class UsageCollector(Collector):
    """The containers' usage of one sample (taken by ``render_metrics`` for one scrape)."""

    def __init__(self, usages: Iterable[ContainerUsage]) -> None:
        self._usages = list(usages)

    def collect(self) -> Iterable[Metric]:
        cpu = CounterMetricFamily(
            "container_cpu_usage_seconds",
            "Cumulative cpu time consumed by the container in core-seconds",
            labels=_CONTAINER_LABELS,
        )
        memory = GaugeMetricFamily(
            "container_memory_working_set_bytes",
            "Current working set of the container in bytes",
            labels=_CONTAINER_LABELS,
        )
        ooms = CounterMetricFamily(
            "container_oom_events",
            "Count of out of memory events observed for the container",
            labels=_CONTAINER_LABELS,
        )
        for entry in sorted(self._usages, key=lambda u: (*u.pod.key, u.container)):
            labels = [entry.container, entry.pod.pod.name, entry.pod.pod.namespace]
            cpu.add_metric(labels, entry.usage.cpu_seconds)
            memory.add_metric(labels, entry.usage.memory_bytes)
            ooms.add_metric(labels, entry.usage.oom_events)
        yield cpu
        yield memory
        yield ooms


class _Chain(Collector):
    def __init__(self, *collectors: Collector) -> None:
        self._collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self._collectors:
            yield from collector.collect()


class ProbeCollector(Collector):
    def __init__(self, kubelet: Kubelet) -> None:
        self._kubelet = kubelet

    def collect(self) -> Iterable[Metric]:
        stats = self._kubelet.probe_stats
        totals = CounterMetricFamily(
            "prober_probe",
            "Cumulative number of a liveness, readiness or startup probe for a container "
            "by result.",
            labels=["probe_type", "result", "container", "pod", "namespace", "pod_uid"],
        )
        for (labels, result), count in sorted(stats.totals.items(), key=_order):
            totals.add_metric(
                [
                    labels.probe_type.value,
                    result,
                    labels.container,
                    labels.pod,
                    labels.namespace,
                    labels.pod_uid,
                ],
                count,
            )
        yield totals
        durations = HistogramMetricFamily(
            "prober_probe_duration_seconds",
            "Duration in seconds for a probe response.",
            labels=["probe_type", "container", "pod", "namespace"],
        )
        for labels, (count, seconds) in stats.durations.items():
            durations.add_metric(
                [labels.probe_type.value, labels.container, labels.pod, labels.namespace],
                buckets=[("+Inf", count)],
                sum_value=seconds,
            )
        yield durations


def _order(item: tuple[tuple[object, str], int]) -> tuple[str, str]:
    (labels, result), _ = item
    return (repr(labels), result)


class _StartTime(Collector):
    """Only ``process_start_time_seconds``, as the kubelet's ``/metrics/probes`` has it."""

    def __init__(self, process: ProcessCollector) -> None:
        self._process = process

    def collect(self) -> Iterator[Metric]:
        for metric in self._process.collect():
            if metric.name == "process_start_time_seconds":
                yield metric


def metrics_registries(kubelet: Kubelet) -> tuple[CollectorRegistry, CollectorRegistry]:
    """The registries behind ``/metrics`` and ``/metrics/probes``."""
    process = ProcessCollector(registry=None)
    everything = CollectorRegistry(auto_describe=False)
    everything.register(KubeletCollector(kubelet))
    everything.register(ProbeCollector(kubelet))
    everything.register(process)
    probes = CollectorRegistry(auto_describe=False)
    probes.register(ProbeCollector(kubelet))
    probes.register(_StartTime(process))
    return everything, probes


def render(registry: CollectorRegistry, accept: str) -> tuple[bytes, str]:
    """The exposition the client asked for (Prometheus text, or OpenMetrics)."""
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type


async def render_metrics(
    kubelet: Kubelet, registry: CollectorRegistry, accept: str
) -> tuple[bytes, str]:
    """``/metrics``: ``registry``'s series and the running containers' usage, sampled now."""
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_Chain(registry, UsageCollector(await kubelet.usage())))
    return render(scrape, accept)
