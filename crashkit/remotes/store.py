"""A fake remote's persistent store: one SQLite file, one transaction per request.

Every request a fake handles runs inside exactly one :meth:`Store.transaction`
(``BEGIN IMMEDIATE`` ... ``COMMIT`` on a fresh connection), so a client killed at any
moment leaves the remote consistent and every request is all-or-nothing. Several
processes and threads may share the file: writers queue on SQLite's lock (busy timeout).

Beside a remote's own tables the file holds what every fake needs, so that all processes
sharing it agree: counters (for deterministic ids and clocks), the armed fault triggers,
and the log of handled requests. The store's own writes are hidden from the probe.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from crashkit.probes.quiet import quiet

__all__ = ["BUSY_TIMEOUT", "Store", "Trigger", "Tx", "TxT"]

#: Seconds a request waits for another process's transaction before giving up.
BUSY_TIMEOUT = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
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


@dataclass(frozen=True)
class Trigger:
    """An armed fault: ``kind`` is ``"fail"`` (answer an error, apply nothing) or ``"lose"``."""

    kind: str
    #: The HTTP method it fires on; None for any.
    method: str | None
    #: Text or a regex the request's path must contain; None for any path.
    path: str | None
    status: int | None = None
    retry_after: int | None = None
    code: str | None = None
    message: str | None = None

    def matches(self, method: str, path: str) -> bool:
        """Whether a request with this method and path sets the trigger off."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path is None or self.path in path:
            return True
        try:
            return re.search(self.path, path) is not None
        except re.error:  # not a regex, and not contained as text either
            return False


class Tx:
    """The operations of one open transaction. Only valid inside ``transaction()``.

    A remote subclasses it with the operations on its own tables.
    """

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

    # -- counters --------------------------------------------------------------------

    def counter(self, key: str) -> int:
        """The value of counter ``key`` (0 until first advanced)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def advance(self, key: str) -> int:
        """Add one to counter ``key`` and return the new value."""
        value = self.counter(key) + 1
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
        return value

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

    def take_trigger(self, method: str, path: str) -> Trigger | None:
        """The oldest armed trigger this request sets off, counted as fired; None if none."""
        for seq, trigger in self._armed():
            if trigger.matches(method, path):
                self._consume(seq)
                return trigger
        return None

    def disarm_all(self) -> None:
        """Forget every armed trigger."""
        self._db.execute("DELETE FROM triggers")

    def _armed(self) -> list[tuple[int, Trigger]]:
        sql = (
            "SELECT seq, kind, method, path, status, retry_after, code, message"
            " FROM triggers ORDER BY seq"
        )
        return [(row[0], Trigger(*row[1:])) for row in self._db.execute(sql)]

    def _consume(self, seq: int) -> None:
        """Count one firing of trigger ``seq``; it disarms after its last one."""
        self._db.execute("UPDATE triggers SET remaining = remaining - 1 WHERE seq = ?", (seq,))
        self._db.execute("DELETE FROM triggers WHERE remaining <= 0")

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


#: A remote's own :class:`Tx` subclass.
TxT = TypeVar("TxT", bound=Tx)


class Store(Generic[TxT]):
    """The SQLite file behind a fake remote.

    Args:
        path: the database file; created (with its tables) if missing.
        schema: the remote's own ``CREATE TABLE IF NOT EXISTS`` statements.
        tx: makes the remote's :class:`Tx` on an open connection (usually the subclass).
    """

    def __init__(self, path: str, schema: str, tx: Callable[[sqlite3.Connection], TxT]) -> None:
        self.path = path
        self._tx = tx
        with quiet(), closing(self._connect()) as db:
            # Opened far more often than created (once per child and per observation):
            # look before taking the write lock. All tables are made in one transaction,
            # so finding one means finding all.
            if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'requests'").fetchone():
                db.executescript(f"BEGIN IMMEDIATE;{schema}{_SCHEMA}COMMIT;")

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
    def transaction(self, write: bool = True) -> Iterator[TxT]:
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
                yield self._tx(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
