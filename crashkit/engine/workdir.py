"""Where a sweep's worlds live: one private folder per sweep, removed when it ends, and
the folders of killed sweeps removed by the next one."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["WORK_DIR_VARIABLE", "default_work_base", "new_work_dir"]

_WORK_PREFIX = "crashkit-"

#: Where worlds go unless a base is given: ``$CRASHKIT_WORK_DIR``, else ``$TMPDIR`` when
#: set, else this memory-backed folder when there is one with room (a crash model needs
#: no disk, and a program's fsyncs cost nothing there: about a third of a kasten sync's
#: time), else the system temp folder.
WORK_DIR_VARIABLE = "CRASHKIT_WORK_DIR"
_MEMORY_FOLDER = Path("/dev/shm")

#: The memory folder is used only with this much room (a container's is often 64 MB): a
#: kill sweep holds a world per recorded point at once.
_MEMORY_NEEDED = 1 << 30


def default_work_base() -> Path:
    """Where sweeps put their work folders when not told (see :data:`WORK_DIR_VARIABLE`)."""
    for variable in (WORK_DIR_VARIABLE, "TMPDIR"):
        if os.environ.get(variable):
            return Path(os.environ[variable])
    if _roomy(_MEMORY_FOLDER):
        return _MEMORY_FOLDER
    return Path(tempfile.gettempdir())


def _roomy(folder: Path) -> bool:
    try:
        info = os.statvfs(folder)
    except OSError:
        return False
    free = info.f_bavail * info.f_frsize
    return os.access(folder, os.W_OK | os.X_OK) and free >= _MEMORY_NEEDED


def new_work_dir(base: str | None = None) -> Path:
    """A private folder for one sweep's worlds; folders of killed sweeps are removed first."""
    root = Path(base) if base else default_work_base()
    for folder in root.glob(f"{_WORK_PREFIX}*"):
        pid = folder.name.removeprefix(_WORK_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{_WORK_PREFIX}{os.getpid()}-", dir=root))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
