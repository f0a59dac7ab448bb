"""Two local replicas with edits on both sides: the world the rclone and unison scenarios
share.

``one/`` and ``two/`` were synced (every file in both, with fixed modification times);
then each side was edited: one edits ``a.txt`` and deletes ``c.txt``, two edits ``b.txt``
and adds ``e.txt``. After one sync (and after any crash and recovery) both replicas must
hold exactly :data:`WANTED`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from crashkit import World

#: 2026-01-01T00:00:00Z, then an hour later for the edits: fixed, so runs agree.
SYNCED_AT = 1767225600
EDITED_AT = SYNCED_AT + 3600

BEFORE = {"a.txt": "a v1\n", "b.txt": "b v1\n", "c.txt": "c v1\n", "d.txt": "d v1\n"}
#: What each side did after the last sync.
EDITS = {
    "one": {"a.txt": "a v2, edited in one\n", "c.txt": None},
    "two": {"b.txt": "b v2, edited in two\n", "e.txt": "e, new in two\n"},
}
#: Both replicas after a sync: every edit of both sides, the deletion carried over.
WANTED = {
    "a.txt": "a v2, edited in one\n",
    "b.txt": "b v2, edited in two\n",
    "d.txt": "d v1\n",
    "e.txt": "e, new in two\n",
}


def write(world: World, side: str, files: Mapping[str, str | None], stamp: int) -> None:
    """Write (or, for None, delete) ``files`` in replica ``side`` with mtime ``stamp``."""
    for name, text in files.items():
        path = world.path(side, name)
        if text is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        os.utime(path, (stamp, stamp))


def edit(world: World) -> None:
    """Each side's edits since the last sync."""
    for side, files in EDITS.items():
        write(world, side, files, EDITED_AT)


def files(world: World, side: str) -> dict[str, str]:
    """Every file of replica ``side`` and its text (bytes shown escaped if not UTF-8)."""
    root = world.path(side)
    found: dict[str, str] = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            found[str(path.relative_to(root))] = path.read_bytes().decode(
                "utf-8", "backslashreplace"
            )
    return dict(sorted(found.items()))


def observe(world: World) -> Mapping[str, object]:
    return {"one": files(world, "one"), "two": files(world, "two")}


def replicas_equal(world: World) -> None:
    """Both replicas hold the same files with the same content."""
    one, two = files(world, "one"), files(world, "two")
    differ = sorted(n for n in one.keys() | two.keys() if one.get(n) != two.get(n))
    assert not differ, f"the replicas differ in {differ}: one={one} two={two}"


def nothing_lost(world: World) -> None:
    """Every edit of both sides, and the deletion, is in both replicas; nothing else is."""
    for side in ("one", "two"):
        held = files(world, side)
        lost = {n: t for n, t in WANTED.items() if held.get(n) != t}
        extra = sorted(held.keys() - WANTED.keys())
        assert not lost, f"{side}/ lost {sorted(lost)}: holds {held}"
        assert not extra, f"{side}/ holds files no side wanted: {extra}"


def main(argv: list[str]) -> int:
    """``python replicas.py seed|edit [ROOT]``: a setup command's half of the world (the
    program's own first run, between the two, must see the world at its stable path)."""
    world = World(Path(argv[2] if len(argv) > 2 else "."))
    if argv[1:2] == ["seed"]:
        for side in ("one", "two"):
            world.path(side).mkdir(parents=True)
            write(world, side, BEFORE, SYNCED_AT)
    elif argv[1:2] == ["edit"]:
        edit(world)
    else:
        sys.stderr.write("usage: python replicas.py seed|edit [ROOT]\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
