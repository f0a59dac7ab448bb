"""The syscall probe: sees the durable operations of a program in any language.

A command phase (:class:`crashkit.Command`) runs under a seccomp-bpf filter whose
listed system calls stop in the kernel until crashkit answers them
(:mod:`.seccomp`: why user notification, not ptrace). Each stopped call is decoded
(:mod:`.calls`, reading the process's memory and descriptors through ``/proc``:
:mod:`.process`) into the durable operation it is about to perform; only targets
inside the world count. SQLite files are recognized and grouped into transactions
(:mod:`.sqlite`), so that kill points fall on transaction boundaries. The loopback
fake remote reports each mutating request to the same session (:mod:`.session`),
so files, SQLite and HTTP share one order. :mod:`.namespace` gives every child its
world at one fixed absolute path.

Seen: open/openat/openat2/creat that create or truncate, write, pwrite64, writev,
pwritev(2), sendfile and copy_file_range into a file, truncate, ftruncate,
fallocate, rename/renameat/renameat2, unlink/unlinkat, mkdir/mkdirat, rmdir,
link/linkat, symlink/symlinkat, fsync, fdatasync, sync_file_range, syncfs, sync;
O_SYNC and O_DSYNC descriptors (each write on them is durable at once).

Not seen (stated in the report as warnings where detected): writes through a shared
writable mapping of a world file (detected at mmap; SQLite's ``-shm`` index is
rebuilt on recovery and is not state), io_uring (detected at io_uring_setup), work
done by a process outside the command's tree (a daemon it asks over a socket), and
32-bit system calls of another ABI.

Layer: like every probe, imports only :mod:`crashkit.model`, :mod:`crashkit.errors`
and :mod:`crashkit.probes` (the Python probe's payload and kill, shared by faults).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from crashkit.model.operation import Operation
from crashkit.model.process import WARNING_PREFIX
from crashkit.probes.python.core import Decide
from crashkit.probes.syscall.session import ProbeUnavailable, Session, active

__all__ = [
    "REMOTE_VARIABLE",
    "SYSCALL_PROBE",
    "WORLD_VARIABLE",
    "ProbeUnavailable",
    "Session",
    "SyscallProbe",
    "active",
]

#: Set in every command's environment: the world's root as the program sees it.
WORLD_VARIABLE = "CRASHKIT_WORLD"
#: The base URL of the fake remote a child serves on loopback (set while it serves), for
#: a command's ``{remote}`` placeholder and environment.
REMOTE_VARIABLE = "CRASHKIT_REMOTE_URL"


class SyscallProbe:
    """Sees the system calls of a command's whole process tree (seccomp user notification)."""

    name = "syscall"
    summary = "stops a command's file system calls in the kernel (seccomp user notification)"

    def __init__(self) -> None:
        self._session: Session | None = None

    def install(self) -> None:
        """Nothing to prepare in this process: the filter goes on the command's."""

    def start(
        self,
        world: str | os.PathLike[str],
        trace: Callable[[Operation], None],
        decide: Decide | None = None,
        *,
        program: Sequence[str] = (),
        program_files: Sequence[str] = (),
        project_root: str | os.PathLike[str] | None = None,
        want_data: bool = False,
        escape: Callable[[Operation], None] | None = None,
    ) -> Session:
        """Record the commands the phase runs next (see :class:`crashkit.probes.Probe`)."""
        root = os.fspath(world)
        session = Session(
            [root, os.path.realpath(root)],
            trace,
            decide,
            want_data=want_data,
            escape=escape,
            warn=_warn,
        )
        self._session = session.__enter__()
        return session

    def stop(self) -> None:
        if self._session is not None:
            self._session.__exit__(None, None, None)
            self._session = None


def _warn(note: str) -> None:
    sys.stderr.write(f"{WARNING_PREFIX}{note}\n")
    sys.stderr.flush()


#: The one instance, registered in :data:`crashkit.probes.PROBES`.
SYSCALL_PROBE = SyscallProbe()
