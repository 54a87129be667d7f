"""Hypothesis strategies for the fuzzers: valid pods to start from, and ways to break them.

The seeds are the pods of ``examples/`` (and a few shapes the tests use); a mutation walks
into a seed and changes one place: a wrong type, a huge or odd value, deep nesting, a
field deleted or added, a list emptied or repeated. Several mutations may stack.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import settings
from hypothesis import strategies as st

__all__ = ["SEEDS", "fuzz_timeout", "json_values", "mutate", "mutated_pods", "nested", "texts"]


def fuzz_timeout(floor: float) -> float:
    """A test's time limit: ``floor`` in CI, more for the long profile's many examples."""
    return max(floor, settings().max_examples * 0.5)


_EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _seeds() -> list[dict[str, Any]]:
    seeds: list[dict[str, Any]] = []
    for path in sorted(_EXAMPLES.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict) and document.get("kind") == "Pod":
                seeds.append(document)
    seeds.append(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "full", "namespace": "ns", "labels": {"a": "b"}},
            "spec": {
                "restartPolicy": "OnFailure",
                "terminationGracePeriodSeconds": 3,
                "activeDeadlineSeconds": 100,
                "initContainers": [{"name": "init", "image": "x", "command": ["true"]}],
                "containers": [
                    {
                        "name": "app",
                        "image": "x",
                        "command": ["sleep"],
                        "args": ["30"],
                        "workingDir": "/tmp",
                        "env": [
                            {"name": "A", "value": "1"},
                            {
                                "name": "B",
                                "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                            },
                        ],
                        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                        "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}},
                        "livenessProbe": {
                            "httpGet": {"path": "/", "port": 8080},
                            "periodSeconds": 1,
                        },
                        "readinessProbe": {"tcpSocket": {"port": 8080}},
                        "startupProbe": {"exec": {"command": ["true"]}},
                        "lifecycle": {
                            "postStart": {"exec": {"command": ["true"]}},
                            "preStop": {"sleep": {"seconds": 1}},
                        },
                    }
                ],
            },
        }
    )
    return seeds


SEEDS = _seeds()

texts = st.one_of(
    st.text(max_size=20),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(
        ["", " ", "-", "a" * 300, "A", "1", "0x10", "1e400", "null", "~", "yes", "../x", "a/b"]
    ),
    st.sampled_from(["\u0000", "\ud7ff", "\u202e", "é", "ǅ", "😀", "\ufeff", "\n", "\t"]),
)

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 2**31, 2**63, 10**30, 1.5, -0.0]),
    texts,
)

json_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(texts, children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def nested(draw: st.DrawFn) -> object:
    """A value nested deeply: lists or mappings, up to 100 levels (deeper ones are text,
    in the tests: a dumper would overflow first)."""
    depth = draw(st.integers(min_value=10, max_value=100))
    value: object = draw(_scalars)
    as_dict = draw(st.booleans())
    for _ in range(depth):
        value = {"a": value} if as_dict else [value]
    return value


_replacements = st.one_of(
    json_values,
    nested(),
    st.builds(lambda n: "x" * n, st.integers(min_value=1_000, max_value=200_000)),
    st.builds(lambda n: list(range(n)), st.integers(min_value=100, max_value=5_000)),
    st.builds(lambda n: {f"k{i}": i for i in range(n)}, st.integers(min_value=100, max_value=3000)),
)


def _places(value: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every path into ``value`` (mapping keys and list indexes), the root included."""
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_places(child, (*path, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_places(child, (*path, index)))
    return found


def _parent(root: Any, path: tuple[object, ...]) -> Any:
    node = root
    for step in path[:-1]:
        node = node[step]
    return node


@st.composite
def mutate(draw: st.DrawFn, document: dict[str, Any]) -> dict[str, Any]:
    places = _places(document)
    path = draw(st.sampled_from(places[1:]))  # not the root itself
    parent = _parent(document, path)
    key = path[-1]
    action = draw(st.sampled_from(["replace", "delete", "add", "repeat", "empty", "key"]))
    if action == "replace":
        parent[key] = draw(_replacements)
    elif action == "delete":
        del parent[key]
    elif action == "add" and isinstance(parent, dict):
        parent[draw(texts)] = draw(json_values)
    elif action == "add":
        parent.append(draw(json_values))
    elif action == "repeat" and isinstance(parent[key], list) and parent[key]:
        parent[key] = parent[key] * draw(st.integers(min_value=2, max_value=50))
    elif action == "empty":
        parent[key] = type(parent[key])() if isinstance(parent[key], list | dict | str) else None
    elif action == "key" and isinstance(parent, dict):
        parent[draw(st.one_of(st.integers(), st.booleans(), st.none()))] = parent.pop(key)
    return document


@st.composite
def mutated_pods(draw: st.DrawFn, max_mutations: int = 4) -> dict[str, Any]:
    """A seed pod with 0 to ``max_mutations`` mutations."""
    document: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(min_value=0, max_value=max_mutations))):
        if not isinstance(document, dict) or len(_places(document)) < 2:
            break
        document = draw(mutate(document))
    return document
