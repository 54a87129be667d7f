"""ConfigMap and Secret documents: the text of every error (``ValidateConfigMap``,
``ValidateSecret``), the decoding of ``data``/``binaryData``/``stringData``, and the intake
(``load_bytes``) holding them beside pods."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

import pytest

from minikubelet.errors import ManifestError
from minikubelet.manifest import load_bytes
from minikubelet.manifest.rules import decode_base64, is_config_map_key
from minikubelet.model.objects import MAX_OBJECT_SIZE

KEY_RULE = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
    "'[-._a-zA-Z0-9]+')"
)


def errors_of(text: str) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_bytes(textwrap.dedent(text).encode(), Path("cfg.yaml"))
    return str(caught.value).splitlines()


def config_map(data: str = "{}", extra: str = "") -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings}}\ndata: {data}\n{extra}"


def secret(body: str) -> str:
    return f"apiVersion: v1\nkind: Secret\nmetadata: {{name: creds}}\n{body}"


# --- key names (IsConfigMapKey) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "messages"),
    [
        ("a", []),
        ("key.name", []),
        ("KEY_NAME", []),
        ("key-name", []),
        (".hidden", []),
        ("a..b", []),
        ("x" * 253, []),
        ("", [KEY_RULE]),
        ("a b", [KEY_RULE]),
        ("a/b", [KEY_RULE]),
        ("a=b", [KEY_RULE]),
        ("é", [KEY_RULE]),
        (".", ["must not be '.'"]),
        ("..", ["must not be '..'"]),
        ("..data", ["must not start with '..'"]),
        ("x" * 254, ["must be no more than 253 characters"]),
        ("x" * 253 + " ", ["must be no more than 253 characters", KEY_RULE]),
    ],
    ids=lambda value: repr(value)[:20] if isinstance(value, str) else None,
)
def test_config_map_key_rule(key: str, messages: list[str]) -> None:
    assert is_config_map_key(key) == messages


@pytest.mark.parametrize("where", ["data", "binaryData"])
def test_a_bad_key_is_reported_under_its_map(where: str) -> None:
    value = '"aGk="' if where == "binaryData" else "hi"
    head = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"
    text = f"{head}{where}: {{'a b': {value}}}\n"
    assert errors_of(text) == [
        f'cfg.yaml: configmap "settings": {where}[a b]: Invalid value: "a b": {KEY_RULE}'
    ]


def test_a_secret_key_from_string_data_is_reported_under_data() -> None:
    # The apiserver merges stringData into data before it validates.
    assert errors_of(secret("stringData: {'..x': plain}\n")) == [
        'cfg.yaml: secret "creds": data[..x]: Invalid value: "..x": must not start with \'..\''
    ]


# --- one key in both maps ---------------------------------------------------------------


def test_a_key_in_both_data_and_binary_data() -> None:
    text = config_map("{shared: text}", "binaryData: {shared: dGV4dA==, only: dGV4dA==}\n")
    assert errors_of(text) == [
        'cfg.yaml: configmap "settings": data[shared]: Invalid value: "shared": duplicate of '
        "key present in binaryData"
    ]


# --- sizes ------------------------------------------------------------------------------


def _big(size: int) -> str:
    return "x" * size


@pytest.mark.parametrize(
    ("data_size", "binary_size", "too_long"),
    [
        (MAX_OBJECT_SIZE, 0, False),
        (MAX_OBJECT_SIZE + 1, 0, True),
        (MAX_OBJECT_SIZE - 3, 3, False),
        (MAX_OBJECT_SIZE - 2, 3, True),  # data and binaryData count together
    ],
)
def test_config_map_size_limit(data_size: int, binary_size: int, too_long: bool) -> None:
    binary = base64.b64encode(b"b" * binary_size).decode()
    text = config_map(f"{{a: {_big(data_size)}}}", f"binaryData: {{b: '{binary}'}}\n")
    if not too_long:
        assert load_bytes(text.encode(), None).config_maps[0].size == 2
        return
    assert errors_of(text) == [
        'cfg.yaml: configmap "settings": []: Too long: may not be more than 1048576 bytes'
    ]


@pytest.mark.parametrize(
    ("size", "too_long"), [(MAX_OBJECT_SIZE, False), (MAX_OBJECT_SIZE + 1, True)]
)
def test_secret_size_limit_counts_decoded_bytes(size: int, too_long: bool) -> None:
    half = size // 2
    encoded = base64.b64encode(b"s" * half).decode()
    text = secret(f"data: {{a: '{encoded}'}}\nstringData: {{b: {_big(size - half)}}}\n")
    if not too_long:
        assert sum(len(v) for v in load_bytes(text.encode(), None).secrets[0].data.values()) == size
        return
    assert errors_of(text) == [
        'cfg.yaml: secret "creds": data: Too long: may not be more than 1048576 bytes'
    ]


# --- base64 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", b""),
        ("aGk=", b"hi"),
        ("aGVsbG8=", b"hello"),
        ("aGVs\nbG8=\n", b"hello"),  # line breaks are skipped, as Go's decoder does
        ("aGVs\r\nbG8=", b"hello"),
        ("AAEC/w==", b"\x00\x01\x02\xff"),
    ],
)
def test_base64_decodes_as_go(text: str, expected: bytes) -> None:
    assert decode_base64(text) == expected


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("aGk", 0),  # padding is required
        ("a", 0),
        ("aG=", 3),  # half the padding
        ("aG=x", 2),
        ("a!Gk", 1),
        ("aGk=aGk=", 4),  # data after the padding
        ("aGk= ", 4),
        ("====", 0),
        ("aGVs\n=", 5),
    ],
)
def test_base64_errors_name_the_byte(text: str, offset: int) -> None:
    with pytest.raises(ValueError, match=rf"^illegal base64 data at input byte {offset}$"):
        decode_base64(text)


def test_bad_base64_names_the_key_and_never_the_value() -> None:
    assert errors_of(secret("data: {password: 'hunter2!'}\n")) == [
        'cfg.yaml: secret "creds": data[password]: Invalid value: illegal base64 data at '
        "input byte 7"
    ]
    assert errors_of(config_map("{}", "binaryData: {blob: 'YWJ'}\n")) == [
        'cfg.yaml: configmap "settings": binaryData[blob]: Invalid value: illegal base64 data '
        "at input byte 0"
    ]


# --- Secrets: data, stringData, type ----------------------------------------------------


def test_string_data_is_merged_over_data() -> None:
    text = secret("data: {user: YWRtaW4=, mode: b2xk}\nstringData: {mode: new, extra: plain}\n")
    (loaded,) = load_bytes(text.encode(), None).secrets
    assert dict(loaded.data) == {"user": b"admin", "mode": b"new", "extra": b"plain"}
    assert loaded.type == "Opaque"  # SetDefaults_Secret
    assert "stringData" not in loaded.manifest
    assert "data" not in loaded.manifest
    assert "admin" not in repr(loaded)
    assert "plain" not in repr(loaded)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("type: kubernetes.io/tls\ndata: {tls.crt: eA==}\n", ["data[tls.key]: Required value"]),
        (
            "type: kubernetes.io/basic-auth\n",
            ["data[username]: Required value", "data[password]: Required value"],
        ),
        ("type: kubernetes.io/basic-auth\nstringData: {password: ''}\n", []),
        ("type: kubernetes.io/ssh-auth\n", ["data[ssh-privatekey]: Required value"]),
        ("type: kubernetes.io/dockerconfigjson\n", ["data[.dockerconfigjson]: Required value"]),
        (
            "type: kubernetes.io/service-account-token\n",
            ["metadata.annotations[kubernetes.io/service-account.name]: Required value"],
        ),
        ("type: example.com/anything\n", []),
    ],
)
def test_secret_types(body: str, expected: list[str]) -> None:
    if not expected:
        load_bytes(secret(body).encode(), None)
        return
    assert errors_of(secret(body)) == [f'cfg.yaml: secret "creds": {line}' for line in expected]


def test_docker_config_must_be_json_and_is_redacted() -> None:
    encoded = base64.b64encode(b"not json: hunter2").decode()
    lines = errors_of(
        secret(f"type: kubernetes.io/dockerconfigjson\ndata: {{.dockerconfigjson: {encoded}}}\n")
    )
    assert len(lines) == 1
    assert lines[0].startswith(
        'cfg.yaml: secret "creds": data[.dockerconfigjson]: Invalid value: '
        '"<secret contents redacted>": '
    )
    assert "hunter2" not in lines[0]


# --- structure and metadata -------------------------------------------------------------


def test_structure_errors_as_for_pods() -> None:
    text = config_map("{number: 3}", "imutable: true\nbinaryData: [x]\n")
    assert errors_of(text) == [
        'cfg.yaml: configmap "settings": data[number]: Invalid value: 3: must be a string',
        'cfg.yaml: configmap "settings": imutable: Unknown field: did you mean "immutable"?',
        'cfg.yaml: configmap "settings": binaryData: Invalid value: ["x"]: must be a mapping',
    ]


def test_metadata_rules() -> None:
    text = "apiVersion: v1\nkind: Secret\nmetadata: {namespace: Bad_NS}\n"
    lines = errors_of(text)
    assert lines[0] == "cfg.yaml: metadata.name: Required value: name or generateName is required"
    assert lines[1].startswith('cfg.yaml: metadata.namespace: Invalid value: "Bad_NS": ')


def test_wrong_api_version() -> None:
    text = "apiVersion: apps/v1\nkind: ConfigMap\nmetadata: {name: x}\n"
    assert errors_of(text) == [
        'cfg.yaml: apiVersion: Unsupported value: "apps/v1": supported values: "v1"'
    ]


# --- the intake: objects beside pods ----------------------------------------------------

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    command: [serve]
    envFrom: [{configMapRef: {name: settings}}]
    resources: {limits: {memory: 64Mi}}
"""


def test_pods_and_objects_load_together() -> None:
    text = "\n---\n".join(
        [config_map("{greeting: hi}"), POD, secret("stringData: {p: x}\n"), "# empty"]
    )
    result = load_bytes(("\ufeff" + text).encode(), Path("all.yaml"))  # with a BOM
    assert [p.name for p in result.pods] == ["web"]
    assert [c.name for c in result.config_maps] == ["settings"]
    assert [s.name for s in result.secrets] == ["creds"]
    # The pod's limits.memory draws no warning at load time: whether it is enforced depends
    # on the containment of the runtime that runs it (manifest.capabilities).
    assert [str(w) for w in result.warnings] == []


@pytest.mark.parametrize("kind", ["List", "ConfigMapList"])
def test_lists_of_objects(kind: str) -> None:
    item_kind = "" if kind == "ConfigMapList" else "apiVersion: v1\n    kind: ConfigMap\n    "
    text = (
        f"apiVersion: v1\nkind: {kind}\nitems:\n"
        f"  - {item_kind}metadata: {{name: a}}\n"
        f"  - {item_kind}metadata: {{name: b}}\n"
    )
    assert [c.name for c in load_bytes(text.encode(), None).config_maps] == ["a", "b"]


def test_a_name_twice_in_one_file() -> None:
    text = "\n---\n".join([config_map("{}"), config_map("{}"), secret("")])
    assert errors_of(text) == [
        'cfg.yaml: configmap "settings": metadata.name: Duplicate value: "settings": another '
        "configmap of this file has the same name and namespace"
    ]


def test_intake_errors_name_the_file() -> None:
    with pytest.raises(
        ManifestError, match=r"^cfg.yaml: not UTF-8 text: invalid byte at offset 1$"
    ):
        load_bytes(b"a\xff", Path("cfg.yaml"))
    with pytest.raises(ManifestError, match="file too large"):
        load_bytes(b" " * (10 * 1024 * 1024 + 1), Path("cfg.yaml"))


def test_a_secret_type_error_never_shows_the_value() -> None:
    lines = errors_of(secret("data: {password: 123456, 'a b': eA==}\nstringData: [hunter2]\n"))
    assert lines == [
        'cfg.yaml: secret "creds": data[password]: Invalid value: "<secret contents redacted>": '
        "must be a string",
        'cfg.yaml: secret "creds": stringData: Invalid value: "<secret contents redacted>": '
        "must be a mapping",
        f'cfg.yaml: secret "creds": data[a b]: Invalid value: "a b": {KEY_RULE}',
    ]
