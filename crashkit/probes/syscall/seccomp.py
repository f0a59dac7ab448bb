"""seccomp user notification through ctypes: the filter, the listener, the answers.

A program runs under a seccomp-bpf filter that returns ``SECCOMP_RET_USER_NOTIF`` for
the system calls that can make state durable (and lets every other call run at full
speed). Each such call then blocks in the kernel until the supervisor, holding the
filter's listener descriptor, answers it: let it run (``CONTINUE``), fail it with an
errno, or kill the caller before it runs. The filter is inherited by every thread,
fork and exec of the program, so the whole process tree is seen without following it.

Why this and not ptrace: nothing stops but the listed calls, nothing needs following
(``PTRACE_O_TRACEFORK``...), a debugger can still attach to the program, and a
crash right before a call is simply "kill the caller while it waits". What user
notification cannot do, rewrite a call's arguments, no fault here needs: a torn write
is the supervisor writing the first sectors itself, then killing the program.

Kernel facts relied on (``seccomp_unotify(2)``): ``SECCOMP_FILTER_FLAG_NEW_LISTENER``
(5.0), ``SECCOMP_USER_NOTIF_FLAG_CONTINUE`` (5.5) and
``SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`` (5.19: once a call is received, only a
fatal signal interrupts the wait, so Go's preemption signals do not replay calls).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "ARCH",
    "Notification",
    "SeccompUnavailable",
    "answer",
    "install_filter",
    "receive",
    "still_waiting",
]


class SeccompUnavailable(OSError):
    """This machine cannot run programs under seccomp user notification."""


# -- architectures ----------------------------------------------------------------------


@dataclass(frozen=True)
class Arch:
    """One machine architecture: its audit tag, system call numbers and open flags."""

    name: str
    audit: int
    #: System call name -> number, for the calls the probe stops.
    numbers: Mapping[str, int]
    #: Open flags that make an open durable or matter to the power-loss model.
    o_creat: int
    o_trunc: int
    o_dsync: int
    o_sync: int
    o_direct: int
    o_tmpfile: int
    o_append: int = 0o2000

    @property
    def names(self) -> dict[int, str]:
        return {number: name for name, number in self.numbers.items()}

    @property
    def open_mask(self) -> int:
        """An open with any of these flags is stopped (others only read or write)."""
        return (
            self.o_creat
            | self.o_trunc
            | self.o_dsync
            | self.o_sync
            | self.o_direct
            | (self.o_tmpfile)
        )


_X86_64 = Arch(
    "x86_64",
    audit=0xC000003E,
    numbers={
        "write": 1, "open": 2, "mmap": 9, "pwrite64": 18, "writev": 20, "sendfile": 40,
        "fsync": 74, "fdatasync": 75, "truncate": 76, "ftruncate": 77, "rename": 82,
        "mkdir": 83, "rmdir": 84, "creat": 85, "link": 86, "unlink": 87, "symlink": 88,
        "sync": 162, "openat": 257, "mkdirat": 258, "unlinkat": 263, "renameat": 264,
        "linkat": 265, "symlinkat": 266, "sync_file_range": 277, "fallocate": 285,
        "pwritev": 296, "syncfs": 306, "renameat2": 316, "copy_file_range": 326,
        "pwritev2": 328, "io_uring_setup": 425, "openat2": 437,
    },
    o_creat=0o100, o_trunc=0o1000, o_dsync=0o10000, o_sync=0o4010000, o_direct=0o40000,
    o_tmpfile=0o20000000,
)  # fmt: skip

_AARCH64 = Arch(
    "aarch64",
    audit=0xC00000B7,
    numbers={
        "mkdirat": 34, "unlinkat": 35, "symlinkat": 36, "linkat": 37, "renameat": 38,
        "truncate": 45, "ftruncate": 46, "fallocate": 47, "openat": 56, "write": 64,
        "writev": 66, "pwrite64": 68, "pwritev": 70, "sendfile": 71, "sync": 81,
        "fsync": 82, "fdatasync": 83, "sync_file_range": 84, "mmap": 222, "syncfs": 267,
        "renameat2": 276, "copy_file_range": 285, "pwritev2": 287, "io_uring_setup": 425,
        "openat2": 437,
    },
    o_creat=0o100, o_trunc=0o1000, o_dsync=0o10000, o_sync=0o4010000, o_direct=0o200000,
    o_tmpfile=0o20000000,
)  # fmt: skip

_ARCHES = {"x86_64": _X86_64, "aarch64": _AARCH64, "arm64": _AARCH64}
#: This machine's architecture (None where the probe has no table for it).
ARCH: Arch | None = _ARCHES.get(platform.machine())

# -- the filter -------------------------------------------------------------------------

_BPF_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_BPF_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_BPF_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_BPF_RET_K = 0x06  # BPF_RET | BPF_K
_RET_ALLOW = 0x7FFF0000
_RET_USER_NOTIF = 0x7FC00000
_OFF_NR, _OFF_ARCH = 0, 4


def _arg_low(n: int) -> int:
    """Offset of the low 32 bits of argument ``n`` in ``struct seccomp_data`` (little endian)."""
    return 16 + 8 * n


_PROT_WRITE, _MAP_SHARED, _MAP_ANONYMOUS = 0x2, 0x1, 0x20


class _Program:
    """A classic BPF program, built forward with symbolic labels."""

    def __init__(self) -> None:
        self.code: list[tuple[int, str | int, str | int, int]] = []
        self.labels: dict[str, int] = {}

    def load(self, offset: int) -> None:
        self.code.append((_BPF_LD_W_ABS, 0, 0, offset))

    def jump(self, op: int, k: int, true: str | int, false: str | int) -> None:
        self.code.append((op, true, false, k))

    def ret(self, value: int) -> None:
        self.code.append((_BPF_RET_K, 0, 0, value))

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def assemble(self) -> bytes:
        out = bytearray()
        for index, (op, true, false, k) in enumerate(self.code):
            jt, jf = (self._offset(index, t) for t in (true, false))
            out += struct.pack("=HBBI", op, jt, jf, k & 0xFFFFFFFF)
        return bytes(out)

    def _offset(self, index: int, target: str | int) -> int:
        if isinstance(target, int):
            return target
        offset = self.labels[target] - index - 1
        if not 0 <= offset <= 255:
            raise ValueError(f"BPF jump to {target} out of range ({offset})")
        return offset


def build_filter(arch: Arch) -> bytes:
    """The filter: stop the listed calls, with argument tests where a call is common and
    mostly harmless (opens only for create, truncate or sync flags; mmap only shared and
    writable over a file)."""
    numbers = arch.numbers
    program = _Program()
    program.load(_OFF_ARCH)
    # ia32 calls (another audit tag) are not stopped; x32 calls share x86_64's tag but
    # carry bit 0x40000000 in their number, so they match nothing below either.
    program.jump(_BPF_JEQ_K, arch.audit, 0, "allow")
    program.load(_OFF_NR)
    checked = {"open", "openat", "mmap"}  # their arguments are tested below
    for name, number in numbers.items():
        target = f"check_{name}" if name in checked else "notify"
        program.jump(_BPF_JEQ_K, number, target, 0)
    program.ret(_RET_ALLOW)
    for name, flags_arg in (("open", 1), ("openat", 2)):
        if name in numbers:
            program.label(f"check_{name}")
            program.load(_arg_low(flags_arg))
            program.jump(_BPF_JSET_K, arch.open_mask, "notify", "allow")
    if "mmap" in numbers:
        program.label("check_mmap")
        program.load(_arg_low(2))
        program.jump(_BPF_JSET_K, _PROT_WRITE, 0, "allow")
        program.load(_arg_low(3))
        program.jump(_BPF_JSET_K, _MAP_ANONYMOUS, "allow", 0)
        program.jump(_BPF_JSET_K, _MAP_SHARED, "notify", "allow")
    program.label("notify")
    program.ret(_RET_USER_NOTIF)
    program.label("allow")
    program.ret(_RET_ALLOW)
    return program.assemble()


# -- installing it (in the program's process, between fork and exec) --------------------

_PR_SET_NO_NEW_PRIVS = 38
_SECCOMP_SET_MODE_FILTER = 1
_FLAG_NEW_LISTENER = 1 << 3
_FLAG_WAIT_KILLABLE_RECV = 1 << 5
_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


#: The C library, loaded and its functions looked up here, in the parent: between fork and
#: exec in a threaded process, dlopen and dlsym could wait forever on the loader's lock.
_C = ctypes.CDLL(None, use_errno=True)
_PRCTL, _SYSCALL, _IOCTL = _C.prctl, _C.syscall, _C.ioctl


def install_filter(arch: Arch, program: bytes) -> int:
    """Install ``program`` on the calling thread (and all it starts); the listener's fd.

    Meant for the child between fork and exec: ``no_new_privs`` is set first, as the
    kernel requires of a process without CAP_SYS_ADMIN.

    Raises:
        SeccompUnavailable: the kernel refused (too old, or seccomp is disabled).
    """
    if _PRCTL(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise SeccompUnavailable(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    number = _SYS_SECCOMP["aarch64" if arch.name == "aarch64" else "x86_64"]
    for flags in (
        _FLAG_NEW_LISTENER | _FLAG_WAIT_KILLABLE_RECV,
        _FLAG_NEW_LISTENER,  # before 5.19: a signal may replay a call (seen as a repeat)
    ):
        fd = _SYSCALL(number, _SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(fprog))
        if fd >= 0:
            return int(fd)
        code = ctypes.get_errno()
        if code != errno.EINVAL:
            break
    raise SeccompUnavailable(code, f"seccomp(SET_MODE_FILTER) failed: {os.strerror(code)}")


# -- the supervisor's side -----------------------------------------------------------------


class _Data(ctypes.Structure):
    _fields_ = [
        ("nr", ctypes.c_int),
        ("arch", ctypes.c_uint32),
        ("instruction_pointer", ctypes.c_uint64),
        ("args", ctypes.c_uint64 * 6),
    ]


class _Notif(ctypes.Structure):
    _fields_ = [
        ("id", ctypes.c_uint64),
        ("pid", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("data", _Data),
    ]


class _Resp(ctypes.Structure):
    _fields_ = [
        ("id", ctypes.c_uint64),
        ("val", ctypes.c_int64),
        ("error", ctypes.c_int32),
        ("flags", ctypes.c_uint32),
    ]


def _iowr(number: int, size: int, write_only: bool = False) -> int:
    direction = 1 if write_only else 3  # _IOC_WRITE, or _IOC_READ | _IOC_WRITE
    return (direction << 30) | (size << 16) | (ord("!") << 8) | number


_NOTIF_RECV = _iowr(0, ctypes.sizeof(_Notif))
_NOTIF_SEND = _iowr(1, ctypes.sizeof(_Resp))
_NOTIF_ID_VALID = _iowr(2, 8, write_only=True)
_FLAG_CONTINUE = 1


@dataclass(frozen=True)
class Notification:
    """One stopped system call: who made it, which, and its raw arguments."""

    id: int
    pid: int
    nr: int
    args: tuple[int, ...]


def receive(listener: int) -> Notification | None:
    """The next stopped call (blocks); None when the caller died before it was read."""
    notif = _Notif()
    if _ioctl(listener, _NOTIF_RECV, ctypes.byref(notif)) != 0:
        code = ctypes.get_errno()
        if code in (errno.ENOENT, errno.EINTR):
            return None
        raise OSError(code, f"SECCOMP_IOCTL_NOTIF_RECV: {os.strerror(code)}")
    return Notification(notif.id, notif.pid, notif.data.nr, tuple(notif.data.args))


def answer(listener: int, notification: Notification, error: int = 0) -> None:
    """Let the call run (``error`` 0), or fail it with ``error`` without running it.

    A caller that died meanwhile is no error (there is no one left to answer).
    """
    resp = _Resp(notification.id, 0, -error if error else 0, 0 if error else _FLAG_CONTINUE)
    if _ioctl(listener, _NOTIF_SEND, ctypes.byref(resp)) != 0:
        code = ctypes.get_errno()
        if code not in (errno.ENOENT, errno.EINTR):
            raise OSError(code, f"SECCOMP_IOCTL_NOTIF_SEND: {os.strerror(code)}")


def still_waiting(listener: int, notification: Notification) -> bool:
    """Whether the caller is still waiting (so what was read of its memory was its own)."""
    value = ctypes.c_uint64(notification.id)
    return _ioctl(listener, _NOTIF_ID_VALID, ctypes.byref(value)) == 0


def _ioctl(fd: int, request: int, argument: object) -> int:
    return int(_IOCTL(fd, ctypes.c_ulong(request), argument))
