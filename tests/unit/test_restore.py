"""A pod added again after a daemon restart: its checkpoint, and what its containers do.

``kubelet_pods.go convertToAPIContainerStatuses``: a container that used to be running and
is no longer there is ``ContainerStatusUnknown`` (137), one restart more, and starts again
whatever the policy; ``ShouldContainerBeRestarted`` starts a container with no status.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from minikubelet.logic.actions import PodView, StartContainer, compute_pod_actions
from minikubelet.logic.backoff import BackoffPolicy
from minikubelet.logic.restore import LOST_EXIT_CODE, LOST_MESSAGE, restored_records
from minikubelet.manifest import load_text
from minikubelet.model.checkpoint import PodCheckpoint, checkpoint_from_json, checkpoint_json
from minikubelet.model.observed import ContainerRecord
from minikubelet.model.spec import Container, PodSpec, RestartPolicy
from minikubelet.model.status import CONTAINER_STATUS_UNKNOWN, Exit, Instance
from minikubelet.sources.file import ManifestFile, static_pod_uid

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)


def instance(name: str, count: int, exit_code: int | None = None) -> Instance:
    started = T0 + timedelta(seconds=count)
    exit_ = None
    if exit_code is not None:
        exit_ = Exit(exit_code, started + timedelta(seconds=1), reason="Error", message="m")
    return Instance(
        name, count, f"minikubelet://{name}-{count}", started, 100 + count, started, exit_
    )


def checkpoint(**instances: tuple[Instance, ...]) -> PodCheckpoint:
    return PodCheckpoint("uid-1", "default", "web", T0, instances)


def spec(policy: RestartPolicy, *names: str, init: tuple[str, ...] = ()) -> PodSpec:
    return PodSpec(
        containers=tuple(Container(name=n, command=("x",)) for n in names),
        init_containers=tuple(Container(name=n, command=("x",)) for n in init),
        restart_policy=policy,
    )


def test_a_checkpoint_reads_back_what_was_written() -> None:
    written = checkpoint(app=(instance("app", 3), instance("app", 2, exit_code=1)), side=())
    assert checkpoint_from_json(checkpoint_json(written)) == written


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d.update(version=9), "unknown checkpoint version 9"),
        (lambda d: d.pop("uid"), "uid is missing"),
        (lambda d: d.update(containers=[]), "containers is not an object"),
        (lambda d: d["containers"]["app"][0].update(restartCount="1"), "restartCount is missing"),
        (lambda d: d["containers"]["app"][0].update(createdAt="2026-12-01T08:00:00"), "no time"),
        (lambda d: d["containers"]["app"][0].update(startedAt="yesterday"), "yesterday"),
    ],
)
def test_a_damaged_checkpoint_says_what_is_wrong(
    damage: Callable[[dict[str, Any]], object], message: str
) -> None:
    data = checkpoint_json(checkpoint(app=(instance("app", 0),)))
    damage(data)
    with pytest.raises(ValueError, match=message):
        checkpoint_from_json(data)


def test_a_running_instance_is_lost_and_keeps_its_count() -> None:
    records = restored_records(
        spec(RestartPolicy.ALWAYS, "app", "new"),
        checkpoint(app=(instance("app", 4), instance("app", 3, 1)), gone=(instance("gone", 0),)),
        NOW,
    )
    assert set(records) == {"app", "new"}  # a container the spec no longer has is dropped
    latest = records["app"].latest
    assert latest is not None
    assert latest.exit is not None
    assert (latest.restart_count, latest.pid) == (4, 104)
    assert latest.exit == Exit(
        LOST_EXIT_CODE, NOW, reason=CONTAINER_STATUS_UNKNOWN, message=LOST_MESSAGE
    )
    assert latest.exit.lost
    assert records["app"].previous == instance("app", 3, 1)
    assert records["app"].next_restart_count == 5
    assert records["new"].instances == ()


def test_a_finished_instance_keeps_its_exit() -> None:
    records = restored_records(
        spec(RestartPolicy.NEVER, "job"), checkpoint(job=(instance("job", 0, 0),)), NOW
    )
    assert records["job"].latest == instance("job", 0, 0)


def view(pod: PodSpec, records: Mapping[str, ContainerRecord]) -> PodView:
    return PodView(pod, records, {}, BackoffPolicy(10.0, 300.0), now=5000.0)


@pytest.mark.parametrize("policy", list(RestartPolicy))
def test_a_lost_container_starts_again_whatever_the_policy(policy: RestartPolicy) -> None:
    pod = spec(policy, "app")
    records = restored_records(pod, checkpoint(app=(instance("app", 0),)), NOW)
    actions = compute_pod_actions(view(pod, records))
    assert [start.name for start in actions.start] == ["app"]
    assert not actions.kill_pod


def test_a_lost_init_container_runs_again_before_the_app() -> None:
    pod = spec(RestartPolicy.NEVER, "app", init=("setup",))
    records = restored_records(pod, checkpoint(setup=(instance("setup", 0),)), NOW)
    actions = compute_pod_actions(view(pod, records))
    assert actions.start == (StartContainer("setup", actions.start[0].backoff),)


def test_a_finished_job_stays_finished() -> None:
    pod = spec(RestartPolicy.NEVER, "job")
    records = restored_records(pod, checkpoint(job=(instance("job", 0, 0),)), NOW)
    actions = compute_pod_actions(view(pod, records))
    assert actions.start == ()
    assert actions.kill_pod


def test_a_static_pods_uid_is_the_hash_of_its_node_file_and_content(tmp_path: Path) -> None:
    (pod,) = load_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n"
        "spec: {containers: [{name: c, image: i, command: [x]}]}\n",
        None,
    ).pods
    file = ManifestFile(tmp_path / "web.yaml", "digest-1")
    uid = static_pod_uid("node-a", file, pod)
    assert len(uid) == 32  # the kubelet's hex MD5
    assert int(uid, 16) >= 0
    assert static_pod_uid("node-a", file, pod) == uid
    assert static_pod_uid("node-b", file, pod) != uid
    assert static_pod_uid("node-a", ManifestFile(file.path, "digest-2"), pod) != uid
    assert static_pod_uid("node-a", ManifestFile(tmp_path / "w.yaml", "digest-1"), pod) != uid
