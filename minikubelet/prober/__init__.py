"""Probes, like the kubelet's ``pkg/kubelet/prober``.

handlers.Prober           run one exec, httpGet, tcpSocket or grpc action once
worker.ProbeWorker        one per pod x container x probe kind, on its period
scheduler.ProbeScheduler  one timer for every worker: runs each when it is due
manager.ProbeManager      the workers of every pod and the results they report
response.parse_whole      the httpGet fast path: a whole response read in one go
"""

from minikubelet.prober.handlers import Prober

__all__ = ["Prober"]
