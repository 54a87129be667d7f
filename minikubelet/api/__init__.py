"""The Kubernetes-shaped JSON view of pods and events, and the HTTP API serving it."""

__all__: list[str] = []
