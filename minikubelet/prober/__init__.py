"""Probes, like the kubelet's ``pkg/kubelet/prober``.

handlers.Prober       run one exec, httpGet, tcpSocket or grpc action once
worker.ProbeWorker    one per pod x container x probe kind, on its period
manager.ProbeManager  the workers of every pod and the results they report
"""

from minikubelet.prober.handlers import Prober

__all__ = ["Prober"]
