"""Pods created through the API, remembered across daemon restarts.

A pod created through the API "lives until deleted" (DESIGN.md), even when the daemon
restarts in between: the apiserver's etcd plays that part for a real kubelet. Here each
such pod is one file, ``<root-dir>/pods-api/<namespace>_<name>.json``, holding the
manifest as it was sent (``Pod.manifest``). Kubernetes names and namespaces cannot contain
``_`` or ``/``, so the file name is unambiguous and cannot escape the directory.

The store listens to the kubelet (``Kubelet.watch``): ``ADDED`` of a pod that is not static
writes its file, ``DELETED`` removes it. A daemon that stops (SIGTERM) terminates its pods
without deleting them, so the files stay and ``restore`` starts the pods again next time,
each with a fresh uid (a new process is a new pod instance). Writes are atomic (a hidden
temporary file renamed over the old one) so a crash never leaves half a manifest; they are
small and done inline by the listener, which keeps them in the order the kubelet told them.
The directory is created 0700 and the files 0600 (``minikubelet.rootdir``): a manifest
can hold secrets in its ``env``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path

import structlog

from minikubelet.capabilities import unimplemented_warnings
from minikubelet.errors import DuplicatePodError, ManifestError
from minikubelet.kubelet import Kubelet
from minikubelet.manifest import load_text
from minikubelet.model.snapshot import PodSnapshot, WatchEventType
from minikubelet.rootdir import make_private_dir, write_private

__all__ = ["API_PODS_DIR", "ApiPodStore"]

_log = structlog.get_logger("minikubelet.sources.store")

API_PODS_DIR = "pods-api"


class ApiPodStore:
    """The saved manifests of API-created pods under ``<root-dir>/pods-api``."""

    def __init__(self, root_dir: Path) -> None:
        self.directory = root_dir / API_PODS_DIR
        self._saved: dict[str, object] = {}  # pod uid -> the manifest last saved for it

    def path_for(self, namespace: str, name: str) -> Path:
        if "/" in namespace + name or namespace.startswith(".") or name.startswith("."):
            raise ValueError(f"not a Kubernetes name: {namespace}/{name}")
        return self.directory / f"{namespace}_{name}.json"

    def attach(self, kubelet: Kubelet) -> Callable[[], None]:
        """Save and forget pods as the kubelet adds and deletes them; returns the detach."""
        return kubelet.watch(self._on_pod_event)

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
            text = json.dumps(pod.manifest, indent=2, sort_keys=False, default=str) + "\n"
            write_private(path, text.encode())
        except (OSError, ValueError) as error:
            _log.error("api_pod.not_saved", pod=f"{pod.namespace}/{pod.name}", error=str(error))

    def forget(self, namespace: str, name: str) -> None:
        try:
            self.path_for(namespace, name).unlink(missing_ok=True)
        except (OSError, ValueError) as error:
            _log.error("api_pod.not_forgotten", pod=f"{namespace}/{name}", error=str(error))

    def saved(self) -> list[Path]:
        """The saved manifests, in name order (hidden temporary files are not)."""
        with contextlib.suppress(FileNotFoundError):
            return sorted(
                path
                for path in self.directory.iterdir()
                if path.suffix == ".json" and not path.name.startswith(".")
            )
        return []

    async def restore(self, kubelet: Kubelet) -> int:
        """Start every saved pod again; returns how many started.

        A file that no longer loads (edited by hand, or a rule got stricter) is logged and
        left where it is, so nothing the user created is lost; a name already taken (a
        static pod now defines it) is logged and skipped.
        """
        started = 0
        for path in self.saved():
            try:
                result = load_text(path.read_text(encoding="utf-8"), None)
            except (OSError, UnicodeDecodeError) as error:
                _log.error("api_pod.restore_failed", file=str(path), error=str(error))
                continue
            except ManifestError as error:
                _log.error("api_pod.restore_failed", file=str(path), error=f"{path}: {error}")
                continue
            for pod in result.pods:
                unimplemented = unimplemented_warnings(pod)
                for warning in (*result.warnings, *unimplemented):
                    _log.warning("api_pod.field_ignored", file=str(path), warning=str(warning))
                try:
                    await kubelet.add_pod(pod)
                except DuplicatePodError as error:
                    _log.error("api_pod.restore_failed", file=str(path), error=str(error))
                    continue
                started += 1
                _log.info("api_pod.restored", pod=f"{pod.namespace}/{pod.name}", file=str(path))
        return started
