"""``-o json``, ``-o yaml`` and ``-o name``."""

from __future__ import annotations

import json

import yaml

from minikubelet.cli.client.output import as_list, to_json, to_name, to_yaml
from tests.cli.samples import pod


def test_json_is_sorted_and_indented_by_four() -> None:
    text = to_json({"b": 1, "a": {"d": [], "c": "x"}})
    assert text == '{\n    "a": {\n        "c": "x",\n        "d": []\n    },\n    "b": 1\n}\n'


def test_list_like_kubectl() -> None:
    item = pod("web")
    del item["kind"], item["apiVersion"]
    document = as_list([item])
    assert document["kind"] == "List"
    assert document["metadata"] == {"resourceVersion": ""}
    assert document["items"][0]["kind"] == "Pod"
    assert json.loads(to_json(document)) == document


def test_yaml_round_trips_and_looks_like_go_yaml() -> None:
    document = as_list([pod("web")])
    text = to_yaml(document)
    assert yaml.safe_load(text) == document
    assert text.startswith("apiVersion: v1\nitems:\n- apiVersion: v1\n")
    assert '  resourceVersion: ""\n' in text
    assert "lastProbeTime: null" in text
    assert to_yaml({"script": "line one\nline two\n"}) == "script: |\n  line one\n  line two\n"
    assert to_yaml({"port": "8080", "flag": "true"}) == 'flag: "true"\nport: "8080"\n'


def test_name() -> None:
    assert to_name(pod("web")) == "pod/web\n"
