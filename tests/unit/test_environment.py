"""A container's environment and argv (kubelet ``makeEnvironmentVariables``).

The ``expand`` table restates the cases of Kubernetes'
``third_party/forked/golang/expansion`` tests.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from minikubelet.logic.environment import FieldContext, container_argv, container_env, expand
from minikubelet.model.spec import (
    Container,
    EnvVar,
    ObjectMeta,
    Pod,
    PodSpec,
    Quantity,
    ResourceRequirements,
)

# --- builders -------------------------------------------------------------------------

CONTEXT = FieldContext(uid="0f1e-uid", node_name="node-1", host_ip="10.0.0.7", cpu_capacity=4.0)


SCALES = {"Mi": Fraction(2**20), "M": Fraction(10**6), "m": Fraction(1, 1000)}


def quantity(text: str) -> Quantity:
    """An exact quantity for the few suffixes these tests use."""
    for suffix, scale in SCALES.items():
        if text.endswith(suffix):
            return Quantity(Fraction(text.removesuffix(suffix)) * scale, text)
    return Quantity(Fraction(text), text)


def value(name: str, text: str) -> EnvVar:
    return EnvVar(name=name, value=text)


def field(name: str, path: str) -> EnvVar:
    return EnvVar(name=name, field_path=path)


def resource(
    name: str, what: str, divisor: str | None = None, container: str | None = None
) -> EnvVar:
    return EnvVar(
        name=name,
        resource=what,
        resource_divisor=quantity(divisor) if divisor else None,
        resource_container=container,
    )


def container(
    *env: EnvVar,
    name: str = "app",
    command: tuple[str, ...] = ("run",),
    args: tuple[str, ...] = (),
    limits: dict[str, str] | None = None,
    requests: dict[str, str] | None = None,
) -> Container:
    resources = ResourceRequirements(
        limits={k: quantity(v) for k, v in (limits or {}).items()},
        requests={k: quantity(v) for k, v in (requests or {}).items()},
    )
    return Container(name=name, command=command, args=args, env=env, resources=resources)


def pod(*containers: Container, hostname: str | None = None) -> Pod:
    return Pod(
        metadata=ObjectMeta(
            name="web",
            namespace="shop",
            labels={"app": "frontend", "tier": "web"},
            annotations={"team": "checkout"},
        ),
        spec=PodSpec(containers=containers, hostname=hostname),
    )


def env_of(
    *env: EnvVar,
    base: dict[str, str] | None = None,
    limits: dict[str, str] | None = None,
    requests: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a one-container pod."""
    spec = container(*env, limits=limits, requests=requests)
    return container_env(pod(spec), spec, base or {}, CONTEXT)


def declared(env: dict[str, str], *names: str) -> dict[str, str]:
    return {name: env[name] for name in names}


# --- expand -------------------------------------------------------------------------------

VARIABLES = {"VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_REF": "$(VAR_A)", "VAR_EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("$(VAR_A)", "A", id="whole-string"),
        pytest.param("$(VAR_A)-$(VAR_A)", "A-A", id="repeat"),
        pytest.param("$(VAR_A)-$(VAR_B)-$(VAR_B)-$(VAR_A)", "A-B-B-A", id="multiple-repeats"),
        pytest.param("$(VAR_A)-1", "A-1", id="beginning"),
        pytest.param("___$(VAR_B)___", "___B___", id="middle"),
        pytest.param("___$(VAR_C)", "___C", id="end"),
        pytest.param("$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C", id="compound"),
        pytest.param("$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A", id="escape-and-expansion"),
        pytest.param("$$(VAR_A)_$$(VAR_B)", "$(VAR_A)_$(VAR_B)", id="compound-escape"),
        pytest.param("f000-$$VAR_A", "f000-$VAR_A", id="escape-before-bare-name"),
        pytest.param("foo\\$(VAR_C)bar", "foo\\Cbar", id="backslash-is-not-an-escape"),
        pytest.param("foo\\\\$(VAR_C)bar", "foo\\\\Cbar", id="double-backslash"),
        pytest.param("$(VAR_A$(VAR_B))", "$(VAR_A$(VAR_B))", id="nested-reference"),
        pytest.param("$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)", id="nested-unbalanced"),
        pytest.param("$(VAR_REF)", "$(VAR_A)", id="value-is-not-re-expanded"),
        pytest.param("%%$(VAR_REF)--$(VAR_REF)%%", "%%$(VAR_A)--$(VAR_A)%%", id="value-ref-x2"),
        pytest.param("foo$(VAR_EMPTY)bar", "foobar", id="empty-value"),
        pytest.param("foo$(VAR_Awhoops!", "foo$(VAR_Awhoops!", id="unterminated"),
        pytest.param("f00__(VAR_A)__", "f00__(VAR_A)__", id="no-operator"),
        pytest.param("$?_boo_$!", "$?_boo_$!", id="shell-specials-pass-through"),
        pytest.param("$VAR_A", "$VAR_A", id="bare-operator"),
        pytest.param("$(VAR_DNE)", "$(VAR_DNE)", id="unknown-left-verbatim"),
        pytest.param("$()", "$()", id="empty-name"),
        pytest.param("$$$$$$(BIG_MONEY)", "$$$(BIG_MONEY)", id="even-operators-unknown"),
        pytest.param("$$$$$$(VAR_A)", "$$$(VAR_A)", id="even-operators-known"),
        pytest.param("$$$$$$$(GOOD_ODDS)", "$$$$(GOOD_ODDS)", id="odd-operators-unknown"),
        pytest.param("$$$$$$$(VAR_A)", "$$$A", id="odd-operators-known"),
        pytest.param("$VAR_A)", "$VAR_A)", id="missing-opener"),
        pytest.param("${VAR_A}", "${VAR_A}", id="shell-braces-ignored"),
        pytest.param("$(VAR_B)_______$(A", "B_______$(A", id="trailing-incomplete"),
        pytest.param("$(VAR_C)_______$(", "C_______$(", id="trailing-opener"),
        pytest.param("$(VAR_A)foobar$", "Afoobar$", id="operator-at-end"),
        pytest.param("foo-\\$(VAR_A", "foo-\\$(VAR_A", id="escaped-incomplete"),
        pytest.param("--$($($($($--", "--$($($($($--", id="many-openers-middle"),
        pytest.param("$($($($($--foo$(", "$($($($($--foo$(", id="many-openers-start"),
        pytest.param("foo0--$($($($(", "foo0--$($($($(", id="many-openers-end"),
        pytest.param("$(foo$$var)", "$(foo$$var)", id="operators-inside-a-name"),
        pytest.param("\n", "\n", id="newline"),
        pytest.param("", "", id="empty"),
    ],
)
def test_expand(text: str, expected: str) -> None:
    assert expand(text, VARIABLES) == expected


# --- container_env ----------------------------------------------------------------------


def test_base_then_hostname_then_env() -> None:
    env = env_of(value("A", "1"), base={"PATH": "/bin", "A": "base"})
    assert env == {"PATH": "/bin", "HOSTNAME": "web", "A": "1"}


def test_hostname_is_the_spec_hostname_when_set() -> None:
    spec = container()
    assert container_env(pod(spec, hostname="box"), spec, {}, CONTEXT)["HOSTNAME"] == "box"


def test_env_may_override_hostname() -> None:
    assert env_of(value("HOSTNAME", "mine"))["HOSTNAME"] == "mine"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(
            (value("A", "1"), value("B", "$(A)-x")), {"A": "1", "B": "1-x"}, id="earlier-var"
        ),
        pytest.param(
            (value("B", "$(A)"), value("A", "1")), {"B": "$(A)", "A": "1"}, id="later-var-verbatim"
        ),
        pytest.param(
            (value("A", "1"), value("B", "$(A)"), value("A", "2")),
            {"A": "2", "B": "1"},
            id="redefined-after-use",
        ),
        pytest.param((value("S", "$(S)x"),), {"S": "$(S)x"}, id="self-reference"),
        pytest.param((value("A", "1"), value("B", "$$(A)")), {"A": "1", "B": "$(A)"}, id="escaped"),
        pytest.param(
            (field("POD", "metadata.name"), value("URL", "http://$(POD):80")),
            {"POD": "web", "URL": "http://web:80"},
            id="field-ref-usable-later",
        ),
        pytest.param((value("E", ""),), {"E": ""}, id="empty-value"),
    ],
)
def test_env_references_earlier_vars_only(
    env: tuple[EnvVar, ...], expected: dict[str, str]
) -> None:
    assert declared(env_of(*env), *expected) == expected


def test_base_environment_is_not_a_source_for_expansion() -> None:
    env = env_of(value("X", "$(HOME)/$(HOSTNAME)"), base={"HOME": "/root"})
    assert env["X"] == "$(HOME)/$(HOSTNAME)"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("metadata.name", "web", id="name"),
        pytest.param("metadata.namespace", "shop", id="namespace"),
        pytest.param("metadata.uid", "0f1e-uid", id="uid"),
        pytest.param("metadata.labels['app']", "frontend", id="label"),
        pytest.param("metadata.labels['missing']", "", id="missing-label"),
        pytest.param("metadata.annotations['team']", "checkout", id="annotation"),
        pytest.param("spec.nodeName", "node-1", id="node-name"),
        pytest.param("spec.serviceAccountName", "default", id="service-account"),
        pytest.param("status.hostIP", "10.0.0.7", id="host-ip"),
        pytest.param("status.podIP", "10.0.0.7", id="pod-ip"),
    ],
)
def test_field_ref(path: str, expected: str) -> None:
    assert env_of(field("V", path))["V"] == expected


@pytest.mark.parametrize(
    ("var", "limits", "requests", "expected"),
    [
        pytest.param(resource("V", "limits.cpu"), {"cpu": "250m"}, {}, "1", id="cpu-ceil"),
        pytest.param(resource("V", "limits.cpu", "1m"), {"cpu": "250m"}, {}, "250", id="cpu-milli"),
        pytest.param(resource("V", "limits.cpu", "1"), {"cpu": "1500m"}, {}, "2", id="cpu-1.5"),
        pytest.param(resource("V", "limits.cpu"), {"cpu": "2"}, {}, "2", id="cpu-whole"),
        pytest.param(resource("V", "limits.cpu"), {}, {}, "4", id="cpu-no-limit-capacity"),
        pytest.param(
            resource("V", "limits.memory"), {"memory": "128Mi"}, {}, "134217728", id="memory-bytes"
        ),
        pytest.param(
            resource("V", "limits.memory", "1Mi"), {"memory": "128Mi"}, {}, "128", id="memory-mi"
        ),
        pytest.param(
            resource("V", "limits.memory", "1M"), {"memory": "128Mi"}, {}, "135", id="memory-ceil"
        ),
        pytest.param(
            resource("V", "requests.cpu", "1m"), {"cpu": "1"}, {"cpu": "500m"}, "500", id="req-cpu"
        ),
        pytest.param(
            resource("V", "requests.memory", "1Mi"),
            {},
            {"memory": "64Mi"},
            "64",
            id="requests-memory",
        ),
        pytest.param(resource("V", "requests.cpu"), {}, {}, "0", id="requests-cpu-unset"),
        pytest.param(resource("V", "requests.memory"), {}, {}, "0", id="requests-memory-unset"),
    ],
)
def test_resource_field_ref(
    var: EnvVar, limits: dict[str, str], requests: dict[str, str], expected: str
) -> None:
    assert env_of(var, limits=limits, requests=requests)["V"] == expected


def test_resource_field_ref_of_another_container() -> None:
    app = container(resource("SIDE_CPU", "limits.cpu", "1m", container="side"), name="app")
    side = container(name="side", limits={"cpu": "300m"})
    env = container_env(pod(app, side), app, {}, CONTEXT)
    assert env["SIDE_CPU"] == "300"


# --- container_argv ---------------------------------------------------------------------


def test_argv_expands_declared_env_only() -> None:
    spec = container(
        value("GREETING", "hello"),
        field("NAME", "metadata.name"),
        command=("echo", "$(GREETING)", "$$(GREETING)"),
        args=("$(NAME)", "$(PATH)", "$(UNKNOWN)", "$(HOSTNAME)"),
    )
    env = container_env(pod(spec), spec, {"PATH": "/bin"}, CONTEXT)
    assert container_argv(spec, env) == (
        "echo",
        "hello",
        "$(GREETING)",
        "web",
        "$(PATH)",
        "$(UNKNOWN)",
        "$(HOSTNAME)",
    )


def test_argv_uses_final_values() -> None:
    spec = container(value("A", "1"), value("A", "2"), command=("$(A)",))
    assert container_argv(spec, container_env(pod(spec), spec, {}, CONTEXT)) == ("2",)


def test_argv_without_references_is_unchanged() -> None:
    spec = container(command=("python", "-c", "print('$x')"), args=("--flag",))
    assert container_argv(spec, {}) == ("python", "-c", "print('$x')", "--flag")
