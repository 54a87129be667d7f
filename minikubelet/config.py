"""The daemon's configuration: a KubeletConfiguration-shaped file, overridden by flags.

    apiVersion: kubelet.config.k8s.io/v1beta1
    kind: KubeletConfiguration
    staticPodPath: /etc/minikubelet/manifests      # --pod-manifest-path
    fileCheckFrequency: 20s                         # --file-check-frequency
    address: 127.0.0.1                              # --address
    port: 10250                                     # --port (absent: no TCP listener)
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

Nothing is coerced: an unknown field is an error naming the file and the field with a
"did you mean", a bad value names the file, the field and the value, and every problem is
listed at once (``ConfigError``). ``serve`` turns that into exit status 2 before anything
starts; on SIGHUP, into a log line that keeps the running configuration.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from minikubelet.cli.options import default_root_dir, default_socket
from minikubelet.errors import ConfigError, FieldError
from minikubelet.logic.backoff import BackoffPolicy
from minikubelet.manifest.quantity import parse_quantity
from minikubelet.manifest.suggest import did_you_mean
from minikubelet.model.duration import parse_duration
from minikubelet.runtime.logs import LogRotation

__all__ = [
    "API_VERSION",
    "FLAGS",
    "KIND",
    "RESTART_REQUIRED",
    "KubeletConfiguration",
    "build_config",
    "default_static_pod_path",
    "load_config",
    "read_config_file",
]

API_VERSION = "kubelet.config.k8s.io/v1beta1"
KIND = "KubeletConfiguration"
DEFAULT_SHUTDOWN_SLACK = 30.0  # shutdownGracePeriod default: 30 s + the longest pod grace


def default_static_pod_path() -> Path:
    if os.geteuid() == 0:
        return Path("/etc/minikubelet/manifests")
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "minikubelet" / "manifests"


@dataclass(frozen=True)
class KubeletConfiguration:
    """The settings ``serve`` runs with, after defaults, the file and the flags."""

    static_pod_path: Path
    root_dir: Path
    socket: Path
    file_check_frequency: float = 20.0
    address: str = "127.0.0.1"
    port: int | None = None  # None: no TCP listener; 0: any free port
    initial_container_restart_period: float = 10.0
    max_container_restart_period: float = 300.0
    container_log_max_size: int = 10 * 1024 * 1024
    container_log_max_files: int = 5
    shutdown_grace_period: float | None = None  # None: 30 s + the longest pod grace

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
            _FILE_NAMES[item.name]
            for item in fields(self)
            if getattr(self, item.name) != getattr(other, item.name)
        ]


# -- the file ------------------------------------------------------------------------

Parser = Callable[[object], Any]  # raises ValueError with the detail of a FieldError


def _duration(value: object) -> float:
    if not isinstance(value, str):
        # metav1.Duration decodes from a JSON string only; 20 would be 20 nanoseconds in Go.
        raise ValueError('must be a duration string such as "500ms", "20s" or "5m"')
    try:
        return parse_duration(value)
    except ValueError as error:
        raise ValueError(str(error).split(": ", 1)[-1]) from None


def _positive_duration(value: object) -> float:
    seconds = _duration(value)
    if seconds <= 0:
        raise ValueError("must be greater than 0")
    return seconds


def _path(value: object) -> Path:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty path string")
    return Path(value).expanduser()


def _address(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be an IP address string")
    _check_address(value)
    return value


def _port(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer")
    _check_port(value)
    return value


def _size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("must be a quantity such as 10Mi")
    size = int(parse_quantity(value))
    if size <= 0:
        raise ValueError("must be greater than 0")
    return size


def _max_files(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer")
    if value < 2:
        raise ValueError("must be greater than 1")  # the kubelet's own rule
    return value


def _check_address(value: str) -> None:
    if value == "localhost":
        return
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("must be a valid IP address") from None


def _check_port(value: int) -> None:
    if not 0 <= value <= 65535:
        raise ValueError("must be between 0 and 65535, inclusive")


# file field -> (KubeletConfiguration attribute, parser); nested objects are dicts.
_SCHEMA: dict[str, tuple[str, Parser] | dict[str, tuple[str, Parser]]] = {
    "staticPodPath": ("static_pod_path", _path),
    "fileCheckFrequency": ("file_check_frequency", _positive_duration),
    "address": ("address", _address),
    "port": ("port", _port),
    "crashLoopBackOff": {
        "maxContainerRestartPeriod": ("max_container_restart_period", _duration),
    },
    "containerLogMaxSize": ("container_log_max_size", _size),
    "containerLogMaxFiles": ("container_log_max_files", _max_files),
    "shutdownGracePeriod": ("shutdown_grace_period", _duration),
    "rootDir": ("root_dir", _path),
    "socket": ("socket", _path),
    "initialContainerRestartPeriod": ("initial_container_restart_period", _duration),
}
_PATH_FIELDS = ("static_pod_path", "root_dir", "socket")
_FILE_NAMES = {
    "static_pod_path": "staticPodPath",
    "file_check_frequency": "fileCheckFrequency",
    "address": "address",
    "port": "port",
    "max_container_restart_period": "crashLoopBackOff.maxContainerRestartPeriod",
    "container_log_max_size": "containerLogMaxSize",
    "container_log_max_files": "containerLogMaxFiles",
    "shutdown_grace_period": "shutdownGracePeriod",
    "root_dir": "rootDir",
    "socket": "socket",
    "initial_container_restart_period": "initialContainerRestartPeriod",
}

# Changing these needs a restart of the daemon: they are fixed when the API listens and the
# engine starts. SIGHUP applies staticPodPath and fileCheckFrequency, and logs the others.
RESTART_REQUIRED = frozenset(_FILE_NAMES.values()) - {"staticPodPath", "fileCheckFrequency"}


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
    values: dict[str, Any] = {}
    known = [*_SCHEMA, "apiVersion", "kind"]
    for name, value in document.items():
        if name in ("apiVersion", "kind"):
            continue
        entry = _SCHEMA.get(str(name))
        if entry is None:
            errors.append(_unknown(str(name), str(name), known))
        elif isinstance(entry, dict):
            _read_object(str(name), value, entry, values, errors)
        else:
            _read_value(str(name), value, entry, values, errors)
    if errors:
        raise ConfigError("\n".join(f"{path}: {error}" for error in errors))
    base = path.parent
    for attribute in _PATH_FIELDS:
        if attribute in values and not values[attribute].is_absolute():
            values[attribute] = base / values[attribute]
    return values


def _unknown(field_path: str, name: str, known: list[str]) -> FieldError:
    suggestion = did_you_mean(name, known)
    detail = f'did you mean "{suggestion}"?' if suggestion else ""
    return FieldError(field_path, "Unknown field", detail)


def _read_object(
    name: str,
    value: object,
    schema: Mapping[str, tuple[str, Parser]],
    values: dict[str, Any],
    errors: list[FieldError],
) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        errors.append(FieldError(name, "Invalid value", "must be a mapping", value, True))
        return
    for key, item in value.items():
        entry = schema.get(str(key))
        if entry is None:
            errors.append(_unknown(f"{name}.{key}", str(key), list(schema)))
        else:
            _read_value(f"{name}.{key}", item, entry, values, errors)


def _read_value(
    field_path: str,
    value: object,
    entry: tuple[str, Parser],
    values: dict[str, Any],
    errors: list[FieldError],
) -> None:
    attribute, parse = entry
    if value is None:
        return  # null means "not set", as in the kubelet's JSON decoding
    try:
        values[attribute] = parse(value)
    except ValueError as error:
        errors.append(FieldError(field_path, "Invalid value", str(error), value, True))


# -- flags ---------------------------------------------------------------------------

# serve's flag parameter name -> KubeletConfiguration attribute.
FLAGS = {
    "pod_manifest_path": "static_pod_path",
    "file_check_frequency": "file_check_frequency",
    "root_dir": "root_dir",
    "address": "address",
    "port": "port",
    "socket": "socket",
    "max_container_restart_period": "max_container_restart_period",
    "initial_container_restart_period": "initial_container_restart_period",
}
_FLAG_NAMES = {attribute: "--" + flag.replace("_", "-") for flag, attribute in FLAGS.items()}


def build_config(
    file_values: Mapping[str, Any], flag_values: Mapping[str, Any]
) -> KubeletConfiguration:
    """Defaults, overridden by the file's values, overridden by the flags given.

    ``flag_values`` holds only the flags given on the command line, keyed by parameter name
    (``pod_manifest_path``); their values are already parsed by click.
    """
    values = dict(file_values)
    errors: list[str] = []
    for flag, value in flag_values.items():
        attribute = FLAGS[flag]
        if value is None:
            continue
        try:
            values[attribute] = _check_flag(attribute, value)
        except ValueError as error:
            errors.append(f"{_FLAG_NAMES[attribute]}: Invalid value: {value}: {error}")
    if errors:
        raise ConfigError("\n".join(errors))
    values.setdefault("static_pod_path", default_static_pod_path())
    values.setdefault("root_dir", default_root_dir())
    values.setdefault("socket", default_socket())
    return KubeletConfiguration(**values)


def _check_flag(attribute: str, value: Any) -> Any:
    if attribute == "file_check_frequency" and value <= 0:
        raise ValueError("must be greater than 0")
    if attribute == "port":
        _check_port(int(value))
    if attribute == "address":
        _check_address(str(value))
    if attribute in _PATH_FIELDS:
        return Path(value).expanduser()
    return value


def load_config(path: Path | None, flag_values: Mapping[str, Any]) -> KubeletConfiguration:
    """The configuration of ``serve --config PATH`` with ``flag_values`` given."""
    file_values = read_config_file(path) if path is not None else {}
    return build_config(file_values, flag_values)
