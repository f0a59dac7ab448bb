"""The fake Notion remote's tables, on the generic :class:`~crashkit.remotes.store.Store`.

Notion's model is kept: a page is a block of type ``child_page``, so one ``nodes`` table
holds pages and blocks, and a page's row is also its ``child_page`` block in its parent's
children. Ids and times are deterministic: ids are uuid5 of a counter, times come from a
minute counter, both store counters.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from crashkit.remotes.store import Store, Tx

__all__ = ["EPOCH", "ID_NAMESPACE", "Node", "NotionTx", "format_time", "open_store"]

#: Time 0 of the deterministic clock; every mutating request advances it by a minute
#: (Notion rounds ``last_edited_time`` to the minute).
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

#: Namespace of the deterministic ids (any fixed UUID works; this one is uuid5(URL, "crashkit")).
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "crashkit/fake-notion")

_SCHEMA = """
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
"""


#: Node types that, like pages, contain others without being blocks of a page's content.
_CONTAINERS = ("child_database", "data_source")


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


_NODE_COLUMNS = "id, is_page, parent_type, parent_id, type, payload, archived, created, edited"


def _node(row: tuple[Any, ...]) -> Node:
    id_, is_page, parent_type, parent_id, type_, payload, archived, created, edited = row
    return Node(
        id_, bool(is_page), parent_type, parent_id, type_, json.loads(payload),
        bool(archived), created, edited,
    )  # fmt: skip


class NotionTx(Tx):
    """The store operations of one request: ids, clock, pages and blocks."""

    def new_id(self) -> str:
        """The next deterministic id, in Notion's dashed form."""
        return str(uuid.uuid5(ID_NAMESPACE, str(self.advance("ids"))))

    def now(self) -> int:
        """The current clock reading, in minutes since :data:`EPOCH`."""
        return self.counter("clock")

    def tick(self) -> int:
        """Advance the clock by one minute (one per mutating request) and return it."""
        return self.advance("clock")

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
        seq = self.advance("seq")
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
        a sub-page's content changes, so the walk stops at the first page; likewise at the
        first database or data source (a new row is no edit of the page holding its table).
        """
        while node_id is not None:
            self._db.execute("UPDATE nodes SET edited = ? WHERE id = ?", (at, node_id))
            node = self.node(node_id)
            if node is None or node.is_page or node.type in _CONTAINERS:
                return
            node_id = node.parent_id


def open_store(path: str) -> Store[NotionTx]:
    """The store file at ``path``, with Notion's tables; created if missing."""
    return Store(path, _SCHEMA, NotionTx)
