"""The recorder every patch reports to, and what the patches share.

:class:`Probe` turns a call into an :class:`~crashkit.model.operation.Operation`:
world-relative paths (descriptors resolved through ``/proc``), the program's
frame that caused it, an index. One probe at a time is active in a process
(:func:`active`); the patches do nothing while none is. :class:`_Real` keeps
the unpatched functions, captured at import, before anything is patched, for
crashkit's own writes and for the patches themselves.
"""

from __future__ import annotations

import functools
import inspect
import io
import os
import signal
import sqlite3
import sys
import sysconfig
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

import httpx

from crashkit.model.operation import Operation
from crashkit.probes.quiet import is_quiet

Sink = Callable[[Operation], None]


@dataclass(frozen=True)
class Payload:
    """What an operation is about to do, for faults that need more than its record.

    Data bytes are captured only when the probe is asked to (``want_data``): the torn-write
    and power-loss faults need them, the others do not pay for the copy.
    """

    fd: int | None = None
    data: bytes | None = None
    #: Where the data goes; None: at the descriptor's position (or its end, when appending).
    offset: int | None = None
    request: httpx.Request | None = None


#: What a fault does before an operation runs: return to let it run, raise to make it
#: fail (an :class:`InjectedResponse` or :class:`LoseResponse` for HTTP), or kill the process.
Decide = Callable[[Operation, Payload | None], None]


class InjectedResponse(Exception):
    """Raised by a fault to answer an HTTP request itself, without sending it."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class InjectedOSError(OSError):
    """An OSError a fault injects (the ``error`` fault), told from crashkit's own failures:
    the syscall probe fails the program's call with its errno, and only with it."""


class LoseResponse(Exception):
    """Raised by a fault: send the request, then lose its answer (a read timeout)."""


class _Real:
    """The unpatched functions, captured before anything is patched."""

    open = io.open
    os_open = os.open
    write = os.write
    pwrite = os.pwrite
    writev = os.writev
    pwritev = getattr(os, "pwritev", None)
    sendfile = getattr(os, "sendfile", None)
    copy_file_range = getattr(os, "copy_file_range", None)
    truncate = os.truncate
    ftruncate = os.ftruncate
    rename = os.rename
    replace = os.replace
    unlink = os.unlink
    remove = os.remove
    mkdir = os.mkdir
    rmdir = os.rmdir
    link = os.link
    symlink = os.symlink
    fsync = os.fsync
    fdatasync = os.fdatasync
    readlink = os.readlink
    connect = sqlite3.connect
    send = httpx.Client.send
    async_send = httpx.AsyncClient.send
    kill = os.kill


#: Paths that are devices or kernel files, never a program's state.
_NOT_STATE = ("/dev/", "/proc/", "/sys/")


class Probe:
    """Records the durable operations of one child and lets a fault act on each.

    Args:
        world: the world's root; only operations on paths below it count.
        sink: receives every operation as it is recorded (before it runs).
        decide: called after the sink, before the operation runs.
        program: module-name prefixes of the program under test, used to find the
            caller's source location; empty means "the first frame outside crashkit,
            the standard library and installed packages".
        program_files: source files that always count as the program (the scenario's).
        project_root: source files below it are shown relative to it.
    """

    def __init__(
        self,
        world: str | os.PathLike[str],
        sink: Sink,
        decide: Decide | None = None,
        *,
        program: Sequence[str] = (),
        program_files: Sequence[str] = (),
        project_root: str | os.PathLike[str] | None = None,
    ) -> None:
        self.roots = _root_forms(world)
        self.sink = sink
        self.decide = decide
        self.program = tuple(program)
        self.program_files = frozenset(os.path.abspath(f) for f in program_files)
        self.project_root = os.fspath(project_root) if project_root else os.getcwd()
        self.count = 0
        #: Capture written bytes in payloads (set by faults that need them).
        self.want_data = False
        #: Told once of each file the program changes outside the world (its kind, the
        #: absolute path and the caller), when set: a world must hold all its state.
        self.escape: Sink | None = None
        self._escaped: set[tuple[str, str]] = set()
        self._lock = threading.RLock()
        self._frame_cache: dict[tuple[str, str], bool] = {}
        self._library_dirs = list(library_dirs())

    # -- recording -------------------------------------------------------------

    def record(
        self,
        kind: str,
        target: str,
        detail: dict[str, Any] | None = None,
        payload: Payload | None = None,
    ) -> None:
        """Record one durable operation that is about to run, then let the fault act."""
        with self._lock:
            self.count += 1
            function, file, line, stack = self._caller()
            op = Operation(
                self.count,
                kind,
                target,
                function,
                file,
                line,
                {**(detail or {}), "stack": stack, "probe": "python"},
            )
            self.sink(op)
            if self.decide is not None:
                self.decide(op, payload)

    def outside(self, kind: str, absolute: str | None) -> None:
        """A file operation on ``absolute``, outside the world: tell :attr:`escape` (once
        per kind and path; devices and kernel files are not state)."""
        if self.escape is None or absolute is None or absolute.startswith(_NOT_STATE):
            return
        with self._lock:
            if (kind, absolute) in self._escaped:
                return
            self._escaped.add((kind, absolute))
            function, file, line, _ = self._caller()
            self.escape(Operation(0, kind, absolute, function, file, line))

    def absolute(
        self, path: str | bytes | os.PathLike[Any], dir_fd: int | None = None
    ) -> str | None:
        """``path`` made absolute (None when it is relative to a descriptor of no path)."""
        text = os.fsdecode(os.fspath(path))
        if dir_fd is not None and not os.path.isabs(text):
            base = self.fd_path(dir_fd)
            if base is None:
                return None
            text = os.path.join(base, text)
        return os.path.abspath(text)

    def relative(
        self, path: str | bytes | os.PathLike[Any], dir_fd: int | None = None
    ) -> str | None:
        """The world-relative form of ``path``, or None when it lies outside the world."""
        absolute = self.absolute(path, dir_fd)
        if absolute is None:
            return None
        for root in self.roots:
            if absolute == root:
                return "."
            if absolute.startswith(root + os.sep):
                return absolute[len(root) + 1 :]
        return None

    def fd_path(self, fd: Any) -> str | None:
        """The absolute path an open descriptor (or object with ``fileno()``) refers to,
        through Linux's ``/proc``, if it has one."""
        if not isinstance(fd, int):
            try:
                fd = fd.fileno()
            except (AttributeError, OSError, ValueError):
                return None
        try:
            target = _Real.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return None
        return target.removesuffix(" (deleted)") if target.startswith("/") else None

    def fd_target(self, fd: Any) -> str | None:
        """The world-relative path of a descriptor (or object with ``fileno()``)."""
        path = self.fd_path(fd)
        return None if path is None else self.relative(path)

    # -- caller location -------------------------------------------------------

    def _caller(self) -> tuple[str, str, int, list[str]]:
        """The program frame responsible for the operation, and the program's stack above it.

        The body of a ``@contextmanager`` (a transaction helper, say) is skipped for the frame
        whose ``with`` statement ran it: that is where the operation comes from.
        """
        found: list[FrameType] = []
        frame: FrameType | None = sys._getframe(2)
        while frame is not None and len(found) < _STACK_DEPTH:
            code = frame.f_code
            if self._is_program(frame.f_globals.get("__name__", ""), code.co_filename):
                found.append(frame)
            frame = frame.f_back
        if not found:
            return "?", "?", 0, []
        chosen = next((f for f in found if not _is_context_manager_body(f)), found[0])
        stack = [
            f"{f.f_code.co_name} ({self._short(f.f_code.co_filename)}:{f.f_lineno})" for f in found
        ]
        return chosen.f_code.co_name, self._short(chosen.f_code.co_filename), chosen.f_lineno, stack

    def _is_program(self, module: str, filename: str) -> bool:
        key = (module, filename)
        known = self._frame_cache.get(key)
        if known is None:
            known = self._classify(module, filename)
            self._frame_cache[key] = known
        return known

    def _classify(self, module: str, filename: str) -> bool:
        # crashkit's frames are never the program's, except the demo engine's: a program
        # shipped with crashkit as any user's is.
        own = module == "crashkit" or module.startswith("crashkit.")
        if own and not module.startswith("crashkit.demo."):
            return False
        if os.path.abspath(filename) in self.program_files:
            return True
        if self.program:
            return any(module == p or module.startswith(p + ".") for p in self.program)
        if filename.startswith("<"):
            return False
        absolute = os.path.abspath(filename)
        return not any(absolute.startswith(d + os.sep) for d in self._library_dirs)

    def _short(self, filename: str) -> str:
        absolute = os.path.abspath(filename)
        if absolute.startswith(self.project_root + os.sep):
            return os.path.relpath(absolute, self.project_root)
        for directory in self._library_dirs:
            if absolute.startswith(directory + os.sep):
                return os.path.relpath(absolute, directory)
        return absolute


#: How many program frames a record keeps (innermost first).
_STACK_DEPTH = 6


def _is_context_manager_body(frame: FrameType) -> bool:
    """Whether ``frame`` is a generator driven by contextlib (the body of a @contextmanager)."""
    caller = frame.f_back
    return (
        bool(frame.f_code.co_flags & inspect.CO_GENERATOR)
        and caller is not None
        and (caller.f_globals.get("__name__") == "contextlib")
    )


def _root_forms(world: str | os.PathLike[str]) -> tuple[str, ...]:
    """The world root as given and with symlinks resolved (e.g. /tmp on some systems)."""
    given = os.path.abspath(os.fspath(world))
    return tuple(dict.fromkeys([given, os.path.realpath(given)]))


#: crashkit's own folder, its top-level package (this file's path less one part per dot in
#: this module's name): its frames are never the program's.
_CRASHKIT_DIR = os.path.abspath(__file__).rsplit(os.sep, __name__.count("."))[0]


@functools.cache
def library_dirs() -> list[str]:
    """Folders of the standard library, installed packages and crashkit (computed once:
    in the fork server, so that no child pays for sysconfig's lazy import)."""
    paths = sysconfig.get_paths()
    names = ("stdlib", "platstdlib", "purelib", "platlib")
    dirs = {os.path.abspath(paths[n]) for n in names if n in paths}
    dirs.add(_CRASHKIT_DIR)
    return sorted(dirs)


# -- activation ----------------------------------------------------------------

_active: Probe | None = None


def set_active(probe: Probe | None) -> None:
    """Make ``probe`` the one the patches report to (None: they do nothing)."""
    global _active
    _active = probe


def active() -> Probe | None:
    """The active probe, unless the current thread is inside ``quiet()``."""
    probe = _active
    if probe is None or is_quiet():
        return None
    return probe


#: Called by :func:`kill_self` before the process dies (the syscall probe kills the
#: program it supervises first).
_kill_hooks: list[Callable[[], None]] = []


def add_kill_hook(hook: Callable[[], None]) -> None:
    """Have :func:`kill_self` call ``hook`` first (once per hook)."""
    if hook not in _kill_hooks:
        _kill_hooks.append(hook)


def kill_self() -> None:
    """SIGKILL this process: no finally block, atexit handler or buffered flush runs."""
    for hook in _kill_hooks:
        hook()
    _Real.kill(os.getpid(), signal.SIGKILL)
