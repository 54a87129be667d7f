"""The client commands: ``get``, ``describe``, ``logs``, ``delete``, ``apply``, ``top``.

They talk to a running ``minikubelet serve`` (or ``run``) over its Kubernetes-shaped HTTP API
and print what kubectl prints. The pieces:

- ``connection``: finding the daemon (``--server``, ``MINIKUBELET_SERVER``, the default socket)
  and the HTTP calls, errors as Kubernetes ``Status`` objects (``messages`` words them as
  kubectl does);
- ``tabwriter``, ``humanize``, ``pods``, ``describe``, ``top``, ``output``: pure formatting,
  Kubernetes JSON in, text out (ports of kubectl's printers);
- ``manifests``: reading files for ``apply``;
- ``commands``: the click commands that join the two, one module each.

Client start-up time matters (``get pods`` should answer in well under 300 ms, Python
included), so nothing here imports the engine, anyio or structlog, and each command imports
only what it uses.
"""

__all__: list[str] = []
