"""The journal audit: is every file write and remote push covered by an open journal entry?

The seed's closing advice is a manual audit: grep for every write and check that
it has a WAL entry. crashkit does it by machine: during the dry run, right before
each file mutation and remote push, it asks the program's journal (a SQL query)
whether an open entry covers the entity the operation touches. Uncovered
mutations are listed by caller and source location.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crashkit.model.operation import FILE_MUTATIONS, REMOTE_MUTATIONS, Operation
from crashkit.probes.quiet import quiet

__all__ = ["Journal", "Uncovered", "audit_sites"]

#: What the audit asks about by default: every change to a file's content or name, every push.
AUDITED = (FILE_MUTATIONS - {"fs.mkdir", "fs.rmdir"}) | REMOTE_MUTATIONS


@dataclass(frozen=True)
class Journal:
    """How to ask a program's journal whether an operation is covered.

    Args:
        db: the journal's SQLite database, relative to the world.
        query: SQL that returns at least one row when an open entry covers the entity;
            it takes the named parameters ``entity`` returns.
        entity: maps an operation to the query's parameters, or None when the operation
            touches nothing the journal is meant to cover (the program's own config, say).
        kinds: the operation kinds audited.
    """

    db: str
    query: str
    entity: Callable[[Operation], Mapping[str, Any] | None]
    kinds: frozenset[str] = field(default=frozenset(AUDITED))

    def check(self, world: Path, op: Operation) -> Uncovered | None:
        """The finding for ``op`` if no open entry covers it (None when covered or not audited)."""
        if op.kind not in self.kinds:
            return None
        try:
            params = self.entity(op)
        except Exception as error:  # the scenario's mapping is broken, not the program
            return Uncovered(op, {}, f"the journal's entity() raised {error!r}")
        if params is None:
            return None
        with quiet():  # the audit's own reads are never crash points
            reason = self._ask(world / self.db, params)
        return None if reason is None else Uncovered(op, dict(params), reason)

    def _ask(self, database: Path, params: Mapping[str, Any]) -> str | None:
        if not database.exists():
            return f"the journal database {self.db} does not exist yet"
        uri = f"file:{database}?mode=ro"
        try:
            with closing(sqlite3.connect(uri, uri=True, timeout=5)) as conn:
                row = conn.execute(self.query, dict(params)).fetchone()
        except sqlite3.Error as error:
            return f"the journal query failed: {error}"
        return None if row else "no open journal entry covers it"


@dataclass(frozen=True)
class Uncovered:
    """A mutation the journal does not cover."""

    op: Operation
    entity: dict[str, Any]
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {**self.op.to_json(), "entity": self.entity, "reason": self.reason}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Uncovered:
        data = dict(data)
        entity, reason = data.pop("entity"), data.pop("reason")
        return cls(Operation.from_json(data), entity, reason)

    def describe(self) -> str:
        """``handle_conflict, engine.py:212: fs.write notes.md [path=notes.md]: reason``."""
        entity = ", ".join(f"{k}={v}" for k, v in self.entity.items())
        return f"{self.op.where}: {self.op.kind} {self.op.target} [{entity}]: {self.reason}"


def audit_sites(uncovered: Iterable[Mapping[str, Any]]) -> list[str]:
    """The journal audit, one line per site: the program code that asked for the uncovered
    mutations, the kinds and counts of them, and the entities they were for, e.g.
    ``apply_pull, operations.py:212 (through write_atomic, files.py:62, 64, 67): fs.create,
    fs.write, fs.rename (path=meeting.md)``.

    A site is the innermost program frame outside the module that performed the mutation
    (a program's file or HTTP helper, ``write_atomic`` or ``_call``, is not what forgot
    the journal: its caller is).

    Args:
        uncovered: the uncovered mutations as JSON (:meth:`Uncovered.to_json`).
    """
    sites: dict[str, tuple[dict[str, None], Counter[str], dict[str, None]]] = {}
    for u in uncovered:
        site, through = _site(u)
        lines, kinds, entities = sites.setdefault(site, ({}, Counter(), {}))
        lines[through] = None
        kinds[str(u.get("kind"))] += 1
        entity = ", ".join(f"{k}={v}" for k, v in (u.get("entity") or {}).items() if v)
        entities[entity or str(u.get("target"))] = None
    out = []
    for site, (lines, kinds, entities) in sites.items():
        done = ", ".join(k if n == 1 else f"{k} x{n}" for k, n in kinds.items())
        shown = list(entities)[:2] + ([f"{len(entities) - 2} more"] if len(entities) > 2 else [])
        out.append(f"{site}{_through(lines)}: {done} ({'; '.join(shown)})")
    return out


_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*):(?P<line>\d+)\)$")


def _site(u: Mapping[str, Any]) -> tuple[str, str]:
    """(the site to blame, the helper it went through as ``function, file:line``)."""
    function, file, line = u.get("function") or "?", u.get("file") or "?", u.get("line") or 0
    if not line:  # the syscall probe's: a process and its system call, no source line
        return f"{function}, {file}", ""
    inner = f"{function}, {file}:{line}"
    for frame in (u.get("detail") or {}).get("stack") or []:
        found = _FRAME.match(str(frame))
        if found and found["file"] != file:
            return f"{found['function']}, {found['file']}:{found['line']}", inner
    return f"{function}, {file}", f":{line}"  # the helper is the site: only its lines


def _through(helpers: Mapping[str, None]) -> str:
    """`` (through write_atomic, files.py:62, 64)``, or ``:212, 214`` for a site that
    made the mutations itself."""
    if all(not helper for helper in helpers):
        return ""
    if all(helper.startswith(":") for helper in helpers):
        return ":" + ", ".join(helper[1:] for helper in helpers)
    names: dict[str, list[str]] = {}
    for helper in helpers:
        where, _, line = helper.rpartition(":")
        names.setdefault(where, []).append(line)
    parts = [f"{where}:{', '.join(lines)}" for where, lines in names.items()]
    return f" (through {'; '.join(parts)})"
