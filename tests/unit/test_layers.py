"""The import rules of the package tree: each layer imports only the layers its
``__init__`` names, the parent never imports the child's code, and there is no import
circle anywhere (imports inside functions and ``TYPE_CHECKING`` blocks included)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "crashkit"

#: Each layer (a top-level module or package of crashkit) and what it may import.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "model": {"errors"},
    "probes": {"model", "errors"},
    "faults": {"model", "probes", "errors"},
    "scenario": {"model", "faults", "probes", "errors"},
    "child": {"model", "probes", "faults", "scenario", "errors"},
    "launch": {"model", "errors"},
    "remotes": {"probes", "errors"},
    "output": {"model", "errors"},
    "options": {"faults", "launch", "model", "errors"},
    "engine": {"model", "faults", "launch", "scenario", "output", "options", "errors"},
    "cli": {
        "engine", "model", "faults", "launch", "scenario", "output", "options", "remotes",
        "errors",
    },
    "pytest_plugin": {
        "engine", "model", "faults", "launch", "scenario", "output", "options", "errors",
    },
    "__init__": {
        "engine", "model", "faults", "launch", "scenario", "output", "options", "remotes",
        "probes", "errors",
    },
}  # fmt: skip


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """Every crashkit module ``path`` imports, anywhere in it, with the line."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from crashkit.x import y``: y is a module of its own, or a name in x.
            names = [f"{node.module}.{a.name}" for a in node.names]
            names = [n if n in known else node.module for n in names]
        else:
            continue
        for name in names:
            if name == "crashkit" or name.startswith("crashkit."):
                yield name, node.lineno


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


GRAPH = {m: {n for n, _ in _imports(p, set(_modules()))} for m, p in _modules().items()}


def test_every_layer_is_listed():
    assert {_layer(m) for m in GRAPH} == set(ALLOWED)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_a_module_imports_only_the_layers_below_it(module):
    path = _modules()[module]
    layer = _layer(module)
    wrong = [
        f"{path.relative_to(ROOT.parent)}:{line} imports {name}"
        for name, line in _imports(path, set(GRAPH))
        if _layer(name) != layer and _layer(name) not in ALLOWED[layer]
    ]
    assert not wrong, f"{layer} may import only {sorted(ALLOWED[layer])}:\n" + "\n".join(wrong)


def test_nothing_imports_the_front_door_but_its_users():
    inside = [m for m, names in GRAPH.items() if "crashkit" in names]
    assert not inside, f"these import crashkit/__init__ (import the module instead): {inside}"


def test_there_is_no_import_circle():
    def reach(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for name in GRAPH.get(todo.pop(), ()):
                if name not in seen:
                    seen.add(name)
                    todo.append(name)
        return seen

    circles = sorted(m for m in GRAPH if m in reach(m))
    assert not circles, f"modules on an import circle: {circles}"


def test_the_layer_rules_catch_a_wrong_import(tmp_path):
    """The checks above can fail: a planted import of the engine into the model is seen."""
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from crashkit.engine import explorer\n")
    found = [name for name, _ in _imports(planted, set(GRAPH))]
    assert found == ["crashkit.engine.explorer"]
    assert _layer(found[0]) not in ALLOWED["model"]
