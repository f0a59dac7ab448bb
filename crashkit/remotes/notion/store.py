"""The fake Notion remote's persistent store: one SQLite file, one transaction per request.

Every request the fake handles runs inside exactly one :meth:`NotionStore.transaction`
(``BEGIN IMMEDIATE`` ... ``COMMIT`` on a fresh connection), so a client killed at any
moment leaves the remote consistent and every request is all-or-nothing. Several
processes and threads may share the file: writers queue on SQLite's lock (busy timeout).

Notion's model is kept: a page is a block of type ``child_page``, so one ``nodes`` table
holds pages and blocks, and a page's row is also its ``child_page`` block in its parent's
children. Ids and times are deterministic: ids are uuid5 of a counter, times come from a
minute counter, both kept in ``meta``.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from crashkit.probes.quiet import quiet

__all__ = ["EPOCH", "ID_NAMESPACE", "Node", "NotionStore", "Trigger", "Tx", "format_time"]

#: Time 0 of the deterministic clock; every mutating request advances it by a minute
#: (Notion rounds ``last_edited_time`` to the minute).
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

#: Namespace of the deterministic ids (any fixed UUID works; this one is uuid5(URL, "crashkit")).
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "crashkit/fake-notion")

#: Seconds a request waits for another process's transaction before giving up.
BUSY_TIMEOUT = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    is_page INTEGER NOT NULL,
    parent_type TEXT NOT NULL,
    parent_id TEXT,
    ord INTEGER NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL,
    edited INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS nodes_by_parent ON nodes (parent_id, ord);
CREATE TABLE IF NOT EXISTS triggers (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    method TEXT,
    path TEXT,
    remaining INTEGER NOT NULL,
    status INTEGER,
    retry_after INTEGER,
    code TEXT,
    message TEXT
);
CREATE TABLE IF NOT EXISTS requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    fault TEXT
);
"""


def format_time(minutes: int) -> str:
    """Notion's timestamp form (``2026-01-01T00:00:00.000Z``) of a clock reading."""
    return (EPOCH + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass(frozen=True)
class Node:
    """One row of ``nodes``: a page (``is_page``, type ``child_page``) or a block."""

    id: str
    is_page: bool
    #: ``"workspace"``, ``"page_id"`` or ``"block_id"``, as in Notion's parent objects.
    parent_type: str
    parent_id: str | None
    type: str
    #: Pages: ``{"title": [rich text], "icon": ..., "cover": ...}``; blocks: the type payload.
    payload: dict[str, Any]
    archived: bool
    created: int
    edited: int


@dataclass(frozen=True)
class Trigger:
    """An armed fault: ``kind`` is ``"fail"`` (answer an error, apply nothing) or ``"lose"``."""

    kind: str
    method: str | None
    path: str | None
    status: int | None = None
    retry_after: int | None = None
    code: str | None = None
    message: str | None = None


_NODE_COLUMNS = "id, is_page, parent_type, parent_id, type, payload, archived, created, edited"


def _node(row: tuple[Any, ...]) -> Node:
    id_, is_page, parent_type, parent_id, type_, payload, archived, created, edited = row
    return Node(
        id_, bool(is_page), parent_type, parent_id, type_, json.loads(payload),
        bool(archived), created, edited,
    )  # fmt: skip


class Tx:
    """The operations of one open transaction. Only valid inside ``transaction()``."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Undo everything done inside this block if it raises; the transaction stays open."""
        self._db.execute("SAVEPOINT request")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK TO request")
            self._db.execute("RELEASE request")
            raise
        self._db.execute("RELEASE request")

    # -- ids and clock ---------------------------------------------------------------

    def _meta(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _set_meta(self, key: str, value: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def new_id(self) -> str:
        """The next deterministic id, in Notion's dashed form."""
        counter = self._meta("ids") + 1
        self._set_meta("ids", counter)
        return str(uuid.uuid5(ID_NAMESPACE, str(counter)))

    def now(self) -> int:
        """The current clock reading, in minutes since :data:`EPOCH`."""
        return self._meta("clock")

    def tick(self) -> int:
        """Advance the clock by one minute (one per mutating request) and return it."""
        minutes = self.now() + 1
        self._set_meta("clock", minutes)
        return minutes

    # -- nodes -----------------------------------------------------------------------

    def node(self, node_id: str) -> Node | None:
        """The page or block with this (dashed) id, archived or not."""
        sql = f"SELECT {_NODE_COLUMNS} FROM nodes WHERE id = ?"
        row = self._db.execute(sql, (node_id,)).fetchone()
        return _node(row) if row else None

    def pages(self, include_archived: bool) -> list[Node]:
        """Every page, in creation order."""
        sql = (
            f"SELECT {_NODE_COLUMNS} FROM nodes WHERE is_page AND (? OR NOT archived) ORDER BY seq"
        )
        return [_node(row) for row in self._db.execute(sql, (include_archived,))]

    def children(
        self, parent_id: str, *, from_ord: int | None = None, limit: int = -1
    ) -> list[Node]:
        """The non-archived children of ``parent_id`` in order, from position ``from_ord`` on."""
        sql = (
            f"SELECT {_NODE_COLUMNS} FROM nodes WHERE parent_id = ? AND NOT archived"
            " AND ord >= ? ORDER BY ord LIMIT ?"
        )
        start = -(2**62) if from_ord is None else from_ord
        return [_node(row) for row in self._db.execute(sql, (parent_id, start, limit))]

    def has_children(self, parent_id: str) -> bool:
        """Whether ``parent_id`` has any non-archived child."""
        sql = "SELECT 1 FROM nodes WHERE parent_id = ? AND NOT archived LIMIT 1"
        return self._db.execute(sql, (parent_id,)).fetchone() is not None

    def ord_of(self, node_id: str) -> int | None:
        """The position of a node among its siblings (archived nodes keep theirs)."""
        row = self._db.execute("SELECT ord FROM nodes WHERE id = ?", (node_id,)).fetchone()
        return int(row[0]) if row else None

    def make_room(self, parent_id: str | None, after_ord: int | None, count: int) -> int:
        """Free ``count`` sibling positions after position ``after_ord`` (None: at the end).

        Returns the first free position.
        """
        if after_ord is None:
            sql = "SELECT COALESCE(MAX(ord), -1) FROM nodes WHERE parent_id IS ?"
            return int(self._db.execute(sql, (parent_id,)).fetchone()[0]) + 1
        sql = "UPDATE nodes SET ord = ord + ? WHERE parent_id IS ? AND ord > ?"
        self._db.execute(sql, (count, parent_id, after_ord))
        return after_ord + 1

    def insert(self, node: Node, ord_: int) -> None:
        """Store a new page or block at position ``ord_`` among its siblings."""
        seq = self._meta("seq") + 1
        self._set_meta("seq", seq)
        self._db.execute(
            "INSERT INTO nodes (id, seq, is_page, parent_type, parent_id, ord, type, payload,"
            " archived, created, edited) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                node.id, seq, node.is_page, node.parent_type, node.parent_id, ord_, node.type,
                json.dumps(node.payload), node.archived, node.created, node.edited,
            ),
        )  # fmt: skip

    def update(self, node_id: str, *, payload: dict[str, Any], archived: bool, at: int) -> None:
        """Replace a node's payload and archive state, stamped with edit time ``at``."""
        sql = "UPDATE nodes SET payload = ?, archived = ?, edited = ? WHERE id = ?"
        self._db.execute(sql, (json.dumps(payload), archived, at, node_id))

    def touch(self, node_id: str | None, at: int) -> None:
        """Stamp ``node_id`` and its block ancestors up to the nearest page with time ``at``.

        A page's ``last_edited_time`` moves when any block inside it changes, but not when
        a sub-page's content changes, so the walk stops at the first page.
        """
        while node_id is not None:
            self._db.execute("UPDATE nodes SET edited = ? WHERE id = ?", (at, node_id))
            node = self.node(node_id)
            if node is None or node.is_page:
                return
            node_id = node.parent_id

    # -- fault triggers --------------------------------------------------------------

    def arm(self, trigger: Trigger, count: int) -> None:
        """Store an armed trigger that fires on the next ``count`` matching requests."""
        self._db.execute(
            "INSERT INTO triggers (kind, method, path, remaining, status, retry_after, code,"
            " message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                trigger.kind, trigger.method, trigger.path, count, trigger.status,
                trigger.retry_after, trigger.code, trigger.message,
            ),
        )  # fmt: skip

    def armed(self) -> list[tuple[int, Trigger]]:
        """Every armed trigger with its row number, oldest first."""
        sql = (
            "SELECT seq, kind, method, path, status, retry_after, code, message"
            " FROM triggers ORDER BY seq"
        )
        return [(row[0], Trigger(*row[1:])) for row in self._db.execute(sql)]

    def consume(self, seq: int) -> None:
        """Count one firing of trigger ``seq``; it disarms after its last one."""
        self._db.execute("UPDATE triggers SET remaining = remaining - 1 WHERE seq = ?", (seq,))
        self._db.execute("DELETE FROM triggers WHERE remaining <= 0")

    def disarm_all(self) -> None:
        """Forget every armed trigger."""
        self._db.execute("DELETE FROM triggers")

    # -- request log -----------------------------------------------------------------

    def log_request(self, method: str, path: str, status: int, fault: str | None) -> None:
        """Record one handled request."""
        sql = "INSERT INTO requests (method, path, status, fault) VALUES (?, ?, ?, ?)"
        self._db.execute(sql, (method, path, status, fault))

    def request_log(self) -> list[dict[str, Any]]:
        """Every handled request, oldest first."""
        sql = "SELECT method, path, status, fault FROM requests ORDER BY seq"
        keys = ("method", "path", "status", "fault")
        return [dict(zip(keys, row, strict=True)) for row in self._db.execute(sql)]


class NotionStore:
    """The SQLite file behind a fake Notion remote.

    Args:
        path: the database file; created (with its tables) if missing.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        with quiet(), closing(self._connect()) as db:
            # Opened far more often than created (once per child and per observation):
            # look before taking the write lock.
            if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'requests'").fetchone():
                db.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;")

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are begun and ended explicitly below.
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        # No fsync: the journal still makes every request all-or-nothing when a process is
        # killed (the OS keeps what was written). A real remote does not lose power with its
        # client either, so a power cut of the program under test must not touch it; and the
        # store's fsyncs were a fifth of a crash point's time.
        db.execute("PRAGMA synchronous = OFF")
        return db

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Tx]:
        """One all-or-nothing transaction on a fresh connection, hidden from the probe.

        Args:
            write: take the write lock up front; False for a reader that never writes.

        Raises:
            sqlite3.OperationalError: the file stayed locked for :data:`BUSY_TIMEOUT` seconds.
        """
        with quiet(), closing(self._connect()) as db:
            # IMMEDIATE takes the write lock up front: two requests never interleave, and a
            # reader never has to upgrade (which could deadlock under the busy handler).
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield Tx(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
