"""The import rules of the package tree: each layer imports only the layers its
``__init__`` names, the parent never imports the child's code, and there is no import
circle anywhere: imports inside functions count, and so does every module's implicit
import of the ``crashkit`` package itself; imports only a type checker runs
(``if TYPE_CHECKING:``) do not. ``tests/integration/test_process_boundary.py`` checks
the same boundary in real children."""

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
    # The demo engine and its scenarios use crashkit as any project would.
    "demo": {"__init__", "model", "output", "errors"},
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


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node that may run: all but the bodies of ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """Every crashkit module ``path`` imports, anywhere in it, with the line."""
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
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
# Importing crashkit.x.y runs crashkit/__init__.py first.
for _name, _imported in GRAPH.items():
    if _name != "crashkit":
        _imported.add("crashkit")


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


def test_the_front_door_imports_nothing_when_it_is_imported():
    """Every module imports it (it is their package): it must stay empty until a name is
    asked for, or a child would load the whole engine."""
    assert GRAPH["crashkit"] == set()


def test_every_public_name_resolves_to_its_module():
    import importlib

    import crashkit

    for name, module in crashkit._EXPORTS.items():
        assert getattr(crashkit, name) is getattr(importlib.import_module(module), name)


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
