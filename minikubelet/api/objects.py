"""ConfigMaps and Secrets as the API serves them: ``v1`` JSON from the stored objects.

Metadata is what was written, with the server's fields set (uid, creationTimestamp; the
change log adds resourceVersion). A Secret is served as the apiserver serves it: ``data``
base64, ``type`` defaulted, never ``stringData`` (merged into ``data`` when it was created).
Objects defined in a manifest file carry ``kubernetes.io/config.source: file``, as static
pods do.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from minikubelet.api.serialize import time_json
from minikubelet.api.types import JSON
from minikubelet.model.objects import ConfigMap, Secret
from minikubelet.objects import StoredObject

__all__ = ["object_json"]


def object_json(stored: StoredObject) -> JSON:
    """The ``ConfigMap`` or ``Secret`` object of ``stored``."""
    obj = stored.obj
    written = obj.manifest.get("metadata")
    metadata: JSON = dict(written) if isinstance(written, Mapping) else {}
    metadata.pop("resourceVersion", None)
    metadata.update(
        {
            "name": obj.name,
            "namespace": obj.namespace,
            "uid": stored.uid,
            "creationTimestamp": time_json(stored.created_at),
        }
    )
    annotations = dict(obj.metadata.annotations)
    if stored.from_file:
        annotations["kubernetes.io/config.source"] = "file"
    if annotations:
        metadata["annotations"] = annotations
    if obj.metadata.labels:
        metadata["labels"] = dict(obj.metadata.labels)
    data: JSON = {"apiVersion": "v1", "kind": obj.kind.value, "metadata": metadata}
    if obj.immutable is not None:
        data["immutable"] = obj.immutable
    if isinstance(obj, ConfigMap):
        if obj.data:
            data["data"] = dict(obj.data)
        if obj.binary_data:
            data["binaryData"] = _encoded(obj.binary_data)
    elif isinstance(obj, Secret):
        if obj.data:
            data["data"] = _encoded(obj.data)
        data["type"] = obj.type
    return data


def _encoded(values: Mapping[str, bytes]) -> dict[str, str]:
    return {key: base64.b64encode(value).decode("ascii") for key, value in values.items()}
