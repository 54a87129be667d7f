"""Manifests that load: defaults, documents, Lists, JSON, warnings, the model they give."""

from __future__ import annotations

import json
import textwrap
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from minikubelet.errors import ManifestError
from minikubelet.manifest import LoadResult, load_file, load_text, pod_from_dict
from minikubelet.manifest import load as loading
from minikubelet.model.spec import (
    ExecAction,
    GRPCAction,
    HTTPGetAction,
    HTTPHeader,
    Pod,
    RestartPolicy,
    SleepAction,
    Source,
    TCPSocketAction,
    TerminationMessagePolicy,
)

MINIMAL = """
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: app
    command: [python, -m, http.server]
"""


def load(tmp_path: Path, text: str, name: str = "pods.yaml") -> LoadResult:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return load_file(path)


def one_pod(tmp_path: Path, text: str) -> Pod:
    result = load(tmp_path, text)
    assert len(result.pods) == 1
    return result.pods[0]


def warnings_of(result: LoadResult) -> list[str]:
    return [f"{warning.field_path}: {warning.message}" for warning in result.warnings]


def test_defaults(tmp_path: Path) -> None:
    result = load(tmp_path, MINIMAL)
    assert result.warnings == ()
    pod = result.pods[0]
    assert pod.name == "web"
    assert pod.namespace == "default"
    assert pod.spec.restart_policy is RestartPolicy.ALWAYS
    assert pod.spec.termination_grace_period_seconds == 30
    assert pod.spec.active_deadline_seconds is None
    assert pod.spec.init_containers == ()
    container = pod.spec.containers[0]
    assert container.argv == ("python", "-m", "http.server")
    assert container.image == ""
    assert container.working_dir is None
    assert container.termination_message_path is None
    assert container.termination_message_policy is TerminationMessagePolicy.FILE
    assert container.restart_policy is None
    assert not container.is_sidecar
    assert container.liveness_probe is None
    assert container.resources.limits == {}
    assert container.resources.requests == {}


def test_source_and_manifest_are_kept(tmp_path: Path) -> None:
    pod = one_pod(tmp_path, MINIMAL)
    assert pod.source == Source(tmp_path / "pods.yaml", 0)
    assert pod.source.directory == tmp_path
    assert pod.manifest["metadata"] == {"name": "web"}
    assert pod.manifest["spec"]["containers"][0]["command"] == ["python", "-m", "http.server"]  # type: ignore[index]


def test_probe_defaults(tmp_path: Path) -> None:
    pod = one_pod(
        tmp_path,
        MINIMAL
        + """\
    livenessProbe:
      httpGet: {port: 8000}
    readinessProbe:
      tcpSocket: {port: 8000, host: localhost}
      periodSeconds: 0        # Kubernetes defaults a zero
    startupProbe:
      grpc: {port: 9000}
      failureThreshold: 30
      periodSeconds: 1
      terminationGracePeriodSeconds: 5
""",
    )
    container = pod.spec.containers[0]
    liveness = container.liveness_probe
    assert liveness is not None
    assert liveness.handler == HTTPGetAction(port=8000, path="/", host=None, scheme="HTTP")
    assert (liveness.initial_delay_seconds, liveness.timeout_seconds, liveness.period_seconds) == (
        0,
        1,
        10,
    )
    assert (liveness.success_threshold, liveness.failure_threshold) == (1, 3)
    assert liveness.termination_grace_period_seconds is None
    readiness = container.readiness_probe
    assert readiness is not None
    assert readiness.handler == TCPSocketAction(port=8000, host="localhost")
    assert readiness.period_seconds == 10
    startup = container.startup_probe
    assert startup is not None
    assert startup.handler == GRPCAction(port=9000)
    assert (startup.failure_threshold, startup.period_seconds) == (30, 1)
    assert startup.termination_grace_period_seconds == 5


def test_hooks_and_stop_signal(tmp_path: Path) -> None:
    pod = one_pod(
        tmp_path,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: web}
        spec:
          os: {name: linux}
          terminationGracePeriodSeconds: 10
          containers:
          - name: app
            command: [app]
            ports: [{name: admin, containerPort: 9000}]
            lifecycle:
              postStart:
                httpGet:
                  port: admin
                  path: /started
                  scheme: HTTPS
                  httpHeaders: [{name: X-Token, value: abc}]
              preStop:
                sleep: {seconds: 10}
              stopSignal: SIGINT
        """,
    )
    lifecycle = pod.spec.containers[0].lifecycle
    assert lifecycle.post_start == HTTPGetAction(
        port="admin",
        path="/started",
        scheme="HTTPS",
        http_headers=(HTTPHeader("X-Token", "abc"),),
    )
    assert lifecycle.pre_stop == SleepAction(seconds=10)
    assert lifecycle.stop_signal == "SIGINT"
    assert pod.spec.termination_grace_period_seconds == 10


def test_exec_hook_and_zero_sleep(tmp_path: Path) -> None:
    pod = one_pod(
        tmp_path,
        MINIMAL
        + """\
    lifecycle:
      postStart: {exec: {command: [sh, -c, "echo hi"]}}
      preStop: {sleep: {seconds: 0}}
""",
    )
    lifecycle = pod.spec.containers[0].lifecycle
    assert lifecycle.post_start == ExecAction(command=("sh", "-c", "echo hi"))
    assert lifecycle.pre_stop == SleepAction(seconds=0)


def test_multiple_documents_and_empty_ones(tmp_path: Path) -> None:
    text = """
    ---
    # only a comment
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: one}
    spec: {containers: [{name: a, command: ["true"]}]}
    ---
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: two, namespace: team}
    spec: {containers: [{name: a, command: ["true"]}]}
    """
    result = load(tmp_path, text)
    assert [(pod.namespace, pod.name) for pod in result.pods] == [
        ("default", "one"),
        ("team", "two"),
    ]
    assert [pod.source.document for pod in result.pods] == [0, 1]


def test_empty_file(tmp_path: Path) -> None:
    assert load(tmp_path, "# nothing yet\n") == LoadResult(pods=(), warnings=())


def test_list_of_pods(tmp_path: Path) -> None:
    text = """
    apiVersion: v1
    kind: List
    metadata: {}
    items:
    - apiVersion: v1
      kind: Pod
      metadata: {name: one}
      spec: {containers: [{name: a, command: ["true"]}]}
    - apiVersion: v1
      kind: Pod
      metadata: {name: two}
      spec: {containers: [{name: a, command: ["true"]}]}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: three}
    spec: {containers: [{name: a, command: ["true"]}]}
    """
    result = load(tmp_path, text)
    assert [pod.name for pod in result.pods] == ["one", "two", "three"]
    assert [pod.source.document for pod in result.pods] == [0, 1, 2]
    assert result.pods[0].manifest["kind"] == "Pod"


def test_pod_list_items_without_type(tmp_path: Path) -> None:
    # the API's PodList leaves apiVersion/kind out of its items
    text = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "PodList",
            "items": [
                {
                    "metadata": {"name": "one"},
                    "spec": {"containers": [{"name": "a", "command": ["x"]}]},
                }
            ],
        }
    )
    result = load(tmp_path, text, "pods.json")
    assert [pod.name for pod in result.pods] == ["one"]


def test_json(tmp_path: Path) -> None:
    document = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "restartPolicy": "OnFailure",
            "containers": [
                {"name": "app", "command": ["serve"], "resources": {"limits": {"cpu": 0.5}}}
            ],
        },
    }
    pod = one_pod_from(tmp_path, json.dumps(document), "web.json")
    assert pod.spec.restart_policy is RestartPolicy.ON_FAILURE
    assert pod.metadata.labels == {"app": "web"}
    assert pod.spec.containers[0].resources.limits["cpu"].milli == 500


def one_pod_from(tmp_path: Path, text: str, name: str) -> Pod:
    result = load(tmp_path, text, name)
    assert len(result.pods) == 1
    return result.pods[0]


def test_json_without_json_suffix(tmp_path: Path) -> None:
    text = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web"},
            "spec": {"containers": [{"name": "a", "command": ["x"]}]},
        }
    )
    assert one_pod_from(tmp_path, text, "web.manifest").name == "web"


def test_load_text_for_api_bodies() -> None:
    result = load_text(textwrap.dedent(MINIMAL), None)
    assert result.pods[0].source == Source(None, 0)


def test_pod_from_dict() -> None:
    document: dict[str, object] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "api-pod", "namespace": "dev"},
        "spec": {"containers": [{"name": "a", "command": ["x"]}], "nodeSelector": {"disk": "ssd"}},
    }
    pod, warnings = pod_from_dict(document, Source(None))
    assert (pod.namespace, pod.name) == ("dev", "api-pod")
    assert [str(warning) for warning in warnings] == [
        'pod "api-pod": spec.nodeSelector: not supported by minikubelet; ignored'
    ]
    assert pod.manifest == document


def test_warnings_for_unsupported_fields(tmp_path: Path) -> None:
    result = load(
        tmp_path,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: web}
        spec:
          nodeSelector: {disk: ssd}
          tolerations: [{operator: Exists}]
          serviceAccountName: builder
          hostNetwork: true
          dnsPolicy: Default
          volumes: [{name: data, emptyDir: {}}]
          imagePullSecrets: [{name: registry}]
          readinessGates: [{conditionType: example.com/ready}]
          containers:
          - name: app
            command: [app]
            volumeMounts: [{name: data, mountPath: /data}]
            stdin: true
            ports: [{containerPort: 80, hostPort: 8080}]
            securityContext: {runAsUser: 1000, capabilities: {add: [NET_ADMIN]}}
            resources:
              limits: {memory: 400m, ephemeral-storage: 1Gi, example.com/gpu: 1}
            lifecycle:
              preStop: {tcpSocket: {port: 80}}
        """,
    )
    assert warnings_of(result) == [
        "spec.nodeSelector: not supported by minikubelet; ignored",
        "spec.tolerations: not supported by minikubelet; ignored",
        "spec.serviceAccountName: not supported by minikubelet; ignored",
        "spec.hostNetwork: not supported by minikubelet; ignored",
        "spec.dnsPolicy: not supported by minikubelet; ignored",
        "spec.volumes: not supported by minikubelet (processes use the host's files); ignored",
        "spec.imagePullSecrets: not supported by minikubelet; ignored",
        "spec.readinessGates: not supported by minikubelet; ignored",
        "spec.containers[0].volumeMounts: not supported by minikubelet (there are no volumes); "
        "ignored",
        "spec.containers[0].stdin: not supported by minikubelet; ignored",
        "spec.containers[0].securityContext.capabilities: not supported by minikubelet; ignored",
        "spec.containers[0].lifecycle.preStop.tcpSocket: deprecated by Kubernetes and never "
        "executed: this hook will fail (use exec, httpGet or sleep)",
        "spec.containers[0].ports[0].hostPort: not supported by minikubelet (the process listens "
        "on the host itself, on containerPort); ignored",
        'spec.containers[0].resources.limits[memory]: fractional byte value "400m" is invalid, '
        "must be an integer",
        "spec.containers[0].resources.limits[ephemeral-storage]: not supported by minikubelet; "
        "ignored",
        "spec.containers[0].resources.limits[example.com/gpu]: not supported by minikubelet; "
        "ignored",
        # nothing about enforcing limits.memory: that depends on the containment of the
        # runtime that will run the pod (manifest.capabilities, tests/unit/test_capabilities.py)
    ]
    assert str(result.warnings[0]) == (
        f'{tmp_path / "pods.yaml"}: pod "web": spec.nodeSelector: not supported by minikubelet; '
        "ignored"
    )
    pod = result.pods[0]
    assert pod.spec.containers[0].lifecycle.pre_stop == TCPSocketAction(port=80)
    assert set(pod.spec.containers[0].resources.limits) == {"memory"}


def test_harmless_values_need_no_warning(tmp_path: Path) -> None:
    # what `kubectl get pod -o yaml` writes back, minus what minikubelet cannot honour
    result = load(
        tmp_path,
        """
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
          uid: 0f5c9c7a-5c3e-4a4f-9d1e-3d8e1f0d2b6a
          resourceVersion: "123"
          creationTimestamp: "2024-05-01T10:00:00Z"
          annotations: {example.com/owner: team-a}
        spec:
          dnsPolicy: ClusterFirst
          enableServiceLinks: true
          hostNetwork: false
          priority: 0
          schedulerName: default-scheduler
          serviceAccountName: default
          securityContext: {}
          volumes: []
          os: {name: linux}
          containers:
          - name: app
            image: python:3.12
            imagePullPolicy: IfNotPresent
            command: [app]
            stdin: false
            tty: false
            resources: {}
            ports: [{containerPort: 80, hostPort: 80, protocol: TCP}]
            terminationMessagePath: /dev/termination-log
            terminationMessagePolicy: FallbackToLogsOnError
        status:
          phase: Running
          whatever: [1, 2, 3]
        """,
    )
    assert result.warnings == ()
    pod = result.pods[0]
    assert pod.manifest["metadata"]["creationTimestamp"] == "2024-05-01T10:00:00Z"  # type: ignore[index]
    container = pod.spec.containers[0]
    assert container.termination_message_path == "/dev/termination-log"
    assert (
        container.termination_message_policy is TerminationMessagePolicy.FALLBACK_TO_LOGS_ON_ERROR
    )


def test_sidecar_and_init_containers(tmp_path: Path) -> None:
    pod = one_pod(
        tmp_path,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: web}
        spec:
          initContainers:
          - name: migrate
            command: [migrate]
          - name: proxy
            command: [proxy]
            restartPolicy: Always
            readinessProbe: {exec: {command: [check]}}
          containers:
          - name: app
            command: [app]
        """,
    )
    migrate, proxy = pod.spec.init_containers
    assert not migrate.is_sidecar
    assert proxy.is_sidecar
    assert proxy.restart_policy is RestartPolicy.ALWAYS
    assert proxy.readiness_probe is not None
    assert pod.spec.container("proxy") is proxy


def test_env(tmp_path: Path) -> None:
    pod = one_pod(
        tmp_path,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: web, labels: {app: web}}
        spec:
          containers:
          - name: app
            command: [app]
            resources: {limits: {cpu: "2", memory: 1Gi}}
            env:
            - {name: PLAIN, value: "x"}
            - {name: EMPTY}
            - {name: MY_POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
            - {name: MY_NS, valueFrom: {fieldRef: {apiVersion: v1, fieldPath: metadata.namespace}}}
            - {name: APP, valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}}
            - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.host}}}
            - {name: MEM_MI, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
            - name: CPU
              valueFrom: {resourceFieldRef: {resource: requests.cpu, containerName: side}}
            - {name: weird.name-ok, value: "relaxed names"}
          - name: side
            command: [side]
        """,
    )
    env = {var.name: var for var in pod.spec.containers[0].env}
    assert env["PLAIN"].value == "x"
    assert env["EMPTY"].value == ""
    assert env["MY_POD"].field_path == "metadata.name"
    assert env["MY_NS"].field_path == "metadata.namespace"
    assert env["APP"].field_path == "metadata.labels['app']"
    assert env["NODE"].field_path == "spec.nodeName"  # the old v1 name, converted
    assert env["MEM_MI"].resource == "limits.memory"
    assert env["MEM_MI"].resource_divisor is not None
    assert env["MEM_MI"].resource_divisor.value == 2**20
    assert env["CPU"].resource == "requests.cpu"
    assert env["CPU"].resource_container == "side"
    assert env["CPU"].resource_divisor is None
    assert env["weird.name-ok"].value == "relaxed names"


def test_requests_default_to_limits(tmp_path: Path) -> None:
    pod = one_pod(
        tmp_path,
        MINIMAL
        + """\
    resources:
      limits: {cpu: 500m, memory: 128Mi}
      requests: {cpu: 100m}
""",
    )
    resources = pod.spec.containers[0].resources
    assert resources.limits["memory"].value == 128 * 2**20
    assert resources.requests["memory"] == resources.limits["memory"]
    assert resources.requests["cpu"].value == Fraction(1, 10)
    assert resources.limits["cpu"].text == "500m"


def test_named_ports(tmp_path: Path) -> None:
    pod = one_pod(
        tmp_path,
        MINIMAL
        + """\
    ports:
    - {name: http, containerPort: 8000}
    - {name: dns, containerPort: 5353, protocol: UDP}
    - {containerPort: 9000}
    livenessProbe: {httpGet: {port: http, path: /healthz}}
    readinessProbe: {tcpSocket: {port: http}}
""",
    )
    container = pod.spec.containers[0]
    assert [(port.name, port.container_port, port.protocol) for port in container.ports] == [
        ("http", 8000, "TCP"),
        ("dns", 5353, "UDP"),
        (None, 9000, "TCP"),
    ]
    assert container.liveness_probe is not None
    assert container.liveness_probe.handler == HTTPGetAction(port="http", path="/healthz")
    assert container.readiness_probe is not None
    assert container.readiness_probe.handler == TCPSocketAction(port="http")


def test_security_context_merge(tmp_path: Path) -> None:
    pod = one_pod(
        tmp_path,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: web}
        spec:
          securityContext: {runAsUser: 1000, runAsGroup: 100}
          containers:
          - name: a
            command: [a]
          - name: b
            command: [b]
            securityContext: {runAsUser: 0}
        """,
    )
    a, b = pod.spec.containers
    assert (a.security_context.run_as_user, a.security_context.run_as_group) == (1000, 100)
    assert (b.security_context.run_as_user, b.security_context.run_as_group) == (0, 100)
    assert pod.spec.security_context.run_as_user == 1000


def test_spec_fields(tmp_path: Path) -> None:
    pod = one_pod(
        tmp_path,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: job, generateName: ignored-when-named-}
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 0
          activeDeadlineSeconds: 600
          hostname: worker
          containers:
          - name: a
            command: [a]
            args: [--flag, "$(HOME)"]
            workingDir: ./sub
        """,
    )
    assert pod.spec.restart_policy is RestartPolicy.NEVER
    assert pod.spec.termination_grace_period_seconds == 0
    assert pod.spec.active_deadline_seconds == 600
    assert pod.spec.hostname == "worker"
    container = pod.spec.containers[0]
    assert container.args == ("--flag", "$(HOME)")  # expanded later, by the runtime
    assert container.working_dir == "./sub"  # resolved later, against the manifest's dir


def test_stop_signal_without_os_is_a_warning(tmp_path: Path) -> None:
    result = load(tmp_path, MINIMAL + "    lifecycle: {stopSignal: SIGQUIT}\n")
    assert warnings_of(result) == [
        "spec.containers[0].lifecycle.stopSignal: Kubernetes also requires spec.os.name (add "
        "`os: {name: linux}` to the pod spec); minikubelet uses the signal anyway"
    ]
    assert result.pods[0].spec.containers[0].lifecycle.stop_signal == "SIGQUIT"


def test_yaml_anchors_and_merge_keys(tmp_path: Path) -> None:
    pod = one_pod(
        tmp_path,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: web}
        spec:
          containers:
          - &base
            name: a
            command: [serve]
            env: [{name: MODE, value: a}]
          - <<: *base
            name: b
        """,
    )
    assert [container.name for container in pod.spec.containers] == ["a", "b"]
    assert pod.spec.containers[1].command == ("serve",)


@pytest.mark.parametrize(
    "text",
    [
        "a: &a [*a]\n",
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]\n"
            for previous, name in zip("abcdef", "bcdefg", strict=True)
        ),
    ],
    ids=["alias-cycle", "billion-laughs"],
)
def test_alias_bombs_are_refused(text: str) -> None:
    with pytest.raises(ManifestError, match="document too large"):
        load_text(text, None)


def test_libyaml_reads_what_pyyaml_reads() -> None:
    """The fast (libyaml) loader gives the same documents as the pure-Python one, with our
    constructors: timestamps stay strings, a repeated key is refused."""
    if not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML was built without libyaml")
    text = (
        "apiVersion: v1\nkind: Pod\n"
        "metadata: {name: web, creationTimestamp: 2026-12-01T10:00:00Z}\n"
        "spec:\n  containers:\n  - name: app\n    command: [sleep, '1']\n    env:\n"
        "    - {name: A, value: 'yes'}\n---\nbase: &b {x: 1}\nderived: {<<: *b, y: 2}\n"
    )
    fast = list(yaml.load_all(text, Loader=loading._FastLoader))
    assert fast == list(yaml.load_all(text, Loader=loading._Loader))
    assert fast[0]["metadata"]["creationTimestamp"] == "2026-12-01T10:00:00Z"
    with pytest.raises(yaml.constructor.ConstructorError, match='duplicate key "a"'):
        list(yaml.load_all("a: 1\na: 2\n", Loader=loading._FastLoader))
