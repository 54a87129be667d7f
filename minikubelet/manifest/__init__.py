"""Manifests: Kubernetes v1 Pod YAML/JSON in, validated ``model.spec.Pod`` out.

    load_file(path)            a file: YAML or JSON, several documents, kind: List
    load_text(text, path)      the same from a string (API request bodies)
    pod_from_dict(obj, source) one Pod document already decoded
    parse_quantity(text)       a resource quantity (128Mi, 500m, 0.5)

Field names, defaults, rules and error wording are Kubernetes' (``field.Error`` text with
the field path); unknown fields are errors with a "did you mean", fields Kubernetes knows
but minikubelet cannot honour are warnings. Modules: ``load`` (files and documents),
``pod`` / ``container`` / ``env`` / ``handlers`` (decoding and validation), ``schema`` (unknown
fields and types, driven by the generated ``fields``), ``support`` (what is honoured),
``rules`` (Kubernetes' value checks), ``quantity``, ``report``, ``suggest``.
"""

from minikubelet.manifest.load import LoadResult, load_file, load_text
from minikubelet.manifest.pod import pod_from_dict
from minikubelet.manifest.quantity import parse_quantity

__all__ = ["LoadResult", "load_file", "load_text", "parse_quantity", "pod_from_dict"]
