"""``kubeconfig``: a kubeconfig for the daemon's TCP listener, with its credentials.

The daemon is found as by every client command (``--server``, ``$MINIKUBELET_SERVER``,
the default socket) and asked for ``/kubeconfig``, which it answers over its unix socket
only: whoever may open the socket may have the token. The result points at the TCP
listener (``https://`` with the certificate as ``certificate-authority-data`` when the
daemon serves TLS) with the bearer token, under the name ``minikubelet``:

    (umask 077; minikubelet kubeconfig > ~/.kube/minikubelet)
    KUBECONFIG=~/.kube/minikubelet kubectl get pods

kubectl sends a token over HTTPS only: against a plain-HTTP listener it reaches
``/version`` and ``/healthz`` and nothing else, so the command says so on stderr.
"""

from __future__ import annotations

import click

from minikubelet.cli.client.commands import common
from minikubelet.cli.client.connection import ApiError

__all__ = ["kubeconfig"]


@click.command()
@common.server_option
@common.handles_errors
def kubeconfig(server: str | None) -> None:
    """Print a kubeconfig for the daemon's TCP listener, with its token.

    Ask over the daemon's unix socket (the default); the daemon must listen on TCP too
    (--port). The output holds the token: keep it private, e.g.
    (umask 077; minikubelet kubeconfig > ~/.kube/minikubelet).
    """
    from minikubelet.cli.client.output import to_yaml

    with common.connect(server) as connection:
        try:
            config = connection.get("/kubeconfig")
        except ApiError as error:
            if error.code == 404 and "TCP listener" in str(error):
                common.fail(f"error: {error}")
            raise
    clusters = config.get("clusters") or [{}]
    url = str(clusters[0].get("cluster", {}).get("server", ""))
    if url.startswith("http://"):
        click.echo(
            f"warning: {url} is plain HTTP: kubectl sends the token over HTTPS only, so it "
            "reaches /version and /healthz there and nothing else (give the daemon "
            "--tls-cert-file and --tls-private-key-file)",
            err=True,
        )
    click.echo(to_yaml(config), nl=False)
