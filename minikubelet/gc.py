"""Garbage collection of what dead containers and deleted pods leave on disk.

The kubelet's container GC (``pkg/kubelet/kuberuntime/kuberuntime_gc.go``, with the
default policy ``MaxPerPodContainer: 1``, ``MinAge: 0``) keeps one dead instance per
container, with its log (what ``logs --previous`` reads), and removes the rest; the log
directory of a pod that no longer exists goes too (``evictPodLogsDirectories``). Here,
each instance leaves ``<container>/<restartCount>.log`` (with its rotated files) and
``<restartCount>.termination-log`` in the pod's directory: when instance N starts, the
files of instances before N-1 are removed; when a pod is deleted, its directory is.

Without this, a container crash-looping for a day leaves thousands of files behind, and
every log lookup lists them all.

Work is done inline by the listener, in the order the kubelet reports changes: a start
removes two or three small files; a deletion removes one directory of a few files. A pod
that is terminated, not deleted (the daemon stopping), keeps everything: it comes back.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import structlog

from minikubelet.model.snapshot import PodSnapshot, Watchable, WatchEventType

__all__ = ["KEEP_DEAD", "ContainerGC"]

_log = structlog.get_logger("minikubelet.gc")

KEEP_DEAD = 1  # dead instances kept per container (MaxPerPodContainer)


class ContainerGC:
    def __init__(self) -> None:
        # (pod uid, container) -> the oldest restart count whose files may still exist
        self._oldest: dict[tuple[str, str], int] = {}

    def attach(self, kubelet: Watchable) -> Callable[[], None]:
        """Collect as the kubelet's pods change; returns the detach."""
        return kubelet.watch(self._on_pod_event)

    def _on_pod_event(self, kind: WatchEventType, snapshot: PodSnapshot) -> None:
        if kind is WatchEventType.DELETED:
            self._remove_pod(snapshot)
            return
        for name, record in snapshot.records.items():
            latest = record.latest
            if latest is None:
                continue
            keep_from = latest.restart_count - KEEP_DEAD
            key = (snapshot.uid, name)
            oldest = self._oldest.get(key)
            # One listing of the container's directory: it holds the files of two or three
            # instances (or, the first time, whatever an earlier run left behind).
            if oldest is None or keep_from > oldest:
                self._remove_older(snapshot.log_dir / name, keep_from)
                self._oldest[key] = keep_from

    def _remove_older(self, directory: Path, keep_from: int) -> None:
        if keep_from <= 0:
            return
        try:
            names = [entry.name for entry in directory.iterdir()]
        except OSError:
            return  # no directory yet: nothing to collect
        for name in names:  # N.log, N.log.00000001[.gz], N.termination-log
            count = name.split(".", 1)[0]
            if count.isdigit() and int(count) < keep_from:
                _unlink(directory / name)

    def _remove_pod(self, snapshot: PodSnapshot) -> None:
        for key in [key for key in self._oldest if key[0] == snapshot.uid]:
            del self._oldest[key]
        try:
            shutil.rmtree(snapshot.log_dir)
        except FileNotFoundError:
            pass
        except OSError as error:
            _log.warning("gc.not_removed", file=str(snapshot.log_dir), error=str(error))


def _unlink(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as error:
        _log.warning("gc.not_removed", file=str(path), error=str(error))
