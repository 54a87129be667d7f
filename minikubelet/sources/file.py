"""Static pods from manifest files: the kubelet's file source, level-triggered.

The kubelet's ``pkg/kubelet/config/file.go`` (and ``file_linux.go``) is the model:

* ``staticPodPath`` is a directory or a single file. The directory is listed in sorted
  order; names starting with a dot are ignored (the kubelet's glob ``[^.]*``), and so are
  sub-directories (logged, never recursed into). minikubelet also ignores names that do
  not end in ``.yaml``, ``.yml`` or ``.json`` (editor backups, ``README``): a difference
  from the kubelet, which tries every file. A single file is read whatever its name.
* Two mechanisms feed one scan: inotify (``minikubelet.inotify``) wakes the scanner at
  once when an entry changes, and a full rescan runs every ``fileCheckFrequency`` whatever
  happened, so a lost event or a dead watch costs at most one period.
* Every scan *replaces the whole set*, as the kubelet's ``cache.Store.Replace`` does: a file
  that is gone, unreadable or no longer valid yields no pods, so its pods are terminated
  gracefully. ``extractFromDir`` "skips" a bad file by leaving it out of the listing, which
  removes its pods from the set; we follow that rather than keep stale pods running for a
  file that now says something else. A bad file disturbs nothing else: the other files'
  pods are untouched. When the path itself does not exist, the set is empty (the kubelet
  sends an empty ``PodUpdate`` then), so every static pod stops.
* Identity is the content: a pod's uid is a hash of the node, the file's path and its bytes
  (``static_pod_uid``, as the kubelet's), so a daemon restart brings back the same pods,
  with their containers' history. A file whose bytes changed (SHA-256) recreates its pods:
  the old pod terminates gracefully, and only once it is gone is the new one started, with
  a new uid (the kubelet's "delete + add" of a new UID, and ``allowStaticPodStart``).
* A file that fails to parse or validate is reported once per content version: a warning
  log line naming the file and the field paths, and a Warning event ``FailedToParseManifest``
  on a pseudo object (the pod's name when it could be read, else the file's name). Only
  once the file has been left alone for ``error_settle`` seconds (its modification time,
  or the same bytes seen that long ago): a file being copied in is read half-written
  between inotify events, and its truncated YAML is no news. A valid file is applied at
  once; a file that is still bad when it settles is reported then (the scanner wakes up
  for it).
* Two files defining the same pod: the file that already runs the pod keeps it, otherwise
  the first in sorted order; the other file is refused as a whole (a file is all or
  nothing, as in ``manifest.load``) and reported the same way.
* A static pod deleted through the API comes back: the kubelet's mirror pod semantics (a
  deleted mirror pod is recreated while its file exists). The slot of that pod sees its
  worker gone and starts it again from the file: the same uid (the file's hash), a new
  start with no history.
* ConfigMaps and Secrets may stand beside the pods (a difference: the kubelet forbids static
  pods any reference to API objects, but here the kubelet is its own apiserver). Each scan
  hands the valid files' objects to the kubelet's object store (``ObjectStore.
  replace_files``) *before* it starts pods, so a pod finds the objects of its own file on
  its first start; an object that changed is ``MODIFIED`` in place (running containers keep
  their environment; the next start reads the new values), one whose file is gone, bad or
  no longer defines it is deleted. An object whose name is taken (created through the API,
  or by an earlier file) is refused and reported like a pod clash, without refusing the
  rest of its file.

Each pod name has a *slot*, driven by one task that compares what the files want with the
worker it runs, like the kubelet's pod workers acting on the latest intent: terminate the
worker that no longer matches, then start what is wanted. Slots are independent, so one
pod's long grace period never delays another file's change.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import anyio
import anyio.abc
import structlog

from minikubelet.errors import DuplicatePodError, FieldError, ManifestError, ManifestWarning
from minikubelet.inotify import Change, Watch
from minikubelet.kubelet import Kubelet
from minikubelet.manifest import load_bytes
from minikubelet.manifest.load import MAX_FILE_BYTES
from minikubelet.model.events import EventType
from minikubelet.model.objects import ConfigObject
from minikubelet.model.snapshot import PodSnapshot, WatchEventType
from minikubelet.model.spec import Pod
from minikubelet.objects import FileRefusal

__all__ = [
    "FAILED_TO_PARSE",
    "MANIFEST_SUFFIXES",
    "OBJECT_OWNER",
    "Conflict",
    "ManifestFile",
    "Plan",
    "PodKey",
    "Scan",
    "StaticPodSource",
    "is_manifest_name",
    "plan",
    "read_manifest",
    "scan",
    "static_pod_uid",
]

_log = structlog.get_logger("minikubelet.sources.file")

FAILED_TO_PARSE = "FailedToParseManifest"
OBJECT_OWNER = "static"  # whose file objects these are, in the kubelet's object store
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
# inotify batching: scan once no change came for STEP seconds, at most DEBOUNCE seconds
# after the first one.
_DEBOUNCE = 0.15
_STEP = 0.02
_RACY_SECONDS = 2.0  # a file's mtime this much older than its last read: its stat decides
_WATCH_RETRY = (1.0, 20.0)  # the kubelet retries a failed watch after 1 s, backing off to 20 s
ERROR_SETTLE = 1.0  # seconds a bad file must be left alone before it is reported

PodKey = tuple[str, str]  # (namespace, name)


# -- reading (blocking; runs in a worker thread) -----------------------------------------


def is_manifest_name(name: str) -> bool:
    """A directory entry the source reads: not hidden, with a manifest extension."""
    return not name.startswith(".") and name.lower().endswith(MANIFEST_SUFFIXES)


@dataclass(frozen=True)
class ManifestFile:
    """One manifest file as last read: its content digest, and its pods and objects (the
    ConfigMaps and Secrets beside them), or its error."""

    path: Path
    digest: str
    pods: tuple[Pod, ...] = ()
    warnings: tuple[ManifestWarning, ...] = ()
    error: ManifestError | None = None
    objects: tuple[ConfigObject, ...] = ()
    stat: tuple[int, int, int, int] | None = None  # (dev, inode, size, mtime_ns) when read
    read_at: float = 0.0  # wall-clock time of that read


@dataclass(frozen=True)
class Scan:
    """The result of listing ``staticPodPath`` and reading its files."""

    files: tuple[ManifestFile, ...]
    skipped: tuple[Path, ...] = ()  # sub-directories and special files
    problem: str | None = None  # the path as a whole cannot be used


def read_manifest(path: Path, previous: ManifestFile | None = None) -> ManifestFile:
    """Read and parse one file; never raises.

    Nothing is read when the file's ``stat`` (device, inode, size, mtime) is that of
    ``previous`` and its mtime was already old when ``previous`` was read: the periodic
    rescan of an unchanged directory costs a ``stat`` per file. A file modified around the
    last read (the kernel's file times are coarse) is read again, as git does with a
    "racily clean" index entry. Parsing is skipped when the bytes are those of ``previous``.
    """
    read_at = time.time()
    try:
        if previous is not None and previous.path == path and _unchanged(os.stat(path), previous):
            return previous
        with path.open("rb") as file:
            key = _stat_key(os.fstat(file.fileno()))  # of the bytes read
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        return _bad(path, "", "cannot read the file", error.strerror or str(error))
    digest = hashlib.sha256(data).hexdigest()
    if previous is not None and previous.digest == digest and previous.path == path:
        return replace(previous, stat=key, read_at=read_at)
    try:
        result = load_bytes(data, path)
    except ManifestError as error:
        return ManifestFile(path, digest, error=error, stat=key, read_at=read_at)
    return ManifestFile(
        path,
        digest,
        result.pods,
        result.warnings,
        objects=result.objects,
        stat=key,
        read_at=read_at,
    )


def _stat_key(info: os.stat_result) -> tuple[int, int, int, int]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def _unchanged(info: os.stat_result, previous: ManifestFile) -> bool:
    return (
        previous.stat == _stat_key(info)
        and previous.read_at - info.st_mtime_ns / 1e9 > _RACY_SECONDS
    )


def _bad(path: Path, digest: str, kind: str, detail: str) -> ManifestFile:
    return ManifestFile(
        path, digest, error=ManifestError(path, None, [FieldError("", kind, detail)])
    )


def scan(root: Path, previous: Mapping[Path, ManifestFile] | None = None) -> Scan:
    """List ``root`` (a directory or one file) and read every manifest in it."""
    known = previous or {}
    try:
        is_dir = root.is_dir()
        exists = is_dir or root.exists()
    except OSError as error:
        return Scan((), problem=f"cannot use the path: {error.strerror or error}")
    if not exists:
        return Scan((), problem="path does not exist")
    if not is_dir:
        if not root.is_file():
            return Scan((), problem="path is not a directory or a regular file")
        return Scan((read_manifest(root, known.get(root)),))
    try:
        with os.scandir(root) as listing:
            entries = sorted(
                (entry for entry in listing if not entry.name.startswith(".")),
                key=lambda entry: entry.name,
            )
    except OSError as error:
        return Scan((), problem=f"cannot list the directory: {error.strerror or error}")
    files: list[ManifestFile] = []
    skipped: list[Path] = []
    for entry in entries:
        path = root / entry.name
        try:
            if entry.is_dir():  # follows symlinks, as the kubelet's os.Stat does
                skipped.append(path)
            elif not is_manifest_name(entry.name):
                continue
            elif entry.is_file():
                files.append(read_manifest(path, known.get(path)))
            elif os.path.lexists(path) and not entry.is_symlink():
                skipped.append(path)  # a socket, a FIFO: never opened
            # else: a dangling symlink, or the entry went away since the listing
        except OSError:
            continue  # gone, or unreadable metadata: as if it were not there
    return Scan(tuple(files), tuple(skipped))


# -- deciding (pure) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Conflict:
    """A file refused because another file already defines one of its pods."""

    file: ManifestFile
    pod: Pod
    owner: Path

    def __str__(self) -> str:
        return (
            f'{self.file.path}: pod "{self.pod.name}": metadata.name: Duplicate value: '
            f'"{self.pod.name}": pod {self.pod.namespace}/{self.pod.name} is already defined '
            f"in {self.owner}"
        )


@dataclass(frozen=True)
class Plan:
    """What the files ask for: each pod and the file (and version) it comes from."""

    wanted: Mapping[PodKey, tuple[ManifestFile, Pod]]
    conflicts: tuple[Conflict, ...] = ()


def plan(files: Sequence[ManifestFile], owners: Mapping[PodKey, Path]) -> Plan:
    """Which file runs which pod, given the files and which file runs each pod now.

    Files that run a pod now go first (so a new file cannot take a running pod away), then
    the others, each group in sorted order. A file clashing with a pod already claimed by
    another file is refused whole.
    """
    owning = set(owners.values())
    ordered = sorted(
        (f for f in files if f.error is None), key=lambda f: (f.path not in owning, f.path)
    )
    wanted: dict[PodKey, tuple[ManifestFile, Pod]] = {}
    conflicts: list[Conflict] = []
    for file in ordered:
        clash = next(
            (
                (pod, wanted[_key(pod)][0].path)
                for pod in file.pods
                if _key(pod) in wanted and wanted[_key(pod)][0].path != file.path
            ),
            None,
        )
        if clash is not None:
            conflicts.append(Conflict(file, clash[0], clash[1]))
            continue
        for pod in file.pods:
            wanted[_key(pod)] = (file, pod)
    return Plan(wanted, tuple(conflicts))


def static_pod_uid(node: str, file: ManifestFile, pod: Pod) -> str:
    """A static pod's uid: a hash of the node, the file and its content, as the kubelet's
    ``applyDefaults`` makes it (``pkg/kubelet/config/common.go``: hex MD5 over ``host:``,
    ``file:`` and the pod), so the same file gives the same pod across daemon restarts,
    and an edit gives a new one. The pod's name joins in: one file may hold several."""
    hasher = hashlib.md5(usedforsecurity=False)
    for part in (f"host:{node}", f"file:{file.path}", f"pod:{pod.namespace}/{pod.name}"):
        hasher.update(part.encode())
    hasher.update(file.digest.encode())
    return hasher.hexdigest()


def _key(pod: Pod) -> PodKey:
    return (pod.namespace, pod.name)


# -- running -----------------------------------------------------------------------------


@dataclass(eq=False)
class _Slot:
    """One static pod name: what the files want there, and the pod started for it."""

    key: PodKey
    wanted: tuple[ManifestFile, Pod] | None = None
    started: PodSnapshot | None = None  # the pod started for it, as it was then
    running: tuple[Path, str] | None = None  # (file, digest) it was started from
    blocked: bool = False  # the name is taken by a pod from the API; retried when it goes
    settled: bool = False
    changed: anyio.Event = field(default_factory=anyio.Event)

    def wake(self) -> None:
        self.changed.set()


class StaticPodSource:
    """Keeps the kubelet's static pods equal to what the files under ``path`` define."""

    def __init__(
        self,
        kubelet: Kubelet,
        path: Path,
        check_frequency: float = 20.0,
        *,
        error_settle: float = ERROR_SETTLE,
    ) -> None:
        self._kubelet = kubelet
        self._error_settle = error_settle
        # A bad file not reported yet: its digest, and when (anyio time) it was first seen.
        self._unsettled: dict[Path, tuple[str, float]] = {}
        self._settle_at: float | None = None  # the scanner's next wake-up for one of them
        self._path = path.absolute()  # inotify reports absolute paths of what it watches
        self._check_frequency = check_frequency
        self._files: dict[Path, ManifestFile] = {}
        self._slots: dict[PodKey, _Slot] = {}
        self._reported: dict[Path, str] = {}  # file -> the problem last reported for it
        self._reported_skips: set[Path] = set()
        self._reported_path_problem: str | None = None
        self._wake = anyio.Event()
        self._progress = anyio.Event()
        self._watch_stop = anyio.Event()  # set to stop the current inotify watch
        self._watched: tuple[int, int] | None = None  # (st_dev, st_ino) of the watched dir
        self._group: anyio.abc.TaskGroup | None = None
        self._scans = 0
        self._closing = False

    @property
    def path(self) -> Path:
        return self._path

    @property
    def scans(self) -> int:
        """Scans completed so far (for tests and status lines)."""
        return self._scans

    def pods(self) -> list[PodSnapshot]:
        """The pods this source runs now (as they were when started)."""
        return [slot.started for slot in self._slots.values() if slot.started is not None]

    # -- control -------------------------------------------------------------------

    def rescan(self) -> None:
        """Scan the path again as soon as possible (SIGHUP, tests)."""
        self._wake.set()

    def reconfigure(self, path: Path, check_frequency: float) -> None:
        """Use a new path and period from now on; the next scan follows."""
        path = path.absolute()
        if path != self._path:
            self._path = path
            self._restart_watch()
        self._check_frequency = check_frequency
        self.rescan()

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Load the static pods, report started once each has been started, then follow
        the files until cancelled."""
        unwatch = self._kubelet.watch(self._on_pod_event)
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                await self._scan_and_apply()
                await self._settled()
                _log.info("static_pods.loaded", path=str(self._path), pods=len(self.pods()))
                task_status.started()
                group.start_soon(self._watch)
                try:
                    await self._scanner()
                finally:
                    # The inotify thread checks this every few ms; without it a cancelled
                    # watch would keep the task group waiting for the thread's timeout.
                    self._closing = True
                    self._watch_stop.set()
        finally:
            self._closing = True
            self._watch_stop.set()
            unwatch()
            self._group = None

    # -- scanning ------------------------------------------------------------------

    async def _scanner(self) -> None:
        while True:
            wait = self._check_frequency
            if self._settle_at is not None:
                wait = max(min(wait, self._settle_at - anyio.current_time()), 0.0)
            with anyio.move_on_after(wait):
                await self._wake.wait()
            self._wake = anyio.Event()
            await self._scan_and_apply()

    async def _scan_and_apply(self) -> None:
        root = self._path
        result = await anyio.to_thread.run_sync(scan, root, dict(self._files))
        if root != self._path:
            return  # reconfigured meanwhile; the next scan reads the new path
        self._scans += 1
        self._report_path(result)
        self._files = {file.path: file for file in result.files}
        # Objects first: a pod started below finds its file's ConfigMaps and Secrets.
        refused = self._kubelet.objects.replace_files(
            OBJECT_OWNER, {file.path: file.objects for file in result.files if file.error is None}
        )
        owners = {
            slot.key: slot.running[0] for slot in self._slots.values() if slot.running is not None
        }
        decided = plan(result.files, owners)
        self._report_files(result.files, decided.conflicts, refused)
        for key in set(self._slots) | set(decided.wanted):
            self._want(key, decided.wanted.get(key))
        self._check_watch()

    def _want(self, key: PodKey, wanted: tuple[ManifestFile, Pod] | None) -> None:
        slot = self._slots.get(key)
        if slot is None:
            if wanted is None:
                return
            slot = self._slots[key] = _Slot(key)
            assert self._group is not None
            self._group.start_soon(self._drive, slot)
        elif _version(slot.wanted) == _version(wanted):
            slot.wanted = wanted
            return  # unchanged: the periodic rescan of 500 files wakes no pod's task
        slot.blocked = False
        slot.settled = False
        slot.wanted = wanted
        slot.wake()

    # -- one pod -------------------------------------------------------------------

    async def _drive(self, slot: _Slot) -> None:
        """Make the slot's pod match what the files want; ends when neither is left."""
        kubelet = self._kubelet
        namespace, name = slot.key
        while True:
            slot.changed = anyio.Event()
            started = slot.started
            current = kubelet.snapshot(namespace, name)
            if started is not None and (current is None or current.uid != started.uid):
                # Gone: deleted through the API, or the termination we asked for is over.
                if slot.running == _version(slot.wanted):
                    _log.info("static_pod.recreating", pod=f"{namespace}/{name}")
                slot.started = slot.running = None
                continue
            if started is not None and slot.running != _version(slot.wanted):
                assert current is not None
                if current.deletion_timestamp is None:
                    reason = "removed" if slot.wanted is None else "changed"
                    _log.info(
                        "static_pod.terminating",
                        pod=f"{namespace}/{name}",
                        uid=started.uid,
                        file=str(slot.running[0]) if slot.running else None,
                        reason=reason,
                    )
                    kubelet.delete_pod(namespace, name)
            elif started is None and slot.wanted is not None and not slot.blocked:
                file, pod = slot.wanted
                try:
                    uid = static_pod_uid(kubelet.settings.node_name, file, pod)
                    started = await kubelet.add_pod(pod, is_static=True, uid=uid)
                except DuplicatePodError as error:
                    slot.blocked = True
                    self._report(file.path, f"{file.path}: {error}", pod.namespace, pod.name)
                else:
                    slot.started, slot.running = started, (file.path, file.digest)
                    _log.info(
                        "static_pod.started",
                        pod=f"{namespace}/{name}",
                        uid=started.uid,
                        file=str(file.path),
                    )
                continue
            elif started is None and slot.wanted is None:
                del self._slots[slot.key]
                self._mark_progress()
                return
            slot.settled = True
            self._mark_progress()
            await slot.changed.wait()
            slot.settled = False

    def _on_pod_event(self, kind: WatchEventType, snapshot: PodSnapshot) -> None:
        if kind is not WatchEventType.DELETED:
            return
        slot = self._slots.get(snapshot.key)
        if slot is not None:
            slot.blocked = False  # the name may be free now
            slot.wake()

    def _mark_progress(self) -> None:
        self._progress.set()
        self._progress = anyio.Event()

    async def _settled(self) -> None:
        """Wait until every slot has acted on what the files want (a start, a refusal)."""
        while True:
            progress = self._progress
            if all(
                slot.settled or (slot.started is not None and slot.running == _version(slot.wanted))
                for slot in self._slots.values()
            ):
                return
            await progress.wait()

    # -- reporting -----------------------------------------------------------------

    def _report_path(self, result: Scan) -> None:
        if result.problem != self._reported_path_problem:
            if result.problem is not None:
                _log.warning(
                    "static_pods.path_unusable",
                    path=str(self._path),
                    problem=result.problem,
                    effect="no static pods",
                )
            self._reported_path_problem = result.problem
        for path in result.skipped:
            if path not in self._reported_skips:
                _log.warning("static_pods.entry_skipped", path=str(path), reason="not a file")
        self._reported_skips = set(result.skipped)

    def _settled_file(self, file: ManifestFile, now: float) -> bool:
        """Whether a bad file has been left alone long enough to be reported."""
        digest, since = self._unsettled.get(file.path, (file.digest, now))
        if digest != file.digest:
            since = now  # changed since: a new version, waited for anew
        try:
            age = self._kubelet.clock().timestamp() - file.path.stat().st_mtime
        except OSError:
            age = self._error_settle  # gone or unreadable: nothing more will come
        if age >= self._error_settle or now - since >= self._error_settle:
            self._unsettled.pop(file.path, None)
            return True
        self._unsettled[file.path] = (file.digest, since)
        left = min(self._error_settle - age, self._error_settle - (now - since))
        settle_at = now + max(left, 0.01)
        self._settle_at = settle_at if self._settle_at is None else min(self._settle_at, settle_at)
        return False

    def _report_files(
        self,
        files: Iterable[ManifestFile],
        conflicts: Iterable[Conflict],
        refused: Iterable[FileRefusal] = (),
    ) -> None:
        problems: dict[Path, str] = {}
        now = anyio.current_time()
        self._settle_at = None
        bad = {file.path for file in files if file.error is not None}
        self._unsettled = {path: seen for path, seen in self._unsettled.items() if path in bad}
        for file in files:
            if file.error is not None:
                key = f"{file.digest}:error"
                if self._reported.get(file.path) != key and not self._settled_file(file, now):
                    continue  # not reported yet, nor marked as reported
                problems[file.path] = key
                if self._reported.get(file.path) != key:
                    for part in file.error.parts:
                        self._report(
                            file.path,
                            str(part),
                            "default",  # the namespace is unknown when the file is bad
                            part.pod or file.path.name,
                            errors=str(part).splitlines(),
                        )
            elif file.warnings and self._reported.get(file.path) != f"{file.digest}:warnings":
                problems[file.path] = f"{file.digest}:warnings"
                for warning in file.warnings:
                    _log.warning(
                        "static_pod.field_ignored", file=str(file.path), warning=str(warning)
                    )
            elif file.warnings:
                problems[file.path] = f"{file.digest}:warnings"
        for conflict in conflicts:
            key = f"{conflict.file.digest}:conflict:{conflict.owner}"
            problems[conflict.file.path] = key
            if self._reported.get(conflict.file.path) != key:
                self._report(
                    conflict.file.path,
                    str(conflict),
                    conflict.pod.namespace,
                    conflict.pod.name,
                )
        digests = {file.path: file.digest for file in files}
        by_file: dict[Path, list[FileRefusal]] = {}
        for refusal in refused:
            by_file.setdefault(refusal.file, []).append(refusal)
        for path, refusals in by_file.items():
            what = sorted(
                f"{r.obj.kind}:{r.obj.namespace}/{r.obj.name}:{r.holder.file or 'api'}"
                for r in refusals
            )
            key = f"{digests.get(path)}:refused:{','.join(what)}"
            problems[path] = key
            if self._reported.get(path) == key:
                continue
            for refusal in refusals:
                self._report(
                    path,
                    str(refusal),
                    refusal.obj.namespace,
                    path.name,
                    effect="the object is not taken; the rest of the file is",
                )
        self._reported = problems

    def _report(
        self,
        path: Path,
        message: str,
        namespace: str,
        name: str,
        errors: list[str] | None = None,
        effect: str = "the file's pods are not run",
    ) -> None:
        _log.warning(
            "static_pod.invalid",
            file=str(path),
            pod=f"{namespace}/{name}",
            errors=errors or [message],
            effect=effect,
        )
        self._kubelet.recorder.record(
            namespace=namespace,
            pod=name,
            pod_uid="",
            type=EventType.WARNING,
            reason=FAILED_TO_PARSE,
            message=message,
        )

    # -- inotify -------------------------------------------------------------------

    def _watch_target(self) -> tuple[Path, Path | None]:
        """The directory to watch, and the one file in it that matters (None: all)."""
        if self._path.is_dir():
            return self._path, None
        return self._path.parent, self._path

    def _restart_watch(self) -> None:
        self._watch_stop.set()

    def _check_watch(self) -> None:
        """Restart the watch when the watched directory was replaced (deleted, recreated)."""
        if self._watched is None:
            return
        target, _ = self._watch_target()
        try:
            stat = target.stat()
            identity: tuple[int, int] | None = (stat.st_dev, stat.st_ino)
        except OSError:
            identity = None
        if identity != self._watched:
            self._restart_watch()

    async def _watch(self) -> None:
        """Wake the scanner whenever a relevant entry changes; retry a failed watch."""
        delay = _WATCH_RETRY[0]
        while not self._closing:
            stop = self._watch_stop = anyio.Event()
            target, only = self._watch_target()
            try:
                stat = target.stat()
                with Watch(target) as watch:
                    self._watched = (stat.st_dev, stat.st_ino)
                    _log.debug("static_pods.watching", directory=str(target))
                    # Watch first, then list: a change made before the watch existed is
                    # seen by this scan, and any later one by the watch.
                    self.rescan()
                    async with anyio.create_task_group() as group:
                        group.start_soon(_cancel_when_set, stop, group.cancel_scope)
                        await self._follow(watch, only)
                        group.cancel_scope.cancel()
                delay = _WATCH_RETRY[0]
            except OSError as error:
                # A missing directory, or no inotify watch left: the periodic scan still runs.
                _log.debug("static_pods.watch_failed", directory=str(target), error=str(error))
                with anyio.move_on_after(delay):
                    await stop.wait()
                delay = min(delay * 2, _WATCH_RETRY[1])
            finally:
                self._watched = None  # stopped: the path changed or the dir was replaced

    async def _follow(self, watch: Watch, only: Path | None) -> None:
        """Rescan after each relevant batch of changes; return when the watch has ended."""
        while True:
            changes = await watch.changes()
            if not any(_relevant(change, only) for change in changes):
                continue
            # Let a burst (an editor's save, a copy in several writes) finish first: until
            # no change came for STEP, at most DEBOUNCE after the first one.
            ended = any(change.gone for change in changes)
            deadline = anyio.current_time() + _DEBOUNCE
            while not ended:
                left = min(_STEP, deadline - anyio.current_time())
                if left <= 0:
                    break
                with anyio.move_on_after(left) as quiet:
                    ended = any(change.gone for change in await watch.changes())
                if quiet.cancelled_caught:
                    break
            self.rescan()
            if ended:
                return


async def _cancel_when_set(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


def _relevant(change: Change, only: Path | None) -> bool:
    """Worth a scan: the directory itself, a manifest entry in it, or the one file."""
    if change.gone or not change.name:
        return True
    if only is not None:
        return change.name == only.name
    return is_manifest_name(change.name)


def _version(wanted: tuple[ManifestFile, Pod] | None) -> tuple[Path, str] | None:
    return None if wanted is None else (wanted[0].path, wanted[0].digest)
