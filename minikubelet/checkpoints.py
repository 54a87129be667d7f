"""The daemon's checkpoints: each pod's container history, on disk, at every start and exit.

One file per pod, ``<root-dir>/checkpoints/<uid>.json`` (``model.checkpoint``), written
whenever an instance of one of its containers starts or ends, and removed when the pod is
deleted. A pod added again with the same uid after the daemon's restart (a static pod's
uid is the hash of its file, an API pod's is saved with it) gets its history back
(``Kubelet.add_pod``): the same ``restartCount``, its ``lastState``, the instances that
had finished.

The file is a journal: one JSON document per line, the newest last. The first write of a
daemon's run writes it whole and atomically (a temporary exchanged with it:
``rootdir.write_private``); later ones append a line in one ``write``, until the file
reaches ``COMPACT_AT`` bytes and is written whole again. A reader takes the last line that
parses (a line cut short by a crash mid-write is skipped). Appending creates and removes
no file: a crash-looping container's two writes per restart cost a tenth as much, and
file systems that pay for every new or removed inode (ext4 without a journal scans past
recently deleted ones at every create) are spared two of each per restart.

Writes are not fsync'ed: they guard against the daemon's death, not the machine's, and
the page cache survives a process. They are done inline by the listener, in the order
the kubelet reports changes, and only when an instance changed (not on probe results).

The daemon stops writing before it terminates its pods (``detach``): the checkpoints say
what ran before the stop, so those containers are started again next time, as the
kubelet starts containers its runtime no longer has (``logic.restore``). ``run`` keeps no
checkpoints: its pods live as long as the command.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from pathlib import Path

import structlog

from minikubelet.model.checkpoint import (
    PodCheckpoint,
    checkpoint_from_json,
    checkpoint_json,
)
from minikubelet.model.snapshot import PodSnapshot, Watchable, WatchEventType
from minikubelet.model.status import Instance
from minikubelet.rootdir import append_private, make_private_dir, write_private

__all__ = ["CHECKPOINTS_DIR", "COMPACT_AT", "CheckpointStore", "newest_document"]

_log = structlog.get_logger("minikubelet.checkpoints")

CHECKPOINTS_DIR = "checkpoints"
COMPACT_AT = 32 * 1024  # bytes: a journal this long is written whole again (~50 writes)
_UID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")  # a UUID, or the kubelet's hex hash

Instances = dict[str, tuple[Instance, ...]]


class CheckpointStore:
    def __init__(self, root_dir: Path) -> None:
        self.directory = root_dir / CHECKPOINTS_DIR
        self._written: dict[str, Instances] = {}  # pod uid -> the instances last written
        # pod uid -> the size of its journal, written whole by this store, then appended to
        self._sizes: dict[str, int] = {}

    def path_for(self, uid: str) -> Path:
        if not _UID.match(uid):
            raise ValueError(f"not a pod uid: {uid!r}")
        return self.directory / f"{uid}.json"

    def load(self, uid: str, namespace: str, name: str) -> PodCheckpoint | None:
        """The checkpoint of pod ``uid``, if one is saved and is that pod's.

        A file that cannot be read or does not hold a checkpoint of this pod is logged and
        ignored: the pod then starts with no history, which is what it would have had.
        """
        try:
            path = self.path_for(uid)
            checkpoint = checkpoint_from_json(newest_document(path.read_bytes()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:  # json's errors are ValueErrors
            _log.warning("checkpoint.unreadable", uid=uid, error=str(error))
            return None
        if (checkpoint.uid, checkpoint.namespace, checkpoint.name) != (uid, namespace, name):
            _log.warning(
                "checkpoint.mismatch",
                uid=uid,
                pod=f"{namespace}/{name}",
                found=f"{checkpoint.namespace}/{checkpoint.name} ({checkpoint.uid})",
            )
            return None
        self._written[uid] = dict(checkpoint.instances)
        return checkpoint

    def saved_uids(self) -> list[str]:
        """The uids that have a checkpoint file (hidden temporaries are not)."""
        try:
            names = [p.name for p in self.directory.iterdir()]
        except FileNotFoundError:
            return []
        return sorted(
            name.removesuffix(".json")
            for name in names
            if name.endswith(".json") and not name.startswith(".")
        )

    def attach(self, kubelet: Watchable) -> Callable[[], None]:
        """Write the kubelet's pods' checkpoints as they change; returns the detach (which
        may be called more than once)."""
        stop = kubelet.watch(self._on_pod_event)
        attached = True

        def detach() -> None:
            nonlocal attached
            if attached:
                attached = False
                stop()

        return detach

    def prune(self, keep: Collection[str]) -> list[str]:
        """Remove the checkpoints of pods that did not come back (a static pod's file gone
        or changed while the daemon was down); returns their uids."""
        gone = [uid for uid in self.saved_uids() if uid not in keep]
        for uid in gone:
            self.forget(uid)
        if gone:
            _log.info("checkpoints.pruned", uids=gone)
        return gone

    def forget(self, uid: str) -> None:
        self._written.pop(uid, None)
        self._sizes.pop(uid, None)
        try:
            self.path_for(uid).unlink(missing_ok=True)
        except (OSError, ValueError) as error:
            _log.error("checkpoint.not_removed", uid=uid, error=str(error))

    def _on_pod_event(self, kind: WatchEventType, snapshot: PodSnapshot) -> None:
        if kind is WatchEventType.DELETED:
            self.forget(snapshot.uid)
            return
        instances = {name: record.instances for name, record in snapshot.records.items()}
        written = self._written.get(snapshot.uid)
        if written == instances:
            return
        if written is None and not any(instances.values()):
            return  # a pod just added: no history to keep until its first start
        self._save(snapshot, instances)

    def _save(self, snapshot: PodSnapshot, instances: Instances) -> None:
        pod = snapshot.pod
        checkpoint = PodCheckpoint(
            snapshot.uid, pod.namespace, pod.name, snapshot.created_at, instances
        )
        line = json.dumps(checkpoint_json(checkpoint), separators=(",", ":")).encode() + b"\n"
        try:
            path = self.path_for(snapshot.uid)
            size = self._sizes.pop(snapshot.uid, COMPACT_AT) + len(line)
            if size <= COMPACT_AT:
                try:
                    append_private(path, line)
                except OSError:
                    size = COMPACT_AT + 1  # gone, or cut short: written whole below
            if size > COMPACT_AT:
                make_private_dir(self.directory)
                write_private(path, line)
                size = len(line)
        except (OSError, ValueError) as error:
            _log.error("checkpoint.not_saved", pod=f"{pod.namespace}/{pod.name}", error=str(error))
            return
        self._written[snapshot.uid] = instances
        self._sizes[snapshot.uid] = size


def newest_document(data: bytes) -> object:
    """The newest document of a checkpoint journal: its last line that parses. A file of
    one document without a newline (written before journals) reads as that document."""
    for line in reversed(data.splitlines()):
        if line.strip():
            try:
                return json.loads(line)
            except ValueError:
                continue  # cut short by a crash mid-write: the line before is whole
    raise ValueError("the file holds no checkpoint")
