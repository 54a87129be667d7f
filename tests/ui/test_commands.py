"""``minikubelet trace`` and the missing-extra message of ``ui`` and ``run --ui``."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from minikubelet.cli.main import cli
from tests.cli.samples import pod
from tests.cli.stub import Reply, StubServer
from tests.ui.samples import POD, TRACE


@pytest.mark.parametrize("arguments", [["ui"], ["run", "--ui", "app.yaml"]])
def test_without_the_extra_the_dashboard_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, arguments: list[str]
) -> None:
    monkeypatch.setitem(sys.modules, "textual", None)  # as if it were not installed
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 2
    assert "pip install 'minikubelet[ui]'" in result.output


@pytest.fixture
def traced(stub: StubServer) -> StubServer:
    stub.route("GET", "/api/v1/namespaces/default/pods/demo", Reply(body=POD))
    stub.route("GET", "/api/v1/namespaces/default/pods/demo/trace", Reply(body=TRACE))
    return stub


def test_trace_writes_svg_and_html(traced: StubServer, tmp_path: Path) -> None:
    svg, page = tmp_path / "demo.svg", tmp_path / "demo.html"
    result = CliRunner().invoke(
        cli, ["trace", "pod/demo", "--svg", str(svg), "--html", str(page), "-s", traced.path]
    )
    assert result.exit_code == 0, result.output
    assert ET.parse(svg).getroot().tag.endswith("svg")
    assert page.read_text().startswith("<!DOCTYPE html>")


def test_trace_prints_the_steps(traced: StubServer) -> None:
    result = CliRunner().invoke(cli, ["trace", "demo", "-s", traced.path])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == len(TRACE["steps"])
    assert lines[10] == "+5.000s  Signal     app  SIGTERM -> pid 120"


def test_trace_svg_to_stdout(traced: StubServer) -> None:
    result = CliRunner().invoke(cli, ["trace", "demo", "--svg", "-", "-s", traced.path])
    assert result.exit_code == 0, result.output
    assert ET.fromstring(result.output).tag.endswith("svg")


def test_trace_of_an_unknown_pod(stub: StubServer) -> None:
    result = CliRunner().invoke(cli, ["trace", "nope", "-s", stub.path])
    assert result.exit_code == 1
    assert "not found" in result.output


def test_trace_from_an_older_server(stub: StubServer) -> None:
    stub.route("GET", "/api/v1/namespaces/default/pods/web", Reply(body=pod("web")))
    stub.route("GET", "/api/v1/namespaces/default/pods/web/trace", Reply(body={"containers": []}))
    result = CliRunner().invoke(cli, ["trace", "web", "--svg", "-", "-s", stub.path])
    assert result.exit_code == 1
    assert "no steps" in result.output
