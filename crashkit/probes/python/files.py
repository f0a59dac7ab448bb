"""The file patches: ``open``/``io.open`` and the ``os`` functions that change files.

Each records its operation before it runs, and only for paths inside the world
(a descriptor counts by the file it refers to). ``pathlib``, ``tempfile``,
``shutil`` and ``os.makedirs`` go through these. :data:`OS_PATCHES` is the table
of ``os`` functions they replace.
"""

from __future__ import annotations

import fcntl
import io
import os
import re
from collections.abc import Callable
from typing import Any

from crashkit.probes.python.core import Payload, _Real, active


def _record_path(kind: str, path: Any, dir_fd: int | None = None, **detail: Any) -> None:
    probe = active()
    if probe is None:
        return
    target = probe.relative(path, dir_fd)
    if target is not None:
        probe.record(kind, target, detail or None)
    else:
        probe.outside(kind, probe.absolute(path, dir_fd))


def _record_fd(kind: str, fd: Any, **detail: Any) -> None:
    probe = active()
    if probe is None:
        return
    target = probe.fd_target(fd)
    if target is not None:
        probe.record(kind, target, detail or None)
    elif kind != "fs.fsync" and kind != "fs.fdatasync":  # syncing changes nothing
        probe.outside(kind, probe.fd_path(fd))


def _record_write(fd: int, data: Any, offset: int | None = None) -> None:
    """Record a write of ``data`` to ``fd`` (at ``offset``, or at the descriptor's position)."""
    probe = active()
    if probe is None:
        return
    target = probe.fd_target(fd)
    if target is None:
        probe.outside("fs.write", probe.fd_path(fd))
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
    if active() is None or not (creating or truncating) or isinstance(path, int):
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


def probed_open(
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
    if active() is None or not writes or not isinstance(mode, str) or not _MODE.match(mode):
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
    probe = active()
    if probe is None:
        return
    source = probe.relative(src, src_dir_fd)
    dest = probe.relative(dst, dst_dir_fd)
    if source is not None or dest is not None:
        probe.record("fs.rename", f"{source or src} -> {dest or dst}")
    else:
        probe.outside("fs.rename", probe.absolute(dst, dst_dir_fd))


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


# A call that will fail because its target already is as it would leave it (unlinking
# what is not there, making a folder that exists: ``makedirs(exist_ok=True)``) changes
# nothing and is no durable operation: counted, it made a recovery that makes sure of
# its folders look like one that never settles.


def _unlink(path: Any, *, dir_fd: int | None = None) -> None:
    if _lexists(path, dir_fd):
        _record_path("fs.unlink", path, dir_fd)
    _Real.unlink(path, dir_fd=dir_fd)


def _mkdir(path: Any, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
    if not _lexists(path, dir_fd):
        _record_path("fs.mkdir", path, dir_fd)
    _Real.mkdir(path, mode, dir_fd=dir_fd)


def _rmdir(path: Any, *, dir_fd: int | None = None) -> None:
    if _lexists(path, dir_fd):
        _record_path("fs.rmdir", path, dir_fd)
    _Real.rmdir(path, dir_fd=dir_fd)


def _lexists(path: Any, dir_fd: int | None) -> bool:
    if active() is None:
        return True  # not recording: whatever it answers is not used
    try:
        os.lstat(path, dir_fd=dir_fd)
    except (OSError, ValueError, TypeError):
        return False
    return True


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


#: The ``os`` functions replaced, by name.
OS_PATCHES: dict[str, Callable[..., Any]] = {
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
    OS_PATCHES["pwritev"] = _pwritev
if _Real.sendfile is not None:
    OS_PATCHES["sendfile"] = _sendfile
if _Real.copy_file_range is not None:
    OS_PATCHES["copy_file_range"] = _copy_file_range
