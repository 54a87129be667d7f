"""Kubernetes' value checks, with Kubernetes' messages.

Ported from ``staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go`` (names,
ports, header names, environment variable names) and the constant sets of
``pkg/apis/core/validation/validation.go``. Each ``is_*`` function returns the list of
problems (empty when the value is valid), as the Go functions do, so a caller can attach
each message to the right field path.
"""

from __future__ import annotations

import re

__all__ = [
    "ENV_FIELD_PATHS",
    "IMAGE_PULL_POLICIES",
    "NEGATIVE",
    "PORT_PROTOCOLS",
    "RESTART_POLICIES",
    "STOP_SIGNALS_LINUX",
    "STOP_SIGNALS_WINDOWS",
    "TERMINATION_MESSAGE_POLICIES",
    "URI_SCHEMES",
    "decode_base64",
    "inclusive_range_error",
    "is_config_map_key",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_http_header_name",
    "is_qualified_name",
    "is_relaxed_env_var_name",
    "is_valid_label_value",
    "is_valid_port_name",
    "is_valid_port_num",
    "split_subscripted_path",
]

# apimachinery/pkg/api/validation IsNegativeErrorMsg
NEGATIVE = "must be greater than or equal to 0"

RESTART_POLICIES = ("Always", "OnFailure", "Never")  # in validateRestartPolicy's order
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
IMAGE_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PORT_PROTOCOLS = ("SCTP", "TCP", "UDP")
URI_SCHEMES = ("HTTP", "HTTPS")

# validEnvDownwardAPIFieldPathExpressions (metadata.labels['k'] and metadata.annotations['k']
# are accepted separately, as subscripted paths).
ENV_FIELD_PATHS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)

# supportedStopSignalsLinux / supportedStopSignalsWindows (ContainerStopSignals, 1.33).
STOP_SIGNALS_LINUX = frozenset(
    [
        "SIGABRT", "SIGALRM", "SIGBUS", "SIGCHLD", "SIGCLD", "SIGCONT", "SIGFPE", "SIGHUP",
        "SIGILL", "SIGINT", "SIGIO", "SIGIOT", "SIGKILL", "SIGPIPE", "SIGPOLL", "SIGPROF",
        "SIGPWR", "SIGQUIT", "SIGSEGV", "SIGSTKFLT", "SIGSTOP", "SIGSYS", "SIGTERM", "SIGTRAP",
        "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGUSR1", "SIGUSR2", "SIGVTALRM",
        "SIGWINCH", "SIGXCPU", "SIGXFSZ", "SIGRTMIN", "SIGRTMAX",
    ]
    + [f"SIGRTMIN+{n}" for n in range(1, 16)]
    + [f"SIGRTMAX-{n}" for n in range(1, 15)]
)  # fmt: skip
STOP_SIGNALS_WINDOWS = frozenset(["SIGKILL", "SIGTERM"])

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + r")*"
_QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = r"(" + _QUALIFIED_NAME + r")?"
_HTTP_HEADER_NAME = r"[-A-Za-z0-9]+"


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    """``validation.RegexError``, including its double space before "or"."""
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    text = message + " (e.g. "
    for i, example in enumerate(examples):
        if i > 0:
            text += " or "
        text += f"'{example}', "
    return text + f"regex used for validation is '{fmt}')"


def _max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def inclusive_range_error(low: int, high: int) -> str:
    return f"must be between {low} and {high}, inclusive"


def is_dns1123_label(value: str) -> list[str]:
    errors = []
    if len(value) > 63:
        errors.append(_max_len_error(63))
    if not re.fullmatch(_DNS1123_LABEL, value):
        errors.append(
            _regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                "or '-', and must start and end with an alphanumeric character",
                _DNS1123_LABEL,
                "my-name",
                "123-abc",
            )
        )
    return errors


def is_dns1123_subdomain(value: str) -> list[str]:
    errors = []
    if len(value) > 253:
        errors.append(_max_len_error(253))
    if not re.fullmatch(_DNS1123_SUBDOMAIN, value):
        errors.append(
            _regex_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric character",
                _DNS1123_SUBDOMAIN,
                "example.com",
            )
        )
    return errors


def is_qualified_name(value: str) -> list[str]:
    """Label keys, annotation keys: ``[prefix/]name``."""
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
        errors: list[str] = []
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errors = ["prefix part must be non-empty"]
        else:
            errors = ["prefix part " + msg for msg in is_dns1123_subdomain(prefix)]
    else:
        return [
            "a qualified name "
            + _regex_error(
                "must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                "end with an alphanumeric character",
                _QUALIFIED_NAME,
                "MyName",
                "my.name",
                "123-abc",
            )
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part " + _max_len_error(63))
    if not re.fullmatch(_QUALIFIED_NAME, name):
        errors.append(
            "name part "
            + _regex_error(
                "must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                "end with an alphanumeric character",
                _QUALIFIED_NAME,
                "MyName",
                "my.name",
                "123-abc",
            )
        )
    return errors


def is_valid_label_value(value: str) -> list[str]:
    errors = []
    if len(value) > 63:
        errors.append(_max_len_error(63))
    if not re.fullmatch(_LABEL_VALUE, value):
        errors.append(
            _regex_error(
                "a valid label must be an empty string or consist of alphanumeric characters, "
                "'-', '_' or '.', and must start and end with an alphanumeric character",
                _LABEL_VALUE,
                "MyValue",
                "my_value",
                "12345",
            )
        )
    return errors


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


def is_valid_port_name(port: str) -> list[str]:
    """An IANA_SVC_NAME (RFC 6335): what a named container port must be."""
    errors = []
    if len(port) > 15:
        errors.append(_max_len_error(15))
    if not re.fullmatch(r"[-a-z0-9]+", port):
        errors.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search(r"[a-z]", port):
        errors.append("must contain at least one letter (a-z)")
    if "--" in port:
        errors.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errors.append("must not begin or end with a hyphen")
    return errors


def is_http_header_name(value: str) -> list[str]:
    if re.fullmatch(_HTTP_HEADER_NAME, value):
        return []
    return [
        _regex_error(
            "a valid HTTP header must consist of alphanumeric characters or '-'",
            _HTTP_HEADER_NAME,
            "X-Header-Name",
        )
    ]


def is_relaxed_env_var_name(value: str) -> list[str]:
    """``IsRelaxedEnvVarName`` (RelaxedEnvironmentVariableValidation, GA in 1.34)."""
    if not value:
        return ["environment variable name must be non-empty"]
    if any(not (32 <= ord(char) <= 126) or char == "=" for char in value):
        return [
            "a valid environment variable name must consist only of printable ASCII "
            "characters other than '='"
        ]
    return []


_CONFIG_MAP_KEY = r"[-._a-zA-Z0-9]+"


def is_config_map_key(value: str) -> list[str]:
    """``IsConfigMapKey``: the keys of a ConfigMap's or a Secret's data, and key refs."""
    errors = []
    if len(value) > 253:
        errors.append(_max_len_error(253))
    if not re.fullmatch(_CONFIG_MAP_KEY, value):
        errors.append(
            _regex_error(
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                _CONFIG_MAP_KEY,
                "key.name",
                "KEY_NAME",
                "key-name",
            )
        )
    # hasChDirPrefix: the key may become a file name in a volume.
    if value == ".":
        errors.append("must not be '.'")
    elif value == "..":
        errors.append("must not be '..'")
    elif value.startswith(".."):
        errors.append("must not start with '..'")
    return errors


_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BASE64_VALUES = {char: value for value, char in enumerate(_BASE64)}
_NEWLINES = b"\r\n"


def decode_base64(text: str) -> bytes:
    """Go's ``base64.StdEncoding.DecodeString``, which decodes a ``[]byte`` field in JSON.

    Padding is required, carriage returns and line feeds are skipped anywhere, and a bad
    input raises ``ValueError`` with Go's own message and offset (``illegal base64 data at
    input byte 4``), which is what the apiserver answers. (Python's decoder accepts other
    inputs and reports no offset.)
    """
    source = text.encode("utf-8", "surrogateescape")
    out = bytearray()
    i = 0
    while True:
        quantum: list[int] = []
        while len(quantum) < 4:
            if i == len(source):
                if not quantum:
                    return bytes(out)
                # A short final quantum without its padding (StdEncoding pads).
                raise ValueError(f"illegal base64 data at input byte {i - len(quantum)}")
            char = source[i]
            i += 1
            if char in _BASE64_VALUES:
                quantum.append(_BASE64_VALUES[char])
                continue
            if char in _NEWLINES:
                continue
            if char != ord("=") or len(quantum) < 2:
                raise ValueError(f"illegal base64 data at input byte {i - 1}")
            if len(quantum) == 2:  # "==" expected: the first "=" is consumed
                while i < len(source) and source[i] in _NEWLINES:
                    i += 1
                if i == len(source):
                    raise ValueError(f"illegal base64 data at input byte {len(source)}")
                if source[i] != ord("="):
                    raise ValueError(f"illegal base64 data at input byte {i - 1}")
                i += 1
            while i < len(source) and source[i] in _NEWLINES:
                i += 1
            if i < len(source):
                raise ValueError(f"illegal base64 data at input byte {i}")  # after padding
            value = 0
            for digit in quantum:
                value = value << 6 | digit
            value <<= 6 * (4 - len(quantum))
            out += value.to_bytes(3, "big")[: len(quantum) - 1]
            return bytes(out)
        value = quantum[0] << 18 | quantum[1] << 12 | quantum[2] << 6 | quantum[3]
        out += value.to_bytes(3, "big")


def split_subscripted_path(field_path: str) -> tuple[str, str] | None:
    """``fieldpath.SplitMaybeSubscriptedPath``: ``metadata.labels['app']`` -> (path, key)."""
    if not field_path.endswith("']"):
        return None
    path, sep, subscript = field_path[:-2].partition("['")
    if not sep or not path:
        return None
    return path, subscript
