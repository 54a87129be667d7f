"""The generated schema module and the support tables stay true to each other."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

import minikubelet.manifest
from minikubelet.manifest import _gen_fields, fields, support


def test_generated_fields_are_current() -> None:
    """fields.py is what the generator writes from the installed kubernetes-validate."""
    pytest.importorskip("kubernetes_validate")
    assert _gen_fields.render() == Path(fields.__file__).read_text(), (
        "run: .venv/bin/python -m minikubelet.manifest._gen_fields"
    )


def test_support_tables_name_real_fields() -> None:
    tables = [support.HONOURED, support.QUIET, support.HARMLESS, support.MESSAGES]
    for qualified in (name for table in tables for name in table):
        type_name, _, field = qualified.partition(".")
        assert field in fields.TYPES.get(type_name, {}), qualified


def test_every_type_of_an_honoured_field_is_known() -> None:
    for qualified in support.HONOURED:
        type_name, _, field = qualified.partition(".")
        expr = fields.TYPES[type_name][field].removeprefix("[]")
        assert expr in fields.TYPES or expr[0].islower() or expr in ("IntOrString", "Quantity")


def test_public_surface() -> None:
    assert sorted(minikubelet.manifest.__all__) == [
        "LoadResult",
        "load_bytes",
        "load_file",
        "load_text",
        "object_from_dict",
        "parse_quantity",
        "pod_from_dict",
    ]
    for info in pkgutil.iter_modules(minikubelet.manifest.__path__):
        module = importlib.import_module(f"minikubelet.manifest.{info.name}")
        assert hasattr(module, "__all__"), info.name
        for name in module.__all__:
            assert hasattr(module, name), f"{info.name}.{name}"
