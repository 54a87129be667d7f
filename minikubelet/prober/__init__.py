"""Probes: run a handler once (``handlers``); workers and the manager schedule them."""

from minikubelet.prober.handlers import Prober

__all__ = ["Prober"]
