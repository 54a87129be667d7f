"""The Pod update rule: cases after ``TestPodUpdate`` in the apiserver's validation_test.go."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from minikubelet.api.pod_update import FORBIDDEN_UPDATE, spec_diff, validate_pod_update
from minikubelet.server.status import invalid

JSON = dict[str, Any]


def pod(**spec: Any) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "hello",
            "namespace": "default",
            "uid": "u1",
            "creationTimestamp": "2025-01-01T00:00:00Z",
            "labels": {"app": "hello"},
            "annotations": {"a": "1"},
        },
        "spec": {
            "containers": [
                {"name": "main", "image": "python:3.12", "command": ["python3"]},
                {"name": "side", "image": "busybox"},
            ],
            "initContainers": [{"name": "init", "image": "busybox"}],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            **spec,
        },
    }


def changed(edit: Callable[[JSON], None], base: JSON | None = None) -> JSON:
    new = copy.deepcopy(base or pod())
    edit(new)
    return new


def texts(new: JSON, old: JSON | None = None) -> list[str]:
    return [str(error) for error in validate_pod_update(new, old or pod())]


def c(index: int) -> Callable[[JSON], JSON]:
    return lambda p: p["spec"]["containers"][index]


ALLOWED = [
    pytest.param(lambda p: None, id="nothing"),
    pytest.param(lambda p: p["metadata"]["labels"].update(tier="front"), id="labels"),
    pytest.param(lambda p: p["metadata"].pop("labels"), id="labels-removed"),
    pytest.param(lambda p: p["metadata"]["annotations"].update(b="2"), id="annotations"),
    pytest.param(lambda p: c(0)(p).update(image="python:3.13"), id="container-image"),
    pytest.param(lambda p: p["spec"]["initContainers"][0].update(image="alpine"), id="init-image"),
    pytest.param(lambda p: p["spec"].update(activeDeadlineSeconds=10), id="deadline-set"),
    pytest.param(
        lambda p: p["spec"].update(tolerations=[{"key": "k", "operator": "Exists"}]),
        id="toleration-added",
    ),
]


@pytest.mark.parametrize("edit", ALLOWED)
def test_allowed_updates(edit: Callable[[JSON], None]) -> None:
    assert texts(changed(edit)) == []


def test_deadline_may_only_decrease() -> None:
    old = pod(activeDeadlineSeconds=30)
    assert texts(changed(lambda p: p["spec"].update(activeDeadlineSeconds=20), old), old) == []
    assert texts(changed(lambda p: p["spec"].update(activeDeadlineSeconds=0), old), old) == []
    assert texts(changed(lambda p: p["spec"].update(activeDeadlineSeconds=40), old), old) == [
        "spec.activeDeadlineSeconds: Invalid value: 40: must be less than or equal to previous "
        "value"
    ]
    assert texts(changed(lambda p: p["spec"].pop("activeDeadlineSeconds"), old), old) == [
        'spec.activeDeadlineSeconds: Invalid value: "null": must not update from a positive '
        "integer to nil value"
    ]
    assert texts(changed(lambda p: p["spec"].update(activeDeadlineSeconds=-1), old), old) == [
        "spec.activeDeadlineSeconds: Invalid value: -1: must be between 0 and 2147483647, inclusive"
    ]


def test_tolerations_only_additions_and_seconds() -> None:
    old = pod(
        tolerations=[
            {"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}
        ]
    )
    seconds = changed(lambda p: p["spec"]["tolerations"][0].update(tolerationSeconds=5), old)
    assert texts(seconds, old) == []
    more = changed(
        lambda p: p["spec"]["tolerations"].append({"key": "x", "operator": "Exists"}), old
    )
    assert texts(more, old) == []
    modified = changed(lambda p: p["spec"]["tolerations"][0].update(key="other"), old)
    assert texts(modified, old) == [
        "spec.tolerations: Forbidden: existing toleration can not be modified except its "
        "tolerationSeconds"
    ]


def test_scheduling_gates_only_removals() -> None:
    old = pod(schedulingGates=[{"name": "a"}, {"name": "b"}])
    assert texts(changed(lambda p: p["spec"]["schedulingGates"].pop(), old), old) == []
    added = changed(lambda p: p["spec"]["schedulingGates"].append({"name": "c"}), old)
    assert texts(added, old) == [
        "spec.schedulingGates[2].name: Forbidden: only deletion is allowed, but found new "
        "scheduling gate 'c'"
    ]


def test_negative_grace_may_become_one() -> None:
    old = pod(terminationGracePeriodSeconds=-1)
    assert (
        texts(changed(lambda p: p["spec"].update(terminationGracePeriodSeconds=1), old), old) == []
    )
    (error,) = texts(changed(lambda p: p["spec"].update(terminationGracePeriodSeconds=5), old), old)
    assert error.startswith("spec: Forbidden: " + FORBIDDEN_UPDATE)
    (error,) = texts(changed(lambda p: p["spec"].update(terminationGracePeriodSeconds=10)))
    assert error.startswith("spec: Forbidden: pod updates may not change fields other than")


FORBIDDEN = [
    pytest.param(lambda p: c(0)(p).update(command=["sleep"]), id="command"),
    pytest.param(lambda p: c(0)(p).update(env=[{"name": "A", "value": "1"}]), id="env"),
    pytest.param(lambda p: c(0)(p).update(ports=[{"containerPort": 80}]), id="ports"),
    pytest.param(lambda p: c(1)(p).update(name="renamed"), id="container-name"),
    pytest.param(lambda p: p["spec"].update(restartPolicy="Never"), id="restart-policy"),
    pytest.param(lambda p: p["spec"].update(nodeName="elsewhere"), id="node-name"),
    pytest.param(lambda p: c(0)(p).update(resources={"limits": {"cpu": "1"}}), id="resources"),
]


@pytest.mark.parametrize("edit", FORBIDDEN)
def test_other_spec_changes_are_forbidden(edit: Callable[[JSON], None]) -> None:
    (error,) = validate_pod_update(changed(edit), pod())
    assert error.path == "spec"
    assert error.kind == "Forbidden"
    assert error.detail.startswith(FORBIDDEN_UPDATE + "\n  core.PodSpec{\n")


def test_image_change_beside_a_forbidden_one_is_not_in_the_diff() -> None:
    def edit(p: JSON) -> None:
        c(0)(p).update(image="python:3.13", command=["sleep", "1"])

    (error,) = validate_pod_update(changed(edit), pod())
    assert error.detail.split("\n", 1)[1] == (
        "  core.PodSpec{\n"
        "  \tContainers: []core.Container{\n"
        "  \t\t{\n"
        '  \t\t\tName: "main",\n'
        "  \t\t\t... // 1 identical fields\n"
        '- \t\t\tCommand: []string{"python3"},\n'
        '+ \t\t\tCommand: []string{"sleep", "1"},\n'
        "  \t\t},\n"
        "  \t\t... // 1 identical elements\n"
        "  \t},\n"
        "  \t... // 3 identical fields\n"
        "  }"
    )


def test_adding_or_removing_containers_stops_there() -> None:
    added = changed(lambda p: p["spec"]["containers"].append({"name": "x", "image": "y"}))
    assert texts(added) == [
        "spec.containers: Forbidden: pod updates may not add or remove containers"
    ]
    removed = changed(lambda p: p["spec"]["initContainers"].clear())
    assert texts(removed) == [
        "spec.initContainers: Forbidden: pod updates may not add or remove containers"
    ]


def test_images() -> None:
    assert texts(changed(lambda p: c(0)(p).pop("image"))) == [
        "spec.containers[0].image: Required value"
    ]
    assert texts(changed(lambda p: c(0)(p).update(image=" python "))) == [
        'spec.containers[0].image: Invalid value: " python ": must not have leading or '
        "trailing whitespace"
    ]
    # minikubelet: a container without an image (a plain process) may stay so
    imageless = changed(lambda p: c(0)(p).pop("image"))
    relabelled = changed(lambda p: p["metadata"]["labels"].update(x="y"), imageless)
    assert texts(relabelled, imageless) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "other"),
        ("namespace", "other"),
        ("uid", "u2"),
        ("creationTimestamp", "2026-01-01T00:00:00Z"),
    ],
)
def test_immutable_metadata(field: str, value: str) -> None:
    assert texts(changed(lambda p: p["metadata"].update({field: value}))) == [
        f'metadata.{field}: Invalid value: "{value}": field is immutable'
    ]


def test_mirror_and_apparmor_annotations() -> None:
    mirror = pod()
    mirror["metadata"]["annotations"]["kubernetes.io/config.mirror"] = "u1"
    removed = changed(
        lambda p: p["metadata"]["annotations"].pop("kubernetes.io/config.mirror"), mirror
    )
    assert texts(removed, mirror) == [
        "metadata.annotations[kubernetes.io/config.mirror]: Forbidden: may not remove or update "
        "mirror pod annotation"
    ]
    added = changed(
        lambda p: p["metadata"]["annotations"].update(
            {"container.apparmor.security.beta.kubernetes.io/main": "unconfined"}
        )
    )
    assert texts(added) == [
        "metadata.annotations[container.apparmor.security.beta.kubernetes.io/main]: Forbidden: "
        "may not add AppArmor annotations"
    ]


def test_the_status_kubectl_prints() -> None:
    new = changed(lambda p: c(0)(p).update(command=["sleep"]))
    error = invalid("Pod", "hello", validate_pod_update(new, pod()))
    assert error.code == 422
    assert error.message.startswith('Pod "hello" is invalid: spec: Forbidden: ' + FORBIDDEN_UPDATE)
    (cause,) = error.details["causes"]  # type: ignore[index]
    assert cause["field"] == "spec"
    assert cause["reason"] == "FieldValueForbidden"
    assert cause["message"].startswith("Forbidden: pod updates may not change")


def test_spec_diff_of_added_and_removed_fields() -> None:
    assert spec_diff({"a": 1}, {"b": "x"}) == ('  core.PodSpec{\n- \tA: 1,\n+ \tB: "x",\n  }')
