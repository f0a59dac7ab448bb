"""A stable absolute path for the world: a private mount namespace with the world
bind-mounted at one fixed path, the same for every child of a sweep.

Programs often store absolute paths (git's worktree, a database of synced files); if
the golden run and each crashed run saw their world at a different path, those would
differ for no fault of the program. The child that runs a command phase unshares its
mount namespace (made private, so nothing leaks to the host), bind-mounts its world at
the sweep's fixed path, and the program sees only that path.

Where namespaces are not allowed (no CAP_SYS_ADMIN, seccomp or a container's policy),
the fallback is the world's own path: each run then sees another path, and the child
says so on its output once (``CRASHKIT_NO_NAMESPACE=1`` forces the fallback).
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["FORCE_FALLBACK", "stable_world"]

#: Set to 1 to run without a mount namespace (the fallback), e.g. to test it.
FORCE_FALLBACK = "CRASHKIT_NO_NAMESPACE"

_CLONE_NEWNS = 0x00020000
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_PRIVATE = _MS_REC | _MS_PRIVATE
_BIND = _MS_BIND | _MS_REC


def stable_world(world: Path, stable: Path) -> tuple[Path, str | None]:
    """Make ``world`` appear at ``stable`` for this process and what it starts.

    Returns:
        the path the program sees its world at, and why it is not ``stable`` (None
        when the namespace took hold).
    """
    if os.environ.get(FORCE_FALLBACK) == "1":
        return world, f"{FORCE_FALLBACK}=1"
    libc = ctypes.CDLL(None, use_errno=True)
    source, target = os.fsencode(world), os.fsencode(stable)
    steps: tuple[tuple[str, Callable[[], int]], ...] = (
        ("unshare(CLONE_NEWNS)", lambda: libc.unshare(_CLONE_NEWNS)),
        ("making mounts private", lambda: libc.mount(b"none", b"/", None, _PRIVATE, None)),
        ("bind-mounting the world", lambda: libc.mount(source, target, None, _BIND, None)),
    )
    for what, step in steps:
        if step() != 0:
            code = ctypes.get_errno()
            return world, f"{what} failed: {os.strerror(code)}"
    return stable, None
