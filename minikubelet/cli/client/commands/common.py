"""What the client commands share: options, argument parsing, errors as kubectl prints them.

Failures print what kubectl prints (``Error from server (NotFound): pods "x" not found``,
``error: ...``) on stderr and exit 1; an interrupted command (Ctrl-C during ``-f`` or ``-w``)
exits 130 without a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn, ParamSpec, TypeVar

import click

from minikubelet.cli.client.connection import (
    Connection,
    StatusError,
    Unreachable,
    resolve_server,
)
from minikubelet.cli.client.messages import status_error

__all__ = [
    "DEFAULT_NAMESPACE",
    "POD_RESOURCES",
    "Failed",
    "connect",
    "fail",
    "handles_errors",
    "items_of",
    "metadata_of",
    "namespace_option",
    "no_resources",
    "notice",
    "notice_after",
    "now",
    "pod_names",
    "pod_path",
    "pods_path",
    "server_option",
]

P = ParamSpec("P")
R = TypeVar("R")

POD_RESOURCES = frozenset({"pod", "pods", "po"})
DEFAULT_NAMESPACE = "default"


class Failed(Exception):
    """Raised by ``fail`` once the message is printed; the command then exits 1."""


def fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    raise Failed


def handles_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Turn the client's exceptions into kubectl's messages and exit statuses."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except Failed:
            sys.exit(1)
        except StatusError as error:
            click.echo(status_error(error.status), err=True)
            sys.exit(1)
        except Unreachable as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            sys.exit(130)
        except BrokenPipeError:
            # The reader went away (| head): stop quietly, and keep Python's final flush
            # of stdout from complaining about it.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)

    return wrapper


def server_option(function: Callable[P, R]) -> Callable[P, R]:
    return click.option(
        "--server",
        "-s",
        metavar="ADDRESS",
        help="The daemon: a unix socket path or an http(s):// URL. [default: "
        "$MINIKUBELET_SERVER, else the default socket of 'minikubelet serve']",
    )(function)


def namespace_option(function: Callable[P, R]) -> Callable[P, R]:
    return click.option(
        "--namespace",
        "-n",
        default=DEFAULT_NAMESPACE,
        show_default=True,
        help="The namespace of the pods.",
    )(function)


def connect(server: str | None) -> Connection:
    return Connection(resolve_server(server))


def now() -> datetime:
    return datetime.now(UTC)


def pods_path(namespace: str | None) -> str:
    return "/api/v1/pods" if namespace is None else f"/api/v1/namespaces/{namespace}/pods"


def pod_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{name}"


def pod_names(arguments: Sequence[str], *, verb: str, required: bool = False) -> list[str]:
    """``pod NAME...``, ``pods``, or ``pod/NAME...`` -> the names (empty: all pods)."""
    if not arguments:
        usage = "pod NAME" if required else "pods"
        fail(f'error: Required resource not specified. Use "minikubelet {verb} {usage}".')
    first = arguments[0]
    if "/" in first:
        names = []
        for argument in arguments:
            resource, _, name = argument.partition("/")
            if resource not in POD_RESOURCES:
                fail(f'error: the server doesn\'t have a resource type "{resource}"')
            if not name:
                fail("error: arguments in resource/name form must have a single resource and name")
            names.append(name)
        return names
    if first not in POD_RESOURCES:
        fail(f'error: the server doesn\'t have a resource type "{first}"')
    names = list(arguments[1:])
    for name in names:
        if "/" in name:
            fail(
                "error: there is no need to specify a resource type as a separate argument "
                "when passing arguments in resource/name form"
            )
    if required and not names:
        fail("error: resource(s) were provided, but no name was specified")
    return names


def metadata_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def items_of(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = obj.get("items")
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def no_resources(namespace: str | None) -> None:
    if namespace is None:
        click.echo("No resources found", err=True)
    else:
        click.echo(f"No resources found in {namespace} namespace.", err=True)


def notice(text: str) -> None:
    """A line on stderr about what a command waits for."""
    click.echo(text, err=True)


def notice_after(seconds: float, text: str) -> threading.Timer:
    """``notice(text)`` in ``seconds`` unless the returned timer is cancelled first: what a
    long wait (a grace period) prints once it has lasted a moment."""
    timer = threading.Timer(seconds, lambda: notice(text))
    timer.daemon = True
    timer.start()
    return timer
