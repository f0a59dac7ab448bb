"""Paths of notes inside a synced folder: validating what a user links, finding untracked notes."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from .config import STATE_FOLDER
from .errors import LinkError
from .files import is_temp_name

__all__ = ["note_path", "untracked_notes"]

NOTE_SUFFIX = ".md"


def note_path(root: Path, file: str | os.PathLike[str]) -> str:
    """``file`` as kasten stores it: relative to ``root``, '/'-separated.

    Raises:
        LinkError: the path is empty, leaves ``root``, is a folder, or is kasten's own.
    """
    raw = os.fspath(file)
    if not raw.strip():
        raise LinkError(
            "the file to link is empty", "pass a path relative to --dir, e.g. notes/todo.md"
        )
    candidate = Path(raw) if Path(raw).is_absolute() else root / raw
    try:
        relative = candidate.resolve().relative_to(root.resolve())
    except ValueError:
        raise LinkError(
            f"{raw!r} is outside the synced folder {str(root)!r}",
            "pass a path relative to --dir (move the file into the folder first)",
        ) from None
    return _checked(PurePosixPath(relative.as_posix()), raw, root)


def _checked(relative: PurePosixPath, raw: str, root: Path) -> str:
    if relative == PurePosixPath("."):
        raise LinkError(f"{raw!r} is the synced folder itself", "pass a file inside it")
    if relative.parts[0] == STATE_FOLDER or is_temp_name(relative.name):
        raise LinkError(f"{raw!r} is one of kasten's own files", "link a note of yours instead")
    if (root / relative).is_dir():
        raise LinkError(f"{raw!r} is a folder", "link one file, e.g. notes/todo.md")
    return relative.as_posix()


def untracked_notes(root: Path, linked: Iterable[str]) -> list[str]:
    """Markdown files under ``root`` that no live entity links, sorted; hidden ones skipped."""
    known = set(linked)
    found: list[str] = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        base = Path(folder).relative_to(root)
        for name in sorted(names):
            path = (base / name).as_posix()
            if name.endswith(NOTE_SUFFIX) and not name.startswith(".") and path not in known:
                found.append(path)
    return sorted(found)
