"""``envFrom`` and ``configMapKeyRef``/``secretKeyRef``: ``makeEnvironmentVariables`` as a table.

Every combination of object present/missing, key present/missing and ``optional`` for both
kinds, then the order and precedence rules (``envFrom`` first, later sources win, ``env``
wins over ``envFrom``, ``$(VAR)`` sees ``envFrom``'s variables).
"""

from __future__ import annotations

import pytest

from minikubelet.logic.environment import (
    ConfigFailure,
    Environment,
    FieldContext,
    InvalidKeys,
    container_argv,
    make_environment,
    referenced_objects,
    shown_argv,
)
from minikubelet.model.objects import ConfigMap, Secret
from minikubelet.model.spec import (
    Container,
    EnvFromSource,
    EnvVar,
    KeyRef,
    ObjectKind,
    ObjectMeta,
    Pod,
    PodSpec,
)

CM, SECRET = ObjectKind.CONFIG_MAP, ObjectKind.SECRET
CONTEXT = FieldContext(uid="uid-1", node_name="node")


class Objects:
    """An ``ObjectLookup`` over a few objects of namespace ``shop``."""

    def __init__(self, *objects: ConfigMap | Secret) -> None:
        self._objects = {(o.kind, o.namespace, o.name): o for o in objects}

    def config_map(self, namespace: str, name: str) -> ConfigMap | None:
        found = self._objects.get((CM, namespace, name))
        return found if isinstance(found, ConfigMap) else None

    def secret(self, namespace: str, name: str) -> Secret | None:
        found = self._objects.get((SECRET, namespace, name))
        return found if isinstance(found, Secret) else None


SETTINGS = ConfigMap(
    metadata=ObjectMeta(name="settings", namespace="shop"),
    data={"greeting": "hello", "MODE": "fast"},
    binary_data={"blob": b"\x00\x01"},
)
CREDENTIALS = Secret(
    metadata=ObjectMeta(name="credentials", namespace="shop"),
    data={"password": b"s3cret", "MODE": b"secret-mode"},
)
EVERYTHING = Objects(SETTINGS, CREDENTIALS)


def resolve(
    *env: EnvVar,
    env_from: tuple[EnvFromSource, ...] = (),
    objects: Objects = EVERYTHING,
    command: tuple[str, ...] = ("run",),
) -> Environment | ConfigFailure:
    container = Container(name="app", command=command, env=env, env_from=env_from)
    pod = Pod(
        metadata=ObjectMeta(name="web", namespace="shop"), spec=PodSpec(containers=(container,))
    )
    return make_environment(pod, container, CONTEXT, objects)


def ref(kind: ObjectKind, name: str, key: str, optional: bool = False) -> EnvVar:
    return EnvVar(name="V", key_ref=KeyRef(kind, name, key, optional))


# --- one key ----------------------------------------------------------------------------

KEY_CASES = [
    # (kind, object, key, optional) -> V, or the failure message
    (CM, "settings", "greeting", False, "hello"),
    (CM, "settings", "greeting", True, "hello"),
    (CM, "settings", "absent", False, "couldn't find key absent in ConfigMap shop/settings"),
    (CM, "settings", "absent", True, None),
    (CM, "settings", "blob", False, "couldn't find key blob in ConfigMap shop/settings"),
    (CM, "missing", "greeting", False, 'configmap "missing" not found'),
    (CM, "missing", "greeting", True, None),
    (SECRET, "credentials", "password", False, "s3cret"),
    (SECRET, "credentials", "password", True, "s3cret"),
    (SECRET, "credentials", "absent", False, "couldn't find key absent in Secret shop/credentials"),
    (SECRET, "credentials", "absent", True, None),
    (SECRET, "missing", "password", False, 'secret "missing" not found'),
    (SECRET, "missing", "password", True, None),
    # the kinds do not mix: a Secret is not found as a ConfigMap, nor the reverse
    (CM, "credentials", "password", False, 'configmap "credentials" not found'),
    (SECRET, "settings", "greeting", False, 'secret "settings" not found'),
]


@pytest.mark.parametrize(
    ("kind", "name", "key", "optional", "expected"),
    KEY_CASES,
    ids=[f"{c[0].value}-{c[1]}-{c[2]}-{'optional' if c[3] else 'required'}" for c in KEY_CASES],
)
def test_key_ref(
    kind: ObjectKind, name: str, key: str, optional: bool, expected: str | None
) -> None:
    result = resolve(ref(kind, name, key, optional))
    if expected is not None and (" not found" in expected or "couldn't" in expected):
        assert result == ConfigFailure(expected)
        return
    assert isinstance(result, Environment)
    if expected is None:
        assert "V" not in result.variables  # an optional miss sets nothing, not even ""
    else:
        assert result.variables == {"V": expected}


# --- a whole object ---------------------------------------------------------------------

FROM_CASES = [
    (CM, "settings", False, "", {"greeting": "hello", "MODE": "fast"}),
    (CM, "settings", True, "CFG_", {"CFG_greeting": "hello", "CFG_MODE": "fast"}),
    (CM, "missing", False, "", 'configmap "missing" not found'),
    (CM, "missing", True, "X_", {}),
    (SECRET, "credentials", False, "S_", {"S_password": "s3cret", "S_MODE": "secret-mode"}),
    (SECRET, "missing", False, "", 'secret "missing" not found'),
    (SECRET, "missing", True, "", {}),
]


@pytest.mark.parametrize(
    ("kind", "name", "optional", "prefix", "expected"),
    FROM_CASES,
    ids=[f"{c[0].value}-{c[1]}-{'optional' if c[2] else 'required'}" for c in FROM_CASES],
)
def test_env_from(
    kind: ObjectKind, name: str, optional: bool, prefix: str, expected: dict[str, str] | str
) -> None:
    result = resolve(env_from=(EnvFromSource(kind, name, optional, prefix),))
    if isinstance(expected, str):
        assert result == ConfigFailure(expected)
    else:
        assert isinstance(result, Environment)
        assert result.variables == expected  # binaryData never becomes a variable
        assert result.sensitive == (set(expected) if kind is SECRET else set())


# --- order and precedence ---------------------------------------------------------------


def test_later_env_from_sources_win() -> None:
    result = resolve(env_from=(EnvFromSource(CM, "settings"), EnvFromSource(SECRET, "credentials")))
    assert isinstance(result, Environment)
    assert result.variables["MODE"] == "secret-mode"


def test_env_overrides_env_from_and_later_env_wins() -> None:
    result = resolve(
        EnvVar("MODE", value="from-env"),
        EnvVar("greeting", value="first"),
        EnvVar("greeting", key_ref=KeyRef(SECRET, "credentials", "password")),
        env_from=(EnvFromSource(CM, "settings"),),
    )
    assert isinstance(result, Environment)
    assert result.variables == {"greeting": "s3cret", "MODE": "from-env"}


def test_an_optional_miss_does_not_clear_an_env_from_value() -> None:
    result = resolve(
        EnvVar("MODE", key_ref=KeyRef(CM, "settings", "absent", optional=True)),
        env_from=(EnvFromSource(CM, "settings"),),
    )
    assert isinstance(result, Environment)
    assert result.variables["MODE"] == "fast"


def test_values_expand_env_from_variables_and_argv_too() -> None:
    result = resolve(
        EnvVar("URL", value="http://$(CFG_greeting):$(PORT)"),
        EnvVar("PORT", value="80"),
        env_from=(EnvFromSource(CM, "settings", prefix="CFG_"),),
        command=("echo", "$(CFG_MODE)", "$(URL)"),
    )
    assert isinstance(result, Environment)
    assert result.variables["URL"] == "http://hello:$(PORT)"  # only what is defined so far
    container = Container(name="app", command=("echo", "$(CFG_MODE)", "$(URL)"))
    argv = container_argv(container, dict(result.variables), result.variables)
    assert argv == ("echo", "fast", "http://hello:$(PORT)")


def test_the_first_failure_in_order_is_reported() -> None:
    result = resolve(
        ref(SECRET, "missing-secret", "k"),
        env_from=(EnvFromSource(CM, "missing-map"),),
    )
    assert result == ConfigFailure('configmap "missing-map" not found')


def test_secret_bytes_reach_the_process_unchanged() -> None:
    raw = b"caf\xc3\xa9-\xff"
    secret = Secret(metadata=ObjectMeta(name="raw", namespace="shop"), data={"v": raw})
    result = resolve(ref(SECRET, "raw", "v"), objects=Objects(secret))
    assert isinstance(result, Environment)
    assert result.variables["V"].encode("utf-8", "surrogateescape") == raw


def test_a_nul_byte_fails_the_start_without_showing_the_value() -> None:
    secret = Secret(metadata=ObjectMeta(name="nul", namespace="shop"), data={"v": b"top\x00secret"})
    result = resolve(ref(SECRET, "nul", "v"), objects=Objects(secret))
    assert isinstance(result, ConfigFailure)
    assert '"V"' in result.message
    assert "secret" not in result.message.replace("Secret", "")


def test_keys_that_are_not_variable_names_are_skipped_and_reported() -> None:
    # Validation never lets such keys in; an object built without it must not corrupt the
    # environment ("a=b" would set variable "a").
    odd = ConfigMap(
        metadata=ObjectMeta(name="odd", namespace="shop"),
        data={"good": "1", "a=b": "2", "x=": "3"},
    )
    result = resolve(env_from=(EnvFromSource(CM, "odd", prefix="P_"),), objects=Objects(odd))
    assert isinstance(result, Environment)
    assert result.variables == {"P_good": "1"}
    assert result.invalid == (InvalidKeys(CM, "shop", "odd", ("P_a=b", "P_x=")),)
    assert result.invalid[0].message == (
        "Keys [P_a=b, P_x=] from the EnvFrom configMap shop/odd were skipped since they are "
        "considered invalid environment variable names."
    )


def test_referenced_objects() -> None:
    app = Container(
        name="app",
        command=("x",),
        env=(ref(SECRET, "s", "k"), EnvVar("PLAIN", value="v")),
        env_from=(EnvFromSource(CM, "c"),),
    )
    init = Container(name="init", command=("x",), env_from=(EnvFromSource(SECRET, "t"),))
    pod = Pod(
        metadata=ObjectMeta(name="web"),
        spec=PodSpec(containers=(app,), init_containers=(init,)),
    )
    assert referenced_objects(pod) == {(SECRET, "s"), (CM, "c"), (SECRET, "t")}


# --- what logs may show -----------------------------------------------------------------


def test_secret_derived_variables_are_sensitive() -> None:
    result = resolve(
        EnvVar("PASS", key_ref=KeyRef(SECRET, "credentials", "password")),
        EnvVar("URL", value="db://u:$(PASS)@h"),  # carries the secret through $(VAR)
        EnvVar("ESCAPED", value="$$(PASS)"),  # a literal, not a reference
        EnvVar("GREETING", key_ref=KeyRef(CM, "settings", "greeting")),
        EnvVar("S_MODE", value="plain"),  # overrides a secret variable with a plain value
        env_from=(EnvFromSource(SECRET, "credentials", prefix="S_"),),
    )
    assert isinstance(result, Environment)
    assert result.sensitive == {"PASS", "URL", "S_password"}


def test_shown_argv_keeps_secret_references() -> None:
    command = ("connect", "$(URL)", "$(GREETING)", "--user=$(USER_NAME)")
    container = Container(
        name="app",
        command=command,
        env=(
            EnvVar("PASS", key_ref=KeyRef(SECRET, "credentials", "password")),
            EnvVar("URL", value="db://u:$(PASS)@h"),
            EnvVar("GREETING", key_ref=KeyRef(CM, "settings", "greeting")),
            EnvVar("USER_NAME", value="admin"),
        ),
    )
    pod = Pod(
        metadata=ObjectMeta(name="web", namespace="shop"), spec=PodSpec(containers=(container,))
    )
    result = make_environment(pod, container, CONTEXT, EVERYTHING)
    assert isinstance(result, Environment)
    real = container_argv(container, dict(result.variables), result.variables)
    assert real == ("connect", "db://u:s3cret@h", "hello", "--user=admin")
    assert shown_argv(container, result) == ("connect", "$(URL)", "hello", "--user=admin")
