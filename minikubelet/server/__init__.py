"""The HTTP API: Kubernetes-shaped JSON on a unix socket and, when asked, TCP.

    serving.serve_api(kubelet, endpoints)
                                    run the API until cancelled (use with TaskGroup.start);
                                    the web stack, imported only by those who serve
    ApiEndpoints                    where to listen (socket path, TCP address and port),
                                    with TLS or not, and who may use TCP (token, anonymous)
    Listening                       where it listens (what ``task_status.started`` reports)
    SocketInUseError                the socket belongs to another live minikubelet

Modules: ``serving`` (the server), ``endpoints``, ``app`` (routes, errors), ``discovery``
(discovery and OpenAPI), ``resources`` (lists, objects, watches and Tables of any resource),
``pods`` (pod endpoints, delete options and logs), ``objects`` (ConfigMaps and Secrets),
``decoding`` (request bodies to Pods), ``updates`` (PATCH, server-side apply,
``pods/status``), ``exec`` (``kubectl exec`` over websockets), ``events``, ``nodes`` (this
machine as a Node, ``metrics.k8s.io``), ``logs`` (log selection and reading), ``watch`` and
``changes`` (resource versions and watch streams), ``selectors``, ``metrics``, ``summary``
(``/stats/summary``), ``listen`` (the sockets), ``auth`` (who may talk over which transport,
and what a request must look like), ``tls`` (the listener's certificate, configured or its
own), ``kubeconfig`` (credentials handed out over the socket), ``streaming`` (long-lived
responses).

The server is a Starlette app run by hypercorn inside minikubelet's own event loop,
asyncio or trio (whichever is running, through sniffio), so handlers read the kubelet's
state directly, between its steps, with no locking.
"""

from minikubelet.errors import SocketInUseError
from minikubelet.server.endpoints import ApiEndpoints, Listening
from minikubelet.server.tls import SelfSigned, TlsFiles, TlsSource

__all__ = [
    "ApiEndpoints",
    "Listening",
    "SelfSigned",
    "SocketInUseError",
    "TlsFiles",
    "TlsSource",
]
