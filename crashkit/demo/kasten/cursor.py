"""The poll cursor, ``DIR/.kasten/cursor.json``: what the last sync that changed anything saw.

Every start reads it; a cycle that changed anything ends by rewriting it: how
many such syncs there were, when the last one started and ended, the newest
``last_edited_time`` the polls have seen, and what it did. A cycle that changes
nothing leaves it alone (a sync with nothing to do writes nothing). ``status``
shows it; nothing in the journal depends on it, and the notes' state lives in
``state.db``.

The file is one record of exactly :data:`RECORD_SIZE` bytes::

    {"syncs": 7, ...}<spaces>\\n<SHA-256 of everything before it, hex>\\n

The size is fixed so that a record can be rewritten in place (the
``inplace-pwrite`` variant) without a tail of the old one left past its end,
and the checksum closes the record so that a record whose end belongs to
another write is seen for what it is.

Reading it: a missing file is a folder never synced; so is an empty one, which
is what a writer killed between creating the file and writing to it leaves.
Anything else that is not one whole record (the wrong size, a checksum that
does not match, not the JSON expected) is damaged, and kasten refuses to start
on it (:class:`~kasten.errors.StateError`) rather than guess: delete the file,
and the next sync starts a new cursor.

The correct engine rewrites it atomically (temp file, fsync, rename, fsync of
the folder), so it is never damaged. With ``inplace-pwrite`` it is rewritten
by one ``os.pwrite`` at offset 0: a torn write keeps the new record's first
sectors and the old one's checksum, and every start after it fails.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import files
from .errors import StateError

__all__ = ["CURSOR_FILE", "RECORD_SIZE", "Cursor", "decode", "encode", "load", "save"]

CURSOR_FILE = "cursor.json"
#: Two disk sectors: the record spans a sector boundary, as any record past 512 bytes does.
RECORD_SIZE = 1024
VERSION = 1

_DIGEST_LINE = 64 + 1  # hex SHA-256 and a newline
_FIX = "delete it: the next sync starts a new cursor (the notes and the journal are not in it)"


@dataclass(frozen=True)
class Cursor:
    """What the last sync that changed anything saw; the zero cursor: "never synced"."""

    syncs: int = 0  #: sync cycles that changed anything
    started_at: str | None = None  #: when the last one started (the engine's clock, UTC)
    finished_at: str | None = None  #: when it ended
    newest_edit: str | None = None  #: the newest page ``last_edited_time`` the polls saw
    notes: int = 0  #: linked notes it visited
    recovered: int = 0  #: journal entries it replayed
    pushed: int = 0
    pulled: int = 0
    merged: int = 0
    deleted: int = 0
    skipped: int = 0


def encode(cursor: Cursor) -> bytes:
    """The cursor as one record of :data:`RECORD_SIZE` bytes."""
    data = {"version": VERSION, **asdict(cursor)}
    text = json.dumps(data, sort_keys=True)  # ASCII: one byte per character
    width = RECORD_SIZE - _DIGEST_LINE - 1
    if len(text) > width:
        raise ValueError(f"cursor record too long ({len(text)} > {width} bytes): {text}")
    head = (text.ljust(width) + "\n").encode("ascii")
    return head + hashlib.sha256(head).hexdigest().encode("ascii") + b"\n"


def decode(record: bytes, source: Path) -> Cursor:
    """The cursor held by ``record`` (read from ``source``); empty means never synced.

    Raises:
        StateError: the record is not one whole cursor record.
    """
    if not record:
        return Cursor()
    if len(record) != RECORD_SIZE:
        raise StateError(f"{source} is damaged: {len(record)} bytes, not {RECORD_SIZE}", _FIX)
    head, digest = record[:-_DIGEST_LINE], record[-_DIGEST_LINE:-1]
    if hashlib.sha256(head).hexdigest().encode("ascii") != digest:
        raise StateError(f"{source} is damaged: its checksum does not match", _FIX)
    try:
        data = json.loads(head)
        return _cursor(data)
    except (ValueError, TypeError) as error:
        raise StateError(f"{source} is damaged: {error}", _FIX) from None


def _cursor(data: Any) -> Cursor:
    if not isinstance(data, dict) or data.pop("version", None) != VERSION:
        raise ValueError(f"not a version {VERSION} cursor")
    cursor = Cursor(**data)
    if not isinstance(cursor.syncs, int) or cursor.syncs < 0:
        raise ValueError(f"bad count of syncs {cursor.syncs!r}")
    return cursor


def load(folder: Path) -> Cursor:
    """Read ``folder/cursor.json`` (``folder`` is the state folder, ``DIR/.kasten``).

    Raises:
        StateError: the file is damaged.
    """
    path = folder / CURSOR_FILE
    try:
        record = path.read_bytes()
    except FileNotFoundError:
        return Cursor()
    return decode(record, path)


def save(folder: Path, cursor: Cursor, *, in_place: bool = False, sync_data: bool = True) -> None:
    """Store ``cursor`` in ``folder/cursor.json``, atomically.

    Args:
        in_place: overwrite the record with one ``os.pwrite`` (the ``inplace-pwrite`` bug).
        sync_data: False skips the fsync before the rename (``rename-without-fsync``).
    """
    path = folder / CURSOR_FILE
    record = encode(cursor)
    if in_place:
        files.write_record_in_place(path, record)
    else:
        files.write_atomic(path, record.decode("ascii"), sync_data=sync_data)
