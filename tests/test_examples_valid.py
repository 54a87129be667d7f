"""Every example manifest loads in minikubelet and is a valid Pod for Kubernetes too.

The second half is the promise of DESIGN.md: the same YAML runs on a real cluster with
``kubectl apply -f``. kubernetes-validate checks each Pod against the official schema in
strict mode (unknown fields are errors), at the oldest Kubernetes release minikubelet
follows.
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
