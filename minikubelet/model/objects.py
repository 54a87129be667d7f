"""ConfigMaps and Secrets: the API objects a pod's environment may be filled from.

Frozen dataclasses, as the Pod model: snake_case names, Kubernetes' defaults applied by the
parser (``manifest/objects.py``). A Secret's ``data`` holds the decoded bytes, with
``stringData`` already merged in as the apiserver does before it stores a Secret
(``stringData`` wins on a shared key), so every consumer sees one map.

A Secret's values are never part of its ``repr`` (``field(repr=False)``): a Secret that ends
up in a log line, an exception or a test failure shows its keys' count, not its content.

The references to these objects from a container (``KeyRef``, ``EnvFromSource``, and
``ObjectKind``) are part of the Pod model, in ``model/spec.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from minikubelet.model.spec import ObjectKind, ObjectMeta, Source

__all__ = ["DEFAULT_SECRET_TYPE", "MAX_OBJECT_SIZE", "ConfigMap", "ConfigObject", "Secret"]

# core.MaxSecretSize: the total size of a ConfigMap's or a Secret's values.
MAX_OBJECT_SIZE = 1 * 1024 * 1024
DEFAULT_SECRET_TYPE = "Opaque"  # SetDefaults_Secret


@dataclass(frozen=True)
class ConfigMap:
    metadata: ObjectMeta
    data: Mapping[str, str] = field(default_factory=dict)
    binary_data: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    immutable: bool | None = None
    source: Source = field(default_factory=lambda: Source(path=None), compare=False)
    # The object as written (camelCase), kept to serve it back through the API.
    manifest: Mapping[str, object] = field(default_factory=dict, compare=False, repr=False)

    kind: ClassVar[ObjectKind] = ObjectKind.CONFIG_MAP

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    @property
    def size(self) -> int:
        """How many keys it holds (``kubectl get``'s DATA: both maps)."""
        return len(self.data) + len(self.binary_data)


@dataclass(frozen=True)
class Secret:
    metadata: ObjectMeta
    type: str = DEFAULT_SECRET_TYPE
    # Decoded values, ``stringData`` merged in. Never in a repr: see the module docstring.
    data: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    immutable: bool | None = None
    source: Source = field(default_factory=lambda: Source(path=None), compare=False)
    # As written, minus ``data`` and ``stringData`` (the API renders ``data`` from the model).
    manifest: Mapping[str, object] = field(default_factory=dict, compare=False, repr=False)

    kind: ClassVar[ObjectKind] = ObjectKind.SECRET

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    @property
    def size(self) -> int:
        return len(self.data)


ConfigObject = ConfigMap | Secret
