"""Label and field selectors: matching, and the apiserver's 400 messages word for word.

Cases follow ``k8s.io/apimachinery/pkg/labels/selector_test.go`` (TestSelectorParse,
TestSelectorMatches, TestLexer) and ``pkg/fields/selector_test.go``.
"""

from __future__ import annotations

import pytest

from minikubelet.errors import RequestError
from minikubelet.server.selectors import (
    CONFIGMAP_FIELDS,
    EVENT_FIELDS,
    POD_FIELDS,
    SECRET_FIELDS,
    parse_field_selector,
    parse_label_selector,
)

NAME_PART = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("", {"x": "y"}, True),
        ("x=y", {"x": "y"}, True),
        ("x=y", {"x": "z"}, False),
        ("x==y", {"x": "y"}, True),
        ("x!=y", {"x": "z"}, True),
        ("x!=y", {}, True),
        ("x!=y", {"x": "y"}, False),
        ("x", {"x": "z"}, True),
        ("x", {}, False),
        ("!x", {}, True),
        ("!x", {"x": ""}, False),
        ("x=", {"x": ""}, True),
        ("x=", {}, False),
        ("x in (y,z)", {"x": "z"}, True),
        ("x in (y,z)", {}, False),
        ("x notin (y,z)", {"x": "w"}, True),
        ("x notin (y,z)", {}, True),
        ("x notin (y,z)", {"x": "y"}, False),
        ("x in ()", {"x": ""}, True),
        ("x in (,a)", {"x": ""}, True),
        ("x=a,y=b", {"x": "a", "y": "b"}, True),
        ("x=a,y=b", {"x": "a"}, False),
        ("x=a,y!=b", {"x": "a"}, True),
        ("  x  =  a  ", {"x": "a"}, True),
        ("x in (in)", {"x": "in"}, True),
        ("in=notin", {"in": "notin"}, True),
        ("example.com/app=web", {"example.com/app": "web"}, True),
        ("x>1", {"x": "2"}, True),
        ("x>1", {"x": "1"}, False),
        ("x>1", {"x": "a"}, False),
        ("x<1", {"x": "-1"}, True),
        ("x<1", {}, False),
    ],
)
def test_label_selector_matches(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(selector).matches(labels) is expected


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("a===b", "unable to parse requirement: found '=', expected: identifier"),
        ("x=a=b", "found '=', expected: ',' or 'end of string'"),
        ("x=a b", "found 'b', expected: ',' or 'end of string'"),
        (
            "a b c",
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
        ),
        ("x,", "found '', expected: identifier after ','"),
        ("x,,y", "found ',', expected: identifier after ','"),
        (",x", "found ',', expected: !, identifier, or 'end of string'"),
        ("=x", "found '=', expected: !, identifier, or 'end of string'"),
        ("!=x", "found '!=', expected: !, identifier, or 'end of string'"),
        ("x in", "unable to parse requirement: found '' expected: '('"),
        ("x in (", "unable to parse requirement: found '', expected: ',', ')' or identifier"),
        ("x in (a", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("x in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'"),
        ("x in (a,=)", "unable to parse requirement: found '=', expected: ',', or identifier"),
        (
            "x ( a",
            "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt",
        ),
        ("!x=a", "found '=', expected: ',' or 'end of string'"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("-x=a", f'unable to parse requirement: <nil>: Invalid value: "-x": {NAME_PART}'),
        ("x=-a", f'unable to parse requirement: values[0][x]: Invalid value: "-a": {VALUE}'),
        (
            "x>a",
            "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' "
            "operators, the value must be an integer",
        ),
        (
            "a/b/c",
            'unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name must '
            "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
            "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS "
            "subdomain prefix and '/' (e.g. 'example.com/MyName')",
        ),
        (
            "/x",
            'unable to parse requirement: <nil>: Invalid value: "/x": prefix part must be '
            "non-empty",
        ),
        (
            "Example.com/x",
            'unable to parse requirement: <nil>: Invalid value: "Example.com/x": prefix part a '
            "lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
            "'-' or '.', and must start and end with an alphanumeric character (e.g. "
            "'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ),
        (
            "x=" + "a" * 64,
            f'unable to parse requirement: values[0][x]: Invalid value: "{"a" * 64}": must be '
            "no more than 63 characters",
        ),
    ],
)
def test_label_selector_errors(selector: str, message: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse_label_selector(selector)
    assert caught.value.code == 400
    assert caught.value.reason == "BadRequest"
    assert caught.value.message == message


def test_label_value_too_long_and_invalid_reports_both() -> None:
    with pytest.raises(RequestError) as caught:
        parse_label_selector("x=-" + "a" * 63)
    assert caught.value.message.startswith(
        'unable to parse requirement: values[0][x]: Invalid value: "-'
    )
    assert "must be no more than 63 characters; a valid label must be" in caught.value.message


def test_bad_values_of_a_set_are_reported_in_sorted_order() -> None:
    # NewRequirement sees values.List(): sorted, so the index is the sorted position.
    with pytest.raises(RequestError) as caught:
        parse_label_selector("x in (z,-a)")
    assert caught.value.message.startswith(
        'unable to parse requirement: values[0][x]: Invalid value: "-a"'
    )


POD = {
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"nodeName": "box", "restartPolicy": "Always"},
    "status": {"phase": "Running", "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}]},
}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", True),
        ("metadata.name=web", True),
        ("metadata.name==web", True),
        ("metadata.name!=web", False),
        ("metadata.namespace=default,metadata.name=web", True),
        ("metadata.name=web,metadata.namespace=other", False),
        ("status.phase=Running", True),
        ("status.phase!=Succeeded", True),
        ("spec.nodeName=box", True),
        ("spec.host=box", True),  # the old v1 alias
        ("spec.restartPolicy=Always", True),
        ("spec.schedulerName=default-scheduler", True),
        ("spec.hostNetwork=false", True),
        ("spec.serviceAccountName=", True),
        ("status.podIP=127.0.0.1", True),
        ("status.podIPs=127.0.0.1", True),
        ("status.nominatedNodeName=", True),
        ("metadata.name=web,", True),  # an empty term is skipped
        ("metadata.name=w\\,eb", False),
    ],
)
def test_pod_field_selector(selector: str, expected: bool) -> None:
    assert parse_field_selector(selector, POD_FIELDS).matches(POD) is expected


def test_field_value_escapes() -> None:
    obj = {"metadata": {"name": "a,b=c\\d"}}
    assert parse_field_selector("metadata.name=a\\,b\\=c\\\\d", POD_FIELDS).matches(obj)


def test_value_of_names_the_required_name() -> None:
    fields = parse_field_selector("metadata.namespace=default,metadata.name=web", POD_FIELDS)
    assert fields.value_of("metadata.name") == "web"
    assert parse_field_selector("metadata.name!=web", POD_FIELDS).value_of("metadata.name") is None


@pytest.mark.parametrize(
    ("selector", "fields", "message"),
    [
        ("spec.bogus=1", POD_FIELDS, "field label not supported: spec.bogus"),
        ("metadata.labels=1", POD_FIELDS, "field label not supported: metadata.labels"),
        ("status.phase = Running", POD_FIELDS, "field label not supported: status.phase "),
        ("reason=Started", POD_FIELDS, "field label not supported: reason"),
        ("status.phase=Running", EVENT_FIELDS, "field label not supported: status.phase"),
        ("type=Opaque", CONFIGMAP_FIELDS, "field label not supported: type"),
        ("spec.host=x", EVENT_FIELDS, "field label not supported: spec.host"),
        (
            "metadata.name",
            POD_FIELDS,
            "invalid selector: 'metadata.name'; can't understand 'metadata.name'",
        ),
        (
            "metadata.name=a,b",
            POD_FIELDS,
            "invalid selector: 'metadata.name=a,b'; can't understand 'b'",
        ),
        (
            "metadata.name=a=b",
            POD_FIELDS,
            "invalid field selector: unescaped character in value: 61",
        ),
        ("metadata.name=a\\b", POD_FIELDS, "invalid field selector: invalid escape sequence: \\b"),
        ("metadata.name=a\\", POD_FIELDS, "invalid field selector: invalid escape sequence: \\"),
    ],
)
def test_field_selector_errors(selector: str, fields: dict[str, object], message: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse_field_selector(selector, fields)  # type: ignore[arg-type]
    assert caught.value.code == 400
    assert caught.value.message == message


EVENT = {
    "metadata": {"name": "web.1", "namespace": "default"},
    "involvedObject": {
        "kind": "Pod",
        "namespace": "default",
        "name": "web",
        "uid": "u1",
        "apiVersion": "v1",
        "fieldPath": "spec.containers{web}",
    },
    "reason": "Started",
    "source": {"component": "kubelet", "host": "box"},
    "reportingComponent": "kubelet",
    "type": "Normal",
}


@pytest.mark.parametrize(
    "selector",
    [
        # describe's selector, its terms in each order kubectl happens to send them
        "involvedObject.name=web,involvedObject.namespace=default,involvedObject.uid=u1",
        "involvedObject.uid=u1,involvedObject.name=web,involvedObject.namespace=default",
        # `kubectl events --for pod/web`
        "involvedObject.kind=Pod,involvedObject.apiVersion=v1,involvedObject.name=web",
        "involvedObject.fieldPath=spec.containers{web}",
        "reason=Started,type=Normal,source=kubelet,reportingComponent=kubelet",
        "type!=Warning",
    ],
)
def test_event_field_selector(selector: str) -> None:
    assert parse_field_selector(selector, EVENT_FIELDS).matches(EVENT)
    assert not parse_field_selector(selector + ",metadata.name=other", EVENT_FIELDS).matches(EVENT)


def test_secret_type_field() -> None:
    secret = {"metadata": {"name": "s"}, "type": "Opaque"}
    assert parse_field_selector("type=Opaque", SECRET_FIELDS).matches(secret)
    assert not parse_field_selector("type!=Opaque", SECRET_FIELDS).matches(secret)
