"""What every launcher offers, and what they share: killing a child's process group."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import ClassVar, Protocol

from crashkit.errors import ChildError
from crashkit.model.process import PATH_VARIABLE, ChildExit, ChildJob

__all__ = ["Launcher", "LauncherBase", "child_environment", "kill_group"]

#: The folder crashkit is imported from: a child imports this crashkit, whatever its
#: interpreter would find first.
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Launcher(Protocol):
    """Runs one :class:`~crashkit.model.process.ChildJob` in a new process and waits."""

    #: The name it is chosen by (``--launcher NAME``).
    name: ClassVar[str]
    #: One line for help texts.
    summary: ClassVar[str]

    def __init__(self, preload: Sequence[str] = ()) -> None: ...

    def run(self, job: ChildJob, timeout: float) -> ChildExit: ...

    def close(self) -> None: ...


class LauncherBase:
    """Bookkeeping shared by launchers: the children running, and closing."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def __init__(self, preload: Sequence[str] = ()) -> None:
        self.preload = tuple(dict.fromkeys(preload))
        self._lock = threading.Lock()
        self._live: set[int] = set()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def _admit(self) -> None:
        with self._lock:
            if self._closed:
                raise ChildError("the launcher was closed (the sweep is stopping)")

    def _track(self, pid: int) -> None:
        with self._lock:
            self._live.add(pid)

    def _untrack(self, pid: int) -> None:
        with self._lock:
            self._live.discard(pid)

    def _stopping(self) -> None:
        if self._closed:  # killed by close(): not the program's doing, not a result
            raise ChildError("the sweep is stopping; this child was killed")

    def close(self) -> None:
        """Kill every child of this launcher still running (a stopping sweep)."""
        with self._lock:
            self._closed = True
            live = list(self._live)
        for pid in live:
            kill_group(pid)


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    """The environment a new crashkit process starts with: ours, the variant's, and our
    ``sys.path`` (read by :mod:`crashkit.child.worker` there), so that scenario files
    importable only through their own folder are found."""
    env = {**os.environ, **extra}
    env[PATH_VARIABLE] = os.pathsep.join(sys.path)
    return env


def bootstrap(entry: str) -> list[str]:
    """The command line of a new interpreter that runs ``crashkit.child.<entry>.main``."""
    return [
        sys.executable,
        "-c",
        f"import sys; sys.path.insert(0, {PACKAGE_ROOT!r}); "
        f"from crashkit.child.{entry} import main; main(sys.argv[1:])",
    ]


def kill_group(pid: int | None, *, leader: bool = True) -> None:
    """SIGKILL the process group a child leads (children call setpgid first).

    Args:
        leader: also kill the child itself when its group is gone (it may not have reached
            setpgid yet). Only for a child known to be alive: a reaped child's pid may
            already belong to another process.
    """
    if pid is None:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        if leader:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
