"""Patch metadata of the served kinds' fields. GENERATED: do not edit.

Regenerate with ``.venv/bin/python scripts/gen-openapi``. Source: the strict JSON
schemas bundled with kubernetes-validate, versions 1.33.0, 1.34.0, 1.35.0, 1.36.0, 1.37.0: each
field's ``x-kubernetes-patch-strategy`` and ``-patch-merge-key`` (the Go struct tags
``patchStrategy`` and ``patchMergeKey``, read by strategic merge patch) and
``x-kubernetes-list-type`` and ``-list-map-keys`` (read by server-side apply).
"""

from typing import Final

__all__ = ["KINDS", "TYPES"]

# object type -> field -> (type of the value or of the list's items, or "" for
# scalars and free-form maps; patch strategy; merge key; list type; list map keys).
# Fields with none of these are left out.
TYPES: Final[dict[str, dict[str, tuple[str, str, str, str, tuple[str, ...]]]]] = {
    "AWSElasticBlockStoreVolumeSource": {},
    "Affinity": {
        "nodeAffinity": ("NodeAffinity", "", "", "", ()),
        "podAffinity": ("PodAffinity", "", "", "", ()),
        "podAntiAffinity": ("PodAntiAffinity", "", "", "", ()),
    },
    "AppArmorProfile": {},
    "AzureDiskVolumeSource": {},
    "AzureFileVolumeSource": {},
    "CSIVolumeSource": {
        "nodePublishSecretRef": ("LocalObjectReference", "", "", "", ()),
    },
    "Capabilities": {
        "add": ("", "", "", "atomic", ()),
        "drop": ("", "", "", "atomic", ()),
    },
    "CephFSVolumeSource": {
        "monitors": ("", "", "", "atomic", ()),
        "secretRef": ("LocalObjectReference", "", "", "", ()),
    },
    "CinderVolumeSource": {
        "secretRef": ("LocalObjectReference", "", "", "", ()),
    },
    "ClusterTrustBundleProjection": {
        "labelSelector": ("LabelSelector", "", "", "", ()),
    },
    "ConfigMap": {
        "metadata": ("ObjectMeta", "", "", "", ()),
    },
    "ConfigMapEnvSource": {},
    "ConfigMapKeySelector": {},
    "ConfigMapProjection": {
        "items": ("KeyToPath", "", "", "atomic", ()),
    },
    "ConfigMapVolumeSource": {
        "items": ("KeyToPath", "", "", "atomic", ()),
    },
    "Container": {
        "args": ("", "", "", "atomic", ()),
        "command": ("", "", "", "atomic", ()),
        "env": ("EnvVar", "merge", "name", "map", ("name",)),
        "envFrom": ("EnvFromSource", "", "", "atomic", ()),
        "lifecycle": ("Lifecycle", "", "", "", ()),
        "livenessProbe": ("Probe", "", "", "", ()),
        "ports": ("ContainerPort", "merge", "containerPort", "map", ("containerPort", "protocol")),
        "readinessProbe": ("Probe", "", "", "", ()),
        "resizePolicy": ("ContainerResizePolicy", "", "", "atomic", ()),
        "resources": ("ResourceRequirements", "", "", "", ()),
        "restartPolicyRules": ("ContainerRestartRule", "", "", "atomic", ()),
        "securityContext": ("SecurityContext", "", "", "", ()),
        "startupProbe": ("Probe", "", "", "", ()),
        "volumeDevices": ("VolumeDevice", "merge", "devicePath", "map", ("devicePath",)),
        "volumeMounts": ("VolumeMount", "merge", "mountPath", "map", ("mountPath",)),
    },
    "ContainerExtendedResourceRequest": {},
    "ContainerPort": {},
    "ContainerResizePolicy": {},
    "ContainerRestartRule": {
        "exitCodes": ("ContainerRestartRuleOnExitCodes", "", "", "", ()),
    },
    "ContainerRestartRuleOnExitCodes": {
        "values": ("", "", "", "set", ()),
    },
    "ContainerState": {
        "running": ("ContainerStateRunning", "", "", "", ()),
        "terminated": ("ContainerStateTerminated", "", "", "", ()),
        "waiting": ("ContainerStateWaiting", "", "", "", ()),
    },
    "ContainerStateRunning": {},
    "ContainerStateTerminated": {},
    "ContainerStateWaiting": {},
    "ContainerStatus": {
        "allocatedResourcesStatus": ("ResourceStatus", "merge", "name", "map", ("name",)),
        "lastState": ("ContainerState", "", "", "", ()),
        "resources": ("ResourceRequirements", "", "", "", ()),
        "state": ("ContainerState", "", "", "", ()),
        "user": ("ContainerUser", "", "", "", ()),
        "volumeMounts": ("VolumeMountStatus", "merge", "mountPath", "map", ("mountPath",)),
    },
    "ContainerUser": {
        "linux": ("LinuxContainerUser", "", "", "", ()),
    },
    "DownwardAPIProjection": {
        "items": ("DownwardAPIVolumeFile", "", "", "atomic", ()),
    },
    "DownwardAPIVolumeFile": {
        "fieldRef": ("ObjectFieldSelector", "", "", "", ()),
        "resourceFieldRef": ("ResourceFieldSelector", "", "", "", ()),
    },
    "DownwardAPIVolumeSource": {
        "items": ("DownwardAPIVolumeFile", "", "", "atomic", ()),
    },
    "EmptyDirVolumeSource": {},
    "EnvFromSource": {
        "configMapRef": ("ConfigMapEnvSource", "", "", "", ()),
        "secretRef": ("SecretEnvSource", "", "", "", ()),
    },
    "EnvVar": {
        "valueFrom": ("EnvVarSource", "", "", "", ()),
    },
    "EnvVarSource": {
        "configMapKeyRef": ("ConfigMapKeySelector", "", "", "", ()),
        "fieldRef": ("ObjectFieldSelector", "", "", "", ()),
        "fileKeyRef": ("FileKeySelector", "", "", "", ()),
        "resourceFieldRef": ("ResourceFieldSelector", "", "", "", ()),
        "secretKeyRef": ("SecretKeySelector", "", "", "", ()),
    },
    "EphemeralContainer": {
        "args": ("", "", "", "atomic", ()),
        "command": ("", "", "", "atomic", ()),
        "env": ("EnvVar", "merge", "name", "map", ("name",)),
        "envFrom": ("EnvFromSource", "", "", "atomic", ()),
        "lifecycle": ("Lifecycle", "", "", "", ()),
        "livenessProbe": ("Probe", "", "", "", ()),
        "ports": ("ContainerPort", "merge", "containerPort", "map", ("containerPort", "protocol")),
        "readinessProbe": ("Probe", "", "", "", ()),
        "resizePolicy": ("ContainerResizePolicy", "", "", "atomic", ()),
        "resources": ("ResourceRequirements", "", "", "", ()),
        "restartPolicyRules": ("ContainerRestartRule", "", "", "atomic", ()),
        "securityContext": ("SecurityContext", "", "", "", ()),
        "startupProbe": ("Probe", "", "", "", ()),
        "volumeDevices": ("VolumeDevice", "merge", "devicePath", "map", ("devicePath",)),
        "volumeMounts": ("VolumeMount", "merge", "mountPath", "map", ("mountPath",)),
    },
    "EphemeralVolumeSource": {
        "volumeClaimTemplate": ("PersistentVolumeClaimTemplate", "", "", "", ()),
    },
    "Event": {
        "involvedObject": ("ObjectReference", "", "", "", ()),
        "metadata": ("ObjectMeta", "", "", "", ()),
        "related": ("ObjectReference", "", "", "", ()),
        "series": ("EventSeries", "", "", "", ()),
        "source": ("EventSource", "", "", "", ()),
    },
    "EventSeries": {},
    "EventSource": {},
    "EvictionResponder": {},
    "ExecAction": {
        "command": ("", "", "", "atomic", ()),
    },
    "FCVolumeSource": {
        "targetWWNs": ("", "", "", "atomic", ()),
        "wwids": ("", "", "", "atomic", ()),
    },
    "FileKeySelector": {},
    "FlexVolumeSource": {
        "secretRef": ("LocalObjectReference", "", "", "", ()),
    },
    "FlockerVolumeSource": {},
    "GCEPersistentDiskVolumeSource": {},
    "GRPCAction": {},
    "GitRepoVolumeSource": {},
    "GlusterfsVolumeSource": {},
    "HTTPGetAction": {
        "httpHeaders": ("HTTPHeader", "", "", "atomic", ()),
    },
    "HTTPHeader": {},
    "HostAlias": {
        "hostnames": ("", "", "", "atomic", ()),
    },
    "HostIP": {},
    "HostPathVolumeSource": {},
    "ISCSIVolumeSource": {
        "portals": ("", "", "", "atomic", ()),
        "secretRef": ("LocalObjectReference", "", "", "", ()),
    },
    "ImageVolumeSource": {},
    "ImageVolumeStatus": {},
    "KeyToPath": {},
    "LabelSelector": {
        "matchExpressions": ("LabelSelectorRequirement", "", "", "atomic", ()),
    },
    "LabelSelectorRequirement": {
        "values": ("", "", "", "atomic", ()),
    },
    "Lifecycle": {
        "postStart": ("LifecycleHandler", "", "", "", ()),
        "preStop": ("LifecycleHandler", "", "", "", ()),
    },
    "LifecycleHandler": {
        "exec": ("ExecAction", "", "", "", ()),
        "httpGet": ("HTTPGetAction", "", "", "", ()),
        "sleep": ("SleepAction", "", "", "", ()),
        "tcpSocket": ("TCPSocketAction", "", "", "", ()),
    },
    "LinuxContainerUser": {
        "supplementalGroups": ("", "", "", "atomic", ()),
    },
    "LocalObjectReference": {},
    "ManagedFieldsEntry": {},
    "NFSVolumeSource": {},
    "NodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": (
            "PreferredSchedulingTerm",
            "",
            "",
            "atomic",
            (),
        ),
        "requiredDuringSchedulingIgnoredDuringExecution": ("NodeSelector", "", "", "", ()),
    },
    "NodeAllocatableMappedResources": {},
    "NodeAllocatableOverheadResources": {},
    "NodeAllocatableResourceClaimStatus": {
        "containers": ("", "", "", "set", ()),
        "mapping": ("NodeAllocatableMappedResources", "merge", "name", "map", ("name",)),
        "overhead": ("NodeAllocatableOverheadResources", "merge", "name", "map", ("name",)),
    },
    "NodeSelector": {
        "nodeSelectorTerms": ("NodeSelectorTerm", "", "", "atomic", ()),
    },
    "NodeSelectorRequirement": {
        "values": ("", "", "", "atomic", ()),
    },
    "NodeSelectorTerm": {
        "matchExpressions": ("NodeSelectorRequirement", "", "", "atomic", ()),
        "matchFields": ("NodeSelectorRequirement", "", "", "atomic", ()),
    },
    "ObjectFieldSelector": {},
    "ObjectMeta": {
        "finalizers": ("", "merge", "", "set", ()),
        "managedFields": ("ManagedFieldsEntry", "", "", "atomic", ()),
        "ownerReferences": ("OwnerReference", "merge", "uid", "map", ("uid",)),
    },
    "ObjectReference": {},
    "OwnerReference": {},
    "PersistentVolumeClaimSpec": {
        "accessModes": ("", "", "", "atomic", ()),
        "dataSource": ("TypedLocalObjectReference", "", "", "", ()),
        "dataSourceRef": ("TypedObjectReference", "", "", "", ()),
        "resources": ("VolumeResourceRequirements", "", "", "", ()),
        "selector": ("LabelSelector", "", "", "", ()),
    },
    "PersistentVolumeClaimTemplate": {
        "metadata": ("ObjectMeta", "", "", "", ()),
        "spec": ("PersistentVolumeClaimSpec", "", "", "", ()),
    },
    "PersistentVolumeClaimVolumeSource": {},
    "PhotonPersistentDiskVolumeSource": {},
    "Pod": {
        "metadata": ("ObjectMeta", "", "", "", ()),
        "spec": ("PodSpec", "", "", "", ()),
        "status": ("PodStatus", "", "", "", ()),
    },
    "PodAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": (
            "WeightedPodAffinityTerm",
            "",
            "",
            "atomic",
            (),
        ),
        "requiredDuringSchedulingIgnoredDuringExecution": ("PodAffinityTerm", "", "", "atomic", ()),
    },
    "PodAffinityTerm": {
        "labelSelector": ("LabelSelector", "", "", "", ()),
        "matchLabelKeys": ("", "", "", "atomic", ()),
        "mismatchLabelKeys": ("", "", "", "atomic", ()),
        "namespaceSelector": ("LabelSelector", "", "", "", ()),
        "namespaces": ("", "", "", "atomic", ()),
    },
    "PodAntiAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": (
            "WeightedPodAffinityTerm",
            "",
            "",
            "atomic",
            (),
        ),
        "requiredDuringSchedulingIgnoredDuringExecution": ("PodAffinityTerm", "", "", "atomic", ()),
    },
    "PodCertificateProjection": {},
    "PodCondition": {},
    "PodDNSConfig": {
        "nameservers": ("", "", "", "atomic", ()),
        "options": ("PodDNSConfigOption", "", "", "atomic", ()),
        "searches": ("", "", "", "atomic", ()),
    },
    "PodDNSConfigOption": {},
    "PodExtendedResourceClaimStatus": {
        "requestMappings": ("ContainerExtendedResourceRequest", "", "", "atomic", ()),
    },
    "PodIP": {},
    "PodOS": {},
    "PodReadinessGate": {},
    "PodResourceClaim": {},
    "PodResourceClaimStatus": {},
    "PodSchedulingGate": {},
    "PodSchedulingGroup": {},
    "PodSecurityContext": {
        "appArmorProfile": ("AppArmorProfile", "", "", "", ()),
        "seLinuxOptions": ("SELinuxOptions", "", "", "", ()),
        "seccompProfile": ("SeccompProfile", "", "", "", ()),
        "supplementalGroups": ("", "", "", "atomic", ()),
        "sysctls": ("Sysctl", "", "", "atomic", ()),
        "windowsOptions": ("WindowsSecurityContextOptions", "", "", "", ()),
    },
    "PodSpec": {
        "affinity": ("Affinity", "", "", "", ()),
        "containers": ("Container", "merge", "name", "map", ("name",)),
        "dnsConfig": ("PodDNSConfig", "", "", "", ()),
        "ephemeralContainers": ("EphemeralContainer", "merge", "name", "map", ("name",)),
        "evictionResponders": ("EvictionResponder", "merge", "name", "map", ("name",)),
        "hostAliases": ("HostAlias", "merge", "ip", "map", ("ip",)),
        "imagePullSecrets": ("LocalObjectReference", "merge", "name", "map", ("name",)),
        "initContainers": ("Container", "merge", "name", "map", ("name",)),
        "os": ("PodOS", "", "", "", ()),
        "readinessGates": ("PodReadinessGate", "", "", "atomic", ()),
        "resourceClaims": ("PodResourceClaim", "merge,retainKeys", "name", "map", ("name",)),
        "resources": ("ResourceRequirements", "", "", "", ()),
        "schedulingGates": ("PodSchedulingGate", "merge", "name", "map", ("name",)),
        "schedulingGroup": ("PodSchedulingGroup", "", "", "", ()),
        "securityContext": ("PodSecurityContext", "", "", "", ()),
        "tolerations": ("Toleration", "", "", "atomic", ()),
        "topologySpreadConstraints": (
            "TopologySpreadConstraint",
            "merge",
            "topologyKey",
            "map",
            ("topologyKey", "whenUnsatisfiable"),
        ),
        "volumes": ("Volume", "merge,retainKeys", "name", "map", ("name",)),
        "workloadRef": ("WorkloadReference", "", "", "", ()),
    },
    "PodStatus": {
        "conditions": ("PodCondition", "merge", "type", "map", ("type",)),
        "containerStatuses": ("ContainerStatus", "", "", "atomic", ()),
        "ephemeralContainerStatuses": ("ContainerStatus", "", "", "atomic", ()),
        "extendedResourceClaimStatus": ("PodExtendedResourceClaimStatus", "", "", "", ()),
        "hostIPs": ("HostIP", "merge", "ip", "atomic", ()),
        "initContainerStatuses": ("ContainerStatus", "", "", "atomic", ()),
        "nodeAllocatableResourceClaimStatuses": (
            "NodeAllocatableResourceClaimStatus",
            "merge",
            "resourceClaimName",
            "map",
            ("resourceClaimName",),
        ),
        "podIPs": ("PodIP", "merge", "ip", "map", ("ip",)),
        "resourceClaimStatuses": (
            "PodResourceClaimStatus",
            "merge,retainKeys",
            "name",
            "map",
            ("name",),
        ),
        "resources": ("ResourceRequirements", "", "", "", ()),
        "volumeHealth": ("PodVolumeHealth", "", "", "map", ("name",)),
    },
    "PodVolumeHealth": {
        "healthConditions": (
            "VolumeHealthCondition",
            "merge",
            "status",
            "map",
            ("status", "reason"),
        ),
    },
    "PortworxVolumeSource": {},
    "PreferredSchedulingTerm": {
        "preference": ("NodeSelectorTerm", "", "", "", ()),
    },
    "Probe": {
        "exec": ("ExecAction", "", "", "", ()),
        "grpc": ("GRPCAction", "", "", "", ()),
        "httpGet": ("HTTPGetAction", "", "", "", ()),
        "tcpSocket": ("TCPSocketAction", "", "", "", ()),
    },
    "ProjectedVolumeSource": {
        "sources": ("VolumeProjection", "", "", "atomic", ()),
    },
    "QuobyteVolumeSource": {},
    "RBDVolumeSource": {
        "monitors": ("", "", "", "atomic", ()),
        "secretRef": ("LocalObjectReference", "", "", "", ()),
    },
    "ResourceClaim": {},
    "ResourceFieldSelector": {},
    "ResourceHealth": {},
    "ResourceRequirements": {
        "claims": ("ResourceClaim", "", "", "map", ("name",)),
    },
    "ResourceStatus": {
        "resources": ("ResourceHealth", "", "", "map", ("resourceID",)),
    },
    "SELinuxOptions": {},
    "ScaleIOVolumeSource": {
        "secretRef": ("LocalObjectReference", "", "", "", ()),
    },
    "SeccompProfile": {},
    "Secret": {
        "metadata": ("ObjectMeta", "", "", "", ()),
    },
    "SecretEnvSource": {},
    "SecretKeySelector": {},
    "SecretProjection": {
        "items": ("KeyToPath", "", "", "atomic", ()),
    },
    "SecretVolumeSource": {
        "items": ("KeyToPath", "", "", "atomic", ()),
    },
    "SecurityContext": {
        "appArmorProfile": ("AppArmorProfile", "", "", "", ()),
        "capabilities": ("Capabilities", "", "", "", ()),
        "seLinuxOptions": ("SELinuxOptions", "", "", "", ()),
        "seccompProfile": ("SeccompProfile", "", "", "", ()),
        "windowsOptions": ("WindowsSecurityContextOptions", "", "", "", ()),
    },
    "ServiceAccountTokenProjection": {},
    "SleepAction": {},
    "StorageOSVolumeSource": {
        "secretRef": ("LocalObjectReference", "", "", "", ()),
    },
    "Sysctl": {},
    "TCPSocketAction": {},
    "Toleration": {},
    "TopologySpreadConstraint": {
        "labelSelector": ("LabelSelector", "", "", "", ()),
        "matchLabelKeys": ("", "", "", "atomic", ()),
    },
    "TypedLocalObjectReference": {},
    "TypedObjectReference": {},
    "Volume": {
        "awsElasticBlockStore": ("AWSElasticBlockStoreVolumeSource", "", "", "", ()),
        "azureDisk": ("AzureDiskVolumeSource", "", "", "", ()),
        "azureFile": ("AzureFileVolumeSource", "", "", "", ()),
        "cephfs": ("CephFSVolumeSource", "", "", "", ()),
        "cinder": ("CinderVolumeSource", "", "", "", ()),
        "configMap": ("ConfigMapVolumeSource", "", "", "", ()),
        "csi": ("CSIVolumeSource", "", "", "", ()),
        "downwardAPI": ("DownwardAPIVolumeSource", "", "", "", ()),
        "emptyDir": ("EmptyDirVolumeSource", "", "", "", ()),
        "ephemeral": ("EphemeralVolumeSource", "", "", "", ()),
        "fc": ("FCVolumeSource", "", "", "", ()),
        "flexVolume": ("FlexVolumeSource", "", "", "", ()),
        "flocker": ("FlockerVolumeSource", "", "", "", ()),
        "gcePersistentDisk": ("GCEPersistentDiskVolumeSource", "", "", "", ()),
        "gitRepo": ("GitRepoVolumeSource", "", "", "", ()),
        "glusterfs": ("GlusterfsVolumeSource", "", "", "", ()),
        "hostPath": ("HostPathVolumeSource", "", "", "", ()),
        "image": ("ImageVolumeSource", "", "", "", ()),
        "iscsi": ("ISCSIVolumeSource", "", "", "", ()),
        "nfs": ("NFSVolumeSource", "", "", "", ()),
        "persistentVolumeClaim": ("PersistentVolumeClaimVolumeSource", "", "", "", ()),
        "photonPersistentDisk": ("PhotonPersistentDiskVolumeSource", "", "", "", ()),
        "portworxVolume": ("PortworxVolumeSource", "", "", "", ()),
        "projected": ("ProjectedVolumeSource", "", "", "", ()),
        "quobyte": ("QuobyteVolumeSource", "", "", "", ()),
        "rbd": ("RBDVolumeSource", "", "", "", ()),
        "scaleIO": ("ScaleIOVolumeSource", "", "", "", ()),
        "secret": ("SecretVolumeSource", "", "", "", ()),
        "storageos": ("StorageOSVolumeSource", "", "", "", ()),
        "vsphereVolume": ("VsphereVirtualDiskVolumeSource", "", "", "", ()),
    },
    "VolumeDevice": {},
    "VolumeHealthCondition": {},
    "VolumeMount": {
        "bindMountOptions": ("", "", "", "set", ()),
    },
    "VolumeMountStatus": {
        "volumeStatus": ("VolumeStatus", "", "", "", ()),
    },
    "VolumeProjection": {
        "clusterTrustBundle": ("ClusterTrustBundleProjection", "", "", "", ()),
        "configMap": ("ConfigMapProjection", "", "", "", ()),
        "downwardAPI": ("DownwardAPIProjection", "", "", "", ()),
        "podCertificate": ("PodCertificateProjection", "", "", "", ()),
        "secret": ("SecretProjection", "", "", "", ()),
        "serviceAccountToken": ("ServiceAccountTokenProjection", "", "", "", ()),
    },
    "VolumeResourceRequirements": {},
    "VolumeStatus": {
        "image": ("ImageVolumeStatus", "", "", "", ()),
    },
    "VsphereVirtualDiskVolumeSource": {},
    "WeightedPodAffinityTerm": {
        "podAffinityTerm": ("PodAffinityTerm", "", "", "", ()),
    },
    "WindowsSecurityContextOptions": {},
    "WorkloadReference": {},
}

# the kinds whose objects can be patched, and their root type
KINDS: Final[dict[str, str]] = {
    "ConfigMap": "ConfigMap",
    "Event": "Event",
    "Pod": "Pod",
    "Secret": "Secret",
}
