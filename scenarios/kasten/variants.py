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
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import ConfigError

__all__ = [
    "CONFLICT_NO_WAL",
    "GC_NO_WAL",
    "INPLACE_WRITE",
    "PUSH_NOT_IDEMPOTENT",
    "RECOVERY_IGNORES_WAL",
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

#: Every seeded variant, in the order the docs list them.
VARIANTS: tuple[str, ...] = (
    CONFLICT_NO_WAL,
    WAL_DELETE_BEFORE_PUSH,
    INPLACE_WRITE,
    RECOVERY_IGNORES_WAL,
    GC_NO_WAL,
    PUSH_NOT_IDEMPOTENT,
)


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
