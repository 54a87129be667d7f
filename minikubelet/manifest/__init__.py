"""Manifests: Kubernetes v1 Pod, ConfigMap and Secret YAML/JSON in, validated models out.

    load_bytes(data, path)     the one intake: bytes of a file or an API body -> LoadResult
                               (pods, ConfigMaps, Secrets, every warning)
    load_file(path)            load_bytes of a file
    load_text(text, path)      load_bytes' parsing step, without the engine's warnings
    pod_from_dict(obj, source) one Pod document already decoded
    object_from_dict(obj, src) one ConfigMap or Secret document already decoded
    parse_quantity(text)       a resource quantity (128Mi, 500m, 0.5)

Field names, defaults, rules and error wording are Kubernetes' (``field.Error`` text with
the field path); unknown fields are errors with a "did you mean", fields Kubernetes knows
but minikubelet cannot honour are warnings. Modules: ``load`` (files and documents),
``pod`` / ``container`` / ``env`` / ``handlers`` / ``objects`` (decoding and validation),
``schema`` (unknown fields and types, driven by the generated ``fields``), ``support``
(what is honoured),
``rules`` (Kubernetes' value checks), ``quantity``, ``report``, ``suggest``.
"""

from minikubelet.manifest.load import LoadResult, load_bytes, load_file, load_text
from minikubelet.manifest.objects import object_from_dict
from minikubelet.manifest.pod import pod_from_dict
from minikubelet.manifest.quantity import parse_quantity

__all__ = [
    "LoadResult",
    "load_bytes",
    "load_file",
    "load_text",
    "object_from_dict",
    "parse_quantity",
    "pod_from_dict",
]
