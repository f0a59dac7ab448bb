"""SQLite inside the world, seen through its files: which operations belong to which
transaction, so that a kill point is a transaction boundary rather than every page write.

A database is recognized by its header (``SQLite format 3\\0``), its companions by their
names (``-journal``, ``-wal``; ``-shm`` is a shared-memory index that SQLite rebuilds on
recovery, so its operations are not recorded at all). The operations of one database run
in groups: the first operation of a group is a boundary; the others are *inside* it
(``detail["inside"]``), where a kill leaves nothing a kill at the group's start would not
(SQLite rolls a hot journal back, and ignores WAL frames after the last commit frame).
Operations on SQLite's files do not make a restart round "not quiet" by themselves (a
WAL file is created and removed by every connection, even a reader): as with the Python
probe's commits, what the round changed shows in the observed state.
A group ends where SQLite makes a commit durable:

* rollback journal: the journal is deleted (``DELETE``), cut to zero (``TRUNCATE``), or
  its header zeroed (``PERSIST``);
* WAL: the page of a commit frame is written (a frame header whose "database size after
  commit" field is not zero precedes it); a checkpoint (writes to the database outside a
  transaction while a WAL file exists), or the rollback of a hot journal, ends with the
  database's fsync or the journal's removal;
* with no journal on disk (``journal_mode=OFF`` or ``MEMORY``) there is no group: each
  write to the database is a point of its own, since a kill between two of them leaves a
  half-written transaction;
* and any operation on something else (another file, the remote) ends it too, so two
  transactions with work in between are never merged, whatever the journal mode.

Every page write still counts for the torn and power-loss faults: the power-loss model
sees exactly the writes and fsyncs the program's SQLite settings make, so
``synchronous=NORMAL`` in WAL mode may lose the last transactions on power loss, and
never on a kill.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["MAGIC", "Transactions"]

MAGIC = b"SQLite format 3\x00"
_COMPANIONS = ("-journal", "-wal")
_SHM = "-shm"
#: A WAL frame header is 24 bytes; bytes 4-7 hold the database size after a commit.
_FRAME_HEADER = 24
_WAL_HEADER = 32


class Transactions:
    """Groups a program's operations on SQLite files into transactions."""

    def __init__(self) -> None:
        self._known: dict[str, bool] = {}
        #: Database -> the kind of group open on it ("txn" or "checkpoint").
        self._open: dict[str, str] = {}
        #: Databases whose commit frame header was written (its page comes next).
        self._committing: set[str] = set()
        #: Databases whose journal the last operation deleted (a folder sync may follow).
        self._unlinked: set[str] = set()

    @staticmethod
    def is_index(path: str) -> bool:
        """SQLite's shared-memory index (``-shm``): rebuilt on recovery, not state."""
        return path.endswith(_SHM) and _is_database(path[: -len(_SHM)])

    def database(self, path: str, head: bytes = b"", offset: int | None = None) -> str | None:
        """The database ``path`` (absolute) belongs to, or None for any other file."""
        for suffix in _COMPANIONS:
            if path.endswith(suffix):
                base = path[: -len(suffix)]
                # A new database is an empty file until its first commit writes page 1.
                return base if self._is_database(base) or _is_empty(base) else None
        if offset == 0 and head.startswith(MAGIC):
            self._known[path] = True  # a new database's first page
        return path if self._is_database(path) else None

    def _is_database(self, path: str) -> bool:
        known = self._known.get(path)
        if not known:
            known = _is_database(path)
            if known:
                self._known[path] = True
        return known

    def place(
        self, database: str | None, path: str, kind: str, detail: dict[str, Any], head: bytes
    ) -> None:
        """Mark ``detail`` for one operation on ``path`` (``database``: its database, or
        None for any other file or request): ``sqlite`` and ``inside``."""
        if database is None:
            folder_sync = kind in ("fs.fsync", "fs.fdatasync") and any(
                os.path.dirname(db) == path for db in [*self._open, *self._unlinked]
            )
            self._unlinked.clear()
            if folder_sync:  # SQLite syncs the folder after creating or deleting a journal
                detail["inside"] = True
                return
            self._open.clear()  # work on anything else ends every group
            self._committing.clear()
            return
        self._unlinked.clear()
        role = "db" if path == database else path[len(database) + 1 :]
        group = self._open.get(database)
        if role == "wal" and group == "checkpoint":
            group = None  # the next transaction's first write after a checkpoint
        if group is None:
            if role != "db":
                self._open[database] = "txn"
            elif os.path.exists(database + "-wal") or _has_data(database + "-journal"):
                # Committed pages copied from the WAL, or a hot journal rolled back.
                self._open[database] = "checkpoint"
            # Otherwise a write with no journal on disk (journal_mode=OFF or MEMORY): a
            # kill between two of them leaves a half-written transaction, so each is a point.
        else:
            detail["inside"] = True
        if self._ends(database, role, kind, detail, head):
            self._open.pop(database, None)
            if role == "journal" and kind == "fs.unlink":
                # synchronous=EXTRA syncs the folder next: the commit is durable only then.
                self._unlinked.add(database)

    def _ends(
        self, database: str, role: str, kind: str, detail: dict[str, Any], head: bytes
    ) -> bool:
        """Whether the commit (or checkpoint) is durable once this operation has run."""
        if role == "journal":
            zeroed = kind == "fs.write" and detail.get("offset", -1) == 0 and not head.strip(b"\0")
            return (
                kind == "fs.unlink"
                or (kind == "fs.truncate" and detail.get("size") == 0)
                or (zeroed and bool(head))
            )
        if role == "wal" and kind == "fs.write":
            if database in self._committing:
                self._committing.discard(database)
                return True
            size = detail.get("bytes")
            if size == _FRAME_HEADER and len(head) >= 8 and head[4:8] != b"\0\0\0\0":
                self._committing.add(database)
            return False
        return (
            role == "db"
            and self._open.get(database) == "checkpoint"
            and kind
            in (
                "fs.fsync",
                "fs.fdatasync",
            )
        )


def _is_database(path: str) -> bool:
    try:
        with open(path, "rb") as file:
            return file.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def _has_data(path: str) -> bool:
    try:
        return os.stat(path).st_size > 0
    except OSError:
        return False


def _is_empty(path: str) -> bool:
    try:
        return os.stat(path).st_size == 0
    except OSError:
        return False
