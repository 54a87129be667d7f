"""Bad manifests: the exact text the user sees for each (``str(ManifestError)``).

Each case is a small file ``web.yaml`` loaded from the test's directory, so messages start
with the relative path, as they do for ``minikubelet run web.yaml``. Wording follows
Kubernetes' ``field.Error`` (pkg/apis/core/validation/validation.go); the minikubelet-specific
cases (no command, ConfigMaps, named ports) say why.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from minikubelet.errors import FieldError, ManifestError
from minikubelet.manifest import load_file, load_text

CASES = [
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    image: nginx:1.27
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].command: Required value: '
                "minikubelet runs the command directly and there is no image "
                "entrypoint; set command (and args)"
            ),
        ],
        id="missing-command",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    image: nginx:1.27
    args: [nginx, -g, daemon off;]
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].command: Required value: '
                "minikubelet runs the command directly and there is no image "
                "entrypoint; args is set but command is not: put the executable in "
                "command (args are appended to it)"
            ),
        ],
        id="args-without-command",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  restartPolcy: Never
  containers:
  - {name: app, command: [serve]}
""",
        [
            (
                'web.yaml: pod "web": spec.restartPolcy: Unknown field: did you mean '
                '"restartPolicy"?'
            ),
        ],
        id="unknown-field-spec",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    comand: [serve]
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].comand: Unknown field: did '
                'you mean "command"?'
            ),
        ],
        id="unknown-field-container",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    command: [serve]
    livenessProbe:
      exec: {command: [check]}
      period_seconds: 5
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].livenessProbe.period_seconds: '
                'Unknown field: did you mean "periodSeconds"?'
            ),
        ],
        id="unknown-field-probe",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web, colour: blue}
spec:
  containers:
  - {name: app, command: [serve]}
""",
        [
            'web.yaml: pod "web": metadata.colour: Unknown field',
        ],
        id="unknown-field-no-suggestion",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  restartPolicy: Sometimes
  containers:
  - {name: app, command: [serve]}
""",
        [
            (
                'web.yaml: pod "web": spec.restartPolicy: Unsupported value: '
                '"Sometimes": supported values: "Always", "OnFailure", "Never"'
            ),
        ],
        id="bad-restart-policy",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    command: [serve]
    livenessProbe:
      exec: {command: [check]}
      periodSeconds: -5
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].livenessProbe.periodSeconds: '
                "Invalid value: -5: must be greater than or equal to 0"
            ),
        ],
        id="negative-period",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    command: [serve]
    livenessProbe:
      tcpSocket: {port: 8080}
      successThreshold: 3
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].livenessProbe.successThreshold'
                ": Invalid value: 3: must be 1"
            ),
        ],
        id="liveness-success-threshold",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    command: [serve]
    readinessProbe:
      tcpSocket: {port: 8080}
      terminationGracePeriodSeconds: 5
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].readinessProbe.terminationGrac'
                "ePeriodSeconds: Invalid value: 5: must not be set for readinessProbes"
            ),
        ],
        id="readiness-probe-grace",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - {name: Web_Server, command: [serve]}
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].name: Invalid value: '
                '"Web_Server": a lowercase RFC 1123 label must consist of lower case '
                "alphanumeric characters or '-', and must start and end with an "
                "alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            ),
        ],
        id="bad-container-name",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  initContainers:
  - {name: app, command: [migrate]}
  containers:
  - {name: app, command: [serve]}
  - {name: app, command: [worker]}
""",
        [
            'web.yaml: pod "web": spec.containers[1].name: Duplicate value: "app"',
            'web.yaml: pod "web": spec.initContainers[0].name: Duplicate value: "app"',
        ],
        id="duplicate-container-names",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    command: [serve]
    resources:
      limits: {memory: 128MB, cpu: 1K}
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].resources.limits[memory]: '
                'Invalid value: "128MB": quantities must match the regular expression '
                "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
            ),
            (
                'web.yaml: pod "web": spec.containers[0].resources.limits[cpu]: '
                'Invalid value: "1K": unable to parse quantity\'s suffix'
            ),
        ],
        id="bad-quantity",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    command: [serve]
    resources:
      limits: {cpus: 2}
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].resources.limits[cpus]: '
                'Invalid value: "cpus": must be a standard resource for containers'
            ),
        ],
        id="not-a-resource",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    command: [serve]
    resources:
      limits: {cpu: 500m, memory: 64Mi}
      requests: {cpu: "1", memory: 64Mi}
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].resources.requests: Invalid '
                'value: "1": must be less than or equal to cpu limit of 500m'
            ),
        ],
        id="request-over-limit",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    command: [serve]
    livenessProbe:
      httpGet: {port: 8080, path: /healthz}
      tcpSocket: {port: 8080}
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].livenessProbe.tcpSocket: '
                "Forbidden: may not specify more than 1 handler type"
            ),
        ],
        id="two-probe-handlers",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    command: [serve]
    readinessProbe:
      periodSeconds: 5
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].readinessProbe: Required '
                "value: must specify a handler type"
            ),
        ],
        id="no-probe-handler",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    command: [serve]
    ports: [{name: http, containerPort: 8080}]
    livenessProbe:
      httpGet: {port: healthz}
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].livenessProbe.httpGet.port: '
                'Invalid value: "healthz": must be the name of a port of this '
                'container (its named ports are "http")'
            ),
        ],
        id="named-port-missing",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    command: [serve]
    ports: [{name: HTTP--main, containerPort: 0}]
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].ports[0].name: Invalid value: '
                '"HTTP--main": must contain only alpha-numeric characters (a-z, 0-9), '
                "and hyphens (-)"
            ),
            (
                'web.yaml: pod "web": spec.containers[0].ports[0].name: Invalid value: '
                '"HTTP--main": must not contain consecutive hyphens'
            ),
            ('web.yaml: pod "web": spec.containers[0].ports[0].containerPort: Required value'),
        ],
        id="bad-port-name",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  terminationGracePeriodSeconds: 20
  containers:
  - name: app
    command: [serve]
    lifecycle:
      preStop:
        sleep: {seconds: 60}
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].lifecycle.preStop.sleep: '
                "Invalid value: 60: must be non-negative and less than "
                "terminationGracePeriodSeconds (20)"
            ),
        ],
        id="sleep-longer-than-grace",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  os: {name: linux}
  containers:
  - name: app
    command: [serve]
    lifecycle: {stopSignal: SIGBREAK}
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].lifecycle.stopSignal: '
                'Unsupported value: "SIGBREAK": supported values: "SIGABRT", '
                '"SIGALRM", "SIGBUS", "SIGCHLD", "SIGCLD", "SIGCONT", "SIGFPE", '
                '"SIGHUP", "SIGILL", "SIGINT", "SIGIO", "SIGIOT", "SIGKILL", '
                '"SIGPIPE", "SIGPOLL", "SIGPROF", "SIGPWR", "SIGQUIT", "SIGRTMAX", '
                '"SIGRTMAX-1", "SIGRTMAX-10", "SIGRTMAX-11", "SIGRTMAX-12", '
                '"SIGRTMAX-13", "SIGRTMAX-14", "SIGRTMAX-2", "SIGRTMAX-3", '
                '"SIGRTMAX-4", "SIGRTMAX-5", "SIGRTMAX-6", "SIGRTMAX-7", "SIGRTMAX-8", '
                '"SIGRTMAX-9", "SIGRTMIN", "SIGRTMIN+1", "SIGRTMIN+10", "SIGRTMIN+11", '
                '"SIGRTMIN+12", "SIGRTMIN+13", "SIGRTMIN+14", "SIGRTMIN+15", '
                '"SIGRTMIN+2", "SIGRTMIN+3", "SIGRTMIN+4", "SIGRTMIN+5", "SIGRTMIN+6", '
                '"SIGRTMIN+7", "SIGRTMIN+8", "SIGRTMIN+9", "SIGSEGV", "SIGSTKFLT", '
                '"SIGSTOP", "SIGSYS", "SIGTERM", "SIGTRAP", "SIGTSTP", "SIGTTIN", '
                '"SIGTTOU", "SIGURG", "SIGUSR1", "SIGUSR2", "SIGVTALRM", "SIGWINCH", '
                '"SIGXCPU", "SIGXFSZ"'
            ),
        ],
        id="bad-stop-signal",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata:
  name: web
 spec:
  containers: []
""",
        [
            (
                "web.yaml: line 6, column 2: YAML syntax error: expected <block end>, "
                "but found '<block mapping start>' (while parsing a block mapping at "
                "line 2, column 1)"
            ),
        ],
        id="yaml-syntax-error",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    command: [serve]
    name: worker
""",
        [
            (
                'web.yaml: line 9, column 5: YAML syntax error: duplicate key "name" '
                "(first at line 7, column 5)"
            ),
        ],
        id="duplicate-key",
    ),
    pytest.param(
        """
- apiVersion: v1
  kind: Pod
""",
        [
            (
                "web.yaml: not a Kubernetes object: expected a mapping with apiVersion "
                "and kind, found a list"
            ),
        ],
        id="not-a-mapping",
    ),
    pytest.param(
        """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {replicas: 2}
""",
        [
            (
                'web.yaml: kind: Unsupported value: "Deployment": only Pods, ConfigMaps and '
                "Secrets (and Lists of them) are supported"
            ),
        ],
        id="wrong-kind",
    ),
    pytest.param(
        """
apiVersion: v2
kind: Pod
metadata: {name: web}
spec: {containers: [{name: app, command: [serve]}]}
""",
        [
            'web.yaml: apiVersion: Unsupported value: "v2": supported values: "v1"',
        ],
        id="wrong-api-version",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {labels: {app: web}}
spec: {containers: [{name: app, command: [serve]}]}
""",
        [
            "web.yaml: metadata.name: Required value: a pod needs a name",
        ],
        id="missing-name",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {generateName: web-}
spec: {containers: [{name: app, command: [serve]}]}
""",
        [
            (
                "web.yaml: metadata.name: Required value: generateName is not "
                "supported by minikubelet; set name"
            ),
        ],
        id="generate-name",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: Web.Server}
spec: {containers: [{name: app, command: [serve]}]}
""",
        [
            (
                'web.yaml: pod "Web.Server": metadata.name: Invalid value: '
                '"Web.Server": a lowercase RFC 1123 subdomain must consist of lower '
                "case alphanumeric characters, '-' or '.', and must start and end with "
                "an alphanumeric character (e.g. 'example.com', regex used for "
                "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z"
                "0-9])?)*')"
            ),
        ],
        id="bad-name",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    command: [serve]
    env:
    - name: DATABASE_URL
      valueFrom: {configMapKeyRef: {name: Settings, key: database url}}
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: credentials, key: ""}}
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].env[0].valueFrom.configMapKeyRef.name: '
                'Invalid value: "Settings": a lowercase RFC 1123 subdomain must consist of lower '
                "case alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character (e.g. 'example.com', regex used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ),
            (
                'web.yaml: pod "web": spec.containers[0].env[0].valueFrom.configMapKeyRef.key: '
                'Invalid value: "database url": a valid config key must consist of alphanumeric '
                "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', "
                "regex used for validation is '[-._a-zA-Z0-9]+')"
            ),
            'web.yaml: pod "web": spec.containers[0].env[1].valueFrom.secretKeyRef.key: '
            "Required value",
        ],
        id="config-map-key-ref",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    command: [serve]
    envFrom:
    - {secretRef: {name: credentials}, configMapRef: {name: settings}, prefix: "A=B"}
    - {prefix: X_}
    - {configMapRef: {name: ""}}
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].envFrom[0].prefix: Invalid value: '
                '"A=B": a valid environment variable name must consist only of printable '
                "ASCII characters other than '='"
            ),
            (
                'web.yaml: pod "web": spec.containers[0].envFrom: Invalid value: "": may not '
                "have more than one field specified at a time"
            ),
            (
                'web.yaml: pod "web": spec.containers[0].envFrom: Invalid value: "": must '
                "specify one of: `configMapRef` or `secretRef`"
            ),
            'web.yaml: pod "web": spec.containers[0].envFrom[2].configMapRef.name: Required value',
        ],
        id="env-from",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    command: [serve]
    env:
    - name: POD_NAME
      value: web
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].env[0].valueFrom: Invalid '
                'value: "": may not be specified when `value` is not empty'
            ),
        ],
        id="env-value-and-value-from",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    command: [serve]
    env:
    - {name: PHASE, valueFrom: {fieldRef: {fieldPath: status.phase}}}
    - {name: OTHER, valueFrom: {fieldRef: {fieldPath: spec.containers}}}
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].env[0].valueFrom.fieldRef.fiel'
                'dPath: Unsupported value: "status.phase": supported values: '
                '"metadata.name", "metadata.namespace", "metadata.uid", '
                '"spec.nodeName", "spec.serviceAccountName", "status.hostIP", '
                '"status.hostIPs", "status.podIP", "status.podIPs"'
            ),
            (
                'web.yaml: pod "web": spec.containers[0].env[1].valueFrom.fieldRef.fiel'
                'dPath: Invalid value: "spec.containers": error converting fieldPath: '
                "field label not supported: spec.containers"
            ),
        ],
        id="env-field-path",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    command: [serve]
    env: [{name: PORT, value: 8080}]
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].env[0].value: Invalid value: '
                "8080: must be a string"
            ),
        ],
        id="env-value-not-string",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - {name: app, command: [serve], restartPolicy: Always}
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].restartPolicy: Forbidden: may '
                "not be set for non-init containers"
            ),
        ],
        id="restart-policy-regular-container",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  initContainers:
  - {name: setup, command: [setup], restartPolicy: OnFailure}
  containers:
  - {name: app, command: [serve]}
""",
        [
            (
                'web.yaml: pod "web": spec.initContainers[0].restartPolicy: '
                'Unsupported value: "OnFailure": supported values: "Always"'
            ),
        ],
        id="init-restart-policy-on-failure",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  initContainers:
  - name: setup
    command: [setup]
    readinessProbe: {exec: {command: [check]}}
  containers:
  - {name: app, command: [serve]}
""",
        [
            (
                'web.yaml: pod "web": spec.initContainers[0].readinessProbe: '
                "Forbidden: may not be set for init containers without "
                "restartPolicy=Always"
            ),
        ],
        id="init-container-probe",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  terminationGracePeriodSeconds: 30s
  containers:
  - {name: app, command: [serve]}
""",
        [
            (
                'web.yaml: pod "web": spec.terminationGracePeriodSeconds: Invalid '
                'value: "30s": must be an integer'
            ),
        ],
        id="string-where-int-expected",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    command: python app.py
    resources: [cpu]
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].command: Invalid value: '
                '"python app.py": must be a list of strings'
            ),
            (
                'web.yaml: pod "web": spec.containers[0].resources: Invalid value: '
                '["cpu"]: must be a mapping'
            ),
        ],
        id="list-where-mapping-expected",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  activeDeadlineSeconds: 0
  containers:
  - {name: app, command: [serve], terminationMessagePolicy: Logs}
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].terminationMessagePolicy: '
                'Unsupported value: "Logs": supported values: "File", '
                '"FallbackToLogsOnError"'
            ),
            (
                'web.yaml: pod "web": spec.activeDeadlineSeconds: Invalid value: 0: '
                "must be between 1 and 2147483647, inclusive"
            ),
        ],
        id="termination-message-policy",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  restartPolicy: always
  containers:
  - name: app
    command: [serve]
    ports: [{name: http, containerPort: 8080}]
    livenessProbe:
      httpGet: {port: http, scheme: http}
      initialDelaySeconds: -1
      timeoutSecond: 2
  - name: app
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].livenessProbe.timeoutSecond: '
                'Unknown field: did you mean "timeoutSeconds"?'
            ),
            (
                'web.yaml: pod "web": spec.containers[0].livenessProbe.httpGet.scheme: '
                'Unsupported value: "http": supported values: "HTTP", "HTTPS"'
            ),
            (
                'web.yaml: pod "web": spec.containers[0].livenessProbe.initialDelaySeco'
                "nds: Invalid value: -1: must be greater than or equal to 0"
            ),
            (
                'web.yaml: pod "web": spec.containers[1].command: Required value: '
                "minikubelet runs the command directly and there is no image "
                "entrypoint; set command (and args)"
            ),
            'web.yaml: pod "web": spec.containers[1].name: Duplicate value: "app"',
            (
                'web.yaml: pod "web": spec.restartPolicy: Unsupported value: "always": '
                'supported values: "Always", "OnFailure", "Never"'
            ),
        ],
        id="multi-error",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: good}
spec: {containers: [{name: app, command: [serve]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec: {containers: [{name: app}]}
---
apiVersion: v1
kind: Pod
spec: {containers: [{name: app, command: [serve]}]}
""",
        [
            (
                'web.yaml: pod "web": spec.containers[0].command: Required value: '
                "minikubelet runs the command directly and there is no image "
                "entrypoint; set command (and args)"
            ),
            "web.yaml: document 3: metadata.name: Required value: a pod needs a name",
        ],
        id="several-bad-documents",
    ),
    pytest.param(
        """
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: web}
- apiVersion: v1
  kind: Pod
  metadata: {name: web}
  spec: {containers: []}
""",
        [
            (
                'web.yaml: items[0]: kind: Unsupported value: "Service": only Pods, '
                "ConfigMaps and Secrets (and Lists of them) are supported"
            ),
            'web.yaml: pod "web": spec.containers: Required value',
        ],
        id="list-items",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec: {containers: [{name: app, command: [serve]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec: {containers: [{name: app, command: [serve]}]}
""",
        [
            (
                'web.yaml: pod "web": metadata.name: Duplicate value: "web": another '
                "pod of this file has the same name and namespace"
            ),
        ],
        id="duplicate-pods",
    ),
    pytest.param(
        """
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web, tier: "-front"}
spec:
  containers:
  - name: app
    command: [serve]
    env:
    - {name: CPU, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 2m}}}
    - {name: MEM, valueFrom: {resourceFieldRef: {resource: requests.memory, divisor: "1024"}}}
    - {name: SIDE, valueFrom: {resourceFieldRef: {resource: limits.cpu, containerName: side}}}
    - {name: DISK, valueFrom: {resourceFieldRef: {resource: limits.ephemeral-storage}}}
""",
        [
            (
                'web.yaml: pod "web": metadata.labels: Invalid value: "-front": a valid label '
                "must be an empty string or consist of alphanumeric characters, '-', '_' or "
                "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  "
                "or 'my_value',  or '12345', regex used for validation is "
                "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
            ),
            (
                'web.yaml: pod "web": '
                "spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor: "
                'Invalid value: "limits.cpu": only divisor\'s values 1m and 1 are supported '
                "with the cpu resource"
            ),
            (
                'web.yaml: pod "web": '
                "spec.containers[0].env[1].valueFrom.resourceFieldRef.divisor: "
                'Invalid value: "requests.memory": only divisor\'s values 1, 1k, 1M, 1G, 1T, 1P, '
                "1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource"
            ),
            (
                'web.yaml: pod "web": '
                "spec.containers[0].env[3].valueFrom.resourceFieldRef.resource: "
                'Unsupported value: "limits.ephemeral-storage": supported values: "limits.cpu", '
                '"limits.memory", "requests.cpu", "requests.memory"'
            ),
            (
                'web.yaml: pod "web": '
                "spec.containers[0].env[2].valueFrom.resourceFieldRef.containerName: "
                'Not found: "side": must be the name of a container of this pod'
            ),
        ],
        id="downward-api-and-labels",
    ),
]


@pytest.mark.parametrize(("manifest", "expected"), CASES)
def test_error_text(
    manifest: str, expected: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("web.yaml").write_text(manifest)
    with pytest.raises(ManifestError) as caught:
        load_file(Path("web.yaml"))
    assert str(caught.value).split("\n") == expected


def test_json_syntax_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("web.json").write_text('{"apiVersion": "v1",\n  "kind": "Pod"\n  "metadata": {}}')
    with pytest.raises(ManifestError) as caught:
        load_file(Path("web.json"))
    assert str(caught.value) == (
        "web.json: line 3, column 3: JSON syntax error: Expecting ',' delimiter"
    )


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ManifestError) as caught:
        load_file(Path("missing.yaml"))
    assert str(caught.value) == "missing.yaml: cannot read the file: No such file or directory"


def test_not_utf8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("web.yaml").write_bytes(b"apiVersion: v1\nkind: \xff\n")
    with pytest.raises(ManifestError) as caught:
        load_file(Path("web.yaml"))
    assert str(caught.value) == "web.yaml: not UTF-8 text: invalid byte at offset 21"


def test_errors_are_structured() -> None:
    """The API turns these into a Status with causes: each error keeps its field path."""
    text = """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  restartPolicy: Sometimes
  containers:
  - {name: app, comand: [serve]}
"""
    with pytest.raises(ManifestError) as caught:
        load_text(text, None)
    error = caught.value
    assert (error.path, error.pod) == (None, "web")
    assert error.errors == [
        FieldError("spec.containers[0].comand", "Unknown field", 'did you mean "command"?'),
        FieldError(
            "spec.restartPolicy",
            "Unsupported value",
            'supported values: "Always", "OnFailure", "Never"',
            "Sometimes",
            show_value=True,
        ),
    ]
    assert str(error).startswith('pod "web": spec.containers[0].comand: Unknown field')


def test_one_error_for_a_file_with_several_bad_pods() -> None:
    text = """
apiVersion: v1
kind: Pod
metadata: {name: one}
spec: {containers: [{name: app}]}
---
apiVersion: v1
kind: Pod
metadata: {name: two}
spec: {containers: [{name: app, command: [x], restartPolicy: Never}]}
"""
    with pytest.raises(ManifestError) as caught:
        load_text(text, Path("pods.yaml"))
    error = caught.value
    assert [part.pod for part in error.parts] == ["one", "two"]
    assert error.pod is None
    assert [field.path for field in error.errors] == [
        "spec.containers[0].command",
        "spec.containers[0].restartPolicy",
    ]
