"""The apiserver's Pod defaults on the JSON we serve (``api/defaults.py``)."""

from __future__ import annotations

import copy

import pytest

from minikubelet.api.defaults import image_pull_policy, pod_with_defaults


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("python", "Always"),
        ("python:latest", "Always"),
        ("python:3.12", "IfNotPresent"),
        ("registry:5000/team/app", "Always"),
        ("registry:5000/team/app:v1", "IfNotPresent"),
        ("app@sha256:abc", "IfNotPresent"),
    ],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    assert image_pull_policy(image) == policy


def test_defaults_fill_what_is_absent_and_touch_nothing_else() -> None:
    pod = {
        "kind": "Pod",
        "spec": {
            "dnsPolicy": "Default",
            "containers": [
                {
                    "name": "app",
                    "image": "python:3.12",
                    "imagePullPolicy": "Never",
                    "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
                    "livenessProbe": {"httpGet": {"port": 80}, "periodSeconds": 3},
                    "lifecycle": {"preStop": {"httpGet": {"port": 80}}},
                    "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}],
                }
            ],
            "initContainers": [{"name": "init"}],
        },
    }
    before = copy.deepcopy(pod)
    defaulted = pod_with_defaults(pod)
    assert pod == before  # the input (shared with the manifest) is left alone
    spec = defaulted["spec"]
    assert spec["dnsPolicy"] == "Default"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["securityContext"] == {}
    app = spec["containers"][0]
    assert app["imagePullPolicy"] == "Never"
    assert [p["protocol"] for p in app["ports"]] == ["TCP", "UDP"]
    assert app["livenessProbe"] == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
        "periodSeconds": 3,
        "timeoutSeconds": 1,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert app["lifecycle"]["preStop"]["httpGet"]["scheme"] == "HTTP"
    assert app["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert "terminationMessagePath" not in app
    assert spec["initContainers"][0] == {"name": "init", "resources": {}}  # no image: no policy
    assert pod_with_defaults(defaulted) == defaulted
