"""The package's shape, kept by tests: imports point one way (cli → report → stages → below), no
import cycle, no `assert` for invariants (`python -O` skips them), no very long function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from analysis.config import PROJ_ROOT

SRC = PROJ_ROOT / "src"
#: Layers from the top; a module may import its own layer's modules and anything below it, never above.
LAYERS = (
    ("analysis.cli", "analysis.__main__"),
    ("analysis.report",),
    (
        "analysis.forecast",
        "analysis.coverage",
        "analysis.maps",
        "analysis.taskforce",
        "analysis.clean",
        "analysis.sites",
        "analysis.season",
        "analysis.verdict",
    ),
    (
        "analysis.catalog",
        "analysis.geo",
        "analysis.figures",
        "analysis.files",
        "analysis.progress",
        "analysis.schemas",
        "analysis.config",
        "analysis.errors",
    ),
)
MAX_FUNCTION_LINES = 120


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, ast.Module]:
    return {
        _module_name(p): ast.parse(p.read_text(encoding="utf-8"), str(p))
        for p in sorted((SRC / "analysis").rglob("*.py"))
    }


def _imports(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    """Modules of the package that `name` imports anywhere (functions included)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            base = node.module
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in known and m != name}


def _layer(name: str) -> int:
    for i, prefixes in enumerate(LAYERS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return i
    raise KeyError(name)


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, tree, known) for name, tree in modules.items()}


def test_every_module_has_a_layer(graph):
    unplaced = [
        m
        for m in graph
        if m not in ("analysis", "analysis.report", "analysis.clean")
        and not any(m == p or m.startswith(p + ".") for layer in LAYERS for p in layer)
    ]
    assert unplaced == []


def test_imports_point_down_only(graph):
    upward = [
        f"{m} imports {d}"
        for m, deps in graph.items()
        if m != "analysis"
        for d in deps
        if d != "analysis" and _layer(d) < _layer(m)
    ]
    assert upward == []


def test_no_import_cycle(graph):
    # a package's __init__ re-exporting its modules is not a cycle of code
    edges = {
        m: {d for d in deps if not (m.startswith(d + ".") and d in ("analysis.clean", "analysis.report"))}
        for m, deps in graph.items()
    }
    state: dict[str, int] = {}
    cycles = []

    def visit(node, path):
        state[node] = 1
        for dep in sorted(edges.get(node, ())):
            if state.get(dep) == 1:
                cycles.append(" -> ".join(path[path.index(dep) :] + [dep]))
            elif dep not in state:
                visit(dep, path + [dep])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_no_assert_in_the_package():
    found = [
        f"{_module_name(p)}:{n.lineno}"
        for p in sorted((SRC / "analysis").rglob("*.py"))
        for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(n, ast.Assert)
    ]
    assert found == []


def test_no_very_long_function():
    long = []
    for path in sorted((SRC / "analysis").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{_module_name(path)}.{node.name}: {n} lines")
    assert long == []
