"""``CreateContainerConfigError`` on the fake runtime under virtual time (trio's MockClock).

A restart that finds its ConfigMap gone keeps the container's restart count and last state,
waits without retrying (no back-off wake-ups, no polling), and goes on as soon as the
ConfigMap is back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from trio.testing import MockClock

from minikubelet.kubelet import Kubelet
from minikubelet.logic.backoff import BackoffPolicy
from minikubelet.model.objects import ConfigMap
from minikubelet.model.spec import (
    Container,
    EnvFromSource,
    ObjectKind,
    ObjectMeta,
    Pod,
    PodSpec,
)
from minikubelet.model.status import Running, Waiting
from minikubelet.settings import Settings
from minikubelet.testing import FakeRuntime, Script, container, wait_for_status
from tests.helpers.pods import start

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return ("trio", {"clock": MockClock(autojump_threshold=0)})


async def test_a_restart_without_its_config_map_waits_for_it(tmp_path: Path) -> None:
    runtime = FakeRuntime()
    runtime.script("app", Script(exit_code=1, runs_for=5.0))
    settings = Settings(root_dir=tmp_path, backoff=BackoffPolicy(initial=10.0, maximum=300.0))
    app = Container(
        name="app",
        command=("app",),
        env_from=(EnvFromSource(ObjectKind.CONFIG_MAP, "settings"),),
    )
    spec = Pod(metadata=ObjectMeta(name="web"), spec=PodSpec(containers=(app,)))
    settings_map = ConfigMap(metadata=ObjectMeta(name="settings"), data={"A": "1"})
    async with Kubelet(settings, runtime=runtime) as kubelet:
        kubelet.objects.create(settings_map)
        worker = await start(kubelet, spec)
        await wait_for_status(worker, lambda s: isinstance(container(s, "app").state, Running))
        kubelet.objects.delete(ObjectKind.CONFIG_MAP, "default", "settings")

        def config_error(status: Any) -> bool:
            state = container(status, "app").state
            return isinstance(state, Waiting) and state.reason == "CreateContainerConfigError"

        status = await wait_for_status(worker, config_error, timeout=60)
        app_status = container(status, "app")
        assert app_status.restart_count == 0  # nothing was created: no new instance
        assert app_status.last_state is not None
        assert app_status.last_state.exit_code == 1
        assert len(runtime.started("app")) == 1

        # Minutes pass: no retry, no back-off event, the same message.
        await anyio.sleep(600)
        assert len(runtime.started("app")) == 1
        failed = [e for e in kubelet.recorder.events(pod="web") if e.reason == "Failed"]
        assert [(e.message, e.count) for e in failed] == [
            ('Error: configmap "settings" not found', 1)
        ]
        assert config_error(worker.status)

        # Back: the restart happens at once, with the restart count the kubelet would show.
        began = anyio.current_time()
        kubelet.objects.create(settings_map)
        status = await wait_for_status(
            worker, lambda s: isinstance(container(s, "app").state, Running)
        )
        assert anyio.current_time() == began
        assert container(status, "app").restart_count == 1
        assert runtime.started("app")[-1].launch.env["A"] == "1"
        kubelet.kill_all()
