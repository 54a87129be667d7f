"""Error lines as kubectl prints them, from Status objects."""

from __future__ import annotations

from typing import Any

from minikubelet.cli.client.messages import status_error, synthetic_status


def test_not_found() -> None:
    status = {"kind": "Status", "reason": "NotFound", "message": 'pods "x" not found', "code": 404}
    assert status_error(status) == 'Error from server (NotFound): pods "x" not found'


def test_prefix_for_a_file() -> None:
    status = {"reason": "AlreadyExists", "message": 'pods "hello" already exists'}
    assert status_error(status, 'error when creating "pod.yaml": ') == (
        'Error from server (AlreadyExists): error when creating "pod.yaml": '
        'pods "hello" already exists'
    )


def test_invalid_is_rebuilt_from_its_causes() -> None:
    one: dict[str, Any] = {
        "reason": "Invalid",
        "message": "whatever the server said",
        "details": {
            "kind": "Pod",
            "name": "web",
            "causes": [{"field": "spec.containers[0].image", "message": "Required value"}],
        },
    }
    assert status_error(one) == 'The Pod "web" is invalid: spec.containers[0].image: Required value'
    one["details"]["causes"].append({"field": "metadata.name", "message": "Invalid value"})
    assert status_error(one) == (
        'The Pod "web" is invalid: \n'
        "* spec.containers[0].image: Required value\n"
        "* metadata.name: Invalid value"
    )
    assert status_error({"reason": "Invalid", "message": "bad"}) == ("The request is invalid: bad")


def test_no_reason() -> None:
    assert status_error({"message": "boom"}) == "Error from server: boom"


def test_synthetic_statuses() -> None:
    assert status_error(synthetic_status(404, "Not Found")) == (
        "Error from server (NotFound): the server could not find the requested resource"
    )
    assert status_error(synthetic_status(500, "oops")) == (
        'Error from server (InternalError): an error on the server ("oops") has prevented '
        "the request from succeeding"
    )
    assert status_error(synthetic_status(400, "bad query")) == (
        "Error from server (BadRequest): bad query"
    )
