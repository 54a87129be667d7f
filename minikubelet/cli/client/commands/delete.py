"""``delete pod``: DELETE with kubectl's grace-period rules, then wait until the pod is gone.

The wait lasts as long as the pod's termination (its preStop hook and grace period);
after a second of it, the command says what it waits for on stderr.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import click

from minikubelet.cli.client.commands import common
from minikubelet.cli.client.connection import Connection, StatusError
from minikubelet.cli.client.messages import status_error

__all__ = ["WAIT_NOTICE_AFTER", "delete"]

WAIT_NOTICE_AFTER = 1.0  # seconds of waiting before the command says what it waits for


def _wait_deleted(
    connection: Connection, namespace: str, name: str, uid: str, deadline: float | None
) -> bool:
    """Wait until the pod (this incarnation of it) is gone, as kubectl's delete waits.

    The watch is opened first and the pod read after, so a deletion that finished in
    between is seen either way. Returns False when ``deadline`` passes first.
    """

    def gone() -> bool:
        try:
            current = connection.get(common.pod_path(namespace, name))
        except StatusError as error:
            if error.code == 404:
                return True
            raise
        return bool(uid) and common.metadata_of(current).get("uid") != uid

    def remaining() -> float | None:
        return None if deadline is None else max(0.01, deadline - time.monotonic())  # noqa: TID251 - the client is synchronous: no event loop

    while deadline is None or time.monotonic() < deadline:  # noqa: TID251 - the client is synchronous: no event loop
        try:
            with connection.watch(
                common.pods_path(namespace),
                {"fieldSelector": f"metadata.name={name}"},
                read_timeout=remaining(),
            ) as events:
                if gone():
                    return True
                for event in events:
                    metadata = common.metadata_of(event.get("object") or {})
                    if metadata.get("name") != name:
                        continue
                    same = not uid or metadata.get("uid") in (None, uid)
                    if event.get("type") == "DELETED" and same:
                        return True
                    if not same:
                        return True  # a static pod came back as a new instance
        except TimeoutError:
            return gone()
        except StatusError:
            # No watch here: poll, as kubectl relists when its watch is refused.
            if gone():
                return True
            time.sleep(0.1)  # noqa: TID251 - the client is synchronous: no event loop
            continue
        if gone():  # the server closed the watch: look, and watch again if needed
            return True
        time.sleep(0.1)  # noqa: TID251 - the client is synchronous: no event loop
    return gone()


@click.command()
@click.argument("arguments", nargs=-1, metavar="pod NAME...")
@click.option(
    "--grace-period",
    type=int,
    default=-1,
    show_default=True,
    help="Seconds the pod gets to terminate; -1: its own terminationGracePeriodSeconds. "
    "0 means 1 unless --force.",
)
@click.option("--now", is_flag=True, help="Terminate at once (grace period 1).")
@click.option("--force", is_flag=True, help="With --grace-period 0: no grace at all.")
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until the pod is gone, as kubectl does.",
)
@click.option(
    "--timeout",
    "timeout_text",
    default="0s",
    show_default=True,
    metavar="DURATION",
    help="How long to wait for the deletion; 0: forever.",
)
@common.namespace_option
@common.server_option
@common.handles_errors
def delete(
    arguments: tuple[str, ...],
    grace_period: int,
    now: bool,
    force: bool,
    wait: bool,
    timeout_text: str,
    namespace: str,
    server: str | None,
) -> None:
    """Delete pods: they stop gracefully (preStop, SIGTERM, grace period, SIGKILL)."""
    from minikubelet.model.duration import parse_duration

    names = common.pod_names(arguments, verb="delete", required=True)
    try:
        timeout = parse_duration(timeout_text)
    except ValueError as error:
        common.fail(f'error: invalid argument "{timeout_text}" for "--timeout" flag: {error}')
    if now:
        if grace_period >= 0:
            common.fail("error: --now and --grace-period cannot be specified together")
        grace_period = 1
    if grace_period == 0 and not force:
        grace_period = 1  # kubectl's guard against accidental data loss
    if force and grace_period < 0:
        grace_period = 0
    body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
    if grace_period >= 0:
        body["gracePeriodSeconds"] = grace_period
    if force and grace_period == 0:
        click.echo(
            "Warning: Immediate deletion does not wait for confirmation that the running "
            "resource has been terminated. The resource may continue to run on the cluster "
            "indefinitely.",
            err=True,
        )
    deleted: list[tuple[str, str, int | None]] = []
    failed = False
    with common.connect(server) as connection:
        for name in names:
            try:
                _, obj = connection.request("DELETE", common.pod_path(namespace, name), body=body)
            except StatusError as error:
                click.echo(status_error(error.status), err=True)
                failed = True
                continue
            click.echo(
                f'pod "{name}" {"force deleted" if force and grace_period == 0 else "deleted"}'
            )
            details = obj.get("details")  # when the server answers with a Status
            if not isinstance(details, Mapping):
                details = {}
            uid = common.metadata_of(obj).get("uid") or details.get("uid")
            grace = common.metadata_of(obj).get("deletionGracePeriodSeconds")
            deleted.append((name, str(uid or ""), grace if isinstance(grace, int) else None))
        if wait:
            deadline = time.monotonic() + timeout if timeout > 0 else None  # noqa: TID251 - the client is synchronous: no event loop
            for name, uid, grace in deleted:
                within = f" (grace period {grace}s)" if grace is not None else ""
                notice = common.notice_after(
                    WAIT_NOTICE_AFTER, f'waiting for pod "{name}" to terminate{within}...'
                )
                try:
                    done = _wait_deleted(connection, namespace, name, uid, deadline)
                finally:
                    notice.cancel()
                if not done:
                    click.echo(
                        f"error: timed out waiting for the condition on pods/{name}", err=True
                    )
                    failed = True
    if failed:
        raise common.Failed
