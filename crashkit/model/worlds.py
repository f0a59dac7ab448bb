"""How a world is copied: the same way on both sides of the process boundary.

The parent copies the snapshot into each point's world; a recording child copies
its world at each kill point. Both must keep what a program may rely on.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["copy_world", "mentions"]


def copy_world(source: Path, target: Path) -> None:
    """Copy a world: symlinks as links, hard links as links (a world may rely on either),
    file stamps kept."""
    linked: dict[tuple[int, int], str] = {}

    def copy(src: str, dst: str) -> str:
        info = os.lstat(src)
        if info.st_nlink > 1:
            key = (info.st_dev, info.st_ino)
            if key in linked:
                os.link(linked[key], dst)
                return dst
            linked[key] = dst
        return str(shutil.copy2(src, dst))

    shutil.copytree(source, target, symlinks=True, copy_function=copy)


def mentions(root: Path, needles: set[bytes]) -> bool:
    """Whether any file (or symlink target) below ``root`` contains one of ``needles``."""
    for folder, dirs, files in os.walk(root):  # a symlink to a folder is listed in dirs
        for name in [*dirs, *files]:
            path = Path(folder, name)
            if path.is_symlink():
                data = os.fsencode(os.readlink(path))
            elif path.is_file():
                data = path.read_bytes()
            else:
                continue
            if any(needle in data for needle in needles):
                return True
    return False
