"""Which fields minikubelet honours, which it ignores quietly, which earn a warning.

Every field of the Kubernetes schema (``fields.py``) is *accepted*; this table only decides
what the user is told. Keys are ``"Type.field"`` with the type names of ``fields.py``.

- ``HONOURED``: decoded into the model (or rejected by the decoder with an error, like
  ``fileKeyRef``); the schema walk descends into them looking for more unsupported fields.
- ``QUIET``: purely informational or harmless here (``image``, ``metadata.uid``, ...): no
  warning, and nothing below them is reported either.
- any other field of a type reached through ``HONOURED`` fields: "not supported by
  minikubelet; ignored" (or the message in ``MESSAGES``), unless its value is empty or is
  Kubernetes' default from ``HARMLESS`` (``dnsPolicy: ClusterFirst`` changes nothing).

``docs/manifests.md`` lists what is honoured.
"""

from __future__ import annotations

from typing import Final

__all__ = ["HARMLESS", "HONOURED", "MESSAGES", "QUIET", "UNSUPPORTED", "is_harmless"]

UNSUPPORTED = "not supported by minikubelet; ignored"

HONOURED: Final = frozenset(
    {
        "Pod.apiVersion",
        "Pod.kind",
        "Pod.metadata",
        "Pod.spec",
        "ObjectMeta.name",
        "ObjectMeta.namespace",
        "ObjectMeta.labels",
        "ObjectMeta.annotations",
        "PodSpec.containers",
        "PodSpec.initContainers",
        "PodSpec.restartPolicy",
        "PodSpec.terminationGracePeriodSeconds",
        "PodSpec.activeDeadlineSeconds",
        "PodSpec.securityContext",
        "PodSpec.hostname",
        "PodSecurityContext.runAsUser",
        "PodSecurityContext.runAsGroup",
        "PodSecurityContext.runAsNonRoot",
        "PodSecurityContext.supplementalGroups",
        "Container.name",
        "Container.command",
        "Container.args",
        "Container.workingDir",
        "Container.env",
        "Container.envFrom",
        "Container.ports",
        "Container.resources",
        "Container.lifecycle",
        "Container.livenessProbe",
        "Container.readinessProbe",
        "Container.startupProbe",
        "Container.securityContext",
        "Container.terminationMessagePath",
        "Container.terminationMessagePolicy",
        "Container.restartPolicy",
        "ContainerPort.containerPort",
        "ContainerPort.name",
        "ContainerPort.protocol",
        "EnvVar.name",
        "EnvVar.value",
        "EnvVar.valueFrom",
        "EnvVarSource.fieldRef",
        "EnvVarSource.resourceFieldRef",
        "EnvVarSource.configMapKeyRef",
        "EnvVarSource.secretKeyRef",
        "EnvVarSource.fileKeyRef",
        "ConfigMapKeySelector.name",
        "ConfigMapKeySelector.key",
        "ConfigMapKeySelector.optional",
        "SecretKeySelector.name",
        "SecretKeySelector.key",
        "SecretKeySelector.optional",
        "EnvFromSource.configMapRef",
        "EnvFromSource.secretRef",
        "EnvFromSource.prefix",
        "ConfigMapEnvSource.name",
        "ConfigMapEnvSource.optional",
        "SecretEnvSource.name",
        "SecretEnvSource.optional",
        "ObjectFieldSelector.apiVersion",
        "ObjectFieldSelector.fieldPath",
        "ResourceFieldSelector.containerName",
        "ResourceFieldSelector.resource",
        "ResourceFieldSelector.divisor",
        "ResourceRequirements.limits",
        "ResourceRequirements.requests",
        "SecurityContext.runAsUser",
        "SecurityContext.runAsGroup",
        "SecurityContext.runAsNonRoot",
        "Lifecycle.postStart",
        "Lifecycle.preStop",
        "Lifecycle.stopSignal",
        "LifecycleHandler.exec",
        "LifecycleHandler.httpGet",
        "LifecycleHandler.sleep",
        "Probe.exec",
        "Probe.httpGet",
        "Probe.tcpSocket",
        "Probe.grpc",
        "Probe.initialDelaySeconds",
        "Probe.timeoutSeconds",
        "Probe.periodSeconds",
        "Probe.successThreshold",
        "Probe.failureThreshold",
        "Probe.terminationGracePeriodSeconds",
        "ExecAction.command",
        "HTTPGetAction.host",
        "HTTPGetAction.httpHeaders",
        "HTTPGetAction.path",
        "HTTPGetAction.port",
        "HTTPGetAction.scheme",
        "HTTPHeader.name",
        "HTTPHeader.value",
        "TCPSocketAction.host",
        "TCPSocketAction.port",
        "GRPCAction.port",
        "GRPCAction.service",
        "SleepAction.seconds",
        # the objects a pod's environment may come from
        "ConfigMap.apiVersion",
        "ConfigMap.kind",
        "ConfigMap.metadata",
        "ConfigMap.data",
        "ConfigMap.binaryData",
        "ConfigMap.immutable",
        "Secret.apiVersion",
        "Secret.kind",
        "Secret.metadata",
        "Secret.data",
        "Secret.stringData",
        "Secret.type",
        "Secret.immutable",
    }
)

QUIET: Final = frozenset(
    {
        # metadata the kubelet (and we) keep but do not act on
        "ObjectMeta.creationTimestamp",
        "ObjectMeta.deletionGracePeriodSeconds",
        "ObjectMeta.deletionTimestamp",
        "ObjectMeta.finalizers",
        "ObjectMeta.generateName",  # with a name, Kubernetes ignores it too
        "ObjectMeta.generation",
        "ObjectMeta.managedFields",
        "ObjectMeta.ownerReferences",
        "ObjectMeta.resourceVersion",
        "ObjectMeta.selfLink",
        "ObjectMeta.uid",  # a fresh uid is assigned to every (re)creation
        # informational: there is no image to pull
        "Container.image",
        "Container.imagePullPolicy",
        # hostIP only qualifies hostPort; hostPort is checked by the decoder (harmless when
        # it equals containerPort, which is what a local process does anyway)
        "ContainerPort.hostIP",
        "ContainerPort.hostPort",
        # no Services exist, so there are no service links to inject: true or false alike
        "PodSpec.enableServiceLinks",
        # checked by the decoder (linux, or windows with a warning)
        "PodSpec.os",
        # `status` is the kubelet's output, never input
        "Pod.status",
    }
)

# Kubernetes' defaults: writing them out explicitly changes nothing, so no warning.
HARMLESS: Final[dict[str, object]] = {
    "PodSpec.dnsPolicy": "ClusterFirst",
    "PodSpec.hostNetwork": False,
    "PodSpec.hostPID": False,
    "PodSpec.hostIPC": False,
    "PodSpec.hostUsers": True,
    "PodSpec.shareProcessNamespace": False,
    "PodSpec.setHostnameAsFQDN": False,
    "PodSpec.automountServiceAccountToken": False,
    "PodSpec.schedulerName": "default-scheduler",
    "PodSpec.priority": 0,
    "PodSpec.preemptionPolicy": "PreemptLowerPriority",
    "PodSpec.serviceAccountName": "default",
    "PodSpec.serviceAccount": "default",
    "Container.stdin": False,
    "Container.stdinOnce": False,
    "Container.tty": False,
    "SecurityContext.privileged": False,
    "SecurityContext.readOnlyRootFilesystem": False,
    "SecurityContext.procMount": "Default",
}

MESSAGES: Final[dict[str, str]] = {
    # pkg/kubelet/lifecycle/handlers.go Run: validation keeps tcpSocket hooks for backward
    # compatibility, but the handler runner has no case for them and fails the hook.
    "LifecycleHandler.tcpSocket": (
        "deprecated by Kubernetes and never executed: this hook will fail "
        "(use exec, httpGet or sleep)"
    ),
    "Container.volumeMounts": "not supported by minikubelet (there are no volumes); ignored",
    "PodSpec.volumes": "not supported by minikubelet (processes use the host's files); ignored",
}


def is_harmless(qualified: str, value: object) -> bool:
    """True when setting ``value`` for the field changes nothing: empty, or the default."""
    if value is None or value == "" or value == [] or value == {}:
        return True
    if qualified in HARMLESS:
        default = HARMLESS[qualified]
        # bool is an int: False must not count as the default 0 (or the reverse)
        return type(value) is type(default) and value == default
    return False
