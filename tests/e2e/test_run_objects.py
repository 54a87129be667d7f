"""``minikubelet run FILE...`` with ConfigMaps and Secrets beside the pods."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.e2e.test_run_cli import run

pytestmark = [pytest.mark.e2e]


def test_config_example_reads_its_config_map_and_secret(tmp_path: Path) -> None:
    result = run(tmp_path, "examples/config.yaml")
    assert result.returncode == 0, result.stderr
    assert "greeter/greeter | Hello, world!\n" in result.stdout
    assert "greeter/greeter | token: 16 characters\n" in result.stdout
    assert "not-a-real-token" not in result.stdout + result.stderr
    assert "pod greeter: Succeeded" in result.stderr


def test_objects_may_come_from_another_file(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        textwrap.dedent(
            """\
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: shared}
            data: {WORD: shared-value}
            """
        )
    )
    pod = tmp_path / "pod.yaml"
    pod.write_text(
        textwrap.dedent(
            """\
            apiVersion: v1
            kind: Pod
            metadata: {name: reader}
            spec:
              restartPolicy: Never
              containers:
              - name: app
                command: [sh, -c, 'echo "$WORD"']
                envFrom: [{configMapRef: {name: shared}}]
            """
        )
    )
    result = run(tmp_path, str(pod), str(config))
    assert result.returncode == 0, result.stderr
    assert "reader/app | shared-value\n" in result.stdout


def test_an_object_defined_twice_is_refused_before_anything_starts(tmp_path: Path) -> None:
    text = "apiVersion: v1\nkind: Secret\nmetadata: {name: twice}\nstringData: {a: b}\n"
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(text)
    second.write_text(text)
    result = run(tmp_path, str(first), str(second))
    assert result.returncode == 1
    assert result.stderr == (
        f'error: {second}: secret "twice": metadata.name: Duplicate value: "twice": secret '
        f"default/twice is already defined in {first}\n"
    )
