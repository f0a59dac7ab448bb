"""Seeded bug variants: each one reopens one window the correct protocol closes.

With no variant named, kasten is correct. Each variant is switched on by name
(``KASTEN_BUGS=name,name``, the config key ``"bugs"``, or
``Engine.open(dir, bugs=[...])``) and is a faithful, minimal version of one bug
class from the seed story (``wal-protocol-completeness.md``) and its general
rule "every write path participates in the journal":

``conflict-no-wal``
    The merge path writes the merged file and updates the entity with no WAL
    entry, then pushes. Window: a crash after the entity update and before the
    push leaves the entity claiming the remote holds the merge; no journal
    says otherwise, so the remote stays stale for good. The journal audit also
    flags the file write as uncovered.
``wal-delete-before-push``
    The merge path deletes its WAL entry right after the entity update, before
    pushing the merged result. Window: a crash (or a failed push) between the
    delete and the end of the push leaves a silently stale remote.
``inplace-write``
    Files are truncated and rewritten in place, in more than one write, instead
    of atomically. Window: a crash between the writes leaves a partial file,
    which recovery cannot tell from a user's edit; it is then merged and pushed.
``recovery-ignores-wal``
    Startup counts incomplete WAL entries but never replays them. Window: any
    crash after a WAL entry is written; e.g. after a merge's entity update the
    push never happens, and the journal never drains.
``gc-no-wal``
    Garbage collection deletes the entity row first, with no journal entry, and
    only then makes sure the remote page is archived and removes the leftovers
    (temp file, base content). Window: a crash after the row delete leaks the
    leftovers for good, since nothing records that they still need removing.
``push-not-idempotent``
    The push appends the new blocks before deleting the old ones, and deletes
    only the block ids it stored at the last sync. Window: a crash (or failure)
    between the append and the deletes; the replay appends again and the page
    ends with the new content twice.

The next five are each clean under a plain kill (a kill keeps the page cache,
makes no request fail or lose its answer, and strikes only once); each is
caught by one other fault:

``rename-without-fsync``
    The atomic write (temp file, rename, fsync of the folder) skips the fsync
    of the temp file before the rename. Window: a power cut after the rename
    and the folder's fsync, before the OS wrote the data back: the note's name
    survives with the file's last durable content, empty for a new temp file,
    while the database says the new content is in place. Caught by a power cut.
``retry-duplicates``
    An append that got no answer (a read timeout, the SDK's
    ``RequestTimeoutError``, or a dropped connection) is sent again at once,
    without looking at what the page holds. Window: a request Notion applied
    but whose answer was lost: the page ends with the new blocks twice, and
    the entity records it as pushed. Caught by a lost response.
``error-drops-wal``
    A push (or a merge's push) that Notion answers with an error (5xx, 429,
    ...) is taken as not having happened: its entry is rolled back (deleted)
    before the error goes up. Window: the requests of the same push that came
    before the failing one did happen (old blocks deleted): a push is redone
    against a page it half emptied, which reads as a remote edit and is
    merged, losing lines; a merge's entity already records the push, so the
    remote stays stale or half-written for good. Caught by an injected error.
``recovery-deletes-first``
    Recovery takes a ``committed`` entry for done: it deletes the entry first,
    then redoes what is left of the operation (a merge's push). Window: a crash
    inside that restart, after the delete and before the push ends: the push is
    lost; the entity records the merge as pushed, and the remote stays stale
    (or, half-replaced, is pulled over the note). A single crash never shows it:
    it leaves the committed entry, and the next start, not crashed itself,
    finishes the push. Entries in the other states are replayed as the correct
    engine does. Caught by a crash during recovery.
``inplace-pwrite``
    The poll cursor (``.kasten/cursor.json``, a fixed-size record with a
    checksum) is rewritten by one ``os.pwrite`` at offset 0, without truncation,
    trusting one write to be atomic. Window: a torn write (only the first
    sectors reach the disk) leaves a record that is half new, half old; every
    later start refuses the damaged cursor, and the folder never syncs again.
    Caught by a torn write.

The last three are bugs of shape: a plain kill, or even no crash at all, shows
them, but only in worlds of a certain shape, which no hand-written scenario
has. crashkit finds them from generated worlds
(``crashkit/demo/scenarios/kasten_generated.py``):

``first-page-only``
    Reading a page's blocks takes the first page of results (100 blocks) and
    ignores ``has_more``. Window: any note over 100 blocks: a pull or a merge
    loses everything past block 100, and a push (which deletes what it reads)
    leaves the old blocks past 100 on the page under the new ones.
``no-text-split``
    A push sends each block's text as one rich-text object, however long.
    Notion refuses a ``text.content`` over 2,000 characters (400
    validation_error), so a note with a longer paragraph, heading, item or code
    block can never be pushed: every sync fails on it, and a merge leaves the
    page stale with its entry open.
``first-chunk-commits``
    A push of more than 100 blocks (more than one append) records the push as
    done, and deletes its entry, once the first append of 100 is on the page,
    then appends the rest. Window: a crash (or a failed append) after the first
    append and before the last one: the entity says the page holds the note,
    the page holds its first 100 blocks, and nothing is journaled: the remote
    stays stale for good. The general rule of the seed: the entry lives from the
    first mutation to the *last* side effect, and a long push has several.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import ConfigError

__all__ = [
    "CONFLICT_NO_WAL",
    "ERROR_DROPS_WAL",
    "FIRST_CHUNK_COMMITS",
    "FIRST_PAGE_ONLY",
    "GC_NO_WAL",
    "INPLACE_PWRITE",
    "INPLACE_WRITE",
    "NO_TEXT_SPLIT",
    "PUSH_NOT_IDEMPOTENT",
    "RECOVERY_DELETES_FIRST",
    "RECOVERY_IGNORES_WAL",
    "RENAME_WITHOUT_FSYNC",
    "RETRY_DUPLICATES",
    "SHAPE_VARIANTS",
    "VARIANTS",
    "WAL_DELETE_BEFORE_PUSH",
    "parse_variants",
]

CONFLICT_NO_WAL = "conflict-no-wal"
WAL_DELETE_BEFORE_PUSH = "wal-delete-before-push"
INPLACE_WRITE = "inplace-write"
RECOVERY_IGNORES_WAL = "recovery-ignores-wal"
GC_NO_WAL = "gc-no-wal"
PUSH_NOT_IDEMPOTENT = "push-not-idempotent"
RENAME_WITHOUT_FSYNC = "rename-without-fsync"
RETRY_DUPLICATES = "retry-duplicates"
ERROR_DROPS_WAL = "error-drops-wal"
RECOVERY_DELETES_FIRST = "recovery-deletes-first"
INPLACE_PWRITE = "inplace-pwrite"
FIRST_PAGE_ONLY = "first-page-only"
NO_TEXT_SPLIT = "no-text-split"
FIRST_CHUNK_COMMITS = "first-chunk-commits"

#: Every seeded variant, in the order the docs list them.
VARIANTS: tuple[str, ...] = (
    CONFLICT_NO_WAL,
    WAL_DELETE_BEFORE_PUSH,
    INPLACE_WRITE,
    RECOVERY_IGNORES_WAL,
    GC_NO_WAL,
    PUSH_NOT_IDEMPOTENT,
    RENAME_WITHOUT_FSYNC,
    RETRY_DUPLICATES,
    ERROR_DROPS_WAL,
    RECOVERY_DELETES_FIRST,
    INPLACE_PWRITE,
    FIRST_PAGE_ONLY,
    NO_TEXT_SPLIT,
    FIRST_CHUNK_COMMITS,
)
#: The variants only some world shapes reach (long notes, long paragraphs).
SHAPE_VARIANTS: tuple[str, ...] = (FIRST_PAGE_ONLY, NO_TEXT_SPLIT, FIRST_CHUNK_COMMITS)


def parse_variants(names: str | Iterable[str], *, source: str) -> frozenset[str]:
    """Turn ``"a,b"`` or ``["a", "b"]`` into a set of known variant names.

    Raises:
        ConfigError: a name is not a known variant; the message lists the valid ones.
    """
    items = names.split(",") if isinstance(names, str) else list(names)
    chosen = {name.strip() for name in items if name.strip()}
    unknown = sorted(chosen - set(VARIANTS))
    if unknown:
        raise ConfigError(
            f"unknown bug variant(s) {', '.join(map(repr, unknown))} in {source}",
            f"use a comma-separated subset of: {', '.join(VARIANTS)}",
        )
    return frozenset(chosen)
