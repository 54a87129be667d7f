"""Who a container runs as, from its securityContext and the host (a table)."""

from __future__ import annotations

import pytest

from minikubelet.errors import ContainerConfigError
from minikubelet.logic.identity import UserEntry, identity_env, resolve_identity
from minikubelet.model.launch import Identity
from minikubelet.model.spec import SecurityContext

USERS = {
    0: UserEntry("root", 0, 0, "/root", (0,)),
    1000: UserEntry("dev", 1000, 1000, "/home/dev", (1000, 27, 100)),
    65534: UserEntry("nobody", 65534, 65534, "/nonexistent", (65534,)),
}
POD = "web_default(1234)"


def resolve(security: SecurityContext, euid: int = 0, egid: int = 0) -> Identity | None:
    return resolve_identity(
        security, euid=euid, egid=egid, lookup=USERS.get, pod=POD, container="app"
    )


@pytest.mark.parametrize(
    ("security", "expected"),
    [
        (SecurityContext(), None),  # as minikubelet itself
        (
            SecurityContext(run_as_user=1000),
            Identity(1000, 1000, (1000, 27, 100), "dev", "/home/dev"),
        ),
        (
            SecurityContext(run_as_user=1000, run_as_group=5),
            Identity(1000, 5, (1000, 27, 100), "dev", "/home/dev"),
        ),
        (SecurityContext(run_as_user=4321), Identity(4321, 4321, (), "", "/")),  # no entry
        (
            SecurityContext(run_as_user=65534, supplemental_groups=(7, 65534)),
            Identity(65534, 65534, (65534, 7), "nobody", "/nonexistent"),
        ),
        (SecurityContext(run_as_group=9), Identity(0, 9, (0,), "root", "/root")),
        (
            SecurityContext(run_as_user=1000, run_as_non_root=True),
            Identity(1000, 1000, (1000, 27, 100), "dev", "/home/dev"),
        ),
    ],
)
def test_as_root(security: SecurityContext, expected: Identity | None) -> None:
    assert resolve(security) == expected


@pytest.mark.parametrize(
    ("security", "message"),
    [
        (
            SecurityContext(run_as_non_root=True),
            f'container has runAsNonRoot and image will run as root (pod: "{POD}", container: app)',
        ),
        (
            SecurityContext(run_as_user=0, run_as_non_root=True),
            f'container\'s runAsUser breaks non-root policy (pod: "{POD}", container: app)',
        ),
    ],
)
def test_run_as_non_root(security: SecurityContext, message: str) -> None:
    with pytest.raises(ContainerConfigError) as caught:
        resolve(security)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "security",
    [
        SecurityContext(run_as_user=0),
        SecurityContext(run_as_user=1000),
        SecurityContext(run_as_group=0),
        SecurityContext(supplemental_groups=(5,)),
    ],
)
def test_a_non_root_minikubelet_cannot_switch_users(security: SecurityContext) -> None:
    with pytest.raises(ContainerConfigError, match="need minikubelet to run as root"):
        resolve(security, euid=1001, egid=1001)


def test_a_non_root_minikubelet_accepts_its_own_ids() -> None:
    assert resolve(SecurityContext(run_as_user=1001, run_as_group=1001), 1001, 1001) is None
    assert resolve(SecurityContext(run_as_non_root=True), 1001, 1001) is None


def test_the_users_environment() -> None:
    assert identity_env(Identity(1000, 1000, (), "dev", "/home/dev")) == {
        "HOME": "/home/dev",
        "USER": "dev",
        "LOGNAME": "dev",
    }
    assert identity_env(Identity(4321, 4321)) == {"HOME": "/", "USER": None, "LOGNAME": None}
