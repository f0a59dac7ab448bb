"""kasten's state database: connection settings, transactions and schema migrations.

The database is ``DIR/.kasten/state.db``. Settings, and why:

* ``PRAGMA synchronous = EXTRA``: a COMMIT that returned is on disk, so the
  journal (``sync_wal``) can be trusted after a crash or a power loss. FULL is not
  enough in DELETE mode: the commit is the journal's deletion, and only EXTRA syncs
  the folder after it, so with FULL a power cut can bring the journal back and roll
  the last transaction back (SQLite's documentation of ``synchronous``; crashkit's
  black-box powerloss sweep found it: a pushed note then recovered as a conflict).
* journal mode DELETE, SQLite's default rollback journal: with no transaction
  open the database is this one file (no ``-wal``/``-shm`` beside it), so a
  copied or snapshotted folder is always self-contained.
* ``isolation_level=None``: every transaction is an explicit ``BEGIN
  IMMEDIATE`` ... ``COMMIT`` (:func:`transaction`), so each durable step of the
  protocol is exactly one visible COMMIT, and the write lock is taken up front.

Migrations are a tuple of statement lists; migration *n* brings the schema to
``PRAGMA user_version = n``. Each runs in one transaction together with its
version bump (SQLite's DDL is transactional), so a crash leaves the old schema
or the new one, never half of it, and the next open simply runs it again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .errors import SchemaError

__all__ = ["MIGRATIONS", "connect", "migrate", "schema_version", "transaction"]

#: Seconds to wait for another kasten process holding the write lock.
BUSY_TIMEOUT = 30.0

_V1 = (
    """CREATE TABLE entity_map (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        local_path TEXT NOT NULL,            -- relative to DIR, '/'-separated
        page_id TEXT NOT NULL,
        last_local_hash TEXT,                -- content_hash of the file's body at last sync
        last_remote_hash TEXT,               -- content_hash of the page's markdown at last sync
        last_remote_edit_time TEXT,          -- the page's last_edited_time at last sync
        base_content_id TEXT REFERENCES base_content (id),
        conflict TEXT,                       -- set when a merge kept local over remote
        deleted INTEGER NOT NULL DEFAULT 0,
        deleted_at TEXT
    )""",
    # A path or a page is linked at most once among live entities; a soft-deleted
    # entity keeps its row (and its path) until garbage collection.
    "CREATE UNIQUE INDEX entity_live_path ON entity_map (local_path) WHERE deleted = 0",
    "CREATE UNIQUE INDEX entity_live_page ON entity_map (page_id) WHERE deleted = 0",
    """CREATE TABLE base_content (
        id TEXT PRIMARY KEY,                 -- content_hash of body
        body TEXT NOT NULL
    )""",
    """CREATE TABLE sync_wal (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        entity_id INTEGER NOT NULL,
        operation TEXT NOT NULL CHECK (operation IN ('push', 'pull', 'merge', 'delete', 'gc')),
        state TEXT NOT NULL CHECK (state IN ('pending', 'target_written', 'committed')),
        new_content TEXT,                    -- the body being written (push, pull, merge)
        prior_hash TEXT,                     -- the file's hash when the entry was written
        remote_edit_time TEXT,               -- the page's last_edited_time seen by the poll
        conflict TEXT,                       -- merge only: the conflict it resolved
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE sync_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        entity_id INTEGER,
        local_path TEXT,
        operation TEXT NOT NULL,
        detail TEXT,
        created_at TEXT NOT NULL
    )""",
)

# Block ids (JSON list) of the page as of the last sync, and as a pull or merge
# saw them: what an incremental pusher (the push-not-idempotent variant)
# believes it has to remove.
_V2 = (
    "ALTER TABLE entity_map ADD COLUMN remote_block_ids TEXT",
    "ALTER TABLE sync_wal ADD COLUMN block_ids TEXT",
)

#: Migration n (1-based) brings the schema from version n-1 to n.
MIGRATIONS: tuple[Sequence[str], ...] = (_V1, _V2)


def connect(path: Path) -> sqlite3.Connection:
    """Open the state database with kasten's settings (creating an empty file if missing)."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    connection.execute("PRAGMA synchronous = EXTRA")
    connection.execute("PRAGMA foreign_keys = ON")
    # Setting the journal mode writes the file, so only when it is not already DELETE.
    if connection.execute("PRAGMA journal_mode").fetchone()[0] != "delete":
        connection.execute("PRAGMA journal_mode = DELETE")
    return connection


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One all-or-nothing transaction: ``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ROLLBACK).

    A COMMIT that fails (``disk I/O error``, ``database is locked``) is rolled
    back before the error goes up, so nothing of it is kept, and the connection
    is not left inside a transaction the next ``BEGIN`` would trip over.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        _rollback(connection)
        raise
    try:
        connection.execute("COMMIT")
    except BaseException:
        _rollback(connection)
        raise


def _rollback(connection: sqlite3.Connection) -> None:
    # SQLite may already have rolled back by itself (after some I/O errors).
    if connection.in_transaction:
        connection.execute("ROLLBACK")


def schema_version(connection: sqlite3.Connection) -> int:
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def migrate(
    connection: sqlite3.Connection, migrations: Sequence[Sequence[str]] = MIGRATIONS
) -> int:
    """Bring the schema up to date, one transaction per migration; returns how many ran.

    Raises:
        SchemaError: the database is newer than every migration this kasten knows.
    """
    current = schema_version(connection)
    if current > len(migrations):
        raise SchemaError(
            f"state.db has schema version {current}, newer than this kasten knows"
            f" ({len(migrations)})",
            "upgrade kasten, or sync this folder with the newer kasten that wrote it",
        )
    for version in range(current + 1, len(migrations) + 1):
        with transaction(connection):
            # Checked again under the write lock: another process may have just run it.
            if schema_version(connection) >= version:
                continue
            for statement in migrations[version - 1]:
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {version}")
    return len(migrations) - current
