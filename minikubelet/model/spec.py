"""What was asked: the Pod as minikubelet understands it.

These are frozen dataclasses with snake_case names. camelCase lives only at the
boundary (``manifest/`` parses it, the API serialises it). Defaults are
Kubernetes' own (``pkg/apis/core/v1/defaults.go``), applied by the parser so that
every consumer sees the same values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from pathlib import Path

__all__ = [
    "DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS",
    "Container",
    "ContainerPort",
    "EnvFromSource",
    "EnvVar",
    "ExecAction",
    "GRPCAction",
    "HTTPGetAction",
    "HTTPHeader",
    "HookHandler",
    "KeyRef",
    "Lifecycle",
    "ObjectKind",
    "ObjectMeta",
    "Pod",
    "PodSpec",
    "Probe",
    "ProbeHandler",
    "Quantity",
    "ResourceRequirements",
    "RestartPolicy",
    "SecurityContext",
    "SleepAction",
    "Source",
    "TCPSocketAction",
    "TerminationMessagePolicy",
]

DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30


class RestartPolicy(StrEnum):
    ALWAYS = "Always"
    ON_FAILURE = "OnFailure"
    NEVER = "Never"


class TerminationMessagePolicy(StrEnum):
    FILE = "File"
    FALLBACK_TO_LOGS_ON_ERROR = "FallbackToLogsOnError"


@dataclass(frozen=True)
class Quantity:
    """A Kubernetes resource quantity: the exact value and the text it came from."""

    value: Fraction
    text: str

    @property
    def milli(self) -> int:
        """The value in thousandths, rounded up as Kubernetes does (``0.1m`` -> 1)."""
        scaled = self.value * 1000
        return -((-scaled.numerator) // scaled.denominator)

    def __int__(self) -> int:
        """The value rounded up to a whole number (bytes for memory)."""
        return -((-self.value.numerator) // self.value.denominator)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class ExecAction:
    command: tuple[str, ...]


@dataclass(frozen=True)
class HTTPHeader:
    name: str
    value: str


@dataclass(frozen=True)
class HTTPGetAction:
    port: int | str
    path: str = "/"
    host: str | None = None  # None: the pod IP, 127.0.0.1 here
    scheme: str = "HTTP"
    http_headers: tuple[HTTPHeader, ...] = ()


@dataclass(frozen=True)
class TCPSocketAction:
    port: int | str
    host: str | None = None


@dataclass(frozen=True)
class GRPCAction:
    port: int
    service: str | None = None


@dataclass(frozen=True)
class SleepAction:
    seconds: int


ProbeHandler = ExecAction | HTTPGetAction | TCPSocketAction | GRPCAction
HookHandler = ExecAction | HTTPGetAction | SleepAction | TCPSocketAction


@dataclass(frozen=True)
class Probe:
    handler: ProbeHandler
    initial_delay_seconds: int = 0
    timeout_seconds: int = 1
    period_seconds: int = 10
    success_threshold: int = 1
    failure_threshold: int = 3
    termination_grace_period_seconds: int | None = None


@dataclass(frozen=True)
class Lifecycle:
    post_start: HookHandler | None = None
    pre_stop: HookHandler | None = None
    stop_signal: str | None = None  # a signal name such as "SIGINT"


class ObjectKind(StrEnum):
    """The kinds of object a container's environment can refer to (Kubernetes' ``kind``)."""

    CONFIG_MAP = "ConfigMap"
    SECRET = "Secret"

    @property
    def resource(self) -> str:
        """The API resource: ``configmaps`` or ``secrets``."""
        return "configmaps" if self is ObjectKind.CONFIG_MAP else "secrets"

    @property
    def singular(self) -> str:
        """The kubelet's word in "not found" messages (its managers' ``GroupResource``)."""
        return "configmap" if self is ObjectKind.CONFIG_MAP else "secret"


@dataclass(frozen=True)
class KeyRef:
    """``configMapKeyRef`` / ``secretKeyRef``: one key of one object of the pod's namespace."""

    kind: ObjectKind
    name: str
    key: str
    optional: bool = False


@dataclass(frozen=True)
class EnvFromSource:
    """One ``envFrom`` entry: every key of one object, each name prefixed with ``prefix``."""

    kind: ObjectKind
    name: str
    optional: bool = False
    prefix: str = ""


@dataclass(frozen=True)
class EnvVar:
    """One ``env`` entry: ``value``, or one source (``field_path``, ``resource``, ``key_ref``)."""

    name: str
    value: str = ""
    field_path: str | None = None  # valueFrom.fieldRef.fieldPath
    resource: str | None = None  # valueFrom.resourceFieldRef.resource
    resource_divisor: Quantity | None = None
    resource_container: str | None = None  # resourceFieldRef.containerName; None: this one
    key_ref: KeyRef | None = None  # valueFrom.configMapKeyRef / secretKeyRef


@dataclass(frozen=True)
class ContainerPort:
    container_port: int
    name: str | None = None
    protocol: str = "TCP"


@dataclass(frozen=True)
class ResourceRequirements:
    limits: Mapping[str, Quantity] = field(default_factory=dict)
    requests: Mapping[str, Quantity] = field(default_factory=dict)


@dataclass(frozen=True)
class SecurityContext:
    """Who a container runs as. A container's own fields win over the pod's; the pod's
    ``supplementalGroups`` apply to every container."""

    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    supplemental_groups: tuple[int, ...] = ()


@dataclass(frozen=True)
class Container:
    name: str
    command: tuple[str, ...]
    args: tuple[str, ...] = ()
    image: str = ""
    working_dir: str | None = None  # None: the manifest's directory
    env: tuple[EnvVar, ...] = ()
    env_from: tuple[EnvFromSource, ...] = ()
    ports: tuple[ContainerPort, ...] = ()
    resources: ResourceRequirements = field(default_factory=ResourceRequirements)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    security_context: SecurityContext = field(default_factory=SecurityContext)
    # None: left at Kubernetes' default (/dev/termination-log), which minikubelet maps to a
    # per-instance file under the root dir (see runtime/files.py).
    termination_message_path: str | None = None
    termination_message_policy: TerminationMessagePolicy = TerminationMessagePolicy.FILE
    # Only init containers may set it, and only to Always: that makes a sidecar.
    restart_policy: RestartPolicy | None = None

    @property
    def argv(self) -> tuple[str, ...]:
        return self.command + self.args

    @property
    def is_sidecar(self) -> bool:
        return self.restart_policy is RestartPolicy.ALWAYS


@dataclass(frozen=True)
class PodSpec:
    containers: tuple[Container, ...]
    init_containers: tuple[Container, ...] = ()
    restart_policy: RestartPolicy = RestartPolicy.ALWAYS
    termination_grace_period_seconds: int = DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
    active_deadline_seconds: int | None = None
    security_context: SecurityContext = field(default_factory=SecurityContext)
    hostname: str | None = None

    def container(self, name: str) -> Container:
        for container in self.init_containers + self.containers:
            if container.name == name:
                return container
        raise KeyError(name)


@dataclass(frozen=True)
class ObjectMeta:
    name: str
    namespace: str = "default"
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Source:
    """Where a pod came from, for error messages and relative paths."""

    path: Path | None  # None: created through the API
    # position of the pod in the file: YAML documents and the items of a List, in order,
    # counting only pods (empty documents are skipped)
    document: int = 0

    @property
    def directory(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()


@dataclass(frozen=True)
class Pod:
    metadata: ObjectMeta
    spec: PodSpec
    source: Source = field(default_factory=lambda: Source(path=None))
    # The manifest as written (camelCase), kept to serve it back through the API.
    manifest: Mapping[str, object] = field(default_factory=dict, compare=False)

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    @property
    def full_name(self) -> str:
        """``name_namespace``, the kubelet's pod full name."""
        return f"{self.metadata.name}_{self.metadata.namespace}"
