"""Who a container's processes run as: ``securityContext`` resolved against the host.

Sources: ``pkg/kubelet/kuberuntime/security_context_others.go verifyRunAsNonRoot`` (the
runAsNonRoot messages) and the container runtime's user resolution (runc/containerd:
``runAsUser`` without ``runAsGroup`` takes the user's primary group from the user database
of the image, the uid's own number when it has no entry; supplementary groups from the
database plus ``supplementalGroups``), as systemd's ``User=`` does on a host.

Pure: the caller passes who minikubelet runs as and a lookup into the host's user
database, and gets the ``Identity`` to spawn with, None for "as minikubelet itself", or a
``ContainerConfigError`` when the manifest asks for what cannot be honoured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from minikubelet.errors import ContainerConfigError
from minikubelet.model.launch import Identity
from minikubelet.model.spec import SecurityContext

__all__ = ["UserEntry", "identity_env", "resolve_identity"]


@dataclass(frozen=True)
class UserEntry:
    """One entry of the host's user database (``getpwuid`` and ``getgrouplist``)."""

    name: str
    uid: int
    gid: int
    home: str
    groups: tuple[int, ...] = ()


def resolve_identity(
    security: SecurityContext,
    *,
    euid: int,
    egid: int,
    lookup: Callable[[int], UserEntry | None],
    pod: str,
    container: str,
) -> Identity | None:
    """The identity ``container`` runs as; ``pod`` is ``name_namespace(uid)``.

    minikubelet can only switch users as root; run by another user, a manifest asking for
    a different user or group is an error, never silently run as minikubelet's user.
    """
    user, group, extra = security.run_as_user, security.run_as_group, security.supplemental_groups
    if euid != 0:
        if (user not in (None, euid)) or (group not in (None, egid)) or extra:
            raise ContainerConfigError(
                f"container {container}: runAsUser, runAsGroup and supplementalGroups need "
                f"minikubelet to run as root to switch to them (it runs as uid {euid}, gid "
                f"{egid}): remove them, or set them to minikubelet's own"
            )
        return None
    uid = 0 if user is None else user
    if security.run_as_non_root and uid == 0:
        if user == 0:
            message = "container's runAsUser breaks non-root policy"
        else:
            message = "container has runAsNonRoot and image will run as root"
        raise ContainerConfigError(f'{message} (pod: "{pod}", container: {container})')
    if user is None and group is None and not extra:
        return None  # as minikubelet itself: root, with root's environment
    entry = lookup(uid)
    gid = group if group is not None else (entry.gid if entry is not None else uid)
    groups: list[int] = []
    for candidate in (*(entry.groups if entry is not None else ()), *extra):
        if candidate not in groups:
            groups.append(candidate)
    return Identity(
        uid=uid,
        gid=gid,
        groups=tuple(groups),
        name=entry.name if entry is not None else "",
        home=entry.home if entry is not None else "/",
    )


def identity_env(identity: Identity) -> dict[str, str | None]:
    """``HOME``, ``USER`` and ``LOGNAME`` for ``identity`` (None: remove the variable, for
    a uid with no entry in the user database, as a container runtime leaves them unset)."""
    name = identity.name or None
    return {"HOME": identity.home, "USER": name, "LOGNAME": name}
