"""Ways to start a child: a fork server with the program preloaded, or a fresh interpreter.

Both use ``multiprocess`` (dill pickling, so scenarios may be closures). The fork
server is the default: forking a warm process costs a few milliseconds, where a
fresh interpreter importing httpx costs around a hundred; the fresh interpreter
stays available as the benchmark's baseline and for programs that cannot fork.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import multiprocess
import multiprocess.forkserver
import multiprocess.spawn

from crashkit import _child
from crashkit.errors import ChildError

__all__ = ["ChildExit", "ChildStarter", "ForkServerStarter", "FreshInterpreterStarter"]


@dataclass(frozen=True)
class ChildExit:
    """How a child ended."""

    #: The exit status; negative for a signal (-9 is SIGKILL); None if it never ran.
    status: int | None
    #: The child outlived its timeout and its whole process group was killed.
    timed_out: bool
    duration: float

    @property
    def killed(self) -> bool:
        return self.status == -signal.SIGKILL and not self.timed_out


class ChildStarter(Protocol):
    """Runs one :class:`crashkit._child.ChildJob` in a new process and waits for it."""

    name: str

    def run(self, job: _child.ChildJob, timeout: float) -> ChildExit: ...

    def close(self) -> None: ...


_CHILD_NAME = "crashkit-child"
#: Every child running in this process, whichever starter started it.
_LIVE: set[Any] = set()
#: The parent's sys.path, handed to the fork server through its environment (read and
#: removed by crashkit._worker there; multiprocess does not pass sys.path on).
PATH_VARIABLE = "CRASHKIT_FORKSERVER_PATH"
_real_preparation_data = multiprocess.spawn.get_preparation_data


def _preparation_data(name: str) -> dict[str, Any]:
    """multiprocess's preparation data, without the parent's ``__main__`` for our children.

    A new child would otherwise import the parent's main script (the ``crashkit`` or
    ``pytest`` launcher, or a user's script) before running; our children's entry point
    lives in :mod:`crashkit._child` and needs none of it.
    """
    data: dict[str, Any] = _real_preparation_data(name)
    if name.startswith(_CHILD_NAME):
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
    return data


multiprocess.spawn.get_preparation_data = _preparation_data


class _MultiprocessStarter:
    method = ""

    def __init__(self) -> None:
        self._context: Any = multiprocess.get_context(self.method)
        self.name = self.method
        self._live = _LIVE
        self._lock = threading.Lock()
        self._closed = False

    def run(self, job: _child.ChildJob, timeout: float) -> ChildExit:
        process = self._context.Process(
            target=_child.run, args=(job,), daemon=True, name=f"{_CHILD_NAME}-{job.phase}"
        )
        started = time.monotonic()
        with self._lock:
            if self._closed:
                raise ChildError("the starter was closed (the sweep is stopping)")
            process.start()
            self._live.add(process)
        try:
            process.join(timeout)
            timed_out = process.is_alive()
            kill_group(process.pid, leader=timed_out)  # a hang, or what the program left
            process.join()
        finally:
            with self._lock:
                self._live.discard(process)
        status = process.exitcode
        process.close()
        if self._closed:  # killed by close(): not the program's doing, not a result
            raise ChildError("the sweep is stopping; this child was killed")
        return ChildExit(status, timed_out, time.monotonic() - started)

    def close(self) -> None:
        """Kill every child still running (a stopping sweep); the fork server exits with us."""
        with self._lock:
            self._closed = True
            live = list(self._live)
        for process in live:
            kill_group(process.pid)


class ForkServerStarter(_MultiprocessStarter):
    """Forks each child from a server that imported the program's modules once."""

    method = "forkserver"

    def __init__(self, preload: Sequence[str] = ()) -> None:
        super().__init__()
        self._preload(["crashkit._worker", *preload])
        # Read (and removed) by crashkit._worker in the fork server: see its docstring.
        os.environ[PATH_VARIABLE] = os.pathsep.join(sys.path)

    @staticmethod
    def _preload(modules: list[str]) -> None:
        """Preload ``modules`` too. The fork server is one per process and reads its preload
        list when it starts, so one running without them is stopped and the next child starts
        a new one; unless children are running (they would die with it), in which case each
        child imports the missing modules itself."""
        server = multiprocess.forkserver._forkserver
        loaded = [m for m in server._preload_modules if m != "__main__"]
        wanted = list(dict.fromkeys([*loaded, *modules]))
        with server._lock:
            running = server._forkserver_pid is not None
            if running and _LIVE:
                return  # its children would die with it: they import what is missing
            if running and set(wanted) - set(loaded):
                server._stop_unlocked()
            server.set_forkserver_preload(wanted)


class FreshInterpreterStarter(_MultiprocessStarter):
    """Starts a new interpreter for every child (slow; the naive baseline)."""

    method = "spawn"


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


def make_starter(fresh_interpreter: bool, preload: Sequence[str] = ()) -> ChildStarter:
    """The fork server, or with ``fresh_interpreter`` a new interpreter per child."""
    if fresh_interpreter:
        return FreshInterpreterStarter()
    return ForkServerStarter(preload)
