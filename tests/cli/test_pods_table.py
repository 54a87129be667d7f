"""``get pods``' columns from Pod JSON: kubectl's printPod rules, one case per row."""

from __future__ import annotations

from typing import Any

import pytest

from minikubelet.cli.client.pods import pod_row, pods_table
from tests.cli.samples import (
    NOW,
    ago,
    container_status,
    pod,
    running,
    terminated,
    waiting,
)

SIDECAR = {"name": "proxy", "image": "envoy", "restartPolicy": "Always"}


def crash_loop() -> dict[str, Any]:
    return pod(
        "crasher",
        phase="Running",
        statuses=[
            container_status(
                "crasher",
                waiting("CrashLoopBackOff", "back-off 40s restarting failed container"),
                restarts=3,
                last=terminated(1, "Error", started=20, finished=12),
            )
        ],
    )


def test_running_pod() -> None:
    row = pod_row(pod("web", created=300), NOW)
    assert (row.name, row.ready, row.status, row.restarts, row.age) == (
        "web",
        "1/1",
        "Running",
        "0",
        "5m",
    )


def test_crash_loop_back_off_shows_the_restarts_and_the_last_one() -> None:
    row = pod_row(crash_loop(), NOW)
    assert (row.ready, row.status, row.restarts) == ("0/1", "CrashLoopBackOff", "3 (12s ago)")


def test_one_of_two_ready_with_restarts() -> None:
    web = pod(
        "multi",
        containers=[{"name": "app"}, {"name": "worker"}],
        statuses=[
            container_status("app", running(), ready=True),
            container_status(
                "worker", running(10), restarts=3, last=terminated(137, "Error", 40, 12)
            ),
        ],
    )
    row = pod_row(web, NOW)
    assert (row.ready, row.status, row.restarts) == ("1/2", "Running", "3 (12s ago)")


@pytest.mark.parametrize(
    ("init_statuses", "expected"),
    [
        (
            [
                container_status("migrate", terminated(0, "Completed")),
                container_status("seed", running()),
            ],
            "Init:1/2",
        ),
        (
            [
                container_status("migrate", waiting("PodInitializing")),
                container_status("seed", waiting("PodInitializing")),
            ],
            "Init:0/2",
        ),
        (
            [
                container_status("migrate", terminated(1, "Error")),
                container_status("seed", waiting("PodInitializing")),
            ],
            "Init:Error",
        ),
        (
            [
                container_status(
                    "migrate", waiting("CrashLoopBackOff"), restarts=2, last=terminated(1, "Error")
                ),
                container_status("seed", waiting("PodInitializing")),
            ],
            "Init:CrashLoopBackOff",
        ),
        (
            [
                container_status("migrate", terminated(3)),
                container_status("seed", waiting("PodInitializing")),
            ],
            "Init:ExitCode:3",
        ),
        (
            [
                container_status("migrate", terminated(137, signal=9)),
                container_status("seed", waiting("PodInitializing")),
            ],
            "Init:Signal:9",
        ),
    ],
)
def test_init_containers(init_statuses: list[dict[str, Any]], expected: str) -> None:
    web = pod(
        "web",
        phase="Pending",
        init_containers=[{"name": "migrate"}, {"name": "seed"}],
        init_statuses=init_statuses,
        statuses=[container_status("web", waiting("PodInitializing"))],
        initialized=False,
    )
    row = pod_row(web, NOW)
    assert (row.ready, row.status) == ("0/1", expected)


def test_init_restarts_count_while_initialising() -> None:
    web = pod(
        "web",
        phase="Pending",
        init_containers=[{"name": "migrate"}],
        init_statuses=[
            container_status(
                "migrate",
                waiting("CrashLoopBackOff"),
                restarts=4,
                last=terminated(1, "Error", 90, 70),
            )
        ],
        statuses=[container_status("web", waiting("PodInitializing"))],
        initialized=False,
    )
    assert pod_row(web, NOW).restarts == "4 (70s ago)"


def test_pod_initializing_once_init_is_done() -> None:
    web = pod(
        "web",
        phase="Pending",
        init_containers=[{"name": "migrate"}],
        init_statuses=[container_status("migrate", terminated(0, "Completed"))],
        statuses=[container_status("web", waiting("PodInitializing"))],
    )
    assert pod_row(web, NOW).status == "PodInitializing"


def test_sidecars_count_in_ready_and_total() -> None:
    web = pod(
        "web",
        init_containers=[SIDECAR],
        init_statuses=[container_status("proxy", running(), ready=True, started=True)],
        statuses=[container_status("web", running(), ready=True)],
    )
    row = pod_row(web, NOW)
    assert (row.ready, row.status) == ("2/2", "Running")


def test_sidecar_restarts_count_after_initialisation() -> None:
    web = pod(
        "web",
        init_containers=[{"name": "migrate"}, SIDECAR],
        init_statuses=[
            container_status("migrate", terminated(0, "Completed"), restarts=5),
            container_status(
                "proxy",
                running(),
                ready=False,
                started=True,
                restarts=2,
                last=terminated(1, "Error", 50, 45),
            ),
        ],
        statuses=[container_status("web", running(), ready=True)],
    )
    row = pod_row(web, NOW)
    # The finished init container's restarts no longer count; the sidecar's do.
    assert (row.ready, row.status, row.restarts) == ("1/2", "Running", "2 (45s ago)")


def test_completed() -> None:
    job = pod(
        "job",
        phase="Succeeded",
        statuses=[container_status("job", terminated(0, "Completed"))],
        ready=False,
    )
    row = pod_row(job, NOW)
    assert (row.ready, row.status, row.restarts) == ("0/1", "Completed", "0")


def test_error() -> None:
    job = pod(
        "job",
        phase="Failed",
        statuses=[container_status("job", terminated(2, "Error"))],
        ready=False,
    )
    assert pod_row(job, NOW).status == "Error"


@pytest.mark.parametrize(
    ("state", "expected"),
    [(terminated(3), "ExitCode:3"), (terminated(143, signal=15), "Signal:15")],
)
def test_terminated_without_reason(state: dict[str, Any], expected: str) -> None:
    job = pod("job", phase="Failed", statuses=[container_status("job", state)], ready=False)
    assert pod_row(job, NOW).status == expected


def test_completed_beside_a_running_container_reads_running_or_not_ready() -> None:
    def two(ready: bool) -> dict[str, Any]:
        return pod(
            "pair",
            containers=[{"name": "once"}, {"name": "server"}],
            statuses=[
                container_status("once", terminated(0, "Completed")),
                container_status("server", running(), ready=True),
            ],
            ready=ready,
        )

    assert pod_row(two(True), NOW).status == "Running"
    assert pod_row(two(False), NOW).status == "NotReady"


def test_first_container_reason_wins() -> None:
    web = pod(
        "pair",
        containers=[{"name": "a"}, {"name": "b"}],
        statuses=[
            container_status("a", waiting("ContainerCreating")),
            container_status("b", waiting("CrashLoopBackOff")),
        ],
    )
    assert pod_row(web, NOW).status == "ContainerCreating"


def test_terminating() -> None:
    web = pod("web", deleting=3)
    assert pod_row(web, NOW).status == "Terminating"


def test_a_finished_pod_being_deleted_keeps_its_phase_reason() -> None:
    job = pod(
        "job",
        phase="Succeeded",
        statuses=[container_status("job", terminated(0, "Completed"))],
        deleting=1,
    )
    assert pod_row(job, NOW).status == "Completed"


def test_pod_reason_overrides_the_phase() -> None:
    web = pod("web", phase="Failed", statuses=[])
    web["status"]["reason"] = "DeadlineExceeded"
    assert pod_row(web, NOW).status == "DeadlineExceeded"


def test_missing_timestamps_and_statuses() -> None:
    bare = {"metadata": {"name": "bare"}, "spec": {"containers": [{"name": "a"}]}, "status": {}}
    row = pod_row(bare, NOW)
    assert (row.ready, row.status, row.restarts, row.age, row.ip, row.node) == (
        "0/1",
        "",
        "0",
        "<unknown>",
        "<none>",
        "<none>",
    )


def test_table_layout_like_kubectl() -> None:
    rows = [pod_row(pod("web", created=7), NOW), pod_row(crash_loop(), NOW)]
    assert pods_table(rows) == (
        "NAME      READY   STATUS             RESTARTS      AGE\n"
        "web       1/1     Running            0             7s\n"
        "crasher   0/1     CrashLoopBackOff   3 (12s ago)   5m\n"
    )


def test_short_names_still_get_the_minimum_width() -> None:
    assert pods_table([pod_row(pod("a", created=1), NOW)]) == (
        "NAME   READY   STATUS    RESTARTS   AGE\na      1/1     Running   0          1s\n"
    )


def test_wide_and_all_namespaces() -> None:
    rows = [pod_row(pod("web", created=3 * 3600 + 4 * 60, namespace="shop"), NOW)]
    assert pods_table(rows, wide=True, namespaced=True) == (
        "NAMESPACE   NAME   READY   STATUS    RESTARTS   AGE    IP          NODE        "
        "NOMINATED NODE   READINESS GATES\n"
        "shop        web    1/1     Running   0          3h4m   127.0.0.1   localhost   "
        "<none>           <none>\n"
    )


def test_readiness_gates_in_wide_output() -> None:
    web = pod("web")
    web["spec"]["readinessGates"] = [{"conditionType": "Ready"}, {"conditionType": "example/x"}]
    assert pod_row(web, NOW).readiness_gates == "1/2"


def test_watch_rows_keep_the_header_widths() -> None:
    from minikubelet.cli.client.pods import table_writer

    writer = table_writer()
    first = pods_table([pod_row(crash_loop(), NOW)], writer=writer)
    later = pods_table([pod_row(pod("web", created=1), NOW)], header=False, writer=writer)
    assert first.splitlines()[0] == "NAME      READY   STATUS             RESTARTS      AGE"
    assert later == "web       1/1     Running            0             1s\n"
    assert ago(0) == "2025-03-01T12:00:00Z"
