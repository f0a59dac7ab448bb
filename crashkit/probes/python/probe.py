"""The probe: sees every durable operation of the program under test, in order.

The probe patches, once per worker process and before the program's modules
are imported, every public route Python offers to make state durable:

* files: ``open``/``io.open`` (so ``pathlib`` and ``tempfile`` too), ``os.open``,
  ``os.write``/``pwrite``/``writev``/``pwritev``/``sendfile``, ``os.truncate``/
  ``ftruncate``, ``os.rename``/``replace``, ``os.unlink``/``remove``,
  ``os.mkdir``/``rmdir``, ``os.link``/``symlink``, ``os.fsync``/``fdatasync``
  (``shutil`` and ``os.makedirs`` go through these);
* SQLite through the stdlib ``sqlite3``: a statement that makes state durable
  (COMMIT, ``Connection.commit``, leaving ``with conn:``, or a write statement
  outside a transaction);
* HTTP through httpx: every POST/PATCH/PUT/DELETE sent by a ``Client`` or
  ``AsyncClient``;
* explicit markers: :func:`point`.

Patching happens at import of the worker (:func:`install_patches`), so even a
module that did ``from os import replace`` sees the patched function; the
patches do nothing until a :class:`Probe` is activated in a child. Only
operations on paths inside the world count: crashkit's own files, the fake
remote's store (which runs under :func:`crashkit.probes.quiet.quiet`) and anything
outside the world are never points.

What is not seen: writes through ``mmap``, C extensions that call the OS
directly (SQLite's own file I/O is represented by its statements), and
subprocesses the program starts.
"""

from __future__ import annotations

import builtins
import fcntl
import functools
import inspect
import io
import os
import re
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

__all__ = [
    "InjectedResponse",
    "LoseResponse",
    "Payload",
    "Probe",
    "activate",
    "deactivate",
    "install_patches",
    "point",
]

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


class LoseResponse(Exception):
    """Raised by a fault: send the request, then lose its answer (a read timeout)."""


_MUTATING_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


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


_active: Probe | None = None
_installed = False


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
        self._lock = threading.RLock()
        self._frame_cache: dict[tuple[str, str], bool] = {}
        self._library_dirs = list(_library_dirs())

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
                self.count, kind, target, function, file, line, {**(detail or {}), "stack": stack}
            )
            self.sink(op)
            if self.decide is not None:
                self.decide(op, payload)

    def relative(
        self, path: str | bytes | os.PathLike[Any], dir_fd: int | None = None
    ) -> str | None:
        """The world-relative form of ``path``, or None when it lies outside the world."""
        text = os.fsdecode(os.fspath(path))
        if dir_fd is not None and not os.path.isabs(text):
            base = self.fd_path(dir_fd)
            if base is None:
                return None
            text = os.path.join(base, text)
        absolute = os.path.abspath(text)
        for root in self.roots:
            if absolute == root:
                return "."
            if absolute.startswith(root + os.sep):
                return absolute[len(root) + 1 :]
        return None

    def fd_path(self, fd: int) -> str | None:
        """The absolute path an open descriptor refers to (Linux ``/proc``), if any."""
        try:
            target = _Real.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return None
        return target.removesuffix(" (deleted)") if target.startswith("/") else None

    def fd_target(self, fd: Any) -> str | None:
        """The world-relative path of a descriptor (or object with ``fileno()``)."""
        if not isinstance(fd, int):
            try:
                fd = fd.fileno()
            except (AttributeError, OSError, ValueError):
                return None
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
        if module == "crashkit" or module.startswith("crashkit."):
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


#: crashkit's own folder: its frames are never the program's.
_CRASHKIT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@functools.cache
def _library_dirs() -> list[str]:
    """Folders of the standard library, installed packages and crashkit (computed once:
    in the fork server, so that no child pays for sysconfig's lazy import)."""
    paths = sysconfig.get_paths()
    names = ("stdlib", "platstdlib", "purelib", "platlib")
    dirs = {os.path.abspath(paths[n]) for n in names if n in paths}
    dirs.add(_CRASHKIT_DIR)
    return sorted(dirs)


# -- activation ----------------------------------------------------------------


def activate(probe: Probe) -> None:
    """Make ``probe`` the one that records in this process (patches are installed if needed)."""
    global _active
    install_patches()
    _active = probe


def deactivate() -> None:
    global _active
    _active = None


def _probe() -> Probe | None:
    """The active probe, unless the current thread is inside ``quiet()``."""
    probe = _active
    if probe is None or is_quiet():
        return None
    return probe


def point(label: str) -> None:
    """Mark a crash point the probe cannot see by itself (a no-op outside crashkit).

    Args:
        label: names the point in traces and reports, e.g. ``"before-cache-flush"``.
    """
    probe = _probe()
    if probe is not None:
        probe.record("mark", label)


def kill_self() -> None:
    """SIGKILL this process: no finally block, atexit handler or buffered flush runs."""
    _Real.kill(os.getpid(), signal.SIGKILL)


# -- files ---------------------------------------------------------------------


def _record_path(kind: str, path: Any, dir_fd: int | None = None, **detail: Any) -> None:
    probe = _probe()
    if probe is None:
        return
    target = probe.relative(path, dir_fd)
    if target is not None:
        probe.record(kind, target, detail or None)


def _record_fd(kind: str, fd: Any, **detail: Any) -> None:
    probe = _probe()
    if probe is None:
        return
    target = probe.fd_target(fd)
    if target is not None:
        probe.record(kind, target, detail or None)


def _record_write(fd: int, data: Any, offset: int | None = None) -> None:
    """Record a write of ``data`` to ``fd`` (at ``offset``, or at the descriptor's position)."""
    probe = _probe()
    if probe is None:
        return
    target = probe.fd_target(fd)
    if target is None:
        return
    view = memoryview(data)
    payload = None
    if probe.want_data:
        where = offset if offset is not None else _position(fd)
        payload = Payload(fd=fd, data=view.tobytes(), offset=where)
    detail: dict[str, Any] = {"bytes": view.nbytes}
    if offset is not None:
        detail["offset"] = offset
    probe.record("fs.write", target, detail, payload)


def _position(fd: int) -> int | None:
    """Where a plain write to ``fd`` lands: its position, or None (the end) when appending."""
    try:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND:
            return None
        return os.lseek(fd, 0, os.SEEK_CUR)
    except OSError:
        return None


def _exists(path: Any, dir_fd: int | None = None) -> bool:
    try:
        os.stat(path, dir_fd=dir_fd)
    except (OSError, ValueError):
        return False
    return True


def _record_open(path: Any, creating: bool, truncating: bool, dir_fd: int | None = None) -> None:
    if _probe() is None or not (creating or truncating) or isinstance(path, int):
        return
    exists = _exists(path, dir_fd)
    if creating and not exists:
        _record_path("fs.create", path, dir_fd)
    elif truncating and exists:
        _record_path("fs.trunc", path, dir_fd)


def _os_open(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
    _record_open(path, bool(flags & os.O_CREAT), bool(flags & os.O_TRUNC), dir_fd)
    return _Real.os_open(path, flags, mode, dir_fd=dir_fd)


class _ProbedFileIO(io.FileIO):
    """A raw file whose writes (the ones that reach the OS) are recorded."""

    def write(self, data: Any, /) -> int:
        _record_write(self.fileno(), data)
        return super().write(data)

    def truncate(self, size: int | None = None, /) -> int:
        _record_fd("fs.truncate", self, size=size)
        return super().truncate(size)


_MODE = re.compile(r"^(?=[^rwxa]*[rwxa][^rwxa]*$)[rwxabt+]+$")


def _open(
    file: Any,
    mode: str = "r",
    buffering: int = -1,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    closefd: bool = True,
    opener: Callable[[str, int], int] | None = None,
) -> Any:
    """``io.open`` with the raw layer swapped for :class:`_ProbedFileIO` when writing.

    Mirrors the layering of ``_pyio.open``. Reads, odd modes and invalid calls go to the
    real ``open`` untouched, so its errors and fast paths stay exactly as they are.
    """
    writes = any(c in mode for c in "wxa+")
    if _probe() is None or not writes or not isinstance(mode, str) or not _MODE.match(mode):
        return _Real.open(file, mode, buffering, encoding, errors, newline, closefd, opener)
    if not isinstance(file, int):
        file = os.fspath(file)
    if opener is None:  # an opener opens by itself (through os.open, which is recorded)
        _record_open(file, creating=any(c in mode for c in "wxa"), truncating="w" in mode)
    raw_mode = "".join(c for c in "xrwa+" if c in mode)
    raw = _ProbedFileIO(file, raw_mode, closefd, opener=opener)
    try:
        return _layer(raw, mode, buffering, encoding, errors, newline)
    except BaseException:
        raw.close()
        raise


def _layer(
    raw: io.FileIO,
    mode: str,
    buffering: int,
    encoding: str | None,
    errors: str | None,
    newline: str | None,
) -> Any:
    line_buffering = buffering == 1 or (buffering < 0 and raw.isatty())
    if buffering == 1 or buffering < 0:
        buffering = io.DEFAULT_BUFFER_SIZE
        try:
            blksize = os.fstat(raw.fileno()).st_blksize
        except OSError:
            blksize = 0
        if blksize > 1:
            buffering = blksize
    if buffering == 0:
        if "b" in mode:
            return raw
        raise ValueError("can't have unbuffered text I/O")
    buffer: io.BufferedIOBase
    buffer = io.BufferedRandom(raw, buffering) if "+" in mode else io.BufferedWriter(raw, buffering)
    if "b" in mode:
        return buffer
    text = io.TextIOWrapper(
        buffer,
        io.text_encoding(encoding),
        errors,
        newline,
        line_buffering,
    )
    text.mode = mode  # type: ignore[misc]
    return text


def _write(fd: int, data: Any, /) -> int:
    _record_write(fd, data)
    return _Real.write(fd, data)


def _pwrite(fd: int, data: Any, offset: int, /) -> int:
    _record_write(fd, data, offset)
    return _Real.pwrite(fd, data, offset)


def _writev(fd: int, buffers: Any, /) -> int:
    buffers = list(buffers)
    _record_write(fd, b"".join(bytes(memoryview(b)) for b in buffers))
    return _Real.writev(fd, buffers)


def _pwritev(fd: int, buffers: Any, offset: int, flags: int = 0, /) -> int:
    buffers = list(buffers)
    _record_write(fd, b"".join(bytes(memoryview(b)) for b in buffers), offset)
    assert _Real.pwritev is not None
    return int(_Real.pwritev(fd, buffers, offset, flags))


def _sendfile(out_fd: int, in_fd: int, offset: int | None, count: int, *a: Any, **k: Any) -> int:
    # shutil calls sendfile until it returns 0: a call at end of input writes nothing.
    start = os.lseek(in_fd, 0, os.SEEK_CUR) if offset is None else offset
    remaining = os.fstat(in_fd).st_size - start
    if remaining > 0:  # "via": no payload, so the torn fault cannot tear it
        _record_fd("fs.write", out_fd, bytes=min(count, remaining), via="sendfile")
    assert _Real.sendfile is not None
    return int(_Real.sendfile(out_fd, in_fd, offset, count, *a, **k))


def _copy_file_range(src: int, dst: int, count: int, *args: Any, **kwargs: Any) -> int:
    _record_fd("fs.write", dst, bytes=count, via="copy_file_range")
    assert _Real.copy_file_range is not None
    return int(_Real.copy_file_range(src, dst, count, *args, **kwargs))


def _truncate(path: Any, length: int) -> None:
    if isinstance(path, int):
        _record_fd("fs.truncate", path, size=length)
    else:
        _record_path("fs.truncate", path, size=length)
    _Real.truncate(path, length)


def _ftruncate(fd: int, length: int, /) -> None:
    _record_fd("fs.truncate", fd, size=length)
    _Real.ftruncate(fd, length)


def _record_move(src: Any, dst: Any, src_dir_fd: int | None, dst_dir_fd: int | None) -> None:
    probe = _probe()
    if probe is None:
        return
    source = probe.relative(src, src_dir_fd)
    dest = probe.relative(dst, dst_dir_fd)
    if source is not None or dest is not None:
        probe.record("fs.rename", f"{source or src} -> {dest or dst}")


def _rename(
    src: Any, dst: Any, *, src_dir_fd: int | None = None, dst_dir_fd: int | None = None
) -> None:
    _record_move(src, dst, src_dir_fd, dst_dir_fd)
    _Real.rename(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)


def _replace(
    src: Any, dst: Any, *, src_dir_fd: int | None = None, dst_dir_fd: int | None = None
) -> None:
    _record_move(src, dst, src_dir_fd, dst_dir_fd)
    _Real.replace(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)


def _unlink(path: Any, *, dir_fd: int | None = None) -> None:
    _record_path("fs.unlink", path, dir_fd)
    _Real.unlink(path, dir_fd=dir_fd)


def _mkdir(path: Any, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
    _record_path("fs.mkdir", path, dir_fd)
    _Real.mkdir(path, mode, dir_fd=dir_fd)


def _rmdir(path: Any, *, dir_fd: int | None = None) -> None:
    _record_path("fs.rmdir", path, dir_fd)
    _Real.rmdir(path, dir_fd=dir_fd)


def _link(src: Any, dst: Any, **kwargs: Any) -> None:
    _record_path("fs.create", dst, kwargs.get("dst_dir_fd"))
    _Real.link(src, dst, **kwargs)


def _symlink(src: Any, dst: Any, target_is_directory: bool = False, **kwargs: Any) -> None:
    _record_path("fs.create", dst, kwargs.get("dir_fd"))
    _Real.symlink(src, dst, target_is_directory, **kwargs)


def _fsync(fd: Any) -> None:
    _record_fd("fs.fsync", fd)
    _Real.fsync(fd)


def _fdatasync(fd: Any) -> None:
    _record_fd("fs.fdatasync", fd)
    _Real.fdatasync(fd)


_OS_PATCHES: dict[str, Callable[..., Any]] = {
    "open": _os_open,
    "write": _write,
    "pwrite": _pwrite,
    "writev": _writev,
    "truncate": _truncate,
    "ftruncate": _ftruncate,
    "rename": _rename,
    "replace": _replace,
    "unlink": _unlink,
    "remove": _unlink,
    "mkdir": _mkdir,
    "rmdir": _rmdir,
    "link": _link,
    "symlink": _symlink,
    "fsync": _fsync,
    "fdatasync": _fdatasync,
}
if _Real.pwritev is not None:
    _OS_PATCHES["pwritev"] = _pwritev
if _Real.sendfile is not None:
    _OS_PATCHES["sendfile"] = _sendfile
if _Real.copy_file_range is not None:
    _OS_PATCHES["copy_file_range"] = _copy_file_range


# -- SQLite ----------------------------------------------------------------------

_LEADING_COMMENTS = re.compile(r"^(\s|--[^\n]*(\n|$)|/\*.*?\*/)*", re.S)
_COMMIT = re.compile(r"(COMMIT|END)\b", re.I)
_DML = re.compile(r"(INSERT|UPDATE|DELETE|REPLACE)\b", re.I)
# Only the pragmas that change the database file; the others set up the connection.
_OTHER_WRITE = re.compile(
    r"(CREATE|DROP|ALTER|VACUUM|REINDEX|ANALYZE|PRAGMA\s+(\w+\.)?"
    r"(user_version|application_id|journal_mode|page_size|auto_vacuum)\s*=)",
    re.I,
)
_CTE_WRITE = re.compile(r"WITH\b.*\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.I | re.S)


def _statement_kind(sql: str, connection: sqlite3.Connection) -> str | None:
    """``sql.commit`` / ``sql.exec`` when running ``sql`` now makes state durable, else None.

    Follows the 3.11 ``sqlite3`` transaction rules: with ``isolation_level`` not None, the
    module opens a transaction before INSERT/UPDATE/DELETE/REPLACE and leaves other
    statements in autocommit mode.
    """
    text = _LEADING_COMMENTS.sub("", sql, count=1)
    if _COMMIT.match(text):
        return "sql.commit" if connection.in_transaction else None
    is_dml = bool(_DML.match(text) or _CTE_WRITE.match(text))
    if not (is_dml or _OTHER_WRITE.match(text)) or connection.in_transaction:
        return None
    if is_dml and connection.isolation_level is not None:
        return None  # the implicit BEGIN makes it durable only at COMMIT
    return "sql.exec"


def _db_target(database: Any) -> str | None:
    probe = _probe()
    if probe is None or isinstance(database, int):
        return None
    name = os.fsdecode(os.fspath(database))
    if name.startswith("file:"):
        name = name[5:].split("?", 1)[0]
    if name in ("", ":memory:") or "mode=memory" in os.fsdecode(os.fspath(database)):
        return None
    return probe.relative(name)


class _ProbedConnection(sqlite3.Connection):
    """Mixin base for probed connections; ``_crashkit_db`` is the world-relative database."""

    _crashkit_db: str | None = None

    def _crashkit_statement(self, sql: str) -> None:
        if self._crashkit_db is None:
            return
        kind = _statement_kind(sql, self)
        probe = _probe()
        if kind is not None and probe is not None:
            probe.record(kind, self._crashkit_db, {"sql": " ".join(sql.split())[:200]})

    def _crashkit_script(self, script: str) -> None:
        probe = _probe()
        if self._crashkit_db is None or probe is None:
            return
        text = _LEADING_COMMENTS.sub("", script, count=1)
        writes = re.search(
            r"\b(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|COMMIT|END)\b", text, re.I
        )
        if self.in_transaction or writes:
            probe.record("sql.script", self._crashkit_db, {"sql": " ".join(script.split())[:200]})

    def _crashkit_commit(self) -> None:
        probe = _probe()
        if self._crashkit_db is not None and probe is not None and self.in_transaction:
            probe.record("sql.commit", self._crashkit_db, {"sql": "COMMIT"})

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _ProbedCursor)

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        self._crashkit_statement(sql)
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        self._crashkit_statement(sql)
        return super().executemany(sql, parameters)

    def executescript(self, script: str, /) -> Any:
        self._crashkit_script(script)
        return super().executescript(script)

    def commit(self) -> None:
        self._crashkit_commit()
        super().commit()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any, /) -> Any:
        if exc_type is None:
            self._crashkit_commit()
        return super().__exit__(exc_type, exc, tb)


class _ProbedCursor(sqlite3.Cursor):
    def _conn(self) -> _ProbedConnection | None:
        conn = self.connection
        return conn if isinstance(conn, _ProbedConnection) else None

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        conn = self._conn()
        if conn is not None:
            conn._crashkit_statement(sql)
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        conn = self._conn()
        if conn is not None:
            conn._crashkit_statement(sql)
        return super().executemany(sql, parameters)

    def executescript(self, script: str, /) -> Any:
        conn = self._conn()
        if conn is not None:
            conn._crashkit_script(script)
        return super().executescript(script)


_connection_classes: dict[type, type] = {sqlite3.Connection: _ProbedConnection}


def _probed_factory(factory: type) -> type:
    if issubclass(factory, _ProbedConnection):
        return factory
    probed = _connection_classes.get(factory)
    if probed is None:
        probed = type(f"Probed{factory.__name__}", (_ProbedConnection, factory), {})
        _connection_classes[factory] = probed
    return probed


def _connect(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
    target = _db_target(database)
    if target is None:
        connection: sqlite3.Connection = _Real.connect(database, *args, **kwargs)
        return connection
    factory = kwargs.pop("factory", sqlite3.Connection)
    probed: _ProbedConnection = _Real.connect(
        database, *args, factory=_probed_factory(factory), **kwargs
    )
    probed._crashkit_db = target
    return probed


# -- HTTP ------------------------------------------------------------------------


def _record_request(request: httpx.Request) -> None:
    probe = _probe()
    if probe is not None and request.method in _MUTATING_METHODS:
        probe.record(
            f"http.{request.method.lower()}",
            f"{request.method} {request.url.path}",
            {"url": str(request.url)},
            Payload(request=request),
        )


def _lost(request: httpx.Request) -> httpx.ReadTimeout:
    return httpx.ReadTimeout(
        "crashkit: the response was lost (the remote applied the request)", request=request
    )


def _send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
    try:
        _record_request(request)
    except InjectedResponse as injected:
        return injected.response
    except LoseResponse:
        _Real.send(self, request, **kwargs).close()
        raise _lost(request) from None
    return _Real.send(self, request, **kwargs)


async def _async_send(
    self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any
) -> httpx.Response:
    try:
        _record_request(request)
    except InjectedResponse as injected:
        return injected.response
    except LoseResponse:
        await (await _Real.async_send(self, request, **kwargs)).aclose()
        raise _lost(request) from None
    return await _Real.async_send(self, request, **kwargs)


# -- installation ----------------------------------------------------------------


def install_patches() -> None:
    """Patch the durable routes in this process (idempotent; inert until :func:`activate`).

    Call it before the program's modules are imported, so that names they bound with
    ``from os import ...`` are the patched ones too.
    """
    global _installed
    if _installed:
        return
    _library_dirs()  # warm (see there)
    for name, function in _OS_PATCHES.items():
        setattr(os, name, function)
    builtins.open = _open
    io.open = _open
    sqlite3.connect = sqlite3.dbapi2.connect = _connect  # type: ignore[assignment]
    httpx.Client.send = _send  # type: ignore[method-assign]
    httpx.AsyncClient.send = _async_send  # type: ignore[method-assign]
    _installed = True


def uninstall_patches() -> None:
    """Undo :func:`install_patches` (used by crashkit's own tests)."""
    global _installed
    for name in _OS_PATCHES:
        setattr(os, name, getattr(_Real, _REAL_NAMES.get(name, name)))
    builtins.open = _Real.open
    io.open = _Real.open
    sqlite3.connect = sqlite3.dbapi2.connect = _Real.connect
    httpx.Client.send = _Real.send  # type: ignore[method-assign]
    httpx.AsyncClient.send = _Real.async_send  # type: ignore[method-assign]
    _installed = False


_REAL_NAMES = {"open": "os_open"}
