"""Every example manifest loads in minikubelet and is valid for Kubernetes too.

The second half is minikubelet's promise: the same YAML runs on a real cluster with
``kubectl apply -f``. kubernetes-validate checks each Pod, ConfigMap and Secret against the
official schema in strict mode (unknown fields are errors), at the oldest Kubernetes release
minikubelet follows.
"""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest

from minikubelet.manifest import load_file

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
KUBERNETES_VERSION = "1.33.0"
FILES = sorted({*EXAMPLES.glob("**/*.yaml"), *EXAMPLES.glob("**/*.yml")})


def test_there_are_examples() -> None:
    assert FILES, f"no example manifest under {EXAMPLES}"


@pytest.mark.parametrize("path", FILES, ids=[str(path.relative_to(EXAMPLES)) for path in FILES])
def test_example_is_valid(path: Path) -> None:
    result = load_file(path)  # raises ManifestError with every problem
    assert result.pods, f"{path} holds no pod"
    for pod in result.pods:
        kubernetes_validate.validate(dict(pod.manifest), KUBERNETES_VERSION, strict=True)
    for document in _object_documents(path):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def _object_documents(path: Path) -> list[dict[str, object]]:
    """The ConfigMaps and Secrets of an example as written (a Secret's model keeps no
    values, so the documents are read again for the check)."""
    import yaml

    return [
        document
        for document in yaml.safe_load_all(path.read_text())
        if isinstance(document, dict) and document.get("kind") in ("ConfigMap", "Secret")
    ]


def test_the_config_example_holds_objects_beside_its_pod() -> None:
    result = load_file(EXAMPLES / "config.yaml")
    assert [o.name for o in result.objects] == ["greeter-settings", "greeter-credentials"]
