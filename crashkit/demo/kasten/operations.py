"""The write paths (push, pull, merge, delete, gc), journaled and replayable from any state.

Every operation is one ``sync_wal`` entry walked through its states by one
``_advance_*`` method. A sync writes the entry (committed before the first
mutation) and advances it; recovery advances an entry a crash left behind
from the state it had reached. Both run the same code, so recovery is as
correct as the normal path, and each step gives the same result when it runs
again after a crash in its middle:

========  ==========================  ====================================  =====================
op        pending: the mutation       target_written -> committed (1 txn)   after committed
========  ==========================  ====================================  =====================
push      replace the page's blocks   entity: new hashes, base, edit time   delete entry
pull      write the file atomically   entity: new hashes, base              delete entry
merge     write the merged file       entity: merged hashes, conflict mark  push; edit time +
                                                                            delete entry (1 txn)
delete    archive the page            entity flagged deleted, deleted_at    delete entry
gc        page archived, temp gone    entity row and its base removed       delete entry
========  ==========================  ====================================  =====================

Why each step is safe to repeat:

* Writing a file rewrites the same text through the same temp name; a crash
  before the rename leaves the old file, after it the new one.
* The push replaces the page's children: it lists what the page holds *now*,
  deletes each, appends the new blocks (100 per request). Resumed after a
  crash anywhere (after some deletes, between two appends, after the last
  append), it ends with exactly the new blocks. A replayed push first checks
  whether the page already holds the content, and then sends nothing.
* Archiving checks the page first and sends nothing if it is in the trash.
* The entity update and the entry's state change commit together, so the
  entity is never updated by an operation the journal does not show done.
* The entry is deleted only after the last side effect, the push included.

A replayed pull or merge whose file no longer holds what the entry expects
(neither the content before the operation nor the one it writes) was edited
by someone while kasten was down; recovery then abandons the entry rather
than overwrite the edit, and the next cycle merges. An in-place write
(``inplace-write``) is exactly what makes a crash look like such an edit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import entities, files, wal
from .db import transaction
from .entities import Entity, SyncedState
from .errors import RemoteError
from .markdown import blocks_to_markdown, content_hash, join_frontmatter, markdown_to_blocks
from .remote import MAX_BLOCKS_PER_APPEND, Remote, content_ids
from .sides import Note, PageView, pushed_hash
from .variants import (
    CONFLICT_NO_WAL,
    ERROR_DROPS_WAL,
    FIRST_CHUNK_COMMITS,
    GC_NO_WAL,
    INPLACE_WRITE,
    NO_TEXT_SPLIT,
    PUSH_NOT_IDEMPOTENT,
    RECOVERY_DELETES_FIRST,
    RENAME_WITHOUT_FSYNC,
    WAL_DELETE_BEFORE_PUSH,
)
from .wal import COMMITTED, PENDING, TARGET_WRITTEN, WalEntry

__all__ = ["Operations"]

#: Returns the current time as an ISO 8601 string (UTC).
Stamp = Callable[[], str]


class Operations:
    """Runs and replays the write paths of one folder.

    Args:
        db: the state database.
        remote: the Notion workspace.
        root: the synced folder.
        bugs: seeded bug variants to switch on.
        stamp: the clock, as ISO 8601 strings (timestamps only; no decision depends on it).
    """

    def __init__(
        self, db: sqlite3.Connection, remote: Remote, root: Path, bugs: frozenset[str], stamp: Stamp
    ) -> None:
        self._db = db
        self._remote = remote
        self._root = root
        self._bugs = bugs
        self._stamp = stamp
        self._advances = {
            "push": self._advance_push,
            "pull": self._advance_pull,
            "merge": self._advance_merge,
            "delete": self._advance_delete,
            "gc": self._advance_gc,
        }

    # -- starting an operation ---------------------------------------------------------

    def push(self, entity: Entity, note: Note) -> None:
        """Make the page hold the local body."""
        self._start(entity, "push", new_content=note.body, prior_hash=note.hash)

    def pull(self, entity: Entity, note: Note, page: PageView) -> None:
        """Make the local file hold the page's body, keeping the file's frontmatter."""
        self._start(
            entity, "pull", new_content=page.body, prior_hash=note.hash,
            remote_edit_time=page.edit_time, block_ids=page.block_ids,
        )  # fmt: skip

    def merge(
        self, entity: Entity, note: Note, page: PageView, merged: str, conflict: str | None
    ) -> None:
        """Write the merged body locally, record it (and any conflict), then push it."""
        if CONFLICT_NO_WAL in self._bugs:
            self._merge_without_wal(entity, note, page, merged, conflict)
            return
        self._start(
            entity, "merge", new_content=merged, prior_hash=note.hash,
            remote_edit_time=page.edit_time, conflict=conflict, block_ids=page.block_ids,
        )  # fmt: skip

    def delete(self, entity: Entity) -> None:
        """Soft-delete: archive the page and flag the entity (the local file is already gone)."""
        self._start(entity, "delete")

    def collect(self, entity: Entity) -> None:
        """Garbage-collect a soft-deleted entity: its row, its base content, its leftovers."""
        if GC_NO_WAL in self._bugs:
            self._collect_without_wal(entity)
            return
        self._start(entity, "gc")

    def adopt(self, entity: Entity, note: Note, page: PageView) -> None:
        """Both sides hold the same content: record it, in one transaction, writing nothing else."""
        state = SyncedState(
            note.body, note.hash or "", page.hash or "", page.edit_time, page.block_ids
        )
        with transaction(self._db):
            entities.record_sync(self._db, entity.id, state)
            entities.log(self._db, entity, "adopt", None, self._stamp())

    def touch(self, entity: Entity, page: PageView) -> None:
        """The page's edit time moved but not its content: remember it, so the next poll skips."""
        with transaction(self._db):
            entities.set_remote_seen(self._db, entity.id, page.edit_time, page.block_ids)

    # -- replaying ----------------------------------------------------------------------

    def replay(self, entry: WalEntry) -> None:
        """Finish an operation a crash interrupted, from the state its entry reached."""
        entity = entities.by_id(self._db, entry.entity_id)
        if entity is None:
            # Only a gc entry outlives its entity (row removed in its committed step).
            with transaction(self._db):
                wal.delete(self._db, entry)
            return
        if entry.state == COMMITTED and RECOVERY_DELETES_FIRST in self._bugs:
            # recovery-deletes-first: a committed entry is taken for done and cleared
            # first; what is left of it (a merge's push) is redone with no entry behind it.
            self._finish(entry)
        self._advances[entry.operation](entry, entity, True)

    # -- the state machines ----------------------------------------------------------

    def _start(self, entity: Entity, operation: str, **fields: Any) -> None:
        entry = WalEntry(0, entity.id, operation, PENDING, **fields)
        with transaction(self._db):
            entry = wal.insert(self._db, entry, self._stamp())
        self._advances[operation](entry, entity, False)

    def _advance_push(self, entry: WalEntry, entity: Entity, replay: bool) -> None:
        body = entry.new_content or ""
        ids: tuple[str, ...] | None = None
        if entry.state == PENDING and self._commits_early(body):
            self._push_committing_early(entry, entity, body)
            return
        if entry.state == PENDING:
            ids = self._push_entry(entry, entity.id, body, replay)
            entry = self._set_state(entry, TARGET_WRITTEN)
        if entry.state == TARGET_WRITTEN:
            edit_time = self._remote.page(entity.page_id).edit_time
            ids = self._block_ids(entity) if ids is None else ids
            state = SyncedState(body, content_hash(body), pushed_hash(body), edit_time, ids)
            entry = self._commit(entry, entity, state)
        self._finish(entry)

    def _advance_pull(self, entry: WalEntry, entity: Entity, replay: bool) -> None:
        body = entry.new_content or ""
        if entry.state == PENDING:
            if not self._write_note(entry, entity):
                return
            entry = self._set_state(entry, TARGET_WRITTEN)
        if entry.state == TARGET_WRITTEN:
            digest = content_hash(body)
            state = SyncedState(body, digest, digest, entry.remote_edit_time, entry.block_ids)
            entry = self._commit(entry, entity, state)
        self._finish(entry)

    def _advance_merge(self, entry: WalEntry, entity: Entity, replay: bool) -> None:
        body = entry.new_content or ""
        if entry.state == PENDING:
            if not self._write_note(entry, entity):
                return
            entry = self._set_state(entry, TARGET_WRITTEN)
        if entry.state == TARGET_WRITTEN:
            state = SyncedState(
                body, content_hash(body), pushed_hash(body), entry.remote_edit_time,
                entry.block_ids, entry.conflict,
            )  # fmt: skip
            entry = self._commit(entry, entity, state)
        # The push is the merge's last side effect: the entry stays until it is done.
        early = WAL_DELETE_BEFORE_PUSH in self._bugs
        if early:
            self._finish(entry)
        ids = self._push_entry(entry, entity.id, body, replay)
        self._after_push(entity, ids, None if early else entry)

    def _advance_delete(self, entry: WalEntry, entity: Entity, replay: bool) -> None:
        if entry.state == PENDING:
            self._remote.archive(entity.page_id)
            entry = self._set_state(entry, TARGET_WRITTEN)
        if entry.state == TARGET_WRITTEN:
            with transaction(self._db):
                entities.mark_deleted(self._db, entity.id, self._stamp())
                entry = self._committed(entry, entity, None)
        self._finish(entry)

    def _advance_gc(self, entry: WalEntry, entity: Entity, replay: bool) -> None:
        if entry.state == PENDING:
            self._remove_leftovers(entity)
            entry = self._set_state(entry, TARGET_WRITTEN)
        if entry.state == TARGET_WRITTEN:
            with transaction(self._db):
                entities.purge(self._db, entity)
                entry = self._committed(entry, entity, None)
        self._finish(entry)

    # -- the seeded variants that bypass the journal ---------------------------------

    def _merge_without_wal(
        self, entity: Entity, note: Note, page: PageView, merged: str, conflict: str | None
    ) -> None:
        # conflict-no-wal: the seed's handleConflict(): write, update, push, no journal.
        self._write(self._path(entity), join_frontmatter(note.frontmatter, merged))
        state = SyncedState(
            merged,
            content_hash(merged),
            pushed_hash(merged),
            page.edit_time,
            page.block_ids,
            conflict,
        )
        with transaction(self._db):
            entities.record_sync(self._db, entity.id, state)
            entities.log(self._db, entity, "merge", conflict, self._stamp())
        self._after_push(entity, self._push_body(entity.id, merged, False), None)

    def _commits_early(self, body: str) -> bool:
        return FIRST_CHUNK_COMMITS in self._bugs and len(self._blocks(body)) > MAX_BLOCKS_PER_APPEND

    def _push_committing_early(self, entry: WalEntry, entity: Entity, body: str) -> None:
        # first-chunk-commits: the first append of a long push is taken for the whole
        # push: the entity records it and the entry goes, before the rest is appended.
        blocks = self._blocks(body)
        first = self._remote.replace_children(entity.page_id, blocks[:MAX_BLOCKS_PER_APPEND])
        edit_time = self._remote.page(entity.page_id).edit_time
        state = SyncedState(body, content_hash(body), pushed_hash(body), edit_time, first)
        self._finish(self._commit(entry, entity, state))
        rest = self._remote.append(entity.page_id, blocks[MAX_BLOCKS_PER_APPEND:])
        edit_time = self._remote.page(entity.page_id).edit_time
        with transaction(self._db):
            entities.set_remote_seen(self._db, entity.id, edit_time, first + rest)

    def _collect_without_wal(self, entity: Entity) -> None:
        # gc-no-wal: the row goes first and nothing records what is left to clean.
        with transaction(self._db):
            entities.delete_row(self._db, entity)
            entities.log(self._db, entity, "gc", None, self._stamp())
        self._remove_leftovers(entity)
        with transaction(self._db):
            entities.purge_base(self._db, entity)

    # -- steps ------------------------------------------------------------------------

    def _write_note(self, entry: WalEntry, entity: Entity) -> bool:
        """Write the entry's body under the file's frontmatter; False if the entry was abandoned."""
        path = self._path(entity)
        note = Note.read(path)
        body = entry.new_content or ""
        if note.hash not in (entry.prior_hash, content_hash(body)):
            self._abandon(entry, entity, "the file was edited while the operation was unfinished")
            return False
        self._write(path, join_frontmatter(note.frontmatter, body))
        return True

    def _write(self, path: Path, text: str) -> None:
        if INPLACE_WRITE in self._bugs:
            files.write_in_place(path, text)
        else:
            files.write_atomic(path, text, sync_data=RENAME_WITHOUT_FSYNC not in self._bugs)

    def _push_entry(
        self, entry: WalEntry, entity_id: int, body: str, replay: bool
    ) -> tuple[str, ...]:
        """The push of ``entry``'s operation; a failure leaves the entry as it is."""
        try:
            return self._push_body(entity_id, body, replay)
        except RemoteError as error:
            if error.answered and ERROR_DROPS_WAL in self._bugs:
                # error-drops-wal: Notion refused the request, so the push is taken as not
                # having happened and its entry is rolled back; but the requests before
                # the failing one (deleting the old blocks) did happen.
                self._finish(entry)
            raise

    def _push_body(self, entity_id: int, body: str, replay: bool) -> tuple[str, ...]:
        """Make the page hold ``body``; returns its block ids."""
        entity = entities.by_id(self._db, entity_id)
        assert entity is not None  # a push always runs for an entity that exists
        if replay:
            current = self._remote.blocks(entity.page_id)
            if content_hash(blocks_to_markdown(current)) == pushed_hash(body):
                return content_ids(current)
        blocks = self._blocks(body)
        if PUSH_NOT_IDEMPOTENT in self._bugs:
            return self._remote.append_then_delete(entity.page_id, blocks, entity.remote_block_ids)
        return self._remote.replace_children(entity.page_id, blocks)

    def _after_push(self, entity: Entity, ids: tuple[str, ...], entry: WalEntry | None) -> None:
        """Remember the page's new edit time (so the next poll skips our own push), and end."""
        edit_time = self._remote.page(entity.page_id).edit_time
        with transaction(self._db):
            entities.set_remote_seen(self._db, entity.id, edit_time, ids)
            if entry is not None:
                wal.delete(self._db, entry)

    def _blocks(self, body: str) -> list[dict[str, Any]]:
        """The blocks a push sends (no-text-split: long text as one rich-text object)."""
        return markdown_to_blocks(body, split=NO_TEXT_SPLIT not in self._bugs)

    def _block_ids(self, entity: Entity) -> tuple[str, ...]:
        return content_ids(self._remote.blocks(entity.page_id))

    def _remove_leftovers(self, entity: Entity) -> None:
        self._remote.archive(entity.page_id)
        files.remove_temp(self._path(entity))

    def _abandon(self, entry: WalEntry, entity: Entity, reason: str) -> None:
        files.remove_temp(self._path(entity))
        with transaction(self._db):
            entities.log(self._db, entity, f"abandon {entry.operation}", reason, self._stamp())
            wal.delete(self._db, entry)

    # -- journal bookkeeping -------------------------------------------------------

    def _commit(self, entry: WalEntry, entity: Entity, state: SyncedState) -> WalEntry:
        """The entity update and the entry's move to committed, in one transaction."""
        with transaction(self._db):
            entities.record_sync(self._db, entity.id, state)
            return self._committed(entry, entity, state.conflict)

    def _committed(self, entry: WalEntry, entity: Entity, detail: str | None) -> WalEntry:
        entities.log(self._db, entity, entry.operation, detail, self._stamp())
        return wal.set_state(self._db, entry, COMMITTED, self._stamp())

    def _set_state(self, entry: WalEntry, state: str) -> WalEntry:
        with transaction(self._db):
            return wal.set_state(self._db, entry, state, self._stamp())

    def _finish(self, entry: WalEntry) -> None:
        with transaction(self._db):
            wal.delete(self._db, entry)

    def _path(self, entity: Entity) -> Path:
        return self._root / entity.local_path
