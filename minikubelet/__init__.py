"""minikubelet: a kubelet for local processes."""

__all__ = ["__version__"]

__version__ = "0.1.0"
