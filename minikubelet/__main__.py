"""``python -m minikubelet``."""

from minikubelet.cli.main import main

__all__: list[str] = []

main()
