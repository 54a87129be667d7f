"""``GET /kubeconfig``: credentials for the TCP listener, handed out over the unix socket only.

Whoever can open the socket already has every right the API gives, so giving them the
token takes nothing away; over TCP the same request is 403, so the token never leaves
through the door it opens. The answer is a kubeconfig (``kind: Config``) as JSON, with
one cluster, one user and one context, all named ``minikubelet``: the TCP listener's URL,
its certificates as ``certificate-authority-data`` when it serves HTTPS, and the token.
``minikubelet kubeconfig`` prints it as YAML.
"""

from __future__ import annotations

import base64
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minikubelet.errors import RequestError
from minikubelet.server.auth import TcpEndpoint, over_unix_socket
from minikubelet.server.context import json_response

__all__ = ["NAME", "kubeconfig", "kubeconfig_for"]

NAME = "minikubelet"  # the cluster, the user and the context


def kubeconfig_for(tcp: TcpEndpoint) -> dict[str, Any]:
    """The kubeconfig that reaches ``tcp`` with its credentials."""
    cluster: dict[str, Any] = {"server": tcp.url}
    if tcp.tls and tcp.certificate_authority is not None:
        cluster["certificate-authority-data"] = base64.b64encode(tcp.certificate_authority).decode()
    user: dict[str, Any] = {"token": tcp.token} if tcp.token else {}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": NAME, "cluster": cluster}],
        "users": [{"name": NAME, "user": user}],
        "contexts": [{"name": NAME, "context": {"cluster": NAME, "user": NAME}}],
        "current-context": NAME,
        "preferences": {},
    }


async def kubeconfig(request: Request) -> Response:
    if not over_unix_socket(request):
        raise RequestError(403, "forbidden: the kubeconfig is handed out only over the unix socket")
    tcp = request.app.state.tcp
    if tcp is None:
        raise RequestError(
            404,
            "this minikubelet has no TCP listener: start it with --port "
            "(or port: in its configuration file) to get a kubeconfig",
        )
    assert isinstance(tcp, TcpEndpoint)
    return json_response(kubeconfig_for(tcp))
