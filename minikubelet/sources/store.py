"""Pods, ConfigMaps and Secrets created through the API, remembered across daemon restarts.

A pod created through the API lives until it is deleted, even when the daemon
restarts in between: the apiserver's etcd plays that part for a real kubelet. Here each
such pod is one file, ``<root-dir>/pods-api/<namespace>_<name>.json``, holding the
manifest as it was sent (``Pod.manifest``). Kubernetes names and namespaces cannot contain
``_`` or ``/``, so the file name is unambiguous and cannot escape the directory.

The store listens to the kubelet (``Kubelet.watch``): ``ADDED`` of a pod that is not static
writes its file, ``DELETED`` removes it. A daemon that stops (SIGTERM) terminates its pods
without deleting them, so the files stay and ``restore`` starts the pods again next time.
Each file also holds the pod's ``uid`` and ``creationTimestamp``: the restored pod is the
same pod (with the same labels and annotations, and its containers' history from the
daemon's checkpoints), not a new one. Writes are atomic (a hidden
temporary file renamed over the old one) so a crash never leaves half a manifest; they are
small and done inline by the listener, which keeps them in the order the kubelet told them.
The directory is created 0700 and the files 0600 (``minikubelet.rootdir``): a manifest
can hold secrets in its ``env``.

ConfigMaps and Secrets created through the API are kept the same way, one file each under
``<root-dir>/configmaps-api`` and ``<root-dir>/secrets-api``, as the API serves them (a
Secret's ``data`` base64, as the apiserver stores it; 0600 like everything else). They keep
their uid and creation time, and are restored when the store attaches, before any pod
starts, so a pod never starts before the objects its environment needs. Objects defined in
manifest files are not saved: their files bring them back.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from minikubelet.api.objects import object_json
from minikubelet.errors import DuplicateObjectError, DuplicatePodError, ManifestError
from minikubelet.kubelet import Kubelet
from minikubelet.manifest import load_bytes
from minikubelet.model.snapshot import PodSnapshot, WatchEventType
from minikubelet.model.spec import ObjectKind
from minikubelet.objects import StoredObject
from minikubelet.rootdir import make_private_dir, write_private

__all__ = ["API_OBJECTS_DIRS", "API_PODS_DIR", "ApiPodStore"]

_log = structlog.get_logger("minikubelet.sources.store")

API_PODS_DIR = "pods-api"
API_OBJECTS_DIRS = {kind: f"{kind.resource}-api" for kind in ObjectKind}


class ApiPodStore:
    """The saved manifests of API-created pods under ``<root-dir>/pods-api``."""

    def __init__(self, root_dir: Path) -> None:
        self.directory = root_dir / API_PODS_DIR
        self.object_directories = {kind: root_dir / name for kind, name in API_OBJECTS_DIRS.items()}
        self._saved: dict[str, object] = {}  # pod uid -> the manifest last saved for it

    def path_for(self, namespace: str, name: str, directory: Path | None = None) -> Path:
        if "/" in namespace + name or namespace.startswith(".") or name.startswith("."):
            raise ValueError(f"not a Kubernetes name: {namespace}/{name}")
        return (directory or self.directory) / f"{namespace}_{name}.json"

    def attach(self, kubelet: Kubelet) -> Callable[[], None]:
        """Restore the saved ConfigMaps and Secrets, then save and forget pods and objects
        as the kubelet adds and deletes them; returns the detach."""
        self.restore_objects(kubelet)
        stop_pods = kubelet.watch(self._on_pod_event)
        stop_objects = kubelet.objects.watch(self._on_object_event)

        def detach() -> None:
            stop_pods()
            stop_objects()

        return detach

    def _on_pod_event(self, kind: WatchEventType, snapshot: PodSnapshot) -> None:
        if snapshot.is_static:
            return
        if kind is WatchEventType.ADDED:
            self.save(snapshot)
        elif kind is WatchEventType.MODIFIED and self._saved.get(snapshot.uid) is not (
            snapshot.pod.manifest
        ):
            self.save(snapshot)  # updated in place (``Kubelet.update_pod``): a new manifest
        elif kind is WatchEventType.DELETED:
            self._saved.pop(snapshot.uid, None)
            self.forget(snapshot.pod.namespace, snapshot.pod.name)

    def save(self, snapshot: PodSnapshot) -> None:
        pod = snapshot.pod
        self._saved[snapshot.uid] = pod.manifest
        if not pod.manifest:
            _log.warning(
                "api_pod.not_saved", pod=f"{pod.namespace}/{pod.name}", reason="no manifest"
            )
            return
        try:
            path = self.path_for(pod.namespace, pod.name)
            make_private_dir(self.directory)
            text = json.dumps(_with_identity(snapshot), indent=2, default=str) + "\n"
            write_private(path, text.encode())
        except (OSError, ValueError) as error:
            _log.error("api_pod.not_saved", pod=f"{pod.namespace}/{pod.name}", error=str(error))

    def forget(self, namespace: str, name: str) -> None:
        try:
            self.path_for(namespace, name).unlink(missing_ok=True)
        except (OSError, ValueError) as error:
            _log.error("api_pod.not_forgotten", pod=f"{namespace}/{name}", error=str(error))

    def saved(self, directory: Path | None = None) -> list[Path]:
        """The saved manifests, in name order (hidden temporary files are not)."""
        with contextlib.suppress(FileNotFoundError):
            return sorted(
                path
                for path in (directory or self.directory).iterdir()
                if path.suffix == ".json" and not path.name.startswith(".")
            )
        return []

    # -- ConfigMaps and Secrets ----------------------------------------------------

    def _on_object_event(self, kind: WatchEventType, stored: StoredObject) -> None:
        if stored.from_file:
            return
        if kind is WatchEventType.DELETED:
            self._forget_object(stored)
        else:
            self._save_object(stored)

    def _save_object(self, stored: StoredObject) -> None:
        label = f"{stored.kind.singular} {stored.namespace}/{stored.name}"
        directory = self.object_directories[stored.kind]
        try:
            path = self.path_for(stored.namespace, stored.name, directory)
            make_private_dir(directory)
            text = json.dumps(object_json(stored), indent=2) + "\n"
            write_private(path, text.encode())
        except (OSError, ValueError) as error:
            _log.error("api_object.not_saved", object=label, error=str(error))

    def _forget_object(self, stored: StoredObject) -> None:
        directory = self.object_directories[stored.kind]
        try:
            self.path_for(stored.namespace, stored.name, directory).unlink(missing_ok=True)
        except (OSError, ValueError) as error:
            label = f"{stored.kind.singular} {stored.namespace}/{stored.name}"
            _log.error("api_object.not_forgotten", object=label, error=str(error))

    def restore_objects(self, kubelet: Kubelet) -> int:
        """Put every saved ConfigMap and Secret back, with its uid and creation time;
        returns how many. Read inline: this runs once, before any pod or request.

        A file that no longer loads is logged and left in place, as for pods.
        """
        restored = 0
        for kind, directory in self.object_directories.items():
            for path in self.saved(directory):
                try:
                    result = load_bytes(path.read_bytes(), None)
                except OSError as error:
                    _log.error("api_object.restore_failed", file=str(path), error=str(error))
                    continue
                except ManifestError as error:
                    _log.error(
                        "api_object.restore_failed", file=str(path), error=f"{path}: {error}"
                    )
                    continue
                for obj in result.objects:
                    if obj.kind is not kind:
                        continue
                    uid, created = _identity(obj.manifest.get("metadata"))
                    try:
                        kubelet.objects.create(obj, uid=uid, created_at=created)
                    except DuplicateObjectError as error:
                        _log.error("api_object.restore_failed", file=str(path), error=str(error))
                        continue
                    restored += 1
        if restored:
            _log.info("api_objects.restored", objects=restored)
        return restored

    async def restore(self, kubelet: Kubelet) -> int:
        """Start every saved pod again; returns how many started.

        A file that no longer loads (edited by hand, or a rule got stricter) is logged and
        left where it is, so nothing the user created is lost; a name already taken (a
        static pod now defines it) is logged and skipped.
        """
        started = 0
        for path in self.saved():
            try:
                result = load_bytes(path.read_bytes(), None)
            except OSError as error:
                _log.error("api_pod.restore_failed", file=str(path), error=str(error))
                continue
            except ManifestError as error:
                _log.error("api_pod.restore_failed", file=str(path), error=f"{path}: {error}")
                continue
            for warning in result.warnings:
                _log.warning("api_pod.field_ignored", file=str(path), warning=str(warning))
            for pod in result.pods:
                uid, created = _identity(pod.manifest.get("metadata"))
                try:
                    await kubelet.add_pod(pod, uid=uid, created_at=created)
                except DuplicatePodError as error:
                    _log.error("api_pod.restore_failed", file=str(path), error=str(error))
                    continue
                started += 1
                _log.info("api_pod.restored", pod=f"{pod.namespace}/{pod.name}", file=str(path))
        return started


def _with_identity(snapshot: PodSnapshot) -> dict[str, Any]:
    """The manifest to save: as it was sent, with the pod's uid and creation time, so that
    the pod restored from it is the same pod (watchers and ``describe`` key on the uid)."""
    manifest = dict(snapshot.pod.manifest)
    metadata = manifest.get("metadata")
    manifest["metadata"] = {
        **(metadata if isinstance(metadata, Mapping) else {}),
        "uid": snapshot.uid,
        "creationTimestamp": snapshot.created_at.isoformat(),
    }
    return manifest


def _identity(metadata: object) -> tuple[str | None, datetime | None]:
    """The uid and creation time a saved object had (None: not readable, a new one)."""
    if not isinstance(metadata, Mapping):
        return None, None
    uid = metadata.get("uid")
    created: datetime | None = None
    stamp = metadata.get("creationTimestamp")
    if isinstance(stamp, str):
        with contextlib.suppress(ValueError):
            created = datetime.fromisoformat(stamp)
    return (uid if isinstance(uid, str) and uid else None), created
