"""The ConfigMaps and Secrets the engine knows, from manifest files and from the API.

The real kubelet reads these objects from the apiserver through its configmap and secret
managers (``pkg/kubelet/configmap``, ``pkg/kubelet/secret``: a watch-based cache). Here the
kubelet is also the apiserver, so the store is the source of truth itself: the API creates,
replaces and deletes objects in it, the manifest sources put the objects of their files in
it (``replace_files``), and container starts read it (``ObjectLookup``) when they resolve
``envFrom`` and ``configMapKeyRef``/``secretKeyRef``.

Two layers share one name space per kind and namespace: objects from files (owned by a
source, such as the static pod directory or ``run``'s arguments; the file is their truth,
so the API may read them but not change them) and objects from the API. A name is taken
by whichever came first; a file object clashing with an existing one is refused (and
reported by its source), an API create clashing with either is a ``DuplicateObjectError``.

Every change is told to the listeners (``watch``): ``ADDED``, ``MODIFIED``, ``DELETED``
with the object as stored. The API's change log versions them (``server/changes.py``); the
kubelet wakes the pods waiting for that object; the API object store saves them
(``sources/store.py``). Listeners run inline, in the order of the changes.

Nothing here logs a value: a ``Secret``'s repr hides its data, and so does a
``StoredObject``'s.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import structlog

from minikubelet.errors import DuplicateObjectError
from minikubelet.model.objects import ConfigMap, ConfigObject, Secret
from minikubelet.model.snapshot import WatchEventType
from minikubelet.model.spec import ObjectKind

__all__ = ["FileRefusal", "ObjectListener", "ObjectStore", "StoredObject"]

_log = structlog.get_logger("minikubelet.objects")

ObjectKey = tuple[ObjectKind, str, str]  # (kind, namespace, name)


@dataclass(frozen=True)
class StoredObject:
    """One object as the store keeps it: with the metadata the server assigns."""

    obj: ConfigObject
    uid: str
    created_at: datetime  # metadata.creationTimestamp
    file: Path | None = None  # the manifest that defines it; None: created through the API
    owner: str | None = None  # the source that put it here (files only)

    @property
    def kind(self) -> ObjectKind:
        return self.obj.kind

    @property
    def namespace(self) -> str:
        return self.obj.namespace

    @property
    def name(self) -> str:
        return self.obj.name

    @property
    def key(self) -> ObjectKey:
        return (self.obj.kind, self.obj.namespace, self.obj.name)

    @property
    def from_file(self) -> bool:
        return self.file is not None


@dataclass(frozen=True)
class FileRefusal:
    """An object of a file that was not taken: its name is another object's."""

    file: Path
    obj: ConfigObject
    holder: StoredObject

    def __str__(self) -> str:
        kind, name = self.obj.kind.singular, self.obj.name
        where = f"defined in {self.holder.file}" if self.holder.file else "created through the API"
        return (
            f'{self.file}: {kind} "{name}": metadata.name: Duplicate value: "{name}": '
            f"{kind} {self.obj.namespace}/{name} is already {where}"
        )


ObjectListener = Callable[[WatchEventType, StoredObject], None]


class ObjectStore:
    """ConfigMaps and Secrets by kind, namespace and name (also an ``ObjectLookup``)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._objects: dict[ObjectKey, StoredObject] = {}
        self._listeners: list[ObjectListener] = []

    # -- reading -------------------------------------------------------------------

    def config_map(self, namespace: str, name: str) -> ConfigMap | None:
        stored = self._objects.get((ObjectKind.CONFIG_MAP, namespace, name))
        return stored.obj if stored is not None and isinstance(stored.obj, ConfigMap) else None

    def secret(self, namespace: str, name: str) -> Secret | None:
        stored = self._objects.get((ObjectKind.SECRET, namespace, name))
        return stored.obj if stored is not None and isinstance(stored.obj, Secret) else None

    def get(self, kind: ObjectKind, namespace: str, name: str) -> StoredObject | None:
        return self._objects.get((kind, namespace, name))

    def of_kind(self, kind: ObjectKind, namespace: str | None = None) -> list[StoredObject]:
        """The objects of ``kind`` (in ``namespace``, or in all), by namespace and name."""
        found = [
            stored
            for (k, ns, _), stored in self._objects.items()
            if k is kind and (namespace is None or ns == namespace)
        ]
        return sorted(found, key=lambda stored: (stored.namespace, stored.name))

    def all(self) -> list[StoredObject]:
        return list(self._objects.values())

    def watch(self, listener: ObjectListener) -> Callable[[], None]:
        """Call ``listener(type, stored)`` for every change from now on; returns the stop."""
        self._listeners.append(listener)

        def stop() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return stop

    # -- the API -------------------------------------------------------------------

    def create(
        self,
        obj: ConfigObject,
        *,
        uid: str | None = None,
        created_at: datetime | None = None,
    ) -> StoredObject:
        """Add an object created through the API; raises ``DuplicateObjectError``.

        ``uid`` and ``created_at`` are kept when an object saved by an earlier daemon is
        restored; otherwise they are new.
        """
        key = (obj.kind, obj.namespace, obj.name)
        held = self._objects.get(key)
        if held is not None:
            raise DuplicateObjectError(
                f'{obj.kind.resource} "{obj.name}" already exists', file=held.file
            )
        stored = StoredObject(obj, uid or str(uuid.uuid4()), created_at or self._clock())
        self._objects[key] = stored
        self._tell(WatchEventType.ADDED, stored)
        return stored

    def replace(self, obj: ConfigObject) -> StoredObject:
        """Change an object created through the API (same uid); raises ``KeyError``."""
        key = (obj.kind, obj.namespace, obj.name)
        held = self._objects[key]
        stored = replace(held, obj=obj)
        self._objects[key] = stored
        self._tell(WatchEventType.MODIFIED, stored)
        return stored

    def delete(self, kind: ObjectKind, namespace: str, name: str) -> StoredObject | None:
        stored = self._objects.pop((kind, namespace, name), None)
        if stored is not None:
            self._tell(WatchEventType.DELETED, stored)
        return stored

    # -- files ---------------------------------------------------------------------

    def replace_files(
        self, owner: str, files: Mapping[Path, Sequence[ConfigObject]]
    ) -> list[FileRefusal]:
        """Make ``owner``'s file objects exactly those of ``files`` (file -> its objects).

        Objects that did not change keep their uid and version; changed ones are
        ``MODIFIED``, new ones ``ADDED``, those no file defines any more ``DELETED``. An
        object whose name is taken (by the API, another owner, or an earlier file of this
        call) is refused and returned, so the source can report it; files are taken in
        sorted order, those that already hold a name first.
        """
        wanted: dict[ObjectKey, tuple[Path, ConfigObject]] = {}
        refused: list[FileRefusal] = []
        mine = {key: stored for key, stored in self._objects.items() if stored.owner == owner}
        holders = {stored.file for stored in mine.values()}
        for path in sorted(files, key=lambda p: (p not in holders, p)):
            for obj in files[path]:
                key = (obj.kind, obj.namespace, obj.name)
                held = self._objects.get(key)
                if key in wanted:
                    holder = StoredObject(obj, "", self._clock(), file=wanted[key][0], owner=owner)
                    refused.append(FileRefusal(path, obj, holder))
                elif held is not None and held.owner != owner:
                    refused.append(FileRefusal(path, obj, held))
                else:
                    wanted[key] = (path, obj)
        for key, stored in mine.items():
            if key not in wanted:
                del self._objects[key]
                self._tell(WatchEventType.DELETED, stored)
        for key, (path, obj) in wanted.items():
            held = mine.get(key)
            if held is None:
                stored = StoredObject(obj, str(uuid.uuid4()), self._clock(), path, owner)
                self._objects[key] = stored
                self._tell(WatchEventType.ADDED, stored)
            elif held.obj != obj or held.file != path or held.obj.manifest != obj.manifest:
                stored = replace(held, obj=obj, file=path)
                self._objects[key] = stored
                self._tell(WatchEventType.MODIFIED, stored)
        return refused

    def _tell(self, kind: WatchEventType, stored: StoredObject) -> None:
        _log.info(
            "config_object.changed",
            change=kind.value,
            object=f"{stored.kind.singular} {stored.namespace}/{stored.name}",
            keys=stored.obj.size,  # how many keys; never a value
            file=str(stored.file) if stored.file else None,
        )
        for listener in list(self._listeners):
            listener(kind, stored)
