"""The syscall probe (black-box mode) on real programs: each traced system call family,
process trees, paths outside the world, injected errors, SQLite's transactions, what it
cannot see, and the stable world path.

Each command runs under :class:`crashkit.probes.syscall.session.Session` directly. The
session runs in a forked copy of this process: it makes its process a child subreaper
and kills every descendant of it when the command ends, which must not reach the test
process's other children (the shared fork servers of other tests).

Exact system calls come from ``steps``, a tiny C program compiled at test time (one
argument per call); Python child programs (``sys.executable``) stand for a foreign
program where the route does not matter (forks, threads, exec, sendfile, io_uring).
"""

from __future__ import annotations

import ctypes
import errno
import os
import pickle
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from crashkit.faults import FAULTS
from crashkit.model.operation import Operation
from crashkit.probes.python.core import InjectedOSError, Payload, kill_self
from crashkit.probes.syscall.namespace import FORCE_FALLBACK, stable_world
from crashkit.probes.syscall.session import Session, active

# -- running a command under the probe -----------------------------------------------


@dataclass
class Traced:
    """What one command did, as the probe saw it."""

    status: int
    ops: list[Operation]
    escapes: list[Operation]
    warnings: list[str]
    #: Per decision: (index, payload data, payload offset, whether it had a descriptor).
    payloads: list[tuple[int, bytes | None, int | None, bool]] = field(default_factory=list)

    def kinds(self) -> list[tuple[str, str]]:
        return [(op.kind, op.target) for op in self.ops]

    def calls(self) -> list[tuple[str, str, str]]:
        """(kind, target, system call) of each operation."""
        return [(op.kind, op.target, op.file) for op in self.ops]


Decide = Callable[[Operation, Payload | None], None]


def trace(
    world: Path,
    argv: Sequence[str],
    decide: Decide | None = None,
    *,
    want_data: bool = False,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    roots: Sequence[str] | None = None,
) -> Traced:
    """Run ``argv`` in ``world`` under a probe session (in a forked copy of this
    process, see the module's docstring); what it recorded."""
    result, status = _forked(lambda: _trace_here(world, argv, decide, want_data, env, cwd, roots))
    assert result is not None, f"the session's process died (wait status {status})"
    assert isinstance(result, Traced), f"the session raised:\n{result}"
    return result


def _forked(body: Callable[[], object]) -> tuple[object | None, int]:
    """``body``'s result (or the traceback it raised) and the wait status of the forked
    child that ran it; None for a child that died before returning."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the forked copy
        os.close(read)
        signal.alarm(60)  # a probe that hangs fails its test instead of the whole run
        try:
            result = body()
        except BaseException:
            result = traceback.format_exc()
        with os.fdopen(write, "wb") as out:
            out.write(pickle.dumps(result))
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as source:
        data = source.read()
    _, status = os.waitpid(pid, 0)
    return (pickle.loads(data) if data else None), status


def _trace_here(
    world: Path,
    argv: Sequence[str],
    decide: Decide | None,
    want_data: bool,
    env: Mapping[str, str] | None,
    cwd: Path | None,
    roots: Sequence[str] | None,
) -> Traced:
    ops: list[Operation] = []
    escapes: list[Operation] = []
    warnings: list[str] = []
    payloads: list[tuple[int, bytes | None, int | None, bool]] = []

    def decide_and_note(op: Operation, payload: Payload | None) -> None:
        if payload is not None:
            payloads.append((op.index, payload.data, payload.offset, payload.fd is not None))
        if decide is not None:
            decide(op, payload)

    session = Session(
        list(roots or [str(world)]),
        ops.append,
        decide_and_note,
        want_data=want_data,
        escape=escapes.append,
        warn=warnings.append,
    )
    with session as running:
        assert active() is running
        status = running.run(list(argv), {**os.environ, **(env or {})}, str(cwd or world))
    assert active() is None
    return Traced(status, ops, escapes, warnings, payloads)


def python(code: str) -> list[str]:
    """A Python child program: traced by its system calls only, like any other."""
    return [sys.executable, "-B", "-c", textwrap.dedent(code)]


@pytest.fixture
def world(tmp_path: Path) -> Path:
    folder = tmp_path / "world"
    folder.mkdir()
    return folder


# -- exact system calls: the C helper --------------------------------------------------

STEPS_C = r"""
/* Each argument is one step, "name:arg:arg", made as one exact system call. A step that
   fails leaves a file failed-<step number>-<errno> in the current folder, and the
   program goes on. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static int fd = -1, dir = AT_FDCWD;

static int flags_of(const char *s) {
    int f = O_WRONLY;
    for (; s && *s; s++) {
        switch (*s) {
        case 'c': f |= O_CREAT; break;
        case 't': f |= O_TRUNC; break;
        case 'a': f |= O_APPEND; break;
        case 's': f |= O_SYNC; break;
        case 'd': f |= O_DSYNC; break;
        case 'r': f = (f & ~O_ACCMODE) | O_RDONLY; break;
        case 'R': f = (f & ~O_ACCMODE) | O_RDWR; break;
        case 'T': f = (f & ~O_ACCMODE) | O_RDWR | O_TMPFILE; break;
        }
    }
    return f;
}

static long step(char *text) {
    char *a[6] = {0};
    int n = 0;
    for (char *p = strtok(text, ":"); p && n < 6; p = strtok(NULL, ":")) a[n++] = p;
    const char *s = a[0];
    if (!strcmp(s, "dir")) return fd = dir = open(a[1], O_RDONLY | O_DIRECTORY);
#ifdef SYS_open
    if (!strcmp(s, "open")) return fd = syscall(SYS_open, a[1], flags_of(a[2]), 0644);
    if (!strcmp(s, "creat")) return fd = syscall(SYS_creat, a[1], 0644);
    if (!strcmp(s, "rename")) return syscall(SYS_rename, a[1], a[2]);
    if (!strcmp(s, "unlink")) return syscall(SYS_unlink, a[1]);
    if (!strcmp(s, "rmdir")) return syscall(SYS_rmdir, a[1]);
    if (!strcmp(s, "mkdir")) return syscall(SYS_mkdir, a[1], 0755);
    if (!strcmp(s, "link")) return syscall(SYS_link, a[1], a[2]);
    if (!strcmp(s, "symlink")) return syscall(SYS_symlink, a[1], a[2]);
#endif
    if (!strcmp(s, "openat")) return fd = syscall(SYS_openat, dir, a[1], flags_of(a[2]), 0644);
    if (!strcmp(s, "openat2")) {
        int flags = flags_of(a[2]);
        unsigned long long mode = flags & O_CREAT ? 0644 : 0;  /* refused without O_CREAT */
        struct { unsigned long long flags, mode, resolve; } how = {flags, mode, 0};
        return fd = syscall(SYS_openat2, dir, a[1], &how, sizeof how);
    }
    if (!strcmp(s, "write")) return syscall(SYS_write, fd, a[1], strlen(a[1]));
    if (!strcmp(s, "pwrite")) return syscall(SYS_pwrite64, fd, a[1], strlen(a[1]), atol(a[2]));
    if (!strncmp(s, "writev", 6) || !strncmp(s, "pwritev", 7)) {
        struct iovec v[2] = {{a[1], strlen(a[1])}, {a[2], strlen(a[2])}};
        if (!strcmp(s, "writev")) return syscall(SYS_writev, fd, v, 2);
        if (!strcmp(s, "pwritev")) return syscall(SYS_pwritev, fd, v, 2, atol(a[3]), 0);
        return syscall(SYS_pwritev2, fd, v, 2, atol(a[3]), atol(a[3]) < 0 ? -1 : 0, 0);
    }
    if (!strcmp(s, "truncate")) return syscall(SYS_truncate, a[1], atol(a[2]));
    if (!strcmp(s, "ftruncate")) return syscall(SYS_ftruncate, fd, atol(a[1]));
    if (!strcmp(s, "fallocate"))
        return syscall(SYS_fallocate, fd, atoi(a[1]), atol(a[2]), atol(a[3]));
    if (!strcmp(s, "renameat")) return syscall(SYS_renameat, dir, a[1], dir, a[2]);
    if (!strcmp(s, "renameat2")) {
        int how = !a[3] ? 0 : a[3][0] == 'n' ? 1 /* NOREPLACE */ : 2 /* EXCHANGE */;
        return syscall(SYS_renameat2, dir, a[1], dir, a[2], how);
    }
    if (!strcmp(s, "unlinkat")) return syscall(SYS_unlinkat, dir, a[1], 0);
    if (!strcmp(s, "rmdirat")) return syscall(SYS_unlinkat, dir, a[1], AT_REMOVEDIR);
    if (!strcmp(s, "mkdirat")) return syscall(SYS_mkdirat, dir, a[1], 0755);
    if (!strcmp(s, "linkat")) return syscall(SYS_linkat, dir, a[1], dir, a[2], 0);
    if (!strcmp(s, "linkfd")) { /* name the open file (an O_TMPFILE one) */
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        return syscall(SYS_linkat, AT_FDCWD, proc, dir, a[1], AT_SYMLINK_FOLLOW);
    }
    if (!strcmp(s, "symlinkat")) return syscall(SYS_symlinkat, a[1], dir, a[2]);
    if (!strcmp(s, "fsync")) return syscall(SYS_fsync, fd);
    if (!strcmp(s, "fdatasync")) return syscall(SYS_fdatasync, fd);
    if (!strcmp(s, "sfr")) return syscall(SYS_sync_file_range, fd, 0L, 0L, 2 /* WRITE */);
    if (!strcmp(s, "syncfs")) return syscall(SYS_syncfs, fd);
    if (!strcmp(s, "sync")) return syscall(SYS_sync);
    if (!strcmp(s, "close")) return close(fd);
    if (!strcmp(s, "mmap") || !strcmp(s, "mmapp")) {
        int how = !strcmp(s, "mmap") ? MAP_SHARED : MAP_PRIVATE;
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, how, fd, 0);
        return p == MAP_FAILED ? -1 : 0;
    }
    fprintf(stderr, "steps: unknown step %s\n", s);
    exit(2);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        char text[4096], name[64];
        snprintf(text, sizeof text, "%s", argv[i]);
        if (step(text) < 0) {
            snprintf(name, sizeof name, "failed-%d-%d", i, errno);
            close(open(name, O_WRONLY | O_CREAT, 0644));
        }
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def steps(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The compiled C helper (outside every world)."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler (gcc) on this machine: the exact-syscall tests need one")
    folder = tmp_path_factory.mktemp("steps")
    (folder / "steps.c").write_text(STEPS_C)
    program = folder / "steps"
    subprocess.run(
        [compiler, "-O0", "-Wall", "-o", str(program), str(folder / "steps.c")],
        check=True,
        capture_output=True,
    )
    return str(program)


#: The legacy path calls (open, creat, rename, unlink, mkdir, rmdir, link, symlink)
#: exist only on x86_64; aarch64 has only their *at forms.
legacy = pytest.mark.skipif(
    platform.machine() != "x86_64", reason="legacy path system calls exist only on x86_64"
)


def no_failures(world: Path) -> None:
    assert not [p.name for p in world.iterdir() if p.name.startswith("failed-")]


# -- each traced system call family ----------------------------------------------------


def test_openat_and_openat2_that_create_or_truncate_are_recorded_and_others_not(world, steps):
    (world / "old").write_text("old")
    traced = trace(
        world,
        [steps, "openat:new:c", "openat:old:c", "openat:old:t", "openat:old:r", "openat2:n2:c",
         "openat2:old:t", "openat:old:a", "openat:n3:ct"],
    )  # fmt: skip
    assert traced.status == 0
    no_failures(world)
    assert traced.calls() == [
        ("fs.create", "new", "openat"),
        ("fs.trunc", "old", "openat"),
        ("fs.create", "n2", "openat2"),
        ("fs.trunc", "old", "openat2"),
        ("fs.create", "n3", "openat"),
    ]
    assert all(op.detail["probe"] == "syscall" for op in traced.ops)


def test_creating_a_name_in_a_folder_that_does_not_exist_is_no_point(world, steps):
    # git tries its temporary object file first and makes the folder when that fails.
    (world / "f").write_text("f")
    traced = trace(
        world, [steps, "openat:sub/x:c", "linkat:f:sub/h", "mkdirat:sub", "openat:sub/x:c"]
    )
    assert traced.calls() == [
        ("fs.create", "failed-1-2", "openat"),  # the helper's own note of the ENOENT
        ("fs.create", "failed-2-2", "openat"),
        ("fs.mkdir", "sub", "mkdirat"),
        ("fs.create", "sub/x", "openat"),
    ]


@legacy
def test_legacy_open_and_creat(world, steps):
    (world / "old").write_text("old")
    traced = trace(world, [steps, "open:a:c", "open:old:t", "open:old:c", "creat:b", "creat:old"])
    no_failures(world)
    assert traced.calls() == [
        ("fs.create", "a", "open"),
        ("fs.trunc", "old", "open"),
        ("fs.create", "b", "creat"),
        ("fs.trunc", "old", "creat"),
    ]


def test_each_write_call_with_its_size_and_offset(world, steps):
    traced = trace(
        world,
        [steps, "openat:f:c", "write:hello", "pwrite:XY:1", "writev:12:345", "pwritev:ab:cd:2",
         "pwritev2:pq:rs:0", "pwritev2:uv:wx:-1", "openat:f:a", "write:!"],
    )  # fmt: skip
    no_failures(world)
    writes = [(op.file, op.detail["bytes"], op.detail["offset"]) for op in traced.ops[1:]]
    assert writes == [
        ("write", 5, 0),
        ("pwrite64", 2, 1),
        ("writev", 5, 5),  # at the descriptor's position
        ("pwritev", 4, 2),
        ("pwritev2", 4, 0),
        ("pwritev2", 4, 10),  # offset -1: the position, which pwritev2 moved
        ("write", 1, 14),  # O_APPEND: at the end of the file
    ]
    assert {op.kind for op in traced.ops[1:]} == {"fs.write"}
    assert (world / "f").read_text() == "pqrscd2345uvwx!"


def test_written_bytes_reach_the_fault_when_it_wants_them(world, steps):
    argv = [steps, "openat:f:c", "write:hello", "writev:12:345", "pwrite:Z:0"]
    with_data = trace(world, argv, want_data=True)
    assert [(i, data, offset) for i, data, offset, _ in with_data.payloads] == [
        (2, b"hello", 0),
        (3, b"12345", 5),
        (4, b"Z", 0),
    ]
    assert all(fd for *_, fd in with_data.payloads)  # a descriptor to write through (torn)
    (world / "f").unlink()
    assert trace(world, argv).payloads == []  # nothing captured when no fault wants it


def test_truncate_ftruncate_and_fallocate(world, steps):
    (world / "f").write_text("0123456789")
    traced = trace(
        world,
        [steps, "truncate:f:8", "openat:f:w", "ftruncate:4", "fallocate:0:0:100",
         "fallocate:1:0:8192"],
    )  # fmt: skip
    no_failures(world)
    assert [(op.kind, op.target, op.detail["size"]) for op in traced.ops] == [
        ("fs.truncate", "f", 8),
        ("fs.truncate", "f", 4),
        ("fs.fallocate", "f", 100),
        # FALLOC_FL_KEEP_SIZE reserves space past the end: nothing a reader sees changes
    ]
    assert (world / "f").stat().st_size == 100


def test_renameat_and_renameat2_and_a_refused_noreplace(world, steps):
    for name in ("a", "b", "x"):
        (world / name).write_text(name)
    traced = trace(
        world,
        [steps, "renameat:a:c", "renameat2:c:b:n", "renameat2:c:d:n", "renameat2:d:x:x",
         "renameat2:b:e"],
    )  # fmt: skip
    assert traced.kinds() == [
        ("fs.rename", "a -> c"),
        ("fs.create", f"failed-2-{errno.EEXIST}"),  # RENAME_NOREPLACE over b: refused
        ("fs.rename", "c -> d"),
        ("fs.rename", "d -> x"),
        ("fs.rename", "b -> e"),
    ]
    assert traced.ops[3].detail.get("exchange") is True
    assert "exchange" not in traced.ops[0].detail
    assert [op.file for op in traced.ops if op.kind == "fs.rename"] == [
        "renameat", "renameat2", "renameat2", "renameat2",
    ]  # fmt: skip
    assert (world / "x").read_text() == "a" and (world / "d").read_text() == "x"


@legacy
def test_legacy_rename(world, steps):
    (world / "a").write_text("a")
    (world / "c").write_text("c")
    traced = trace(world, [steps, "rename:a:b", "rename:b:c"])
    assert traced.calls() == [("fs.rename", "a -> b", "rename"), ("fs.rename", "b -> c", "rename")]
    assert (world / "c").read_text() == "a"


def test_unlinkat_mkdirat_and_removing_folders(world, steps):
    (world / "f").write_text("f")
    (world / "old").mkdir()
    traced = trace(
        world,
        [steps, "mkdirat:d", "mkdirat:old", "rmdirat:d", "unlinkat:f", "unlinkat:f"],
    )
    assert traced.calls() == [
        ("fs.mkdir", "d", "mkdirat"),
        ("fs.create", f"failed-2-{errno.EEXIST}", "openat"),  # an existing folder: no change
        ("fs.rmdir", "d", "unlinkat"),
        ("fs.unlink", "f", "unlinkat"),
        ("fs.create", f"failed-5-{errno.ENOENT}", "openat"),  # nothing left to remove
    ]


@legacy
def test_legacy_unlink_mkdir_and_rmdir(world, steps):
    (world / "f").write_text("f")
    (world / "old").mkdir()
    traced = trace(world, [steps, "mkdir:d", "mkdir:old", "rmdir:d", "unlink:f", "unlink:f"])
    assert traced.calls() == [
        ("fs.mkdir", "d", "mkdir"),
        ("fs.create", f"failed-2-{errno.EEXIST}", "openat"),
        ("fs.rmdir", "d", "rmdir"),
        ("fs.unlink", "f", "unlink"),
        ("fs.create", f"failed-5-{errno.ENOENT}", "openat"),
    ]


def test_hard_and_symbolic_links_create_names(world, steps):
    (world / "f").write_text("f")
    traced = trace(world, [steps, "linkat:f:h", "symlinkat:f:s"])
    calls = [(op.kind, op.target, op.file, op.detail["via"]) for op in traced.ops]
    assert calls == [
        ("fs.create", "h", "linkat", "link"),
        ("fs.create", "s", "symlinkat", "symlink"),
    ]


@legacy
def test_legacy_link_and_symlink(world, steps):
    (world / "f").write_text("f")
    traced = trace(world, [steps, "link:f:h", "symlink:f:s", "symlink:f:s"])
    assert traced.calls() == [
        ("fs.create", "h", "link"),
        ("fs.create", "s", "symlink"),
        ("fs.create", f"failed-3-{errno.EEXIST}", "openat"),  # the name exists: no change
    ]


def test_fsync_fdatasync_sync_file_range_syncfs_and_sync(world, steps, tmp_path):
    (world / "f").write_text("f")
    (tmp_path / "outside").write_text("o")
    traced = trace(
        world,
        [steps, "openat:f:w", "fsync", "fdatasync", "sfr", "syncfs", "sync", "dir:.", "fsync",
         f"openat:{tmp_path}/outside:w", "fsync", "fdatasync"],
    )  # fmt: skip
    no_failures(world)
    assert traced.calls() == [
        ("fs.fsync", "f", "fsync"),
        ("fs.fdatasync", "f", "fdatasync"),
        ("fs.sync_file_range", "f", "sync_file_range"),
        ("fs.syncfs", ".", "syncfs"),  # the world as a whole
        ("fs.syncfs", ".", "sync"),
        ("fs.fsync", ".", "fsync"),  # the folder itself
    ]
    assert traced.escapes == []  # syncing a file outside the world changes nothing there


def test_o_sync_and_o_dsync_writes_are_flagged(world, steps):
    (world / "old").write_text("old")
    traced = trace(
        world,
        [steps, "openat:s:cs", "write:1", "openat:old:d", "write:2", "openat2:p:c", "write:3"],
    )
    flags = [(op.kind, op.target, op.detail.get("flags")) for op in traced.ops]
    assert flags == [
        ("fs.create", "s", "O_SYNC"),
        ("fs.write", "s", "O_SYNC"),
        ("fs.write", "old", "O_DSYNC"),  # its open created nothing, its writes are durable
        ("fs.create", "p", None),
        ("fs.write", "p", None),
    ]


def test_paths_relative_to_a_descriptor_or_to_the_working_folder(world, steps):
    (world / "sub").mkdir()
    traced = trace(world, [steps, "dir:sub", "openat:x:c", "renameat:x:y", "mkdirat:z"])
    no_failures(world)
    assert traced.kinds() == [
        ("fs.create", "sub/x"),
        ("fs.rename", "sub/x -> sub/y"),
        ("fs.mkdir", "sub/z"),
    ]
    traced = trace(world, [steps, "openat:w:c", "openat:../v:c"], cwd=world / "sub")
    assert traced.kinds() == [("fs.create", "sub/w"), ("fs.create", "v")]


def test_an_unnamed_file_is_seen_only_when_it_is_linked(world, steps):
    """Not as a write to "#<inode> (deleted)": a name that differs in every run."""
    traced = trace(world, [steps, "dir:.", "openat:.:T", "write:data", "linkfd:named"])
    no_failures(world)
    assert (world / "named").read_text() == "data"
    assert traced.kinds() == [("fs.create", "named")]


def test_writes_to_a_removed_file_change_nothing_in_the_world(world, steps):
    traced = trace(world, [steps, "openat:gone:c", "unlinkat:gone", "write:lost", "fsync"])
    no_failures(world)
    assert traced.kinds() == [("fs.create", "gone"), ("fs.unlink", "gone")]


def test_sendfile_and_copy_file_range_write_into_the_world(world):
    (world / "src").write_text("0123456789")
    traced = trace(
        world,
        python("""
            import os
            src = os.open("src", os.O_RDONLY)
            a = os.open("a", os.O_WRONLY | os.O_CREAT, 0o644)
            os.sendfile(a, src, 0, 4)
            b = os.open("b", os.O_WRONLY | os.O_CREAT, 0o644)
            os.copy_file_range(src, b, 6, 0)
        """),
    )
    assert traced.status == 0
    writes = [(op.target, op.detail["via"], op.detail["bytes"]) for op in traced.ops[1::2]]
    assert traced.kinds()[::2] == [("fs.create", "a"), ("fs.create", "b")]
    assert writes == [("a", "sendfile", 4), ("b", "copy_file_range", 6)]


# -- where it happened -----------------------------------------------------------------


def test_each_operation_names_its_process_and_command_line(world, steps):
    traced = trace(world, [steps, "openat:f:c"])
    (op,) = traced.ops
    assert op.function == "steps" and op.file == "openat"
    assert op.detail["process"] == f"{steps} openat:f:c"
    assert isinstance(op.detail["pid"], int) and op.detail["pid"] != os.getpid()


# -- process trees -------------------------------------------------------------------


def test_forks_threads_and_execs_are_seen_in_true_order(world):
    traced = trace(
        world,
        python("""
            import os, subprocess, threading
            def mark(name):
                fd = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644)
                os.write(fd, name.encode())
            mark("parent-1")
            child = os.fork()
            if child == 0:
                mark("forked")
                os._exit(0)
            os.waitpid(child, 0)
            thread = threading.Thread(target=mark, args=("thread",))
            thread.start()
            thread.join()
            subprocess.run(["sh", "-c", "echo x > spawned"], check=True)
            mark("parent-2")
            os.execv("/bin/sh", ["sh", "-c", "echo y > exec"])
        """),
    )
    assert traced.status == 0
    names = ["parent-1", "forked", "thread", "spawned", "parent-2", "exec"]
    assert traced.kinds() == [(k, n) for n in names for k in ("fs.create", "fs.write")]
    assert [op.index for op in traced.ops] == list(range(1, 13))
    pid = {op.target: op.detail["pid"] for op in traced.ops}
    assert pid["parent-1"] == pid["parent-2"] == pid["exec"]  # exec keeps the process
    assert len({pid["parent-1"], pid["forked"], pid["thread"], pid["spawned"]}) == 4
    name = {op.target: op.function for op in traced.ops}
    assert name["spawned"] == name["exec"] == "sh"
    assert traced.ops[-1].detail["process"] == "sh -c echo y > exec"


def test_concurrent_threads_lose_no_operation_and_keep_their_own_order(world):
    traced = trace(
        world,
        python("""
            import os, threading
            def work(n):
                fd = os.open(f"t{n}", os.O_WRONLY | os.O_CREAT, 0o644)
                for i in range(20):
                    os.write(fd, b"%d," % i)
            threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
            for t in threads: t.start()
            for t in threads: t.join()
        """),
    )
    assert traced.status == 0
    assert [op.index for op in traced.ops] == list(range(1, 6 * 21 + 1))
    for n in range(6):
        mine = [op for op in traced.ops if op.target == f"t{n}"]
        assert mine[0].kind == "fs.create" and len(mine) == 21
        offsets = [op.detail["offset"] for op in mine[1:]]
        assert offsets == sorted(offsets) and len(set(offsets)) == 20


def test_what_the_command_leaves_running_is_killed_when_it_ends(world):
    traced = trace(world, ["sh", "-c", "sleep 60 & echo $! > pid"])
    assert traced.status == 0
    pid = int((world / "pid").read_text())
    deadline = time.monotonic() + 5
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _running(pid):
        os.kill(pid, signal.SIGKILL)  # not left to the next test
        pytest.fail("the command's background process outlived it")


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie is dead, only not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# -- outside the world -----------------------------------------------------------------


def test_changes_outside_the_world_are_ignored_and_told_once(world, tmp_path, steps):
    out = tmp_path / "outside"
    out.mkdir()
    traced = trace(
        world,
        [steps, f"openat:{out}/x:c", "write:1", "write:2", f"renameat:{out}/x:{out}/y",
         f"mkdirat:{out}/d", "openat:/dev/null:w", "write:z", "openat:inside:c",
         f"renameat:{out}/y:moved-in"],
    )  # fmt: skip
    no_failures(world)
    assert traced.kinds() == [
        ("fs.create", "inside"),
        ("fs.rename", f"{out}/y -> moved-in"),  # across the edge: what arrives counts
    ]
    assert [(e.kind, e.target) for e in traced.escapes if e.target.startswith(str(out))] == [
        ("fs.create", f"{out}/x"),
        ("fs.write", f"{out}/x"),  # twice written, told once
        ("fs.rename", f"{out}/y"),
        ("fs.mkdir", f"{out}/d"),
    ]
    assert not [e for e in traced.escapes if e.target.startswith(("/dev/", "/proc/"))]


def test_pipes_devices_and_proc_are_never_escapes(world):
    traced = trace(
        world,
        ["sh", "-c", "echo a | cat > piped; echo b > /dev/null; echo 0 > /proc/self/oom_score_adj"],
    )
    assert traced.kinds() == [("fs.create", "piped"), ("fs.write", "piped")]
    assert not [e for e in traced.escapes if e.target.startswith(("/dev/", "/proc/", "pipe:"))]
    assert not [e for e in traced.escapes if "pipe" in e.target]


def test_the_world_is_known_by_each_of_its_roots(world, tmp_path, steps):
    alias = tmp_path / "alias"
    alias.symlink_to(world)
    traced = trace(
        world,
        [steps, "openat:a:c", f"openat:{world}/b:c"],
        cwd=alias,
        roots=[str(alias), str(world)],
    )
    assert traced.kinds() == [("fs.create", "a"), ("fs.create", "b")]
    assert traced.escapes == []


# -- a kill at a point, and what stops a command from running ----------------------------


def test_a_kill_at_a_point_kills_the_whole_tree_before_the_call_runs(world):
    def decide(op: Operation, payload: Payload | None) -> None:
        if op.target == "b":
            kill_self()  # what the kill fault does: the tree first (a kill hook), then itself

    argv = ["sh", "-c", "echo a > a; sleep 60 & echo $! > pid; echo b > b; echo c > c"]
    result, status = _forked(lambda: _trace_here(world, argv, decide, False, None, None, None))
    assert result is None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert sorted(p.name for p in world.iterdir()) == ["a", "pid"]  # b's open never ran
    pid = int((world / "pid").read_text())
    deadline = time.monotonic() + 5
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _running(pid):
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the command's background process outlived the kill")


def _error_of(body: Callable[[], object]) -> object:
    def caught() -> object:
        try:
            body()
        except Exception as error:
            return type(error).__name__, str(error)
        return None

    return _in_a_fork(caught)


def test_a_program_that_does_not_exist_is_file_not_found(world):
    def run() -> object:
        return _trace_here(world, [str(world / "no-such-program")], None, False, None, None, None)

    name, message = _error_of(run)
    assert name == "FileNotFoundError" and "no-such-program" in message


def test_a_kernel_without_user_notification_is_probe_unavailable(world, monkeypatch):
    from crashkit.probes.syscall import seccomp, session

    def refuse(arch: object, program: bytes) -> int:
        raise seccomp.SeccompUnavailable(errno.EINVAL, "seccomp(SET_MODE_FILTER) failed")

    monkeypatch.setattr(session, "install_filter", refuse)  # in the program's process
    name, message = _error_of(
        lambda: _trace_here(world, ["sh", "-c", "echo x > f"], None, False, None, None, None)
    )
    assert name == "ProbeUnavailable"
    assert "seccomp(SET_MODE_FILTER) failed" in message and "Linux 5.5" in message
    assert not (world / "f").exists()  # the program never ran unobserved


# -- injected errors -------------------------------------------------------------------


def _fail_writes_to(name: str, code: int) -> Decide:
    def decide(op: Operation, payload: Payload | None) -> None:
        if op.target == name and op.kind in ("fs.write", "fs.rename"):
            raise InjectedOSError(code, os.strerror(code))

    return decide


def test_a_failure_of_crashkit_itself_stops_the_program_and_is_raised(world, steps):
    """Only an injected error fails the program's call: any other exception in the fault's
    decision (a full disk under crashkit's own files, say) is crashkit's, not a result."""

    def broken(op: Operation, payload: Payload | None) -> None:
        if op.target == "full" and op.kind == "fs.write":
            raise OSError(errno.ENOSPC, "crashkit's own disk is full")

    run = [steps, "openat:full:c", "write:lost", "openat:next:c", "write:kept"]
    name, message = _error_of(lambda: _trace_here(world, run, broken, False, None, None, None))
    assert name == "OSError" and "crashkit's own disk is full" in message
    assert not (world / "next").exists()  # the program did not run on


def test_an_injected_errno_fails_the_call_and_the_program_runs_on(world, steps):
    traced = trace(
        world,
        [steps, "openat:full:c", "write:lost", "openat:next:c", "write:kept"],
        _fail_writes_to("full", errno.ENOSPC),
    )
    assert traced.status == 0
    assert (world / "full").read_bytes() == b""  # the call never ran
    assert (world / f"failed-2-{errno.ENOSPC}").exists()  # the program saw ENOSPC
    assert (world / "next").read_text() == "kept"  # and went on
    assert traced.kinds() == [
        ("fs.create", "full"),
        ("fs.write", "full"),
        ("fs.create", f"failed-2-{errno.ENOSPC}"),
        ("fs.create", "next"),
        ("fs.write", "next"),
    ]


def test_an_injected_error_reaches_a_python_program_as_its_exception(world):
    (world / "a").write_text("a")
    traced = trace(
        world,
        python("""
            import os
            try:
                os.rename("a", "b")
            except OSError as error:
                open("caught", "w").write(str(error.errno))
        """),
        _fail_writes_to("a -> b", errno.EIO),
    )
    assert traced.status == 0
    assert (world / "caught").read_text() == str(errno.EIO)
    assert (world / "a").exists() and not (world / "b").exists()


# -- SQLite ------------------------------------------------------------------------------

needs_sqlite3 = pytest.mark.skipif(
    shutil.which("sqlite3") is None, reason="the sqlite3 command is not installed"
)
INSERTS = ["INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)", "INSERT INTO t VALUES (3)"]


def _database(world: Path, mode: str) -> None:
    db = sqlite3.connect(world / "db.sqlite")
    db.execute(f"PRAGMA journal_mode={mode}")
    db.execute("CREATE TABLE t(x)")
    db.commit()
    db.close()


def _rows(world: Path) -> list[int]:
    db = sqlite3.connect(world / "db.sqlite")
    try:
        return [x for (x,) in db.execute("SELECT x FROM t ORDER BY x")]
    finally:
        db.close()


@needs_sqlite3
def test_rollback_journal_transactions_are_one_kill_point_each(world):
    _database(world, "DELETE")
    traced = trace(world, ["sqlite3", "db.sqlite", *INSERTS])
    assert traced.status == 0 and _rows(world) == [1, 2, 3]
    ops = traced.ops
    starts = [op.index for op in ops if (op.kind, op.target) == ("fs.create", "db.sqlite-journal")]
    assert len(starts) == 3
    assert FAULTS["kill"].points(ops) == [*starts, len(ops) + 1]
    # Each ends where the journal is deleted: the commit is durable there.
    ends = [op.index for op in ops if (op.kind, op.target) == ("fs.unlink", "db.sqlite-journal")]
    assert ends == [s - 1 for s in starts[1:]] + [len(ops)]
    assert all(op.detail["inside"] for op in ops if op.index not in starts)
    assert all(op.detail.get("sqlite") == "db.sqlite" for op in ops if op.target != ".")
    # Every page write is still a point of the faults that look inside a transaction.
    assert len(FAULTS["powerloss"].points(ops)) == len(ops) + 1
    torn = FAULTS["torn"].points(ops)
    assert torn and all(ops[p - 1].detail["inside"] for p in torn)


@needs_sqlite3
def test_wal_transactions_end_at_their_commit_frame_and_shm_is_not_state(world):
    _database(world, "WAL")
    traced = trace(world, ["sqlite3", "db.sqlite", *INSERTS], want_data=True)
    assert traced.status == 0 and _rows(world) == [1, 2, 3]
    ops = traced.ops
    data = {index: payload for index, payload, _, _ in traced.payloads}
    # A frame header whose "database size after commit" is set: the commit's frame.
    commits = [
        op.index
        for op in ops
        if op.target == "db.sqlite-wal" and op.kind == "fs.write" and op.detail["bytes"] == 24
        and data[op.index][4:8] != b"\0\0\0\0"
    ]  # fmt: skip
    assert len(commits) == 3
    # Points: before the first transaction, once each commit's page is written, the end.
    expected = [1] + [c + 2 for c in commits] + [len(ops) + 1]
    assert FAULTS["kill"].points(ops) == expected
    assert not [op for op in ops if op.target.endswith("-shm")]
    assert traced.warnings == []  # sqlite3 maps its -shm shared and writable: no warning
    assert [op for op in ops if op.target == "db.sqlite" and op.kind == "fs.write"]  # checkpoint


@needs_sqlite3
def test_a_new_database_and_work_in_between_split_transactions(world):
    traced = trace(
        world,
        ["sh", "-c", "sqlite3 db 'CREATE TABLE t(x)'; echo x > other; sqlite3 db 'INSERT INTO t "
         "VALUES (1)'"],
    )  # fmt: skip
    ops = traced.ops
    points = FAULTS["kill"].points(ops)
    assert [(ops[p - 1].kind, ops[p - 1].target) for p in points[:-1]] == [
        ("fs.create", "db"),
        ("fs.create", "db-journal"),
        ("fs.create", "other"),
        ("fs.write", "other"),
        ("fs.create", "db-journal"),
    ]


# -- what the probe cannot see: warnings -------------------------------------------------


def test_a_writable_shared_mapping_of_a_world_file_warns(world, steps, tmp_path):
    (world / "f").write_bytes(b"\0" * 4096)
    (tmp_path / "outside").write_bytes(b"\0" * 4096)
    _database(world, "WAL")
    (world / "db.sqlite-shm").write_bytes(b"\0" * 4096)
    traced = trace(
        world,
        [steps, "openat:f:R", "mmapp", "openat:f:r", "mmapp", f"openat:{tmp_path}/outside:R",
         "mmap", "openat:db.sqlite-shm:R", "mmap"],
    )  # fmt: skip
    no_failures(world)
    # Private, read-only, outside the world, or SQLite's -shm index: nothing is missed.
    assert traced.warnings == []
    traced = trace(world, [steps, "openat:f:R", "mmap", "mmap"])
    no_failures(world)
    assert traced.warnings == [
        "steps mapped f shared and writable: writes through the mapping are not seen by the "
        "syscall probe"
    ]  # once, however often


def test_io_uring_setup_warns(world):
    traced = trace(
        world,
        python("""
            import ctypes
            params = ctypes.create_string_buffer(120)
            libc = ctypes.CDLL(None, use_errno=True)
            libc.syscall(425, 1, params)  # io_uring_setup, whether or not the kernel allows it
        """),
    )
    assert traced.status == 0
    assert len(traced.warnings) == 1 and "io_uring" in traced.warnings[0]


# -- the stable world path --------------------------------------------------------------


def _in_a_fork(body: Callable[[], object]) -> object:
    """``body``'s result, run in a forked child (a mount namespace is per process)."""
    result, status = _forked(body)
    assert result is not None, f"the forked child died (wait status {status})"
    return result


def _can_unshare() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)

    def probe() -> bool:
        return libc.unshare(0x00020000) == 0

    return _in_a_fork(probe) is True


def test_a_command_sees_its_world_at_the_stable_path(world, tmp_path, monkeypatch, steps):
    if not _can_unshare():
        pytest.skip("this machine does not allow mount namespaces (no CAP_SYS_ADMIN)")
    monkeypatch.delenv(FORCE_FALLBACK, raising=False)
    stable = tmp_path / "stable"
    stable.mkdir()
    (world / "here").write_text("in the world")

    def inside() -> object:
        root, why = stable_world(world, stable)
        seen = sorted(os.listdir(root))
        traced = _trace_here(
            root, ["sh", "-c", 'pwd > where; echo x > "$PWD/abs"'], None, False, None, None, None
        )
        return root, why, seen, traced.kinds()

    root, why, seen, kinds = _in_a_fork(inside)
    assert (root, why) == (stable, None)
    assert seen == ["here"]
    assert kinds == [("fs.create", "where"), ("fs.write", "where"), ("fs.create", "abs"),
                     ("fs.write", "abs")]  # fmt: skip
    assert (world / "where").read_text() == f"{stable}\n"  # it wrote through the stable path
    assert list(stable.iterdir()) == []  # the bind mount stayed in the child's namespace


def test_the_namespace_fallback_is_the_world_s_own_path(world, tmp_path, monkeypatch):
    monkeypatch.setenv(FORCE_FALLBACK, "1")
    stable = tmp_path / "stable"
    stable.mkdir()
    root, why = _in_a_fork(lambda: stable_world(world, stable))
    assert root == world and why == f"{FORCE_FALLBACK}=1"
    assert list(stable.iterdir()) == []
