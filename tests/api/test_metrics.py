"""/metrics and /metrics/probes: Prometheus text with the kubelet's metric names."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from minikubelet.model.probe import ProbeKind, ProbeResult
from minikubelet.model.status import PodPhase
from minikubelet.prober.stats import ProbeLabels
from minikubelet.testing import container, wait_for_file, wait_for_status
from tests.api.conftest import Server
from tests.helpers.pods import child, pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def scrape(server: Server, path: str) -> dict[str, list[Sample]]:
    """Metric families by name, parsed by prometheus_client's own parser."""
    response = await server.client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        family.name: list(family.samples)
        for family in text_string_to_metric_families(response.text)
    }


async def test_kubelet_metrics(server: Server) -> None:
    kubelet = server.kubelet
    await start(kubelet, pod("steady", child("app", "--forever")))
    crashing = await start(kubelet, pod("crashing", child("app", "--exit-code", "3")))
    await wait_for_status(crashing, lambda s: container(s, "app").restart_count >= 1)
    families = await scrape(server, "/metrics")
    (running_pods,) = families["kubelet_running_pods"]
    assert running_pods.value == 2.0
    states = {s.labels["container_state"]: s.value for s in families["kubelet_running_containers"]}
    assert set(states) == {"created", "running", "exited"}
    assert states["exited"] >= 1
    restarts = {s.labels["pod"]: s.value for s in families["kubelet_container_restarts"]}
    assert restarts["steady"] == 0
    assert restarts["crashing"] >= 1
    assert {s.name for s in families["kubelet_container_restarts"]} == {
        "kubelet_container_restarts_total"
    }
    assert "process_start_time_seconds" in families


async def test_probe_metrics(server: Server) -> None:
    worker = await start(server.kubelet, pod("probed", child("app", "--forever")))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    labels = ProbeLabels(ProbeKind.READINESS, "app", "probed", "default", worker.uid)
    stats = server.kubelet.probe_stats
    stats.observe(labels, ProbeResult.SUCCESS, 0.25)
    stats.observe(labels, ProbeResult.SUCCESS, 0.5)
    stats.observe(labels, ProbeResult.FAILURE, 1.0)
    for path in ("/metrics", "/metrics/probes"):
        families = await scrape(server, path)
        totals = families["prober_probe"]
        assert {s.labels["result"]: s.value for s in totals} == {"successful": 2.0, "failed": 1.0}
        assert {s.name for s in totals} == {"prober_probe_total"}
        assert totals[0].labels == {
            "probe_type": "Readiness",
            "result": totals[0].labels["result"],
            "container": "app",
            "pod": "probed",
            "namespace": "default",
            "pod_uid": worker.uid,
        }
        durations = {s.name: s for s in families["prober_probe_duration_seconds"]}
        assert durations["prober_probe_duration_seconds_count"].value == 2.0
        assert durations["prober_probe_duration_seconds_sum"].value == 0.75
        assert durations["prober_probe_duration_seconds_bucket"].labels["le"] == "+Inf"
        assert durations["prober_probe_duration_seconds_sum"].labels == {
            "probe_type": "Readiness",
            "container": "app",
            "pod": "probed",
            "namespace": "default",
        }
    probes_only = await scrape(server, "/metrics/probes")
    assert "kubelet_running_pods" not in probes_only
    assert set(probes_only) == {
        "prober_probe",
        "prober_probe_duration_seconds",
        "process_start_time_seconds",
    }


async def test_openmetrics_when_asked(server: Server) -> None:
    response = await server.client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


async def test_container_usage_metrics(server: Server, tmp_path: Path) -> None:
    """cAdvisor's names and labels, from the same sample as /stats/summary and top pods."""
    ready = tmp_path / "ready"
    app = child("app", "--forever", "--ready-file", str(ready))
    worker = await start(server.kubelet, pod("used", app))
    await wait_for_status(worker, lambda s: s.phase is PodPhase.RUNNING)
    await wait_for_file(ready)  # the interpreter is loaded: its memory is charged
    families = await scrape(server, "/metrics")
    labels = {"container": "app", "pod": "used", "namespace": "default"}
    (cpu,) = families["container_cpu_usage_seconds"]
    assert (cpu.name, cpu.labels) == ("container_cpu_usage_seconds_total", labels)
    assert cpu.value > 0
    (memory,) = families["container_memory_working_set_bytes"]
    assert memory.labels == labels
    assert memory.value > 1024 * 1024  # a Python interpreter
    (ooms,) = families["container_oom_events"]
    assert (ooms.name, ooms.labels, ooms.value) == ("container_oom_events_total", labels, 0.0)
    (info,) = families["minikubelet_containment_info"]
    containment = server.kubelet.containment
    assert info.labels == {"mode": containment.mode.value, "reason": containment.reason}
    (usage,) = await server.kubelet.usage()
    assert usage.usage.cpu_seconds >= cpu.value  # cumulative: never less a moment later
