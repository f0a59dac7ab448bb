"""One command run under the syscall probe: the supervisor's loop.

The child that runs a phase starts the command with the filter installed between fork
and exec (the listener descriptor comes back over a socket pair, before exec, so that
no stopped call can wait for a supervisor that is not there yet). A thread answers each
stopped call in the order they arrive: it decodes the call, and when the call changes
something inside the world it records the operation and lets the fault decide, while
the caller waits. The loopback fake remote asks the same session before it applies a
mutating request (:meth:`Session.request`), under the same lock, so file, SQLite and
HTTP operations share one index, in true order.

A kill at a point is a SIGKILL of the whole process tree, the supervisor included,
while the caller still waits in the kernel: the call never runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import itertools
import os
import select
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crashkit.model.operation import Operation
from crashkit.probes.python.core import InjectedOSError, Payload, _Real, add_kill_hook
from crashkit.probes.syscall import process
from crashkit.probes.syscall.calls import Call, decode
from crashkit.probes.syscall.seccomp import (
    ARCH,
    Notification,
    SeccompUnavailable,
    answer,
    build_filter,
    install_filter,
    receive,
    still_waiting,
)
from crashkit.probes.syscall.sqlite import Transactions

__all__ = ["TREE_VARIABLE", "ProbeUnavailable", "Session", "active", "kill_command", "kill_tree"]

#: In a command's environment: which run of a command a process belongs to, so that its
#: orphans (adopted by the supervisor) are told from the supervisor's other children.
TREE_VARIABLE = "CRASHKIT_COMMAND"

Sink = Callable[[Operation], None]
Decide = Callable[[Operation, Payload | None], None]

#: Paths that are devices or kernel files, never a program's state.
_NOT_STATE = ("/dev/", "/proc/", "/sys/")
#: How often the loop looks up from the listener to see whether the program ended (s).
_POLL = 0.05
#: SQLite's header and a WAL header fit in this: read of every SQLite write.
_HEAD = 32
_PR_SET_CHILD_SUBREAPER = 36


class ProbeUnavailable(RuntimeError):
    """This machine cannot run a command under the syscall probe."""


_active: Session | None = None


def active() -> Session | None:
    """The session recording in this process, if any."""
    return _active


class Session:
    """Records the durable operations of commands run in one world.

    Args:
        roots: the world's root in every form a path may take (the stable path first).
        sink: receives each operation as it is recorded, before it runs.
        decide: called after ``sink``, with the payload: returns to let the operation run,
            raises OSError to fail it with that errno, or kills the process tree.
        want_data: capture written bytes in payloads (torn writes, power loss).
        escape: told once of each file the program changes outside the world.
        warn: told once of each thing the probe cannot see (a writable shared mapping of
            a world file, io_uring).
    """

    def __init__(
        self,
        roots: Sequence[str],
        sink: Sink,
        decide: Decide | None = None,
        *,
        want_data: bool = False,
        escape: Sink | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        if ARCH is None:
            raise ProbeUnavailable(
                f"the syscall probe has no system call table for {os.uname().machine}; "
                "it supports x86_64 and aarch64"
            )
        self.arch = ARCH
        self.roots = tuple(dict.fromkeys(os.path.normpath(r) for r in roots))
        self.sink = sink
        self.decide = decide
        self.want_data = want_data
        self.escape = escape
        self.warn = warn
        self.count = 0
        self.lock = threading.RLock()
        self.sqlite = Transactions()
        self._escaped: set[tuple[str, str]] = set()
        self._warned: set[str] = set()
        self._filter = build_filter(self.arch)
        self._failure: BaseException | None = None
        self._tag_value, self.tag = new_tag()
        #: This process's children before the command started (the others are its own).
        self._before: frozenset[int] = frozenset()
        #: The running command's first process (None between commands).
        self.root: int | None = None

    # -- lifetime ---------------------------------------------------------------

    def __enter__(self) -> Session:
        global _active
        _active = self
        add_kill_hook(kill_tree)
        return self

    def __exit__(self, *exc: object) -> None:
        global _active
        _active = None

    # -- running a command ------------------------------------------------------

    def run(self, argv: Sequence[str], env: Mapping[str, str], cwd: str) -> int:
        """Run ``argv`` to its end under the probe; its exit status (minus a signal).

        When the command's first process ends, whatever it left running is killed: the
        phase is over.

        Raises:
            ProbeUnavailable: seccomp user notification is not available here.
            FileNotFoundError: the program does not exist.
        """
        _become_subreaper()
        self._before = frozenset(_children(os.getpid()))
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        done = threading.Event()
        thread = threading.Thread(
            target=self._receive, args=(ours, done), name="crashkit-syscall-probe", daemon=True
        )
        thread.start()
        try:
            child = subprocess.Popen(
                list(argv),
                env={**env, TREE_VARIABLE: self._tag_value},
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                preexec_fn=_installer(self._filter, theirs),
                pass_fds=(theirs.fileno(),),
            )
            self.root = child.pid
            theirs.close()
            status = child.wait()
            self.root = None  # reaped: its pid may be another process's now
        finally:
            theirs.close()
            done.set()
            kill_command(self.tag, self.root, self._before)
            self.root = None
            ours.shutdown(socket.SHUT_RDWR)
            thread.join()
            ours.close()
        if self._failure is not None:
            raise self._failure
        return status

    def _receive(self, ours: socket.socket, done: threading.Event) -> None:
        """The probe's thread: the listener from the program's process, then its calls."""
        try:
            message, fds, _, _ = socket.recv_fds(ours, 512, 1)
        except OSError:
            return
        if not fds:
            if message.startswith(b"error "):
                self._failure = ProbeUnavailable(
                    "seccomp user notification is not available here ("
                    + message[6:].decode(errors="replace")
                    + "); black-box mode needs Linux 5.5 or newer with seccomp enabled"
                )
            return
        try:
            self._serve(fds[0], done)
        finally:
            os.close(fds[0])

    def _serve(self, listener: int, done: threading.Event) -> None:
        poller = select.poll()
        poller.register(listener, select.POLLIN)
        while True:
            events = poller.poll(_POLL * 1000)
            if not events:
                if done.is_set():
                    return
                continue
            if any(e & (select.POLLHUP | select.POLLERR) for _, e in events) and not any(
                e & select.POLLIN for _, e in events
            ):
                return  # every process under the filter is gone
            notification = receive(listener)
            if notification is None:
                continue
            try:
                error = self._handle(listener, notification)
            except BaseException as failure:  # crashkit's own bug: the program must not run on
                self.fail(failure)
                return
            answer(listener, notification, error)

    # -- one stopped call -------------------------------------------------------

    def _handle(self, listener: int, n: Notification) -> int:
        """Decode, record and decide one call; the errno to fail it with (0: let it run)."""
        with process.Memory(n.pid) as memory:
            call = decode(self.arch, n, memory)
            if call.kind is None:
                return 0
            facts = self._facts(call, memory)
        if facts is None or not still_waiting(listener, n):
            return 0  # not the world's, or the caller died while it was read
        with self.lock:
            self._place(facts)
            self.count += 1
            name = process.name_of(call.pid)
            op = Operation(
                self.count, facts.kind, facts.target, name, call.syscall, 0, facts.detail
            )
            self.sink(op)
            return self._decide(op, facts)

    def _decide(self, op: Operation, facts: _Facts) -> int:
        """Let the fault act on ``op`` while its caller waits; the errno it injects."""
        if self.decide is None:
            return 0
        payload = facts.payload()
        try:
            self.decide(op, payload)
        except InjectedOSError as error:
            return error.errno or errno.EIO
        finally:
            if payload is not None and payload.fd is not None:
                os.close(payload.fd)
        return 0

    def _place(self, facts: _Facts) -> None:
        """Which SQLite transaction the operation belongs to (under the lock, in order)."""
        path = facts.paths[-1]
        database = None
        if facts.kind != "fs.syncfs":
            database = self.sqlite.database(path, facts.head, facts.detail.get("offset"))
        self.sqlite.place(database, path, facts.kind, facts.detail, facts.head)
        if database is not None:
            facts.detail["sqlite"] = self.relative(database) or database

    def _facts(self, call: Call, memory: process.Memory) -> _Facts | None:
        """What the call does to the world; None when it is not the world's (then escapes
        and warnings are noted)."""
        assert call.kind is not None
        paths = call.paths
        if call.fd is not None:
            path = process.fd_path(call.pid, call.fd)
            if path is None or path.endswith(" (deleted)"):
                # A pipe, a socket, an anonymous file; or one with no name left (removed,
                # or O_TMPFILE not yet linked: it is seen when linked). /proc names such a
                # file after its inode, which would differ in every run.
                return None
            paths = (path,)
        if call.kind in ("mmap", "io_uring"):
            self._blind_spot(call, paths)
            return None
        if any(self.sqlite.is_index(p) for p in paths):
            return None
        if call.kind == "fs.syncfs":
            paths = (self.roots[0],)  # sync() and syncfs() make the world durable as a whole
        relative = [self.relative(p) for p in paths]
        if all(r is None for r in relative):
            if call.kind not in ("fs.fsync", "fs.fdatasync", "fs.sync_file_range", "fs.syncfs"):
                self._outside(call, paths[-1])
            return None
        shown = (r if r is not None else p for r, p in zip(relative, paths, strict=True))
        detail = {**call.detail, "probe": "syscall", "pid": call.pid}
        detail["process"] = process.command_line(call.pid)
        facts = _Facts(call.kind, paths, " -> ".join(shown), detail)
        if call.kind == "fs.write":
            self._written(call, memory, facts)
        return facts

    def _written(self, call: Call, memory: process.Memory, facts: _Facts) -> None:
        """Where a write lands, whether it is synced at once, and its bytes: the first ones
        always (SQLite's headers are read from them), all of them when faults need them."""
        assert call.fd is not None
        position, flags = process.fd_info(call.pid, call.fd)
        offset = call.offset
        if offset is None or flags & self.arch.o_append:  # Linux appends, offset or not
            offset = _size(facts.paths[0]) if flags & self.arch.o_append else position
        facts.detail["offset"] = offset
        if flags & (self.arch.o_sync | self.arch.o_dsync):
            synced = flags & self.arch.o_sync == self.arch.o_sync
            facts.detail["flags"] = "O_SYNC" if synced else "O_DSYNC"
            facts.detail["synced"] = True
        facts.offset, facts.pid, facts.fd = offset, call.pid, call.fd
        if call.source is not None:
            data = _copied(call, memory, self.want_data)
            facts.detail["bytes"] = len(data) if self.want_data else _copy_length(call, memory)
        elif self.want_data:
            data = b"".join(memory.read(address, length) for address, length in call.pieces)
        else:
            address, length = call.pieces[0] if call.pieces else (0, 0)
            facts.head = memory.read(address, min(length, _HEAD))
            return
        facts.data, facts.head = data, data[:_HEAD]

    # -- the HTTP side ----------------------------------------------------------

    def request(self, method: str, path: str, url: str) -> None:
        """A mutating request reached the loopback fake: record it and let the fault act
        (raises what the fault raises: an injected answer, a lost response...)."""
        self.sqlite.place(None, "", "http", {}, b"")
        with self.lock:
            self.count += 1
            kind = f"http.{method.lower()}"
            detail = {"probe": "syscall", "url": url}
            op = Operation(self.count, kind, f"{method} {path}", "remote", "request", 0, detail)
            self.sink(op)
            if self.decide is not None:
                self.decide(op, None)

    def fail(self, error: BaseException) -> None:
        """crashkit itself failed while the program waited (not a fault): stop the program,
        and raise ``error`` from :meth:`run`."""
        if self._failure is None:
            self._failure = error
        kill_command(self.tag, self.root, self._before, reap=False)

    # -- paths ------------------------------------------------------------------

    def relative(self, path: str) -> str | None:
        """``path`` relative to the world, or None outside it."""
        for root in self.roots:
            if path == root:
                return "."
            if path.startswith(root + os.sep):
                return path[len(root) + 1 :]
        return None

    def _outside(self, call: Call, path: str) -> None:
        if self.escape is None or path.startswith(_NOT_STATE) or call.kind is None:
            return
        if (call.kind, path) in self._escaped:
            return
        self._escaped.add((call.kind, path))
        self.escape(Operation(0, call.kind, path, process.name_of(call.pid), call.syscall, 0))

    def _blind_spot(self, call: Call, paths: Sequence[str]) -> None:
        if call.kind == "io_uring":
            note = (
                f"{process.name_of(call.pid)} set up io_uring: writes submitted through it "
                "are not seen by the syscall probe"
            )
        else:
            inside = [p for p in paths if self.relative(p) is not None]
            if not inside or self.sqlite.is_index(inside[0]):
                return
            note = (
                f"{process.name_of(call.pid)} mapped {self.relative(inside[0])} shared and "
                "writable: writes through the mapping are not seen by the syscall probe"
            )
        if self.warn is not None and note not in self._warned:
            self._warned.add(note)
            self.warn(note)


@dataclass
class _Facts:
    """What a stopped call does to the world, as decoded before it is recorded."""

    kind: str
    #: Absolute paths (a rename: source, then destination).
    paths: tuple[str, ...]
    #: World-relative, as the operation names it.
    target: str
    detail: dict[str, Any]
    #: A write's first bytes (SQLite's headers), its bytes (when faults need them), where
    #: it lands, and whose descriptor it is.
    head: bytes = b""
    data: bytes | None = None
    offset: int | None = None
    pid: int = 0
    fd: int | None = None

    def payload(self) -> Payload | None:
        """The write for a fault to act on, with a descriptor of crashkit's own to the
        file (a torn write writes its first sectors through it); the caller closes it."""
        if self.data is None or self.fd is None:
            return None
        try:
            fd: int | None = _Real.os_open(
                f"/proc/{self.pid}/fd/{self.fd}", os.O_WRONLY | os.O_CLOEXEC
            )
        except OSError:
            fd = None
        return Payload(fd=fd, data=self.data, offset=self.offset)


def _copy_start(call: Call, memory: process.Memory) -> int:
    """Where a copy reads its source: the offset it points to, or the descriptor's position."""
    assert call.source is not None
    source, pointer = call.source
    if pointer:
        raw = memory.read(pointer, 8)
        if len(raw) == 8:
            return int.from_bytes(raw, "little", signed=True)
    return process.fd_info(call.pid, source)[0]


def _copy_length(call: Call, memory: process.Memory) -> int:
    """How many bytes a copy will write: what it asks for, up to the source's end."""
    assert call.source is not None
    start = _copy_start(call, memory)
    try:
        size = os.stat(f"/proc/{call.pid}/fd/{call.source[0]}").st_size
    except OSError:
        return 0
    return max(0, min(call.count, size - start))


def _copied(call: Call, memory: process.Memory, want: bool) -> bytes:
    """The bytes a copy (sendfile, copy_file_range) is about to write, read from its source
    (the power-loss model needs them as it needs a write's)."""
    if not want:
        return b""
    assert call.source is not None
    length = _copy_length(call, memory)
    try:
        fd = os.open(f"/proc/{call.pid}/fd/{call.source[0]}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return b""
    try:
        return os.pread(fd, length, _copy_start(call, memory))
    finally:
        os.close(fd)


def _installer(program: bytes, theirs: socket.socket) -> Callable[[], None]:
    """What runs in the program's process between fork and exec: install the filter and
    hand its listener to the supervisor (the socket keeps it alive until received)."""

    def install() -> None:
        assert ARCH is not None
        try:
            fd = install_filter(ARCH, program)
        except SeccompUnavailable as error:
            socket.send_fds(theirs, [f"error {error}".encode()], [])
            os._exit(126)
        socket.send_fds(theirs, [b"ok"], [fd])
        os.close(fd)
        theirs.close()

    return install


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _become_subreaper() -> None:
    """Orphans of the program come to this process, which kills them when it ends."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as file:
            found += [int(p) for p in file.read().split()]
    return found


def _tagged(pid: int, tag: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            return tag in environ.read().split(b"\0")
    except OSError:
        return False


def kill_command(
    tag: bytes, root: int | None, before: frozenset[int] = frozenset(), *, reap: bool = True
) -> None:
    """SIGKILL a command's processes: its first process's tree, and every process this one
    adopted (orphans come here: it is their subreaper) that was not its child before the
    command started or that carries ``tag`` in its environment; then reap those that were
    this process's children. Nothing else of this process's is touched (under pytest, say,
    other children live beside the command)."""
    seen: set[int] = set()
    ours: set[int] = set()
    for _ in range(3):  # a tree that forks while it is killed: look again
        pending = [
            p for p in _children(os.getpid()) if p == root or p not in before or _tagged(p, tag)
        ]
        ours.update(pending)
        killed = False
        while pending:
            pid = pending.pop()
            if pid in seen:
                continue
            seen.add(pid)
            pending += _children(pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed = True
        if not killed:
            break
    if reap:
        for pid in ours:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def kill_tree() -> None:
    """Before this process kills itself at a crash point: the program's tree first, so
    that no call it waits in runs once the supervisor is gone (a killed caller never
    returns to run it)."""
    session = _active
    if session is not None:
        kill_command(session.tag, session.root, session._before, reap=False)


_tags = itertools.count(1)


def new_tag() -> tuple[str, bytes]:
    """A fresh value for :data:`TREE_VARIABLE`, and its ``NAME=value`` form."""
    value = f"{os.getpid()}-{next(_tags)}"
    return value, f"{TREE_VARIABLE}={value}".encode()


def run_plain(argv: Sequence[str], env: Mapping[str, str], cwd: str) -> int:
    """Run a command without the probe (setup): its exit status."""
    _become_subreaper()
    before = frozenset(_children(os.getpid()))
    value, tag = new_tag()
    child = subprocess.Popen(
        list(argv), env={**env, TREE_VARIABLE: value}, cwd=cwd, stdin=subprocess.DEVNULL
    )
    try:
        return child.wait()
    finally:
        kill_command(tag, None, before)
