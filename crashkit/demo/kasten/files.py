"""Durable file writes: atomic by default, in place for the ``inplace-*`` variants.

An atomic write puts the new bytes in a temp file in the SAME folder (a
rename across file systems is not atomic), flushes and fsyncs it, renames it
over the target, then fsyncs the folder so the rename itself survives a power
loss. A reader, or a crashed writer's successor, sees the old file or the new
one, never a mix. A folder the write has to create is made durable the same
way: after each mkdir, an fsync of the folder that holds it.

The temp file's name is derived from the target's (:func:`temp_path_for`), so a
replayed write reuses, and so removes, the temp file a crash left behind.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "read_text",
    "remove_temp",
    "temp_path_for",
    "write_atomic",
    "write_in_place",
    "write_record_in_place",
]

_TEMP_SUFFIX = ".kasten-tmp"


def temp_path_for(path: Path) -> Path:
    """The temp file an atomic write of ``path`` uses (hidden, same folder)."""
    return path.with_name(f".{path.name}{_TEMP_SUFFIX}")


def is_temp_name(name: str) -> bool:
    """Whether a file name is one of kasten's temp files."""
    return name.startswith(".") and name.endswith(_TEMP_SUFFIX)


def read_text(path: Path) -> str | None:
    """The file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write_atomic(path: Path, text: str, *, sync_data: bool = True) -> None:
    """Replace ``path`` with ``text`` so that a crash leaves the old or the new file.

    Args:
        sync_data: False skips the temp file's fsync before the rename: the
            ``rename-without-fsync`` bug. A kill still leaves the old or the new
            file (the page cache survives it); a power cut after the rename and
            the folder's fsync may leave the new name with the temp file's last
            durable content, which for a new temp file is nothing.
    """
    _ensure_folder(path.parent)
    temp = temp_path_for(path)
    with open(temp, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        if sync_data:
            os.fsync(handle.fileno())
    os.replace(temp, path)
    fsync_folder(path.parent)


def write_in_place(path: Path, text: str) -> None:
    """Truncate ``path`` and write ``text`` in two writes: the ``inplace-write`` bug.

    Each half is flushed to the OS on its own, as unbuffered or large writes
    are, so a crash between them leaves a truncated file on disk.
    """
    _ensure_folder(path.parent)
    middle = len(text) // 2
    with open(path, "w", encoding="utf-8", newline="") as handle:
        for part in (text[:middle], text[middle:]):
            handle.write(part)
            handle.flush()
        os.fsync(handle.fileno())


def write_record_in_place(path: Path, data: bytes) -> None:
    """Overwrite ``path`` from offset 0 with one ``os.pwrite``, without truncating it.

    The ``inplace-pwrite`` bug, as a fixed-size record is often rewritten: the
    record always has the same size, so nothing of the old one is left past its
    end, and one write is trusted to land whole. A kill does leave the old record
    or the new one (or, before the first write, an empty new file). A torn write
    does not: only its first sectors reach the disk, the rest is the old record.
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        written = os.pwrite(descriptor, data, 0)
        if written != len(data):
            raise OSError(f"short write to {path}: {written} of {len(data)} bytes")
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_temp(path: Path) -> bool:
    """Remove the temp file a crashed atomic write of ``path`` left; True if there was one."""
    temp = temp_path_for(path)
    if not temp.exists():
        return False
    os.unlink(temp)
    fsync_folder(path.parent)
    return True


def fsync_folder(folder: Path) -> None:
    """Make a rename, create or unlink inside ``folder`` durable."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _ensure_folder(folder: Path) -> None:
    # A file linked under a folder that does not exist yet is created by its
    # first pull; the mkdir is replayed along with the write if it is lost. Each
    # new folder's entry is made durable in its parent, so that a power cut
    # after the write (whose rename the new folder's own fsync covers) cannot
    # take the folder, and the note in it, away.
    if folder.is_dir():
        return
    missing = [folder]
    while not missing[-1].parent.is_dir():
        missing.append(missing[-1].parent)
    os.makedirs(folder, exist_ok=True)
    for created in reversed(missing):  # outermost first
        fsync_folder(created.parent)
