"""Rows of ``entity_map`` and ``base_content``, and the ``sync_log``.

These functions only run statements; callers decide the transaction, so that
an entity update and its journal's state change commit together.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Entity",
    "SyncedState",
    "base_body",
    "by_id",
    "delete_row",
    "deleted_entities",
    "insert",
    "live_entities",
    "log",
    "mark_deleted",
    "purge",
    "purge_base",
    "record_sync",
    "set_remote_seen",
]

_COLUMNS = (
    "id, local_path, page_id, last_local_hash, last_remote_hash, last_remote_edit_time,"
    " base_content_id, conflict, deleted, deleted_at, remote_block_ids"
)


@dataclass(frozen=True)
class Entity:
    """One linked file and its page, as of the last sync."""

    id: int
    local_path: str
    page_id: str
    last_local_hash: str | None
    last_remote_hash: str | None
    last_remote_edit_time: str | None
    base_content_id: str | None
    conflict: str | None
    deleted: bool
    deleted_at: str | None
    remote_block_ids: tuple[str, ...]

    @property
    def synced(self) -> bool:
        """Whether a sync ever completed for this entity (else it was just linked)."""
        return self.last_local_hash is not None


@dataclass(frozen=True)
class SyncedState:
    """What an entity records when a push, pull or merge takes effect."""

    body: str  #: the normalized body both sides now hold; becomes the merge base
    local_hash: str
    remote_hash: str
    remote_edit_time: str | None
    block_ids: tuple[str, ...]
    conflict: str | None = None


def _entity(row: Any) -> Entity:
    ids = tuple(json.loads(row[10])) if row[10] else ()
    id_, path, page, local, remote, edited, base, conflict, deleted, deleted_at = row[:10]
    return Entity(
        id_, path, page, local, remote, edited, base, conflict, bool(deleted), deleted_at, ids
    )


def by_id(db: sqlite3.Connection, entity_id: int) -> Entity | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM entity_map WHERE id = ?", (entity_id,)).fetchone()
    return _entity(row) if row else None


def live_entities(db: sqlite3.Connection) -> list[Entity]:
    """Linked, not deleted entities, by path (the order a sync visits them in)."""
    sql = f"SELECT {_COLUMNS} FROM entity_map WHERE deleted = 0 ORDER BY local_path, id"
    return [_entity(row) for row in db.execute(sql)]


def deleted_entities(db: sqlite3.Connection) -> list[Entity]:
    """Soft-deleted entities waiting for garbage collection, by path."""
    sql = f"SELECT {_COLUMNS} FROM entity_map WHERE deleted = 1 ORDER BY local_path, id"
    return [_entity(row) for row in db.execute(sql)]


def insert(db: sqlite3.Connection, local_path: str, page_id: str) -> int:
    sql = "INSERT INTO entity_map (local_path, page_id) VALUES (?, ?)"
    return int(db.execute(sql, (local_path, page_id)).lastrowid or 0)


def base_body(db: sqlite3.Connection, entity: Entity) -> str:
    """The body both sides held at the last sync ('' before the first one)."""
    if entity.base_content_id is None:
        return ""
    sql = "SELECT body FROM base_content WHERE id = ?"
    row = db.execute(sql, (entity.base_content_id,)).fetchone()
    return str(row[0]) if row else ""


def record_sync(db: sqlite3.Connection, entity_id: int, state: SyncedState) -> None:
    """Store the entity's new hashes and base, dropping its old base if nothing else uses it."""
    old = by_id(db, entity_id)
    db.execute(
        "INSERT OR IGNORE INTO base_content (id, body) VALUES (?, ?)",
        (state.local_hash, state.body),
    )
    db.execute(
        "UPDATE entity_map SET last_local_hash = ?, last_remote_hash = ?,"
        " last_remote_edit_time = ?, base_content_id = ?, conflict = ?, remote_block_ids = ?"
        " WHERE id = ?",
        (
            state.local_hash, state.remote_hash, state.remote_edit_time, state.local_hash,
            state.conflict, json.dumps(list(state.block_ids)), entity_id,
        ),
    )  # fmt: skip
    if old is not None and old.base_content_id not in (None, state.local_hash):
        _drop_base_if_unused(db, old.base_content_id)


def set_remote_seen(
    db: sqlite3.Connection, entity_id: int, edit_time: str, block_ids: tuple[str, ...]
) -> None:
    """Remember the page's edit time and block ids (after a push, or an edit changing nothing)."""
    sql = "UPDATE entity_map SET last_remote_edit_time = ?, remote_block_ids = ? WHERE id = ?"
    db.execute(sql, (edit_time, json.dumps(list(block_ids)), entity_id))


def mark_deleted(db: sqlite3.Connection, entity_id: int, at: str) -> None:
    sql = "UPDATE entity_map SET deleted = 1, deleted_at = ? WHERE id = ?"
    db.execute(sql, (at, entity_id))


def purge(db: sqlite3.Connection, entity: Entity) -> None:
    """Forget a soft-deleted entity and the base content only it used."""
    delete_row(db, entity)
    purge_base(db, entity)


def delete_row(db: sqlite3.Connection, entity: Entity) -> None:
    db.execute("DELETE FROM entity_map WHERE id = ?", (entity.id,))


def purge_base(db: sqlite3.Connection, entity: Entity) -> None:
    """Remove ``entity``'s base content if no remaining entity uses it."""
    if entity.base_content_id is not None:
        _drop_base_if_unused(db, entity.base_content_id)


def _drop_base_if_unused(db: sqlite3.Connection, content_id: str | None) -> None:
    db.execute(
        "DELETE FROM base_content WHERE id = ?"
        " AND NOT EXISTS (SELECT 1 FROM entity_map WHERE base_content_id = ?)",
        (content_id, content_id),
    )


def log(
    db: sqlite3.Connection, entity: Entity, operation: str, detail: str | None, at: str
) -> None:
    """Append one line of history: an operation that took effect, a conflict, an abandon."""
    db.execute(
        "INSERT INTO sync_log (entity_id, local_path, operation, detail, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (entity.id, entity.local_path, operation, detail, at),
    )
