"""The daemon's configuration: a KubeletConfiguration-shaped file, overridden by flags.

    apiVersion: kubelet.config.k8s.io/v1beta1
    kind: KubeletConfiguration
    staticPodPath: /etc/minikubelet/manifests      # --pod-manifest-path
    fileCheckFrequency: 20s                         # --file-check-frequency
    address: 127.0.0.1                              # --address
    port: 10250                                     # --port (absent: no TCP listener)
    tlsCertFile: /etc/minikubelet/tls.crt           # --tls-cert-file
    tlsPrivateKeyFile: /etc/minikubelet/tls.key     # --tls-private-key-file
    authentication:
      anonymous:
        enabled: false                              # --anonymous-auth / --no-anonymous-auth
      tokenFile: /etc/minikubelet/token             # --token-file (absent: generated)
    crashLoopBackOff:
      maxContainerRestartPeriod: 300s               # --max-container-restart-period
    containerLogMaxSize: 10Mi
    containerLogMaxFiles: 5
    shutdownGracePeriod: 60s
    # minikubelet's own fields
    rootDir: /var/lib/minikubelet                   # --root-dir
    socket: /run/minikubelet/minikubelet.sock       # --socket
    initialContainerRestartPeriod: 10s              # --initial-container-restart-period

Field names, meanings and value syntax are the kubelet's: durations are Go strings
(``500ms``, ``20s``, ``5m``), sizes are quantities (``10Mi``), and relative paths in the
file are relative to the file's own directory (the kubelet's ``resolveRelativePaths``).
A flag given on the command line wins over the file, the file wins over the defaults.

Every option is one row of ``OPTIONS``: its field path in the file, its flag, the
attribute of ``KubeletConfiguration``, how a value is read and checked, whether SIGHUP
applies it live, and whether it is a path. The file's schema, the flag table, the names in
error messages and the set of settings a reload cannot change are all derived from it.

Nothing is coerced: an unknown field is an error naming the file and the field with a
"did you mean", a bad value names the file (or the flag), the field and the value, and
every problem is listed at once (``ConfigError``). Settings that are fine alone but unsafe
together (anonymous requests on a non-loopback ``address``) are refused
the same way. ``serve`` and ``run`` turn that into exit status 2 before anything starts;
on SIGHUP, into a log line that keeps the running configuration.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from minikubelet.errors import ConfigError, FieldError
from minikubelet.logic.backoff import BackoffPolicy
from minikubelet.manifest.quantity import parse_quantity
from minikubelet.manifest.suggest import did_you_mean
from minikubelet.model.duration import parse_duration
from minikubelet.paths import default_root_dir, default_socket, default_static_pod_path
from minikubelet.runtime.logs import LogRotation

__all__ = [
    "API_VERSION",
    "FLAGS",
    "KIND",
    "OPTIONS",
    "RESTART_REQUIRED",
    "KubeletConfiguration",
    "Option",
    "build_config",
    "default_static_pod_path",
    "is_loopback",
    "load_config",
    "read_config_file",
]

API_VERSION = "kubelet.config.k8s.io/v1beta1"
KIND = "KubeletConfiguration"
DEFAULT_SHUTDOWN_SLACK = 30.0  # shutdownGracePeriod default: 30 s + the longest pod grace


@dataclass(frozen=True)
class KubeletConfiguration:
    """The settings ``serve`` (and ``run``) run with, after defaults, the file and the flags."""

    static_pod_path: Path
    root_dir: Path
    socket: Path
    file_check_frequency: float = 20.0
    address: str = "127.0.0.1"
    port: int | None = None  # None: no TCP listener; 0: any free port
    # Both or neither; neither: the TCP listener serves a self-signed certificate.
    tls_cert_file: Path | None = None
    tls_private_key_file: Path | None = None
    anonymous_auth: bool = False  # TCP requests without a token are allowed (loopback only)
    token_file: Path | None = None  # None: a token is generated at each start
    initial_container_restart_period: float = 10.0
    max_container_restart_period: float = 300.0
    container_log_max_size: int = 10 * 1024 * 1024
    container_log_max_files: int = 5
    shutdown_grace_period: float | None = None  # None: 30 s + the longest pod grace

    @property
    def tls(self) -> bool:
        return self.tls_cert_file is not None and self.tls_private_key_file is not None

    @property
    def backoff(self) -> BackoffPolicy:
        return BackoffPolicy(
            initial=self.initial_container_restart_period,
            maximum=self.max_container_restart_period,
        )

    @property
    def log_rotation(self) -> LogRotation:
        return LogRotation(
            max_size=self.container_log_max_size, max_files=self.container_log_max_files
        )

    def shutdown_deadline(self, longest_pod_grace: float) -> float:
        """Seconds the whole shutdown may take before every container is killed."""
        if self.shutdown_grace_period is not None:
            return self.shutdown_grace_period
        return DEFAULT_SHUTDOWN_SLACK + longest_pod_grace

    def changed_fields(self, other: KubeletConfiguration) -> list[str]:
        """Names (the file's spelling) of the fields whose value differs in ``other``."""
        return [
            _BY_ATTRIBUTE[item.name].field
            for item in fields(self)
            if getattr(self, item.name) != getattr(other, item.name)
        ]


# -- reading and checking one value ---------------------------------------------------

Parser = Callable[[object], Any]  # a file's value -> the attribute's; ValueError: the detail
Check = Callable[[Any], Any]  # a typed value (a flag's, or a parsed one) -> itself, or ValueError


def _duration(value: object) -> float:
    if not isinstance(value, str):
        # metav1.Duration decodes from a JSON string only; 20 would be 20 nanoseconds in Go.
        raise ValueError('must be a duration string such as "500ms", "20s" or "5m"')
    try:
        return parse_duration(value)
    except ValueError as error:
        raise ValueError(str(error).split(": ", 1)[-1]) from None


def _path(value: object) -> Path:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty path string")
    return Path(value)


def _string(what: str) -> Parser:
    def parse(value: object) -> str:
        if not isinstance(value, str):
            raise ValueError(f"must be {what}")
        return value

    return parse


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer")
    return value


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("must be a quantity such as 10Mi")
    size = int(parse_quantity(value))
    if size <= 0:
        raise ValueError("must be greater than 0")
    return size


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _expand(value: Path) -> Path:
    return Path(value).expanduser()


def _address(value: str) -> str:
    if value == "localhost":
        return value
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("must be a valid IP address") from None
    return value


def _port(value: int) -> int:
    if not 0 <= value <= 65535:
        raise ValueError("must be between 0 and 65535, inclusive")
    return value


def _max_files(value: int) -> int:
    if value < 2:
        raise ValueError("must be greater than 1")  # the kubelet's own rule
    return value


def is_loopback(address: str) -> bool:
    """Whether ``address`` (an IP or ``localhost``) only reaches this machine."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


# -- the table ------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One setting: where it is in the file, its flag, and how it is read and checked."""

    field: str  # path in the file, dotted for nested objects: "crashLoopBackOff.maxContainer…"
    attribute: str  # of KubeletConfiguration
    parse: Parser  # the file's value -> a typed one (the type is checked here)
    check: Check | None = None  # the typed value, from the file or a flag: range, syntax
    flag: str | None = None  # "--pod-manifest-path"; None: the file only
    live: bool = False  # SIGHUP applies it; otherwise a change waits for the next start
    path: bool = False  # "~" expanded; relative in a file: to the file's directory

    @property
    def parameter(self) -> str | None:
        """The flag's click parameter name (``pod_manifest_path``)."""
        return None if self.flag is None else self.flag.removeprefix("--").replace("-", "_")

    def read(self, value: object) -> Any:
        typed = self.parse(value)
        return self.check(typed) if self.check is not None else typed


OPTIONS = (
    Option(
        "staticPodPath",
        "static_pod_path",
        _path,
        _expand,
        "--pod-manifest-path",
        live=True,
        path=True,
    ),
    Option(
        "fileCheckFrequency",
        "file_check_frequency",
        _duration,
        _positive,
        "--file-check-frequency",
        live=True,
    ),
    Option("address", "address", _string("an IP address string"), _address, "--address"),
    Option("port", "port", _integer, _port, "--port"),
    Option("tlsCertFile", "tls_cert_file", _path, _expand, "--tls-cert-file", path=True),
    Option(
        "tlsPrivateKeyFile",
        "tls_private_key_file",
        _path,
        _expand,
        "--tls-private-key-file",
        path=True,
    ),
    Option("authentication.anonymous.enabled", "anonymous_auth", _boolean, flag="--anonymous-auth"),
    Option("authentication.tokenFile", "token_file", _path, _expand, "--token-file", path=True),
    Option(
        "crashLoopBackOff.maxContainerRestartPeriod",
        "max_container_restart_period",
        _duration,
        flag="--max-container-restart-period",
    ),
    Option("containerLogMaxSize", "container_log_max_size", _size),
    Option("containerLogMaxFiles", "container_log_max_files", _integer, _max_files),
    Option("shutdownGracePeriod", "shutdown_grace_period", _duration),
    Option("rootDir", "root_dir", _path, _expand, "--root-dir", path=True),
    Option("socket", "socket", _path, _expand, "--socket", path=True),
    Option(
        "initialContainerRestartPeriod",
        "initial_container_restart_period",
        _duration,
        flag="--initial-container-restart-period",
    ),
)

_BY_ATTRIBUTE = {option.attribute: option for option in OPTIONS}
_BY_PARAMETER = {option.parameter: option for option in OPTIONS if option.parameter}

# serve's (and run's) flag parameter name -> KubeletConfiguration attribute.
FLAGS = {parameter: option.attribute for parameter, option in _BY_PARAMETER.items()}

# Changing these needs a restart of the daemon: they are fixed when the API listens and the
# engine starts. SIGHUP applies the live ones and logs the others.
RESTART_REQUIRED = frozenset(option.field for option in OPTIONS if not option.live)


def _tree(options: tuple[Option, ...]) -> dict[str, Any]:
    """The file's schema: nested dicts of field names, with an Option at each leaf."""
    tree: dict[str, Any] = {}
    for option in options:
        *parents, leaf = option.field.split(".")
        node = tree
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = option
    return tree


_SCHEMA = _tree(OPTIONS)


# -- the file ------------------------------------------------------------------------


def read_config_file(path: Path) -> dict[str, Any]:
    """The values a config file sets, keyed by attribute name; ConfigError lists every problem."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the file: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text: invalid byte at {error.start}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if document is None:
        document = {}
    errors: list[FieldError] = []
    if not isinstance(document, dict):
        kind = type(document).__name__
        problem = FieldError("", "Invalid value", "must be a mapping", kind, show_value=True)
        raise ConfigError(f"{path}: {problem}")
    for name, expected in (("apiVersion", API_VERSION), ("kind", KIND)):
        value = document.get(name)
        if value is None:
            errors.append(FieldError(name, "Required value", f'must be "{expected}"'))
        elif value != expected:
            detail = f'supported values: "{expected}"'
            errors.append(FieldError(name, "Unsupported value", detail, value, show_value=True))
    body = {key: value for key, value in document.items() if key not in ("apiVersion", "kind")}
    values: dict[str, Any] = {}
    _read_object("", body, _SCHEMA, values, errors, extra=("apiVersion", "kind"))
    if errors:
        raise ConfigError("\n".join(f"{path}: {error}" for error in errors))
    base = path.parent
    for attribute, value in values.items():
        if _BY_ATTRIBUTE[attribute].path and not value.is_absolute():
            values[attribute] = base / value
    return values


def _read_object(
    prefix: str,
    value: Mapping[Any, Any],
    schema: Mapping[str, Any],
    values: dict[str, Any],
    errors: list[FieldError],
    extra: tuple[str, ...] = (),
) -> None:
    for key, item in value.items():
        name = str(key)
        field_path = f"{prefix}{name}"
        entry = schema.get(name)
        if entry is None:
            suggestion = did_you_mean(name, [*schema, *extra])
            detail = f'did you mean "{suggestion}"?' if suggestion else ""
            errors.append(FieldError(field_path, "Unknown field", detail))
        elif item is None:
            continue  # null means "not set", as in the kubelet's JSON decoding
        elif isinstance(entry, Option):
            try:
                values[entry.attribute] = entry.read(item)
            except ValueError as error:
                errors.append(FieldError(field_path, "Invalid value", str(error), item, True))
        elif not isinstance(item, dict):
            errors.append(FieldError(field_path, "Invalid value", "must be a mapping", item, True))
        else:
            _read_object(f"{field_path}.", item, entry, values, errors)


# -- flags, and the whole ---------------------------------------------------------------


def build_config(
    file_values: Mapping[str, Any],
    flag_values: Mapping[str, Any],
    *,
    file: Path | None = None,
) -> KubeletConfiguration:
    """Defaults, overridden by the file's values, overridden by the flags given.

    ``flag_values`` holds only the flags given on the command line, keyed by parameter name
    (``pod_manifest_path``); their values are already typed by click. ``file`` names the
    file in the errors about settings that are unsafe together.
    """
    values = dict(file_values)
    errors: list[str] = []
    from_flags: set[str] = set()
    for parameter, value in flag_values.items():
        option = _BY_PARAMETER[parameter]
        if value is None:
            continue
        try:
            values[option.attribute] = option.check(value) if option.check else value
            from_flags.add(option.attribute)
        except ValueError as error:
            errors.append(f"{option.flag}: Invalid value: {value}: {error}")
    if errors:
        raise ConfigError("\n".join(errors))
    values.setdefault("static_pod_path", default_static_pod_path())
    values.setdefault("root_dir", default_root_dir())
    values.setdefault("socket", default_socket())
    config = KubeletConfiguration(**values)

    def where(attribute: str) -> str:
        option = _BY_ATTRIBUTE[attribute]
        if attribute in from_flags or (file is None and option.flag):
            return str(option.flag)
        return f"{file}: {option.field}" if file is not None else option.field

    problems = [f"{where(attribute)}: {text}" for attribute, text in _unsafe(config)]
    if problems:
        raise ConfigError("\n".join(problems))
    return config


def _unsafe(config: KubeletConfiguration) -> list[tuple[str, str]]:
    """Settings that are fine one by one but not together: (attribute, error text)."""
    problems = []
    cert, key = config.tls_cert_file, config.tls_private_key_file
    if (cert is None) != (key is None):
        given, missing = ("tls_cert_file", "tlsPrivateKeyFile (--tls-private-key-file)")
        if cert is None:
            given, missing = ("tls_private_key_file", "tlsCertFile (--tls-cert-file)")
        value = cert or key
        problems.append((given, f'Invalid value: "{value}": needs {missing} too'))
    if config.port is not None and not is_loopback(config.address) and config.anonymous_auth:
        # Off this machine anyone on the network could use it. (TLS is always on: without
        # files of its own the listener serves a self-signed certificate, server/tls.py.)
        problems.append(
            (
                "anonymous_auth",
                "Forbidden: anonymous requests cannot be allowed on the non-loopback "
                f'address "{config.address}"',
            )
        )
    return problems


def load_config(path: Path | None, flag_values: Mapping[str, Any]) -> KubeletConfiguration:
    """The configuration of ``serve --config PATH`` with ``flag_values`` given."""
    file_values = read_config_file(path) if path is not None else {}
    return build_config(file_values, flag_values, file=path)
