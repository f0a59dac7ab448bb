"""What the supervisor reads of a stopped process through ``/proc``: its memory, its
descriptors, its folders, its name."""

from __future__ import annotations

import contextlib
import os
import struct

__all__ = ["Memory", "command_line", "fd_info", "fd_path", "name_of", "resolve"]

_PAGE = os.sysconf("SC_PAGE_SIZE")
PATH_MAX = 4096
#: ``AT_FDCWD`` as the low 32 bits of a register.
AT_FDCWD = 0xFFFFFF9C


class Memory:
    """A stopped process's memory (``/proc/PID/mem``), read while it waits."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._fd: int | None = None

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(f"/proc/{self.pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
        return self._fd

    def read(self, address: int, size: int) -> bytes:
        """``size`` bytes at ``address`` (fewer where the mapping ends)."""
        if size <= 0:
            return b""
        out = bytearray()
        fd = self._open()
        while len(out) < size:
            try:
                chunk = os.pread(fd, size - len(out), address + len(out))
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        return bytes(out)

    def string(self, address: int, limit: int = PATH_MAX) -> bytes:
        """The NUL-terminated string at ``address``, read page by page."""
        out = bytearray()
        fd = self._open()
        while len(out) < limit:
            here = address + len(out)
            step = min(_PAGE - here % _PAGE, limit - len(out))
            try:
                chunk = os.pread(fd, step, here)
            except OSError:
                break
            end = chunk.find(b"\0")
            if end >= 0:
                out += chunk[:end]
                break
            if not chunk:
                break
            out += chunk
        return bytes(out)

    def iovecs(self, address: int, count: int) -> list[tuple[int, int]]:
        """An ``iovec`` array: (base, length) pairs."""
        count = max(0, min(count, 1024))
        raw = self.read(address, 16 * count)
        return [struct.unpack_from("=QQ", raw, 16 * i) for i in range(len(raw) // 16)]


def fd_path(pid: int, fd: int) -> str | None:
    """The path a descriptor of ``pid`` names (None: a pipe, a socket, or gone)."""
    try:
        path = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return None
    return path if path.startswith("/") else None


def fd_info(pid: int, fd: int) -> tuple[int, int]:
    """A descriptor's position and open flags (``/proc/PID/fdinfo/FD``); (0, 0) if gone."""
    pos = flags = 0
    with contextlib.suppress(OSError), open(f"/proc/{pid}/fdinfo/{fd}", "rb") as info:
        for line in info.read().splitlines():
            key, _, value = line.partition(b":")
            if key == b"pos":
                pos = int(value)
            elif key == b"flags":
                flags = int(value, 8)
    return pos, flags


def resolve(pid: int, dirfd: int, path: bytes) -> str | None:
    """``path`` as the process sees it, made absolute (its cwd, or ``dirfd``'s folder)."""
    text = os.fsdecode(path)
    if text.startswith("/"):
        return os.path.normpath(text)
    if dirfd & 0xFFFFFFFF == AT_FDCWD:
        try:
            base = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            return None
    else:
        base = fd_path(pid, dirfd & 0xFFFFFFFF) or ""
        if not base:
            return None
    return os.path.normpath(os.path.join(base, text)) if text else base


def name_of(pid: int) -> str:
    """The process's executable name (``comm``), e.g. ``sqlite3``."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as comm:
            return comm.read().strip().decode(errors="replace") or "?"
    except OSError:
        return "?"


def command_line(pid: int, limit: int = 300) -> str:
    """The process's command line, for messages."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            raw = cmdline.read(limit + 1)
    except OSError:
        return "?"
    text = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    return text if len(raw) <= limit else text[:limit] + "..."
