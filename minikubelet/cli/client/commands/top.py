"""``top pods``: CPU and memory from ``/stats/summary``, as kubectl top prints them."""

from __future__ import annotations

import click

from minikubelet.cli.client.commands import common

__all__ = ["top"]


@click.command()
@click.argument("arguments", nargs=-1, metavar="pods [NAME]")
@click.option("--containers", is_flag=True, help="One row per container.")
@click.option("--all-namespaces", "-A", is_flag=True, help="Pods of every namespace.")
@click.option(
    "--sort-by",
    type=click.Choice(["cpu", "memory"]),
    help="Sort by CPU or memory, highest first.",
)
@common.namespace_option
@common.server_option
@common.handles_errors
def top(
    arguments: tuple[str, ...],
    containers: bool,
    all_namespaces: bool,
    sort_by: str | None,
    namespace: str,
    server: str | None,
) -> None:
    """CPU (cores) and memory (bytes) of pods, as kubectl top pod."""
    from minikubelet.cli.client.top import pod_usages, top_table

    names = common.pod_names(arguments, verb="top")
    scope = None if all_namespaces and not names else namespace
    with common.connect(server) as connection:
        summary = connection.get("/stats/summary")
    usages = [
        (total, parts)
        for total, parts in pod_usages(summary)
        if (scope is None or total.namespace == scope) and (not names or total.pod in names)
    ]
    for name in names:
        if not any(total.pod == name for total, _ in usages):
            common.fail(
                f"Error from server (NotFound): podmetrics.metrics.k8s.io "
                f'"{namespace}/{name}" not found'
            )
    if not usages:
        common.no_resources(scope)
        return
    if sort_by == "cpu":
        usages.sort(key=lambda item: -item[0].nano_cores)
    elif sort_by == "memory":
        usages.sort(key=lambda item: -item[0].memory_bytes)
    click.echo(top_table(usages, containers=containers, namespaced=scope is None), nl=False)
