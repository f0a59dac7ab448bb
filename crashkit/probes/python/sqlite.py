"""The SQLite patch: ``sqlite3.connect`` hands out connections that record commits.

A connection to a database inside the world records each statement that makes
state durable: COMMIT, ``Connection.commit``, leaving ``with conn:``, or a write
statement outside a transaction (SQLite's own file I/O, in C, is not seen: its
statements stand for it). Connections to other databases are the real ones.
"""

from __future__ import annotations

import os
import re
import sqlite3
from typing import Any

from crashkit.probes.python.core import _Real, active

_LEADING_COMMENTS = re.compile(r"^(\s|--[^\n]*(\n|$)|/\*.*?\*/)*", re.S)
_COMMIT = re.compile(r"(COMMIT|END)\b", re.I)
_DML = re.compile(r"(INSERT|UPDATE|DELETE|REPLACE)\b", re.I)
# Only the pragmas that change the database file; the others set up the connection.
_OTHER_WRITE = re.compile(
    r"(CREATE|DROP|ALTER|VACUUM|REINDEX|ANALYZE|PRAGMA\s+(\w+\.)?"
    r"(user_version|application_id|journal_mode|page_size|auto_vacuum)\s*=)",
    re.I,
)
_CTE_WRITE = re.compile(r"WITH\b.*\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.I | re.S)


def _statement_kind(sql: str, connection: sqlite3.Connection) -> str | None:
    """``sql.commit`` / ``sql.exec`` when running ``sql`` now makes state durable, else None.

    Follows the 3.11 ``sqlite3`` transaction rules: with ``isolation_level`` not None, the
    module opens a transaction before INSERT/UPDATE/DELETE/REPLACE and leaves other
    statements in autocommit mode.
    """
    text = _LEADING_COMMENTS.sub("", sql, count=1)
    if _COMMIT.match(text):
        return "sql.commit" if connection.in_transaction else None
    is_dml = bool(_DML.match(text) or _CTE_WRITE.match(text))
    if not (is_dml or _OTHER_WRITE.match(text)) or connection.in_transaction:
        return None
    if is_dml and connection.isolation_level is not None:
        return None  # the implicit BEGIN makes it durable only at COMMIT
    return "sql.exec"


def _db_target(database: Any) -> str | None:
    probe = active()
    if probe is None or isinstance(database, int):
        return None
    name = os.fsdecode(os.fspath(database))
    if name.startswith("file:"):
        name = name[5:].split("?", 1)[0]
    if name in ("", ":memory:") or "mode=memory" in os.fsdecode(os.fspath(database)):
        return None
    return probe.relative(name)


class _ProbedConnection(sqlite3.Connection):
    """Mixin base for probed connections; ``_crashkit_db`` is the world-relative database."""

    _crashkit_db: str | None = None

    def _crashkit_statement(self, sql: str) -> None:
        if self._crashkit_db is None:
            return
        kind = _statement_kind(sql, self)
        probe = active()
        if kind is not None and probe is not None:
            probe.record(kind, self._crashkit_db, {"sql": " ".join(sql.split())[:200]})

    def _crashkit_script(self, script: str) -> None:
        probe = active()
        if self._crashkit_db is None or probe is None:
            return
        text = _LEADING_COMMENTS.sub("", script, count=1)
        writes = re.search(
            r"\b(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|COMMIT|END)\b", text, re.I
        )
        if self.in_transaction or writes:
            probe.record("sql.script", self._crashkit_db, {"sql": " ".join(script.split())[:200]})

    def _crashkit_commit(self) -> None:
        probe = active()
        if self._crashkit_db is not None and probe is not None and self.in_transaction:
            probe.record("sql.commit", self._crashkit_db, {"sql": "COMMIT"})

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _ProbedCursor)

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        self._crashkit_statement(sql)
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        self._crashkit_statement(sql)
        return super().executemany(sql, parameters)

    def executescript(self, script: str, /) -> Any:
        self._crashkit_script(script)
        return super().executescript(script)

    def commit(self) -> None:
        self._crashkit_commit()
        super().commit()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any, /) -> Any:
        if exc_type is None:
            self._crashkit_commit()
        return super().__exit__(exc_type, exc, tb)


class _ProbedCursor(sqlite3.Cursor):
    def _conn(self) -> _ProbedConnection | None:
        conn = self.connection
        return conn if isinstance(conn, _ProbedConnection) else None

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        conn = self._conn()
        if conn is not None:
            conn._crashkit_statement(sql)
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        conn = self._conn()
        if conn is not None:
            conn._crashkit_statement(sql)
        return super().executemany(sql, parameters)

    def executescript(self, script: str, /) -> Any:
        conn = self._conn()
        if conn is not None:
            conn._crashkit_script(script)
        return super().executescript(script)


_connection_classes: dict[type, type] = {sqlite3.Connection: _ProbedConnection}


def _probed_factory(factory: type) -> type:
    if issubclass(factory, _ProbedConnection):
        return factory
    probed = _connection_classes.get(factory)
    if probed is None:
        probed = type(f"Probed{factory.__name__}", (_ProbedConnection, factory), {})
        _connection_classes[factory] = probed
    return probed


def probed_connect(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
    target = _db_target(database)
    if target is None:
        connection: sqlite3.Connection = _Real.connect(database, *args, **kwargs)
        return connection
    factory = kwargs.pop("factory", sqlite3.Connection)
    probed: _ProbedConnection = _Real.connect(
        database, *args, factory=_probed_factory(factory), **kwargs
    )
    probed._crashkit_db = target
    return probed
