"""The sync engine: one folder of markdown notes kept in step with Notion pages.

One cycle (:meth:`Engine.sync`):

1. recover: replay every WAL entry a crash left behind (``operations.py``);
2. for each linked note, in path order: read the file; if it is gone, soft-delete
   (archive the page); else poll the page (its ``last_edited_time``; the blocks
   only when that moved, confirmed by hash) and push, pull, merge, adopt or
   do nothing (``policy.py``);
3. garbage-collect soft-deleted entities older than the retention;
4. if the cycle changed anything, rewrite the poll cursor (``cursor.py``): what
   it saw and did. A cycle that changes nothing writes nothing.

Durable operations happen in an order fixed by the starting state (sorted
iteration, no time-dependent branch but the GC retention), so two runs from
the same state make the same operations in the same order.

Seeded bug variants are listed in ``variants.py``; with none named, every
write path follows the protocol described in ``operations.py``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from notion_client.helpers import extract_page_id

from . import cursor, entities, files, wal
from .config import Config, load_config, state_dir, write_config
from .db import connect, migrate, transaction
from .entities import Entity
from .errors import LinkError, NoteError, RemoteError
from .markdown import blocks_to_markdown, content_hash, normalize
from .merge import merge_bodies
from .operations import Operations
from .paths import note_path, untracked_notes
from .policy import Action, decide
from .remote import Remote, content_ids, page_unavailable
from .sides import Note, PageView
from .variants import (
    FIRST_PAGE_ONLY,
    INPLACE_PWRITE,
    RECOVERY_IGNORES_WAL,
    RENAME_WITHOUT_FSYNC,
    RETRY_DUPLICATES,
)

__all__ = ["Engine", "SyncReport", "init", "link"]

STATE_FILE = "state.db"


@dataclass
class SyncReport:
    """What one sync cycle did, by note path."""

    recovered: int = 0  #: WAL entries replayed (or, with recovery-ignores-wal, only counted)
    pushed: list[str] = field(default_factory=list)
    pulled: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  #: merged, with local kept over remote
    adopted: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  #: path -> why
    untracked: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether the cycle wrote anything (a caller syncs until this is False)."""
        lists = (self.pushed, self.pulled, self.merged, self.adopted, self.touched)
        return bool(self.recovered or any(lists) or self.deleted or self.purged)


class Engine:
    """A synced folder, open for syncing. Use :meth:`open`, and close it (or use ``with``)."""

    def __init__(
        self,
        root: Path,
        config: Config,
        db: sqlite3.Connection,
        remote: Remote,
        clock: Callable[[], float] = time.time,
        poll_cursor: cursor.Cursor | None = None,
    ) -> None:
        self.root = root
        self.config = config
        self._db = db
        self._remote = remote
        #: What the last cycle that changed anything saw and did (read at open, rewritten
        #: at the end of such a cycle).
        self.cursor = poll_cursor or cursor.Cursor()
        self._newest_edit: str | None = None
        #: Seconds since the epoch; replaceable so tests of the GC retention never wait.
        self.clock = clock
        self._ops = Operations(db, remote, root, config.bugs, self._stamp)
        #: Entities whose unfinished operation waits for their page to come back, and why.
        self._held: dict[int, str] = {}

    @classmethod
    def open(cls, folder: str | os.PathLike[str], *, bugs: Iterable[str] | None = None) -> Engine:
        """Open ``folder`` (run ``init`` on it first) and migrate its state; does not sync.

        Args:
            folder: the synced folder.
            bugs: seeded bug variants to switch on; None reads ``$KASTEN_BUGS`` / the config.

        Raises:
            NotInitializedError: ``folder`` has no ``.kasten/config.json``.
            ConfigError: a configuration value is invalid.
            StateError: the poll cursor is damaged.
            SchemaError: the state database is newer than this kasten.
        """
        root = Path(folder)
        config = load_config(root, bugs=bugs)
        poll_cursor = cursor.load(state_dir(root))
        db = connect(state_dir(root) / STATE_FILE)
        try:
            migrate(db)
        except BaseException:
            db.close()
            raise
        remote = Remote(
            config.remote,
            config.token,
            retries=config.retries,
            retry_unanswered=RETRY_DUPLICATES in config.bugs,
            first_page_only=FIRST_PAGE_ONLY in config.bugs,
        )
        return cls(root, config, db, remote, poll_cursor=poll_cursor)

    @property
    def bugs(self) -> frozenset[str]:
        return self.config.bugs

    def close(self) -> None:
        self._remote.close()
        self._db.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the cycle --------------------------------------------------------------------

    def recover(self) -> int:
        """Replay every incomplete WAL entry, oldest first; returns how many were replayed.

        An entry whose page is in Notion's trash (or gone, or no longer shared)
        is kept, and its note skipped by :meth:`sync`, until the page is back.

        Raises:
            RemoteError: a replay needed the remote and failed; its entry stays.
        """
        entries = wal.incomplete(self._db)
        if RECOVERY_IGNORES_WAL in self.bugs:
            return len(entries)
        self._held = {}
        replayed = 0
        for entry in entries:
            if entry.entity_id not in self._held:  # a held note's entries stay in order
                replayed += self._replay(entry)
        return replayed

    def _replay(self, entry: wal.WalEntry) -> int:
        try:
            self._ops.replay(entry)
        except RemoteError as error:
            if not page_unavailable(error):
                raise
            self._held[entry.entity_id] = _held_reason(entry.operation, error)
            return 0
        return 1

    def sync(self) -> SyncReport:
        """Run one full cycle: recover, then push/pull/merge/delete each note, then GC.

        Raises:
            RemoteError: a request failed; the unfinished operation stays journaled.
        """
        started = self._stamp()
        self._newest_edit = self.cursor.newest_edit
        report = SyncReport(recovered=self.recover())
        live = entities.live_entities(self._db)
        for entity in live:
            try:
                self._sync_entity(entity, report)
            except NoteError as error:
                report.skipped[entity.local_path] = f"{error.problem} ({error.fix})"
            except RemoteError as error:
                if not page_unavailable(error):
                    raise
                report.skipped[entity.local_path] = _held_reason("operation", error)
        self._collect_garbage(report)
        report.untracked = self._untracked()
        self._advance_cursor(report, started, len(live))
        return report

    def _advance_cursor(self, report: SyncReport, started: str, notes: int) -> None:
        """Record a cycle that changed anything in the poll cursor (the cycle's last write).

        A cycle that changed nothing leaves the cursor as it is, so that a sync with
        nothing to do writes nothing; it only removes the temp file of a cursor write
        a crash interrupted (which a cycle writing the cursor reuses).
        """
        counted = report if RECOVERY_IGNORES_WAL not in self.bugs else replace(report, recovered=0)
        folder = state_dir(self.root)
        if not counted.changed:
            files.remove_temp(folder / cursor.CURSOR_FILE)
            return
        self.cursor = cursor.Cursor(
            syncs=self.cursor.syncs + 1,
            started_at=started,
            finished_at=self._stamp(),
            newest_edit=self._newest_edit,
            notes=notes,
            recovered=report.recovered,
            pushed=len(report.pushed),
            pulled=len(report.pulled),
            merged=len(report.merged),
            deleted=len(report.deleted),
            skipped=len(report.skipped),
        )
        cursor.save(
            folder,
            self.cursor,
            in_place=INPLACE_PWRITE in self.bugs,
            sync_data=RENAME_WITHOUT_FSYNC not in self.bugs,
        )

    def _sync_entity(self, entity: Entity, report: SyncReport) -> None:
        if entity.id in self._held:
            report.skipped[entity.local_path] = self._held[entity.id]
            return
        note = Note.read(self.root / entity.local_path)
        if entity.synced and not note.exists:
            self._ops.delete(entity)
            report.deleted.append(entity.local_path)
            return
        page = self._poll(entity, report)
        if page is not None:
            self._apply(decide(entity, note, page), entity, note, page, report)

    def _poll(self, entity: Entity, report: SyncReport) -> PageView | None:
        """The page as it is now; None (and a reason in the report) if it cannot be synced."""
        try:
            state = self._remote.page(entity.page_id)
        except RemoteError as error:
            if error.code != "object_not_found":
                raise
            report.skipped[entity.local_path] = f"{error.problem} ({error.fix})"
            return None
        if self._newest_edit is None or state.edit_time > self._newest_edit:
            self._newest_edit = state.edit_time
        if state.archived:
            why = "its page is in Notion's trash: restore the page, or delete the file to unlink it"
            report.skipped[entity.local_path] = why
            return None
        if entity.synced and state.edit_time == entity.last_remote_edit_time:
            return PageView(state.edit_time)
        blocks = self._remote.blocks(entity.page_id)
        body = blocks_to_markdown(blocks)
        ids = content_ids(blocks)
        return PageView(state.edit_time, False, body, content_hash(body), ids)

    def _apply(
        self, action: Action, entity: Entity, note: Note, page: PageView, report: SyncReport
    ) -> None:
        # A dispatch table over the decision; each branch is one call.
        path = entity.local_path
        if action is Action.PUSH:
            self._ops.push(entity, note)
            report.pushed.append(path)
        elif action is Action.PULL:
            self._ops.pull(entity, note, page)
            report.pulled.append(path)
        elif action is Action.MERGE:
            self._merge(entity, note, page, report)
        elif action is Action.ADOPT:
            self._ops.adopt(entity, note, page)
            report.adopted.append(path)
        elif action is Action.TOUCH:
            self._ops.touch(entity, page)
            report.touched.append(path)

    def _merge(self, entity: Entity, note: Note, page: PageView, report: SyncReport) -> None:
        base = entities.base_body(self._db, entity)
        result = merge_bodies(base, note.body, page.body or "")
        self._ops.merge(entity, note, page, normalize(result.text), result.detail)
        report.merged.append(entity.local_path)
        if result.conflicts:
            report.conflicts.append(entity.local_path)

    def _collect_garbage(self, report: SyncReport) -> None:
        cutoff = self.clock() - self.config.gc_retention
        for entity in entities.deleted_entities(self._db):
            if _epoch(entity.deleted_at) <= cutoff:
                self._ops.collect(entity)
                report.purged.append(entity.local_path)

    # -- linking and status ---------------------------------------------------------

    def link(self, file: str | os.PathLike[str], page_id: str) -> None:
        """Link a note (relative to the folder; it may be empty or missing) to a page.

        Raises:
            LinkError: the path or the page id is malformed, or already linked.
        """
        path = note_path(self.root, file)
        page = extract_page_id(page_id)
        if page is None:
            raise LinkError(
                f"{page_id!r} is not a Notion page id",
                "pass the page's id (32 hex digits, dashes allowed) or its URL",
            )
        self._check_unlinked(path, page)
        with transaction(self._db):
            entities.insert(self._db, path, page)

    def _check_unlinked(self, path: str, page: str) -> None:
        for entity in entities.live_entities(self._db):
            if entity.local_path == path:
                raise LinkError(
                    f"{path!r} is already linked to page {entity.page_id}",
                    "delete the file to unlink it (the page goes to Notion's trash)",
                )
            if entity.page_id == page:
                raise LinkError(
                    f"page {page} is already linked to {entity.local_path!r}",
                    "link each page to one file only",
                )

    def status(self) -> dict[str, Any]:
        """The folder's state without asking the remote: notes, pending journal, conflicts."""
        live = entities.live_entities(self._db)
        return {
            "dir": str(self.root),
            "remote": self.config.remote,
            "bugs": sorted(self.bugs),
            "entities": [
                self._entity_status(e) for e in live + entities.deleted_entities(self._db)
            ],
            "pending": [self._entry_status(entry) for entry in wal.incomplete(self._db)],
            "last_change": self._cursor_status(),
            "conflicts": [{"path": e.local_path, "detail": e.conflict} for e in live if e.conflict],
            "untracked": self._untracked(),
        }

    def _cursor_status(self) -> dict[str, Any] | None:
        """The last sync that changed anything, from the poll cursor; None before the first."""
        if self.cursor.syncs == 0:
            return None
        return {
            "syncs": self.cursor.syncs,
            "started_at": self.cursor.started_at,
            "finished_at": self.cursor.finished_at,
            "newest_edit": self.cursor.newest_edit,
            "notes": self.cursor.notes,
        }

    def _entity_status(self, entity: Entity) -> dict[str, Any]:
        return {
            "path": entity.local_path,
            "page_id": entity.page_id,
            "state": self._state_of(entity),
            "conflict": entity.conflict,
            "deleted_at": entity.deleted_at,
        }

    def _state_of(self, entity: Entity) -> str:
        try:
            note = Note.read(self.root / entity.local_path)
        except NoteError:
            return "unreadable"
        if entity.deleted:
            return "deleted"
        if not entity.synced:
            return "new"
        if not note.exists:
            return "missing"
        return "synced" if note.hash == entity.last_local_hash else "modified"

    def _entry_status(self, entry: wal.WalEntry) -> dict[str, Any]:
        entity = entities.by_id(self._db, entry.entity_id)
        path = entity.local_path if entity else None
        return {"id": entry.id, "path": path, "operation": entry.operation, "state": entry.state}

    def _untracked(self) -> list[str]:
        linked = (entity.local_path for entity in entities.live_entities(self._db))
        return untracked_notes(self.root, linked)

    def _stamp(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec="milliseconds")


def _held_reason(operation: str, error: RemoteError) -> str:
    return (
        f"unfinished {operation} waits for its page: {error.problem}"
        " (restore the page in Notion, or share it again; the next sync finishes it)"
    )


def _epoch(stamp: str | None) -> float:
    return datetime.fromisoformat(stamp).timestamp() if stamp else 0.0


def init(
    folder: str | os.PathLike[str], *, remote: str, token: str, parent: str | None = None
) -> Path:
    """Make ``folder`` a kasten folder: write its config and create its state database.

    Running it again updates the remote settings and keeps the state.

    Raises:
        ConfigError: the URL or the token is malformed.
        NotInitializedError: ``folder`` does not exist.
    """
    path = write_config(folder, remote=remote, token=token, parent=parent)
    db = connect(state_dir(folder) / STATE_FILE)
    try:
        migrate(db)
    finally:
        db.close()
    return path


def link(folder: str | os.PathLike[str], file: str | os.PathLike[str], page_id: str) -> None:
    """Link ``file`` (relative to ``folder``) to the Notion page ``page_id``.

    Raises:
        NotInitializedError: ``folder`` was never initialized.
        LinkError: the path or page id is malformed, or already linked.
    """
    with Engine.open(folder) as engine:
        engine.link(file, page_id)
