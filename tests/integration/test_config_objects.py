"""ConfigMaps and Secrets in a container's environment, on real processes.

The container is a small Python program that writes the variables it was started with (one
JSON line per instance) and then waits to be stopped, so each test reads what the process
really saw.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.model.objects import ConfigMap, Secret
from minikubelet.model.spec import (
    Container,
    EnvFromSource,
    EnvVar,
    KeyRef,
    ObjectKind,
    ObjectMeta,
    RestartPolicy,
)
from minikubelet.model.status import PodStatus, Running, Waiting
from minikubelet.testing import container, wait_for_file, wait_for_status
from tests.conftest import PYTHON
from tests.helpers.pods import pod, start

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

# Writes the variables whose names start with the given prefixes, then sleeps until stopped.
DUMP = (
    "import json, os, sys, time\n"
    "out, prefixes = sys.argv[1], tuple(sys.argv[2:])\n"
    "seen = {k: v for k, v in os.environ.items() if k.startswith(prefixes)}\n"
    "with open(out, 'a') as f: f.write(json.dumps(seen, sort_keys=True) + '\\n')\n"
    "time.sleep(60)\n"
)


def dumper(
    out: Path,
    *prefixes: str,
    env: tuple[EnvVar, ...] = (),
    env_from: tuple[EnvFromSource, ...] = (),
) -> Container:
    return Container(
        name="app",
        command=(PYTHON, "-c", DUMP, str(out), *prefixes),
        env=env,
        env_from=env_from,
    )


def config_map(name: str, **data: str) -> ConfigMap:
    return ConfigMap(metadata=ObjectMeta(name=name), data=data)


def secret(name: str, **data: bytes) -> Secret:
    return Secret(metadata=ObjectMeta(name=name), data=data)


def lines(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def config_error(status: PodStatus) -> bool:
    state = container(status, "app").state
    return isinstance(state, Waiting) and state.reason == "CreateContainerConfigError"


async def test_the_process_sees_config_map_and_secret_values(
    kubelet: Kubelet, tmp_path: Path
) -> None:
    kubelet.objects.create(config_map("settings", GREETING="hello", MODE="fast"))
    kubelet.objects.create(secret("credentials", PASSWORD=b"s3cr\xc3\xa9t", TOKEN=b"abc"))
    out = tmp_path / "env.jsonl"
    app = dumper(
        out,
        "CFG_",
        "SEC_",
        "DB_",
        env_from=(
            EnvFromSource(ObjectKind.CONFIG_MAP, "settings", prefix="CFG_"),
            EnvFromSource(ObjectKind.SECRET, "credentials", prefix="SEC_"),
        ),
        env=(
            EnvVar("DB_PASSWORD", key_ref=KeyRef(ObjectKind.SECRET, "credentials", "PASSWORD")),
            EnvVar("DB_MODE", key_ref=KeyRef(ObjectKind.CONFIG_MAP, "settings", "MODE")),
            EnvVar("DB_URL", value="db://$(CFG_GREETING)@$(DB_MODE)"),
            EnvVar("CFG_MODE", value="overridden"),  # env wins over envFrom
        ),
    )
    worker = await start(kubelet, pod("reader", app))
    await wait_for_file(out, contains="\n")
    assert lines(out) == [
        {
            "CFG_GREETING": "hello",
            "CFG_MODE": "overridden",
            "DB_MODE": "fast",
            "DB_PASSWORD": "s3crét",
            "DB_URL": "db://hello@fast",
            "SEC_PASSWORD": "s3crét",
            "SEC_TOKEN": "abc",
        }
    ]
    assert container(worker.status, "app").restart_count == 0


async def test_a_missing_config_map_waits_then_starts_when_created(
    kubelet: Kubelet, tmp_path: Path
) -> None:
    out = tmp_path / "env.jsonl"
    app = dumper(
        out,
        "GREETING",
        env=(EnvVar("GREETING", key_ref=KeyRef(ObjectKind.CONFIG_MAP, "settings", "greeting")),),
    )
    worker = await start(kubelet, pod("waiter", app, policy=RestartPolicy.NEVER))
    status = await wait_for_status(worker, config_error)
    app_status = container(status, "app")
    assert app_status.state == Waiting(
        reason="CreateContainerConfigError", message='configmap "settings" not found'
    )
    assert app_status.restart_count == 0
    assert status.phase.value == "Pending"
    failed = [e for e in kubelet.recorder.events(pod="waiter") if e.reason == "Failed"]
    assert [(e.type.value, e.message, e.field_path) for e in failed] == [
        ("Warning", 'Error: configmap "settings" not found', "spec.containers{app}")
    ]
    assert not out.exists()

    # The key is still missing: the retry fails with the kubelet's next message.
    kubelet.objects.create(config_map("settings", other="x"))
    await wait_for_status(
        worker,
        lambda s: (
            container(s, "app").state
            == Waiting(
                reason="CreateContainerConfigError",
                message="couldn't find key greeting in ConfigMap default/settings",
            )
        ),
    )
    # And once it is there, the container starts at once (no polling, no back-off).
    kubelet.objects.replace(config_map("settings", greeting="hello"))
    status = await wait_for_status(worker, lambda s: isinstance(container(s, "app").state, Running))
    assert container(status, "app").restart_count == 0
    await wait_for_file(out, contains="\n")
    assert lines(out) == [{"GREETING": "hello"}]
    # One attempt per change, never a retry loop: each failure was recorded exactly once.
    failed = [e for e in kubelet.recorder.events(pod="waiter") if e.reason == "Failed"]
    assert [(e.message, e.count) for e in failed] == [
        ('Error: configmap "settings" not found', 1),
        ("Error: couldn't find key greeting in ConfigMap default/settings", 1),
    ]


async def test_a_missing_secret_key_names_the_secret(kubelet: Kubelet, tmp_path: Path) -> None:
    kubelet.objects.create(secret("credentials", user=b"admin"))
    ref = KeyRef(ObjectKind.SECRET, "credentials", "password")
    worker = await start(
        kubelet, pod("keyless", dumper(tmp_path / "out", "X", env=(EnvVar("X", key_ref=ref),)))
    )
    status = await wait_for_status(worker, config_error)
    assert container(status, "app").state == Waiting(
        reason="CreateContainerConfigError",
        message="couldn't find key password in Secret default/credentials",
    )


async def test_optional_references_start_without_the_objects(
    kubelet: Kubelet, tmp_path: Path
) -> None:
    out = tmp_path / "env.jsonl"
    app = dumper(
        out,
        "OPT",
        env_from=(EnvFromSource(ObjectKind.SECRET, "absent", optional=True, prefix="OPT_"),),
        env=(
            EnvVar("OPT_A", key_ref=KeyRef(ObjectKind.CONFIG_MAP, "absent", "a", optional=True)),
            EnvVar("OPT_B", value="set"),
        ),
    )
    await start(kubelet, pod("optional", app))
    await wait_for_file(out, contains="\n")
    assert lines(out) == [{"OPT_B": "set"}]  # an optional miss sets nothing, not even ""


async def test_a_changed_config_map_reaches_only_the_next_instance(
    kubelet: Kubelet, tmp_path: Path
) -> None:
    kubelet.objects.create(config_map("settings", LEVEL="1"))
    out = tmp_path / "env.jsonl"
    app = dumper(out, "LEVEL", env_from=(EnvFromSource(ObjectKind.CONFIG_MAP, "settings"),))
    worker = await start(kubelet, pod("changing", app))
    await wait_for_file(out, contains="\n")
    first = container(worker.status, "app")
    assert isinstance(first.state, Running)

    kubelet.objects.replace(config_map("settings", LEVEL="2"))
    # Nothing restarts on a change; the next start (asked for here) reads the new value.
    assert kubelet.restart_container("default", "changing", "app")
    status = await wait_for_status(
        worker,
        lambda s: (
            container(s, "app").restart_count >= 1
            and isinstance(container(s, "app").state, Running)
        ),
    )
    await wait_for_file(out, contains='"2"')
    assert lines(out) == [{"LEVEL": "1"}, {"LEVEL": "2"}]
    app_status = container(status, "app")
    assert app_status.restart_count == 1  # only the restart asked for
    assert app_status.last_state is not None
    assert app_status.last_state.finished_at >= first.state.started_at
    killings = [e for e in kubelet.recorder.events(pod="changing") if e.reason == "Killing"]
    assert len(killings) == 1


async def test_keys_that_are_not_names_are_skipped_with_an_event(
    kubelet: Kubelet, tmp_path: Path
) -> None:
    # Only an object that bypassed validation can hold such a key (see logic/environment.py).
    kubelet.objects.create(config_map("odd", GOOD="1", **{"BAD=KEY": "2"}))
    out = tmp_path / "env.jsonl"
    app = dumper(out, "GOOD", "BAD", env_from=(EnvFromSource(ObjectKind.CONFIG_MAP, "odd"),))
    await start(kubelet, pod("odd-keys", app))
    await wait_for_file(out, contains="\n")
    assert lines(out) == [{"GOOD": "1"}]
    (event,) = [
        e
        for e in kubelet.recorder.events(pod="odd-keys")
        if e.reason == "InvalidEnvironmentVariableNames"
    ]
    assert event.type.value == "Warning"
    assert event.field_path == ""  # on the pod, as the kubelet records it
    assert event.message == (
        "Keys [BAD=KEY] from the EnvFrom configMap default/odd were skipped since they are "
        "considered invalid environment variable names."
    )
