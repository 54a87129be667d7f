"""The three rings stay visible: data and decisions do no I/O; only runtime/ touches processes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "minikubelet"
PURE = ("model", "logic")
FORBIDDEN_IN_PURE = {"anyio", "psutil", "os", "time", "subprocess", "structlog", "signal"}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", [p for p in modules() if p.parent.name in PURE], ids=str)
def test_pure_rings_do_no_io(path: Path) -> None:
    assert not imported(path) & FORBIDDEN_IN_PURE


def in_runtime(path: Path) -> bool:
    """``runtime/`` and its subpackages (``runtime/cgroups/``)."""
    return path.relative_to(PACKAGE).parts[0] == "runtime"


@pytest.mark.parametrize("path", [p for p in modules() if not in_runtime(p)], ids=str)
def test_only_the_runtime_touches_processes(path: Path) -> None:
    assert "psutil" not in imported(path)
    assert "os.kill" not in path.read_text()
    assert "subprocess" not in imported(path)


@pytest.mark.parametrize("path", modules(), ids=str)
def test_every_module_declares_its_public_surface(path: Path) -> None:
    tree = ast.parse(path.read_text())
    if path.name == "__init__.py" and not tree.body[1:]:
        return
    targets = []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets.extend(node.targets)
        elif isinstance(node, ast.AnnAssign):
            targets.append(node.target)
    declared = any(getattr(target, "id", "") == "__all__" for target in targets)
    assert declared, f"{path} has no __all__"
