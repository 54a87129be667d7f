"""The rings stay visible: data and decisions do no I/O; only runtime/ touches processes.

    ring 1, data       model/ manifest/           what was asked and observed
    ring 2, decisions  logic/                     pure functions of (spec, observed, now)
    ring 3, effects    everything else            runtime/ is the only code that touches
                                                  processes; the API, the CLI and the
                                                  pod sources reach the engine through
                                                  kubelet.py and snapshots, never a worker

Every check walks the AST, so a comment or a string that mentions a name cannot trip it,
and an aliased import cannot slip past it.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "minikubelet"
DATA = ("model", "manifest")
DECISIONS = ("logic",)
FORBIDDEN_IN_PURE = {
    *("anyio", "sniffio", "psutil", "os", "time", "subprocess", "structlog", "signal"),
}
# What the API, the CLI and the pod sources may not import: the engine's insides.
ENGINE_INSIDES = {
    "minikubelet.runtime",
    "minikubelet.pod_worker",
    "minikubelet.instance",
    "minikubelet.stop",
    "minikubelet.launching",
}
OUTSIDE_THE_ENGINE = ("api", "server", "cli", "sources")


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def ring_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0] if len(path.relative_to(PACKAGE).parts) > 1 else ""


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, dotted and absolute (``from . import`` resolved)."""
    package = ".".join(("minikubelet", *path.relative_to(PACKAGE).parent.parts))
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def top_levels(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imports(path)}


SIGNALLING = ("kill", "killpg", "pidfd_send_signal")


def calls_os_kill(path: Path) -> bool:
    """``os.kill``, ``os.killpg`` (under any alias of ``os``) or ``from os import kill``."""
    tree = ast.parse(path.read_text())
    aliases = {"os"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases.update(a.asname for a in node.names if a.name == "os" and a.asname)
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(alias.name in SIGNALLING for alias in node.names)
        ):
            return True
    return any(
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in aliases
        and node.attr in SIGNALLING
        for node in ast.walk(tree)
    )


def _in(path: Path, rings: tuple[str, ...]) -> bool:
    return ring_of(path) in rings


@pytest.mark.parametrize("path", [p for p in modules() if _in(p, DATA + DECISIONS)], ids=str)
def test_pure_rings_do_no_io(path: Path) -> None:
    assert not top_levels(path) & FORBIDDEN_IN_PURE


@pytest.mark.parametrize("path", [p for p in modules() if _in(p, DATA + DECISIONS)], ids=str)
def test_pure_rings_import_only_inward(path: Path) -> None:
    """Data imports only data; decisions import data and decisions (and every ring may
    raise the errors of the one exceptions module)."""
    allowed = (*(DATA if _in(path, DATA) else DATA + DECISIONS), "errors")
    ours = {name for name in imports(path) if name.startswith("minikubelet.")}
    outward = {name for name in ours if name.split(".")[1] not in allowed}
    assert not outward, f"{path} reaches outward: {sorted(outward)}"


@pytest.mark.parametrize("path", [p for p in modules() if ring_of(p) != "runtime"], ids=str)
def test_only_the_runtime_touches_processes(path: Path) -> None:
    assert "psutil" not in top_levels(path)
    assert "subprocess" not in top_levels(path)
    assert not calls_os_kill(path)


@pytest.mark.parametrize("path", [p for p in modules() if _in(p, OUTSIDE_THE_ENGINE)], ids=str)
def test_the_outside_reads_snapshots_not_workers(path: Path) -> None:
    insides = {
        name for name in imports(path) if any(name.startswith(inner) for inner in ENGINE_INSIDES)
    }
    assert not insides, f"{path} imports the engine's insides: {sorted(insides)}"


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


@pytest.mark.parametrize(
    "path", [p for p in modules() if not p.name.startswith("_") or p.name == "__init__.py"], ids=str
)
def test_every_exported_name_exists(path: Path) -> None:
    name = ".".join(("minikubelet", *path.relative_to(PACKAGE).with_suffix("").parts))
    module = importlib.import_module(name.removesuffix(".__init__"))
    missing = [item for item in getattr(module, "__all__", ()) if not hasattr(module, item)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"


def test_the_checks_catch_a_violation(tmp_path: Path) -> None:
    """The checks above are not vacuous: a module breaking each rule is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("from os import kill\n")
    assert calls_os_kill(bad)
    bad.write_text("import os as o\no.kill(1, 0)\n")
    assert calls_os_kill(bad)
    bad.write_text("def f(pid):\n    import os\n    os.kill(pid, 9)\n")
    assert calls_os_kill(bad)
    bad.write_text("# os.kill(1, 9) in a comment\nx = 'os.kill'\n")
    assert not calls_os_kill(bad)
