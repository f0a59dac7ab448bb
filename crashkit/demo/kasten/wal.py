"""The sync journal (``sync_wal``): one row per write operation in flight.

An entry is written, and committed, before the operation's first mutation;
it moves ``pending -> target_written -> committed`` as the operation goes,
and is deleted only after the operation's last side effect. Whatever entries
exist when kasten starts are operations a crash interrupted: recovery replays
each from its state (see ``operations.py``).

These functions only run statements; callers own the transaction.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from typing import Any

__all__ = [
    "COMMITTED",
    "OPERATIONS",
    "PENDING",
    "TARGET_WRITTEN",
    "WalEntry",
    "delete",
    "incomplete",
    "insert",
    "set_state",
]

PENDING = "pending"
TARGET_WRITTEN = "target_written"
COMMITTED = "committed"
OPERATIONS = ("push", "pull", "merge", "delete", "gc")

_COLUMNS = (
    "id, entity_id, operation, state, new_content, prior_hash, remote_edit_time, conflict,"
    " block_ids"
)


@dataclass(frozen=True)
class WalEntry:
    """One journaled operation."""

    id: int
    entity_id: int
    operation: str
    state: str
    new_content: str | None = None  #: the body being written (push, pull, merge)
    prior_hash: str | None = None  #: the local file's hash when the entry was written
    remote_edit_time: str | None = None  #: the page's last_edited_time the poll saw
    conflict: str | None = None  #: merge only: the conflict it resolved, if any
    block_ids: tuple[str, ...] = ()  #: the page's block ids the poll saw (pull, merge)


def insert(db: sqlite3.Connection, entry: WalEntry, at: str) -> WalEntry:
    """Store a new entry (its ``id`` is ignored) and return it with its id."""
    cursor = db.execute(
        "INSERT INTO sync_wal (entity_id, operation, state, new_content, prior_hash,"
        " remote_edit_time, conflict, block_ids, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            entry.entity_id, entry.operation, entry.state, entry.new_content, entry.prior_hash,
            entry.remote_edit_time, entry.conflict, json.dumps(list(entry.block_ids)), at, at,
        ),
    )  # fmt: skip
    return replace(entry, id=int(cursor.lastrowid or 0))


def set_state(db: sqlite3.Connection, entry: WalEntry, state: str, at: str) -> WalEntry:
    sql = "UPDATE sync_wal SET state = ?, updated_at = ? WHERE id = ?"
    db.execute(sql, (state, at, entry.id))
    return replace(entry, state=state)


def delete(db: sqlite3.Connection, entry: WalEntry) -> None:
    db.execute("DELETE FROM sync_wal WHERE id = ?", (entry.id,))


def incomplete(db: sqlite3.Connection) -> list[WalEntry]:
    """Every entry still in the journal, oldest first (the order recovery replays them in)."""
    sql = f"SELECT {_COLUMNS} FROM sync_wal ORDER BY id"
    return [_entry(row) for row in db.execute(sql)]


def _entry(row: Any) -> WalEntry:
    ids = tuple(json.loads(row[8])) if row[8] else ()
    id_, entity_id, operation, state, content, prior, edited, conflict = row[:8]
    return WalEntry(id_, entity_id, operation, state, content, prior, edited, conflict, ids)
