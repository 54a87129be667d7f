"""Fuzzing the manifest loader: every input becomes pods or a ``ManifestError``.

Never another exception, never a hang (each input is loaded within a time bound), never
unbounded memory (the hostile shapes are loaded under tracemalloc with a peak bound). The
examples are fixed (the ``ci`` profile in tests/conftest.py); a longer random run:
``HYPOTHESIS_PROFILE=long scripts/test tests/fuzz -o faulthandler_timeout=0``.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from minikubelet.errors import FieldError, ManifestError
from minikubelet.manifest import load_file, load_text
from minikubelet.manifest.load import MAX_FILE_BYTES
from tests.fuzz.strategies import SEEDS, fuzz_timeout, mutated_pods

pytestmark = [
    pytest.mark.timeout(fuzz_timeout(60)),
    # Hypothesis warns when it prints a huge example (a 200 kB string): not our failure.
    pytest.mark.filterwarnings("ignore:Generating overly large repr"),
]

SECONDS = 10.0  # the most one input may take to load, on a busy 2-core machine
PEAK_BYTES = 200 * 2**20  # the most memory one hostile input may make the loader use


@contextmanager
def bounded(seconds: float = SECONDS) -> Iterator[None]:
    started = time.perf_counter()
    yield
    elapsed = time.perf_counter() - started
    assert elapsed < seconds, f"loading took {elapsed:.1f} s"


def check(text: str, path: Path | None = None) -> None:
    """Load ``text``: pods, or a ManifestError whose every line names where it is."""
    with bounded():
        try:
            result = load_text(text, path)
        except ManifestError as error:
            assert_named(error)
            return
    for pod in result.pods:
        assert pod.name
        assert pod.spec.containers


def assert_named(error: ManifestError) -> None:
    assert str(error), "an empty error message"
    assert error.errors, "an error without any problem"
    for part in error.parts:
        for problem in part.errors:
            assert isinstance(problem, FieldError)
            assert isinstance(problem.path, str)
            assert problem.kind
            # A problem without a field path is about the whole document (syntax, size):
            # then it says so in its kind.
            if not problem.path:
                assert problem.kind in WHOLE_DOCUMENT, str(problem)


WHOLE_DOCUMENT = {
    "YAML syntax error",
    "JSON syntax error",
    "not a Kubernetes object",
    "document too large",
    "document too deeply nested",
    "Invalid value",  # a List item that is not a mapping, named by its location
    "file too large",
    "not UTF-8 text",
    "cannot read the file",
}


def dump(document: Any, as_json: bool) -> str | None:
    try:
        if as_json:
            return json.dumps(document, ensure_ascii=False)
        return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    except (RecursionError, ValueError, TypeError, yaml.YAMLError):
        return None  # the dumper cannot write it: nothing to load


# -- structure-aware mutations of valid pods ---------------------------------------------


@given(document=mutated_pods(), as_json=st.booleans())
@example(  # found by the long run: a null container was dropped, leaving a pod with none
    document={
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "x"},
        "spec": {"containers": [None]},
    },
    as_json=False,
)
def test_mutated_pods_load_or_fail_with_a_field_path(document: Any, as_json: bool) -> None:
    text = dump(document, as_json)
    if text is not None:
        check(text)


@given(documents=st.lists(mutated_pods(max_mutations=2), min_size=2, max_size=6))
def test_several_documents_and_lists(documents: list[Any]) -> None:
    stream = dump({"apiVersion": "v1", "kind": "List", "items": documents}, as_json=False)
    if stream is not None:
        check(stream)
    texts = [dump(document, as_json=False) for document in documents]
    check("---\n".join(text for text in texts if text is not None))


def test_every_seed_is_a_valid_pod() -> None:
    """The fuzzers start from valid pods (so a mutation is what breaks them)."""
    for seed in SEEDS:
        result = load_text(yaml.safe_dump(seed), None)
        assert len(result.pods) == 1


# -- raw text ------------------------------------------------------------------------------


@given(text=st.text(max_size=2000))
@example(text="a: &a [*a]")
@example(text="{")
@example(text="- - - -")
@example(text="!!python/object:os.system {}")
@example(text="kind: Pod\napiVersion: v1\nmetadata: {name: x}\nspec: !!binary aGVsbG8=")
@example(text="? [a, b]\n: c")
@example(text="<<: *nothing")
@example(text="%YAML 1.1\n%YAML 1.1\n---")
@example(text="\ufeff{}")
@example(text="--- |\n  text")
def test_any_text(text: str) -> None:
    check(text)


@given(data=st.binary(max_size=2000))
@example(data=b"\xff\xfe\x00k\x00i\x00n\x00d")
@example(data=b"kind: Pod\nmetadata: {name: \xe9}")
def test_any_bytes_in_a_file(data: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "pod.yaml"
    path.write_bytes(data)
    with bounded():
        try:
            load_file(path)
        except ManifestError as error:
            assert_named(error)


_TAGS = [
    "!!str",
    "!!int",
    "!!float",
    "!!bool",
    "!!null",
    "!!binary",
    "!!set",
    "!!omap",
    "!!pairs",
    "!!timestamp",
    "!!map",
    "!!seq",
    "!custom",
    "!!python/name:os.system",
]


@given(
    tag=st.sampled_from(_TAGS),
    value=st.sampled_from(["1", "x", "[1, 2]", "{a: 1}", "2001-12-14", ".nan", "0x1F", "~"]),
    field=st.sampled_from(
        [
            "metadata.name",
            "spec.containers",
            "spec.restartPolicy",
            "spec.terminationGracePeriodSeconds",
            "metadata.labels",
        ]
    ),
)
def test_yaml_tags_anywhere(tag: str, value: str, field: str) -> None:
    fields = {
        "metadata.name": "x",
        "spec.containers": "[{name: c, image: i}]",
        "spec.restartPolicy": "Always",
        "spec.terminationGracePeriodSeconds": "1",
        "metadata.labels": "{}",
    }
    fields[field] = f"{tag} {value}"
    text = (
        "apiVersion: v1\nkind: Pod\n"
        f"metadata: {{name: {fields['metadata.name']}, labels: {fields['metadata.labels']}}}\n"
        f"spec: {{containers: {fields['spec.containers']}, "
        f"restartPolicy: {fields['spec.restartPolicy']}, "
        f"terminationGracePeriodSeconds: {fields['spec.terminationGracePeriodSeconds']}}}\n"
    )
    check(text)


# -- hostile shapes: bounded time and memory -------------------------------------------------


@contextmanager
def bounded_memory(limit: int = PEAK_BYTES) -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < limit, f"peak {peak / 2**20:.0f} MiB"


def billion_laughs(levels: int, width: int) -> str:
    lines = ["a0: &a0 [lol]"]
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(billion_laughs(10, 10), id="billion-laughs"),
        pytest.param(billion_laughs(30, 2), id="deep-laughs"),
        pytest.param("apiVersion: v1\nkind: Pod\nmetadata: &m {name: x, labels: *m}\n", id="self"),
        pytest.param("a: &a [*a, *a]\n", id="cycle"),
        pytest.param("[" * 100_000 + "]" * 100_000, id="deep-json-lists"),
        pytest.param('{"a":' * 50_000 + "1" + "}" * 50_000, id="deep-json-maps"),
        pytest.param("a:\n" + "".join(" " * i + "- \n" for i in range(1, 3000)), id="deep-yaml"),
        pytest.param("- " * 20_000 + "x", id="deep-yaml-inline"),
        pytest.param("[" * 20_000, id="unclosed"),
        # PyYAML (pure Python) reads about 200 KB/s: big YAML is slow, but linear.
        pytest.param("---\n" * 20_000, id="empty-documents"),
        pytest.param("- x\n" * 20_000, id="long-list"),
        pytest.param("k: " + "x" * 2**18, id="huge-string"),
        pytest.param("{" + ",".join(f'"k{i}":{i}' for i in range(300_000)) + "}", id="wide"),
    ],
)
def test_hostile_documents_are_refused_in_bounded_time_and_memory(text: str) -> None:
    check(text)  # timed
    with bounded_memory():  # tracemalloc makes it slower: timed above, measured here
        check_untimed(text)


def check_untimed(text: str) -> None:
    try:
        load_text(text, None)
    except ManifestError as error:
        assert_named(error)


def test_many_documents() -> None:
    pod = yaml.safe_dump(SEEDS[0])
    names = [f"p{i}" for i in range(500)]
    text = "---\n".join(
        pod.replace(f"name: {SEEDS[0]['metadata']['name']}", f"name: {n}", 1) for n in names
    )
    check(text)
    with bounded_memory():
        check_untimed(text)


def test_a_file_over_the_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * MAX_FILE_BYTES)
    with bounded(), pytest.raises(ManifestError, match="file too large"):
        load_file(path)
