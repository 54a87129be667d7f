"""The daemon's configuration: the KubeletConfiguration file, flags over it, clear errors."""

from __future__ import annotations

import subprocess  # noqa: TID251 - the test runs the CLI as a user would
import sys
import textwrap
from pathlib import Path

import click
import pytest

from minikubelet.config import (
    KubeletConfiguration,
    build_config,
    load_config,
    read_config_file,
)
from minikubelet.errors import ConfigError

HEADER = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(header + textwrap.dedent(body))
    return path


def test_every_field_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        staticPodPath: /srv/manifests
        fileCheckFrequency: 5s
        address: 127.0.0.1
        port: 10250
        crashLoopBackOff:
          maxContainerRestartPeriod: 1m30s
        containerLogMaxSize: 1Mi
        containerLogMaxFiles: 3
        shutdownGracePeriod: 45s
        rootDir: /srv/state
        socket: /srv/run/mk.sock
        initialContainerRestartPeriod: 500ms
        """,
    )
    config = load_config(path, {})
    assert config == KubeletConfiguration(
        static_pod_path=Path("/srv/manifests"),
        root_dir=Path("/srv/state"),
        socket=Path("/srv/run/mk.sock"),
        file_check_frequency=5.0,
        address="127.0.0.1",
        port=10250,
        initial_container_restart_period=0.5,
        max_container_restart_period=90.0,
        container_log_max_size=1024 * 1024,
        container_log_max_files=3,
        shutdown_grace_period=45.0,
    )
    assert config.backoff.initial == 0.5
    assert config.backoff.maximum == 90.0
    assert config.log_rotation.max_size == 1024 * 1024
    assert config.shutdown_deadline(longest_pod_grace=100) == 45.0


def test_defaults_follow_the_design_table(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), {})
    assert config.file_check_frequency == 20.0
    assert config.port is None
    assert config.max_container_restart_period == 300.0
    assert config.initial_container_restart_period == 10.0
    assert config.container_log_max_size == 10 * 1024 * 1024
    assert config.container_log_max_files == 5
    assert config.shutdown_grace_period is None
    assert config.shutdown_deadline(longest_pod_grace=60) == 90.0  # 30 s + the longest grace


def test_relative_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "staticPodPath: manifests\nrootDir: ./state\n")
    config = load_config(path, {})
    assert config.static_pod_path == tmp_path / "manifests"
    assert config.root_dir == tmp_path / "state"


def test_unknown_field_names_file_and_field_with_a_suggestion(tmp_path: Path) -> None:
    path = write(
        tmp_path, "staticPodPth: /srv\ncrashLoopBackOff:\n  maxContainerRestartPerod: 1s\n"
    )
    with pytest.raises(ConfigError) as caught:
        read_config_file(path)
    lines = str(caught.value).splitlines()
    assert lines == [
        f'{path}: staticPodPth: Unknown field: did you mean "staticPodPath"?',
        f"{path}: crashLoopBackOff.maxContainerRestartPerod: Unknown field: "
        'did you mean "maxContainerRestartPeriod"?',
    ]


def test_unknown_field_without_a_close_name(tmp_path: Path) -> None:
    path = write(tmp_path, "clusterDNS: [10.0.0.10]\n")
    with pytest.raises(ConfigError, match=r"config.yaml: clusterDNS: Unknown field$"):
        read_config_file(path)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "fileCheckFrequency: 20x",
            'fileCheckFrequency: Invalid value: "20x": use a number with a unit, such as 500ms, '
            "10s or 5m",
        ),
        (
            "fileCheckFrequency: 20",
            'fileCheckFrequency: Invalid value: 20: must be a duration string such as "500ms", '
            '"20s" or "5m"',
        ),
        (
            "fileCheckFrequency: 0s",
            'fileCheckFrequency: Invalid value: "0s": must be greater than 0',
        ),
        ("port: 70000", "port: Invalid value: 70000: must be between 0 and 65535, inclusive"),
        ('port: "80"', 'port: Invalid value: "80": must be an integer'),
        (
            "address: example.com",
            'address: Invalid value: "example.com": must be a valid IP address',
        ),
        (
            "containerLogMaxFiles: 1",
            "containerLogMaxFiles: Invalid value: 1: must be greater than 1",
        ),
        ("containerLogMaxSize: 10MB", 'containerLogMaxSize: Invalid value: "10MB": '),
        ("staticPodPath: 5", "staticPodPath: Invalid value: 5: must be a non-empty path string"),
        ("crashLoopBackOff: 5m", 'crashLoopBackOff: Invalid value: "5m": must be a mapping'),
    ],
)
def test_bad_values_name_field_and_value(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, body + "\n")
    with pytest.raises(ConfigError) as caught:
        read_config_file(path)
    assert str(caught.value).startswith(f"{path}: {message}")


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "port: -1\nshutdownGracePeriod: soon\nbogus: 1\n", header="")
    with pytest.raises(ConfigError) as caught:
        read_config_file(path)
    text = str(caught.value)
    assert 'apiVersion: Required value: must be "kubelet.config.k8s.io/v1beta1"' in text
    assert 'kind: Required value: must be "KubeletConfiguration"' in text
    assert "port: Invalid value: -1" in text
    assert 'shutdownGracePeriod: Invalid value: "soon"' in text
    assert "bogus: Unknown field" in text


def test_wrong_kind_and_version(tmp_path: Path) -> None:
    path = write(tmp_path, "", header="apiVersion: v1\nkind: Pod\n")
    with pytest.raises(ConfigError) as caught:
        read_config_file(path)
    assert (
        'apiVersion: Unsupported value: "v1": supported values: "kubelet.config.k8s.io/v1beta1"'
        in str(caught.value)
    )
    assert 'kind: Unsupported value: "Pod": supported values: "KubeletConfiguration"' in str(
        caught.value
    )


def test_not_yaml_or_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("port: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        read_config_file(path)
    path.write_text("- a\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        read_config_file(path)
    with pytest.raises(ConfigError, match="cannot read the file"):
        read_config_file(tmp_path / "missing.yaml")


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        staticPodPath: /from/file
        fileCheckFrequency: 5s
        port: 1000
        crashLoopBackOff: {maxContainerRestartPeriod: 1m}
        """,
    )
    config = load_config(
        path,
        {
            "pod_manifest_path": Path("/from/flag"),
            "max_container_restart_period": 30.0,
            "port": 2000,
        },
    )
    assert config.static_pod_path == Path("/from/flag")
    assert config.max_container_restart_period == 30.0
    assert config.port == 2000
    assert config.file_check_frequency == 5.0  # not given as a flag: the file's


def test_bad_flag_values_name_the_flag() -> None:
    with pytest.raises(ConfigError) as caught:
        build_config({}, {"file_check_frequency": 0.0, "port": 99999})
    assert str(caught.value).splitlines() == [
        "--file-check-frequency: Invalid value: 0.0: must be greater than 0",
        "--port: Invalid value: 99999: must be between 0 and 65535, inclusive",
    ]


def test_changed_fields_use_the_file_spelling(tmp_path: Path) -> None:
    before = load_config(write(tmp_path, "rootDir: /a\n"), {})
    after = load_config(write(tmp_path, "rootDir: /b\nfileCheckFrequency: 1s\n"), {})
    assert before.changed_fields(after) == ["rootDir", "fileCheckFrequency"]


@pytest.mark.e2e
def test_serve_refuses_a_bad_config_with_status_2(tmp_path: Path) -> None:
    path = write(tmp_path, "staticPodPth: /srv\n")
    root = tmp_path / "root"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "minikubelet",
            "serve",
            "--config",
            str(path),
            "--root-dir",
            str(root),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert (
        f'error: {path}: staticPodPth: Unknown field: did you mean "staticPodPath"?'
        in result.stderr
    )
    assert not root.exists()  # nothing started, nothing created


# -- the TCP listener's security options -----------------------------------------------


def test_tls_and_authentication_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        address: 0.0.0.0
        port: 10250
        tlsCertFile: tls/server.crt
        tlsPrivateKeyFile: /etc/minikubelet/server.key
        authentication:
          anonymous:
            enabled: false
          tokenFile: ~/token
        """,
    )
    config = load_config(path, {})
    assert config.tls_cert_file == tmp_path / "tls" / "server.crt"  # relative to the file
    assert config.tls_private_key_file == Path("/etc/minikubelet/server.key")
    assert config.tls
    assert config.anonymous_auth is False
    assert config.token_file == Path.home() / "token"


def test_security_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), {})
    assert (config.tls_cert_file, config.tls_private_key_file) == (None, None)
    assert not config.tls
    assert config.anonymous_auth is False  # unlike the kubelet's: see docs/security.md
    assert config.token_file is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "authentication:\n  anonymus: {enabled: true}\n",
            'authentication.anonymus: Unknown field: did you mean "anonymous"?',
        ),
        (
            "authentication:\n  anonymous: {enabled: 1}\n",
            "authentication.anonymous.enabled: Invalid value: 1: must be true or false",
        ),
        ("authentication: on\n", "authentication: Invalid value: true: must be a mapping"),
        (
            "authentication:\n  webhook: {enabled: true}\n",
            "authentication.webhook: Unknown field",
        ),
        ("tlsCertFile: ''\n", 'tlsCertFile: Invalid value: "": must be a non-empty path string'),
    ],
)
def test_bad_security_fields_name_the_field(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        read_config_file(path)
    assert str(caught.value).startswith(f"{path}: {message}")


@pytest.mark.parametrize(
    ("body", "flags", "lines"),
    [
        (
            "address: 10.0.0.1\nport: 1\ntlsCertFile: /c\ntlsPrivateKeyFile: /k\n"
            "authentication: {anonymous: {enabled: true}}\n",
            {},
            [
                "{file}: authentication.anonymous.enabled: Forbidden: anonymous requests "
                'cannot be allowed on the non-loopback address "10.0.0.1"'
            ],
        ),
        (
            "tlsCertFile: /c\n",
            {},
            ['{file}: tlsCertFile: Invalid value: "/c": needs tlsPrivateKeyFile '],
        ),
        (
            "",
            {"tls_private_key_file": Path("/k")},
            ['--tls-private-key-file: Invalid value: "/k": needs tlsCertFile (--tls-cert-file)'],
        ),
    ],
)
def test_unsafe_combinations_are_refused(
    tmp_path: Path, body: str, flags: dict[str, object], lines: list[str]
) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        load_config(path, flags)
    got = str(caught.value).splitlines()
    assert len(got) == len(lines)
    for line, expected in zip(got, lines, strict=True):
        assert line.startswith(expected.format(file=path))


@pytest.mark.parametrize(
    ("body", "flags"),
    [
        ("address: 0.0.0.0\n", {}),  # no port: no listener, nothing exposed
        ("address: ::1\nport: 1\nauthentication: {anonymous: {enabled: true}}\n", {}),
        ("address: localhost\nport: 1\n", {}),
        ("port: 1\ntlsCertFile: /c\ntlsPrivateKeyFile: /k\n", {"address": "0.0.0.0"}),
        ("address: 0.0.0.0\nport: 1\n", {"address": "127.0.0.2"}),  # the flag wins
        # TLS is always on: without files the listener serves its own certificate.
        ("address: 0.0.0.0\nport: 1\n", {}),
        ("port: 1\n", {"address": "::"}),
    ],
)
def test_safe_combinations_are_accepted(
    tmp_path: Path, body: str, flags: dict[str, object]
) -> None:
    load_config(write(tmp_path, body), flags)


def test_flags_override_the_file_s_security_settings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "authentication:\n  anonymous: {enabled: true}\n  tokenFile: /from/file\n",
    )
    config = load_config(path, {"anonymous_auth": False, "token_file": Path("~/flag")})
    assert config.anonymous_auth is False
    assert config.token_file == Path.home() / "flag"
    assert load_config(path, {"anonymous_auth": None}).anonymous_auth is True


def test_one_row_per_setting() -> None:
    import dataclasses

    from minikubelet.config import FLAGS, OPTIONS, RESTART_REQUIRED

    attributes = [option.attribute for option in OPTIONS]
    assert sorted(attributes) == sorted(f.name for f in dataclasses.fields(KubeletConfiguration))
    assert len({option.field for option in OPTIONS}) == len(OPTIONS)
    assert len({option.flag for option in OPTIONS if option.flag}) == len(FLAGS)
    live = {"staticPodPath", "fileCheckFrequency"}
    assert frozenset(option.field for option in OPTIONS if option.field not in live) == (
        RESTART_REQUIRED
    )
    assert {"tlsCertFile", "authentication.tokenFile"} <= RESTART_REQUIRED


def test_every_flag_of_the_table_is_a_flag_of_serve_and_run() -> None:
    from minikubelet.cli.run import run
    from minikubelet.cli.serve import serve
    from minikubelet.config import OPTIONS

    def flags(command: object) -> set[str]:
        assert isinstance(command, click.Command)
        return {name for p in command.params for name in (*p.opts, *p.secondary_opts)}

    table = {option.flag for option in OPTIONS if option.flag}
    assert table <= flags(serve)
    # run takes the same flags, but for the static pods' (it runs the files it is given).
    assert table - {"--pod-manifest-path", "--file-check-frequency"} <= flags(run)
    assert "--no-anonymous-auth" in flags(serve) & flags(run)


def test_config_does_not_import_the_cli() -> None:
    import ast

    import minikubelet.config

    tree = ast.parse(Path(minikubelet.config.__file__).read_text())
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert not {name for name in imported if name.startswith("minikubelet.cli")}
