"""What a stopped system call does, in crashkit's terms: a :class:`Call` per notification.

Each listed call is decoded from its raw arguments and the process's ``/proc`` entries
into the durable operation it is about to perform (``fs.create``, ``fs.write``...), with
absolute paths, or into nothing when it changes nothing (an open of an existing file
without truncation, an unlink of a missing name, a write to a pipe).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from crashkit.probes.syscall import process
from crashkit.probes.syscall.seccomp import Arch, Notification

__all__ = ["Call", "decode"]

_AT_REMOVEDIR = 0x200
_FALLOC_FL_KEEP_SIZE = 0x01
_RWF_DSYNC = 0x2
_RWF_SYNC = 0x4
_RENAME_NOREPLACE = 0x1
_RENAME_EXCHANGE = 0x2


@dataclass
class Call:
    """One stopped call, decoded."""

    syscall: str
    pid: int
    #: The durable operation kind (``fs.write``...), or a warning kind (``mmap``,
    #: ``io_uring``); None: nothing durable happens.
    kind: str | None = None
    #: Absolute paths it touches (a rename: source then destination).
    paths: tuple[str, ...] = ()
    #: The program's descriptor it acts on (writes, truncates, syncs).
    fd: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    #: Where a write's bytes lie in the program's memory: (address, length) pieces.
    pieces: list[tuple[int, int]] = field(default_factory=list)
    #: Where a write lands; None: at the descriptor's position.
    offset: int | None = None
    #: A copy between descriptors (sendfile, copy_file_range): the source descriptor and
    #: the address of its offset in the program's memory (0: the descriptor's position).
    source: tuple[int, int] | None = None
    #: How many bytes a copy asks for (the source may hold fewer).
    count: int = 0


def decode(arch: Arch, n: Notification, memory: process.Memory) -> Call:
    """The call ``n`` stands for."""
    name = arch.names.get(n.nr, f"syscall{n.nr}")
    call = Call(name, n.pid)
    handler = _HANDLERS.get(name)
    if handler is not None:
        handler(call, arch, n.args, memory)
    return call


def _path(call: Call, memory: process.Memory, dirfd: int, address: int) -> str | None:
    raw = memory.string(address)
    return process.resolve(call.pid, dirfd, raw) if raw else None


def _open(call: Call, arch: Arch, dirfd: int, address: int, flags: int, m: process.Memory) -> None:
    path = _path(call, m, dirfd, address)
    if path is None or flags & arch.o_tmpfile == arch.o_tmpfile:
        return  # an unnamed file: it appears (and is seen) only when linked
    exists = os.path.lexists(path)
    if flags & arch.o_creat and not exists:
        if not os.path.isdir(os.path.dirname(path)):
            return  # ENOENT: git tries its temporary object before making its folder
        call.kind = "fs.create"
    elif flags & arch.o_trunc and exists and os.path.isfile(path):
        call.kind = "fs.trunc"
    call.paths = (path,)
    if flags & (arch.o_sync | arch.o_dsync | arch.o_direct):
        call.detail["flags"] = _sync_flags(arch, flags)


def _sync_flags(arch: Arch, flags: int) -> str:
    names = []
    if flags & arch.o_sync == arch.o_sync:
        names.append("O_SYNC")
    elif flags & arch.o_dsync:
        names.append("O_DSYNC")
    if flags & arch.o_direct:
        names.append("O_DIRECT")
    return "|".join(names)


def _write(call: Call, fd: int, pieces: list[tuple[int, int]], offset: int | None) -> None:
    call.fd = fd
    call.kind = "fs.write"
    call.pieces = pieces
    call.offset = offset
    call.detail["bytes"] = sum(length for _, length in pieces)
    if offset is not None:
        call.detail["offset"] = offset


def _fd_call(call: Call, kind: str, fd: int, **detail: Any) -> None:
    call.fd = fd
    call.kind = kind
    call.detail.update(detail)


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _h_open(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _open(c, a, process.AT_FDCWD, args[0], args[1], m)


def _h_creat(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _open(c, a, process.AT_FDCWD, args[0], a.o_creat | a.o_trunc, m)


def _h_openat(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _open(c, a, args[0], args[1], args[2], m)


def _h_openat2(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    how = m.read(args[2], 8)
    flags = int.from_bytes(how, "little") if len(how) == 8 else 0
    _open(c, a, args[0], args[1], flags, m)


def _h_write(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _write(c, args[0], [(args[1], args[2])], None)


def _h_pwrite(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _write(c, args[0], [(args[1], args[2])], _signed(args[3]))


def _h_writev(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _write(c, args[0], m.iovecs(args[1], args[2]), None)


def _h_pwritev(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    offset = _signed(args[3])
    _write(c, args[0], m.iovecs(args[1], args[2]), offset if offset >= 0 else None)
    if c.syscall == "pwritev2" and args[5] & (_RWF_DSYNC | _RWF_SYNC):
        c.detail["flags"] = "RWF_SYNC" if args[5] & _RWF_SYNC else "RWF_DSYNC"
        c.detail["synced"] = True


def _h_sendfile(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _fd_call(c, "fs.write", args[0], via="sendfile")
    c.source, c.count = (args[1], args[2]), args[3]


def _h_copy_file_range(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _fd_call(c, "fs.write", args[2], via="copy_file_range")
    c.source, c.count = (args[0], args[1]), args[4]
    if args[3]:
        raw = m.read(args[3], 8)
        c.offset = int.from_bytes(raw, "little", signed=True) if len(raw) == 8 else None


def _h_truncate(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    path = _path(c, m, process.AT_FDCWD, args[0])
    if path is not None:
        c.kind, c.paths = "fs.truncate", (path,)
        c.detail["size"] = _signed(args[1])


def _h_ftruncate(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _fd_call(c, "fs.truncate", args[0], size=_signed(args[1]))


def _h_fallocate(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    mode, end = args[1] & 0xFFFFFFFF, _signed(args[2]) + _signed(args[3])
    if mode == _FALLOC_FL_KEEP_SIZE:
        return  # space reserved past the end: nothing a reader sees changes
    _fd_call(c, "fs.fallocate", args[0], size=end, **({"mode": mode} if mode else {}))


def _rename(c: Call, m: process.Memory, od: int, old: int, nd: int, new: int, fl: int) -> None:
    source, dest = _path(c, m, od, old), _path(c, m, nd, new)
    if fl & _RENAME_NOREPLACE and dest is not None and os.path.lexists(dest):
        return  # refused (EEXIST): ``mv`` tries this first, then a plain rename
    if source is not None and not os.path.lexists(source):
        return  # refused (ENOENT): changes nothing, as an unlink of a missing name
    if source is not None and dest is not None:
        c.kind, c.paths = "fs.rename", (source, dest)
        if fl & _RENAME_EXCHANGE:
            c.detail["exchange"] = True


def _h_rename(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _rename(c, m, process.AT_FDCWD, args[0], process.AT_FDCWD, args[1], 0)


def _h_renameat(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _rename(c, m, args[0], args[1], args[2], args[3], 0)


def _h_renameat2(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _rename(c, m, args[0], args[1], args[2], args[3], args[4])


def _remove(c: Call, m: process.Memory, dirfd: int, address: int, folder: bool) -> None:
    path = _path(c, m, dirfd, address)
    if path is not None and os.path.lexists(path):  # removing what is not there changes nothing
        c.kind, c.paths = ("fs.rmdir" if folder else "fs.unlink"), (path,)


def _h_unlink(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _remove(c, m, process.AT_FDCWD, args[0], folder=False)


def _h_unlinkat(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _remove(c, m, args[0], args[1], folder=bool(args[2] & _AT_REMOVEDIR))


def _h_rmdir(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _remove(c, m, process.AT_FDCWD, args[0], folder=True)


def _mkdir(c: Call, m: process.Memory, dirfd: int, address: int) -> None:
    path = _path(c, m, dirfd, address)
    if path is not None and not os.path.lexists(path):  # makedirs(exist_ok=True) is no change
        c.kind, c.paths = "fs.mkdir", (path,)


def _h_mkdir(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _mkdir(c, m, process.AT_FDCWD, args[0])


def _h_mkdirat(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _mkdir(c, m, args[0], args[1])


def _created(c: Call, m: process.Memory, dirfd: int, address: int, via: str) -> None:
    path = _path(c, m, dirfd, address)
    if path is not None and not os.path.lexists(path) and os.path.isdir(os.path.dirname(path)):
        c.kind, c.paths = "fs.create", (path,)
        c.detail["via"] = via


def _h_link(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _created(c, m, process.AT_FDCWD, args[1], "link")


def _h_linkat(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _created(c, m, args[2], args[3], "link")


def _h_symlink(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _created(c, m, process.AT_FDCWD, args[1], "symlink")


def _h_symlinkat(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _created(c, m, args[1], args[2], "symlink")


def _h_fsync(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _fd_call(c, "fs.fsync", args[0])


def _h_fdatasync(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _fd_call(c, "fs.fdatasync", args[0])


def _h_sync_file_range(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    # Starts or waits for writeback of a range: no promise of durability (its man page).
    _fd_call(c, "fs.sync_file_range", args[0])


def _h_syncfs(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    _fd_call(c, "fs.syncfs", args[0])


def _h_sync(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    c.kind, c.paths = "fs.syncfs", ("/",)


def _h_mmap(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    # The filter stops only shared, writable mappings of a descriptor.
    c.fd, c.kind = _signed(args[4]), "mmap"


def _h_io_uring(c: Call, a: Arch, args: tuple[int, ...], m: process.Memory) -> None:
    c.kind = "io_uring"


_HANDLERS = {
    "open": _h_open,
    "creat": _h_creat,
    "openat": _h_openat,
    "openat2": _h_openat2,
    "write": _h_write,
    "pwrite64": _h_pwrite,
    "writev": _h_writev,
    "pwritev": _h_pwritev,
    "pwritev2": _h_pwritev,
    "sendfile": _h_sendfile,
    "copy_file_range": _h_copy_file_range,
    "truncate": _h_truncate,
    "ftruncate": _h_ftruncate,
    "fallocate": _h_fallocate,
    "rename": _h_rename,
    "renameat": _h_renameat,
    "renameat2": _h_renameat2,
    "unlink": _h_unlink,
    "unlinkat": _h_unlinkat,
    "rmdir": _h_rmdir,
    "mkdir": _h_mkdir,
    "mkdirat": _h_mkdirat,
    "link": _h_link,
    "linkat": _h_linkat,
    "symlink": _h_symlink,
    "symlinkat": _h_symlinkat,
    "fsync": _h_fsync,
    "fdatasync": _h_fdatasync,
    "sync_file_range": _h_sync_file_range,
    "syncfs": _h_syncfs,
    "sync": _h_sync,
    "mmap": _h_mmap,
    "io_uring_setup": _h_io_uring,
}
