"""Where pods come from in the daemon, besides the HTTP API's requests.

file.StaticPodSource   static pods from ``staticPodPath`` (the kubelet's file source),
                       and the ConfigMaps and Secrets beside them
store.ApiPodStore      pods, ConfigMaps and Secrets created through the API, saved under
                       the root dir and restored when the daemon starts again
"""

from minikubelet.sources.file import StaticPodSource
from minikubelet.sources.store import ApiPodStore

__all__ = ["ApiPodStore", "StaticPodSource"]
