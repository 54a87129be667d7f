"""minikubelet."""
