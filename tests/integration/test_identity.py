"""Who a container runs as, and the files written for it, on real processes (as root).

The unprivileged side runs as ``nobody``; these tests need minikubelet to be root to
switch users, and skip with the reason otherwise. The container programs use the
system's Python (``/usr/bin/python3``): the test venv's interpreter may live under a
directory ``nobody`` cannot enter.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from minikubelet.kubelet import Kubelet
from minikubelet.model.spec import Container, RestartPolicy, SecurityContext
from minikubelet.model.status import PodPhase, PodStatus, Terminated, Waiting
from minikubelet.testing import container, wait_for_status
from tests.helpers.pods import pod, start

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs minikubelet to be root"),
]

SYSTEM_PYTHON = "/usr/bin/python3"
NOBODY = pwd.getpwnam("nobody")
REPORT = (
    "import json, os; print(json.dumps({'uid': os.getuid(), 'gid': os.getgid(), "
    "'groups': sorted(os.getgroups()), 'home': os.environ.get('HOME'), "
    "'user': os.environ.get('USER'), 'logname': os.environ.get('LOGNAME'), 'cwd': os.getcwd()}))"
)

if not os.access(SYSTEM_PYTHON, os.X_OK):
    pytestmark.append(pytest.mark.skip(reason=f"{SYSTEM_PYTHON} is needed as nobody's Python"))


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory everyone can reach (pytest's own tmp dirs are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="mk-identity-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def reporter(**security: object) -> Container:
    return Container(
        name="app",
        command=(SYSTEM_PYTHON, "-c", REPORT),
        working_dir="/tmp",
        security_context=SecurityContext(**security),  # type: ignore[arg-type]
    )


async def report_of(kubelet: Kubelet, app: Container) -> dict[str, object]:
    worker = await start(kubelet, pod("who", app, policy=RestartPolicy.NEVER))
    await worker.wait_done()
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated), state
    assert state.exit_code == 0, state
    line = worker.log_path("app", 0).read_text().splitlines()[-1]
    report: dict[str, object] = json.loads(line.split(" ", 3)[3])
    return report


async def test_run_as_user_alone_takes_the_users_own_group(kubelet: Kubelet) -> None:
    report = await report_of(kubelet, reporter(run_as_user=NOBODY.pw_uid))
    assert report["uid"] == NOBODY.pw_uid
    assert report["gid"] == NOBODY.pw_gid  # never 0, the root group
    assert 0 not in report["groups"]  # type: ignore[operator]
    assert report["home"] == NOBODY.pw_dir
    assert report["user"] == report["logname"] == "nobody"


async def test_a_uid_without_an_entry_gets_its_own_number(kubelet: Kubelet) -> None:
    uid = 54321
    with pytest.raises(KeyError):
        pwd.getpwuid(uid)
    report = await report_of(kubelet, reporter(run_as_user=uid))
    assert (report["uid"], report["gid"]) == (uid, uid)
    assert report["home"] == "/"
    assert report["user"] is None


async def test_supplemental_groups_are_added(kubelet: Kubelet) -> None:
    app = reporter(run_as_user=NOBODY.pw_uid, run_as_group=4242, supplemental_groups=(4343,))
    report = await report_of(kubelet, app)
    assert report["gid"] == 4242
    assert 4343 in report["groups"]  # type: ignore[operator]


async def test_a_working_dir_the_user_cannot_enter_is_a_start_error(
    kubelet: Kubelet, tmp_path: Path
) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    app = replace(reporter(run_as_user=NOBODY.pw_uid), working_dir=str(private))
    worker = await start(kubelet, pod("denied", app, policy=RestartPolicy.NEVER))
    await worker.wait_done()
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated)
    assert (state.exit_code, state.reason) == (128, "StartError")
    assert str(private) in state.message
    assert f"uid {NOBODY.pw_uid}" in state.message


async def test_run_as_non_root_refuses_root(kubelet: Kubelet) -> None:
    worker = await start(kubelet, pod("rootish", reporter(run_as_non_root=True)))

    def refused(status: PodStatus) -> bool:
        state = container(status, "app").state
        return isinstance(state, Waiting) and state.reason == "CreateContainerConfigError"

    status = await wait_for_status(worker, refused)
    state = container(status, "app").state
    assert isinstance(state, Waiting)
    assert state.message == (
        f'container has runAsNonRoot and image will run as root (pod: "rootish_default'
        f'({worker.uid})", container: app)'
    )
    assert status.phase is PodPhase.PENDING
    worker.terminate()
    await worker.wait_done()


async def test_a_root_owned_message_file_is_left_untouched(
    kubelet: Kubelet, shared_dir: Path
) -> None:
    target = shared_dir / "shadow"
    target.write_text("root's own")
    target.chmod(0o600)
    app = replace(reporter(run_as_user=NOBODY.pw_uid), termination_message_path=str(target))
    worker = await start(kubelet, pod("shadow", app, policy=RestartPolicy.NEVER))
    await worker.wait_done()
    assert target.read_text() == "root's own"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.stat().st_uid == 0
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated)
    assert state.reason == "StartError"
    assert "may not write this file" in state.message


@pytest.fixture
def writable_dir(shared_dir: Path) -> Path:
    shared_dir.chmod(0o777)
    return shared_dir


async def test_an_explicit_message_file_is_created_as_the_container(
    kubelet: Kubelet, writable_dir: Path
) -> None:
    target = writable_dir / "message"
    say = f"open({str(target)!r}, 'w').write('bye from nobody')"
    app = replace(
        reporter(run_as_user=NOBODY.pw_uid),
        command=(SYSTEM_PYTHON, "-c", say),
        termination_message_path=str(target),
    )
    worker = await start(kubelet, pod("msg", app, policy=RestartPolicy.NEVER))
    await worker.wait_done()
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated)
    assert state.message == "bye from nobody"
    assert target.stat().st_uid == NOBODY.pw_uid
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


async def test_the_default_message_reaches_a_non_root_container(kubelet: Kubelet) -> None:
    say = "import os; open(os.environ['MINIKUBELET_TERMINATION_LOG'], 'w').write('done')"
    app = replace(reporter(run_as_user=NOBODY.pw_uid), command=(SYSTEM_PYTHON, "-c", say))
    worker = await start(kubelet, pod("msg", app, policy=RestartPolicy.NEVER))
    await worker.wait_done()
    state = container(worker.status, "app").state
    assert isinstance(state, Terminated)
    assert (state.exit_code, state.message) == (0, "done")
    log = worker.log_path("app", 0)
    assert log.stat().st_uid == NOBODY.pw_uid  # its log files are its own
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
