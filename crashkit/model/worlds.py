"""How a world is copied: the same way on both sides of the process boundary.

The parent copies the snapshot into each point's world; a recording child copies
its world at each kill point. Both must keep what a program may rely on.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["copy_world"]


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
