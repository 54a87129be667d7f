"""``kubeconfig``: a kubeconfig for the daemon's TCP listener, with its credentials.

The daemon is found as by every client command (``--server``, ``$MINIKUBELET_SERVER``,
the default socket) and asked for ``/kubeconfig``, which it answers over its unix socket
only: whoever may open the socket may have the token. The result points at the TCP
listener (``https://``, always: with the daemon's certificate, its own self-signed one
unless configured, as ``certificate-authority-data``) with the bearer token, under the
name ``minikubelet``:

    (umask 077; minikubelet kubeconfig > ~/.kube/minikubelet.yaml)
    KUBECONFIG=~/.kube/minikubelet.yaml kubectl get pods
"""

from __future__ import annotations

import click

from minikubelet.cli.client.commands import common
from minikubelet.cli.client.connection import StatusError

__all__ = ["kubeconfig"]


@click.command()
@common.server_option
@common.handles_errors
def kubeconfig(server: str | None) -> None:
    """Print a kubeconfig for the daemon's TCP listener, with its token.

    Ask over the daemon's unix socket (the default); the daemon must listen on TCP too
    (--port). The output holds the token: keep it private, e.g.
    (umask 077; minikubelet kubeconfig > ~/.kube/minikubelet.yaml).
    """
    from minikubelet.cli.client.output import to_yaml

    with common.connect(server) as connection:
        try:
            config = connection.get("/kubeconfig")
        except StatusError as error:
            if error.code == 404 and "TCP listener" in str(error):
                common.fail(f"error: {error}")
            raise
    click.echo(to_yaml(config), nl=False)
