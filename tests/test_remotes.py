"""The fake remotes' registry, serving a remote by name, and the layer rule of crashkit.remotes."""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pytest

from crashkit.errors import UsageError
from crashkit.remotes import REMOTES, serve_remote

REMOTES_DIR = Path(__file__).parent.parent / "crashkit" / "remotes"

#: What crashkit.remotes may import of crashkit besides itself (its __init__ docstring).
ALLOWED = {"crashkit.errors", "crashkit.probes.quiet"}


def test_every_remote_is_registered_under_its_name_with_a_summary() -> None:
    assert "notion" in REMOTES
    for name, remote in REMOTES.items():
        assert remote.name == name
        assert remote.summary and "\n" not in remote.summary


def test_serve_remote_makes_the_store_folder_and_names_the_root_page(tmp_path: Path) -> None:
    store = tmp_path / "not" / "made" / "notion.sqlite3"
    with serve_remote("notion", store, token="t0ken") as serving:
        assert serving.url.startswith("http://127.0.0.1:")
        headers = {"Authorization": "Bearer t0ken", "Notion-Version": "2025-09-03"}
        root = serving.notes[0].removeprefix("root page: ")
        answer = httpx.get(f"{serving.url}/v1/pages/{root}", headers=headers)
        assert answer.status_code == 200
    with serve_remote("notion", store) as again:
        assert again.notes == serving.notes  # the root page is reused, not made twice


def test_serve_remote_rejects_an_unknown_name_listing_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"'s3'.*notion"), serve_remote("s3", tmp_path / "x"):
        pass  # pragma: no cover - never entered


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def _module(path: Path) -> str:
    parts = path.relative_to(REMOTES_DIR.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_remotes_import_only_errors_quiet_and_each_other() -> None:
    for path in REMOTES_DIR.rglob("*.py"):
        crashkit = {name for name in _imports(path) if name.split(".")[0] == "crashkit"}
        outside = {n for n in crashkit - ALLOWED if not n.startswith("crashkit.remotes")}
        assert not outside, f"{path} imports {sorted(outside)}"


def test_remotes_import_no_circle() -> None:
    graph = {_module(path): _imports(path) for path in REMOTES_DIR.rglob("*.py")}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for name in graph.get(start, set()) - seen:
            seen.add(name)
            if name == goal or reaches(name, goal, seen):
                return True
        return False

    circled = [module for module in graph if reaches(module, module, set())]
    assert not circled, f"import circle through {circled}"
