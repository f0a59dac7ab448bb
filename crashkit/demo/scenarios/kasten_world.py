"""Worlds for the reference sync engine, kasten, and the scenario that crashes it.

A :class:`KastenWorld` is data: the notes both sides hold after a first sync,
then the edits each side made since. :func:`kasten_scenario` turns one into a
crashkit scenario: setup builds it, the workload is one sync, a restart is a
fresh engine's recovery plus one sync. Because the world is plain data, a
hypothesis strategy can generate worlds and shrink a failing one.

World layout: ``notes/`` is the synced folder (its state in ``notes/.kasten``),
``remote.sqlite3`` is the fake Notion's store.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import crashkit
import crashkit.demo.kasten.remote
from crashkit import FakeNotion, Journal, Operation, Scenario, World
from crashkit.demo import kasten
from crashkit.demo.kasten.files import is_temp_name
from crashkit.demo.kasten.markdown import (
    blocks_to_markdown,
    content_hash,
    markdown_to_blocks,
    split_frontmatter,
)

# Warm-up: this module is preloaded by crashkit's fork server, so the TLS context the
# engine's HTTP client needs (loading the CA bundle costs about 30 ms) is built once there
# and inherited by every child, instead of once per child.
kasten.remote._ssl_context()

NOTES = "notes"
DB = f"{NOTES}/.kasten/state.db"
STORE = "remote.sqlite3"
BASE_URL = "https://api.notion.com"
TOKEN = "secret_crashkit"

#: Garbage collection purges soft-deleted notes in the same cycle, so its path is crashed too.
_ENV = {"KASTEN_GC_RETENTION": "0", "KASTEN_RETRIES": "0"}
#: Every engine variant: the correct engine and each seeded bug.
ALL_VARIANTS: dict[str, dict[str, str]] = {
    "correct": dict(_ENV),
    **{name: {**_ENV, "KASTEN_BUGS": name} for name in kasten.VARIANTS},
}
#: The variants the hand-written worlds crash: all but the bugs of shape, which only
#: generated worlds reach (``crashkit/demo/scenarios/kasten_generated.py``).
VARIANTS: dict[str, dict[str, str]] = {
    name: env for name, env in ALL_VARIANTS.items() if name not in kasten.SHAPE_VARIANTS
}


@dataclass(frozen=True)
class KastenWorld:
    """Notes in step on both sides, then edits on each side.

    Args:
        notes: file name -> markdown body, synced to a linked page before the workload.
        local_edits: file name -> new file content, or None to delete the file.
        remote_edits: file name -> new page content (markdown).
        frontmatter: file name -> YAML frontmatter kept only locally.
        stuck_pushes: file names whose push fails half-way in setup (the remote answers 500
            after the old blocks are gone), so the journal holds an unfinished entry when
            the workload starts: recovery of an earlier run's entries.
        remote_trash: file names whose page is moved to Notion's trash (after the edits).
    """

    notes: Mapping[str, str]
    local_edits: Mapping[str, str | None] = field(default_factory=dict)
    remote_edits: Mapping[str, str] = field(default_factory=dict)
    frontmatter: Mapping[str, str] = field(default_factory=dict)
    stuck_pushes: Sequence[str] = ()
    remote_trash: Sequence[str] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KastenWorld:
        """A world from its JSON form (``dataclasses.asdict`` of one)."""
        return cls(**{**data, "stuck_pushes": tuple(data.get("stuck_pushes", ()))})


def _fake(world: World) -> FakeNotion:
    return FakeNotion(world.path(STORE), token=TOKEN, base_url=BASE_URL)


def _setup(data: KastenWorld) -> Any:
    def setup(world: World) -> None:
        notes = world.path(NOTES)
        notes.mkdir()
        fake = _fake(world)
        root = fake.create_page("kasten")
        kasten.init(notes, remote=BASE_URL, token=TOKEN, parent=root)
        for name, body in sorted(data.notes.items()):
            page = fake.create_page(name, parent=root, blocks=markdown_to_blocks(body))
            (notes / name).write_text(data.frontmatter.get(name, "") + body)
            kasten.link(notes, name, page)
        with fake.mock(), kasten.Engine.open(notes, bugs=()) as engine:
            engine.sync()  # both sides in step, with their merge bases
            _leave_stuck_pushes(engine, fake, data, notes)
        _edit(world, fake, data)

    return setup


def _leave_stuck_pushes(engine: Any, fake: FakeNotion, data: KastenWorld, notes: Any) -> None:
    """Make the named notes' pushes fail after their old blocks were deleted."""
    if not data.stuck_pushes:
        return
    for name in data.stuck_pushes:
        (notes / name).write_text(
            data.frontmatter.get(name, "") + data.notes[name] + "\nedited offline\n"
        )
    fake.fail_next(500, method="PATCH", path="/children", count=len(data.stuck_pushes))
    # The push fails half-way: journaled and unfinished, which is the point.
    with contextlib.suppress(kasten.RemoteError):
        engine.sync()
    fake.disarm()


def _edit(world: World, fake: FakeNotion, data: KastenWorld) -> None:
    pages = {_path_of(p): p["id"] for p in fake.pages() if _path_of(p) in data.notes}
    for name, text in sorted(data.local_edits.items()):
        path = world.path(NOTES, name)
        if text is None:
            path.unlink()
        else:
            path.write_text(data.frontmatter.get(name, "") + text)
    for name, text in sorted(data.remote_edits.items()):
        fake.set_blocks(pages[name], markdown_to_blocks(text))
    for name in data.remote_trash:
        fake.archive_page(pages[name])


def _path_of(page: Mapping[str, Any]) -> str:
    title = page["properties"]["title"]["title"]
    return "".join(part["plain_text"] for part in title)


def _sync(world: World) -> None:
    with kasten.Engine.open(world.path(NOTES)) as engine:
        engine.sync()


def observe(world: World) -> dict[str, Any]:
    """Files, remote pages and the entity rows, without volatile columns (edit times, ids of
    blocks, timestamps), which legitimately differ between a crashed and an uncrashed run."""
    fake = _fake(world)
    notes = world.path(NOTES)
    files = {
        str(p.relative_to(notes)): p.read_text(errors="replace")
        for p in sorted(notes.rglob("*"))
        if p.is_file() and ".kasten" not in p.relative_to(notes).parts
    }
    pages = {
        _path_of(p): {"archived": p["archived"], "body": blocks_to_markdown(fake.blocks(p["id"]))}
        for p in fake.pages(include_archived=True)
        if p["parent"].get("type") == "page_id"
    }
    rows = crashkit.query_rows(
        world,
        DB,
        "SELECT local_path, last_local_hash, last_remote_hash, conflict IS NOT NULL, deleted "
        "FROM entity_map ORDER BY local_path, deleted",
    )
    bases = crashkit.query_rows(world, DB, "SELECT id FROM base_content ORDER BY id")
    return {
        "files": files,
        "remote": pages,
        "entities": [list(r) for r in rows],
        "merge_bases": [base for (base,) in bases],
    }


def _local_body(world: World, path: str) -> str:
    """The note's body as a page holding it reads: kasten keeps a note and its page in step
    up to markdown's normal form (a missing trailing newline, a ``text`` code language)."""
    body = split_frontmatter(world.path(NOTES, path).read_text())[1]
    return blocks_to_markdown(markdown_to_blocks(body))


def _remote_body(world: World, page_id: str) -> str:
    return blocks_to_markdown(_fake(world).blocks(page_id))


def _file_hash(data: bytes) -> str:
    return content_hash(split_frontmatter(data.decode())[1])


def deleted_notes_are_archived(world: World) -> None:
    """A soft-deleted or collected note's page is archived, never left live."""
    live = {p["id"].replace("-", "") for p in _fake(world).pages()}
    rows = crashkit.query_rows(
        world, DB, "SELECT local_path, page_id FROM entity_map WHERE deleted = 1"
    )
    for path, page in rows:
        assert page.replace("-", "") not in live, f"{path} was deleted but its page {page} is live"


def merge_bases_are_referenced(world: World) -> None:
    """Every stored merge base belongs to an entity: collected notes leave nothing behind."""
    orphans = crashkit.query_rows(
        world,
        DB,
        "SELECT id FROM base_content WHERE id NOT IN "
        "(SELECT base_content_id FROM entity_map WHERE base_content_id IS NOT NULL)",
    )
    assert not orphans, f"{len(orphans)} merge base(s) no entity refers to: {orphans[:3]}"


def no_leftover_temp_files(world: World) -> None:
    """Atomic writes clean up after themselves, also after recovery."""
    leftovers = [p.name for p in world.path(NOTES).rglob("*") if is_temp_name(p.name)]
    assert not leftovers, f"temp files left behind: {leftovers}"


def invariants(skipped: Sequence[str] = ()) -> list[Any]:
    """The invariants of a kasten world; ``skipped`` notes (their page is in Notion's trash,
    which kasten leaves alone until the page is restored or the file deleted) are exempt
    from the two that expect every note in step."""
    quoted = (name.replace("'", "''") for name in skipped)
    exempt = "".join(f" AND local_path <> '{name}'" for name in quoted)
    return [
        crashkit.hashes_match_files(
            DB,
            "SELECT local_path, last_local_hash FROM entity_map WHERE deleted = 0" + exempt,
            _file_hash,
            root=NOTES,
        ),
        crashkit.remote_not_stale(
            DB,
            "SELECT local_path, page_id, last_remote_hash FROM entity_map WHERE deleted = 0"
            + exempt,
            local=_local_body,
            remote=_remote_body,
            hash=content_hash,
        ),
        crashkit.journal_drained(DB, "SELECT id, operation, state, entity_id FROM sync_wal"),
        deleted_notes_are_archived,
        merge_bases_are_referenced,
        no_leftover_temp_files,
    ]


INVARIANTS = invariants()

_BLOCK_URL = re.compile(r"/v1/(?:blocks|pages)/([0-9a-f-]+)")


def _entity(op: Operation) -> dict[str, Any] | None:
    """Which note an operation touches: a note file (or its temp file), or a page."""
    if op.kind.startswith("http."):
        match = _BLOCK_URL.search(op.target)
        page = match.group(1).replace("-", "") if match else None
        # A block delete names a block, not its page: any open entry may cover it.
        return {"path": None, "page": None if op.target.startswith("DELETE") else page}
    target = op.target.split(" -> ")[-1]
    if not target.startswith(f"{NOTES}/") or "/.kasten/" in target or target.endswith("/.kasten"):
        return None
    name = target.removeprefix(f"{NOTES}/")
    folder, _, base = name.rpartition("/")
    if is_temp_name(base):
        base = base.removeprefix(".").removesuffix(".kasten-tmp")
    return {"path": f"{folder}/{base}" if folder else base, "page": None}


JOURNAL = Journal(
    DB,
    "SELECT 1 FROM sync_wal w JOIN entity_map e ON e.id = w.entity_id "
    "WHERE (:path IS NULL OR e.local_path = :path) "
    "AND (:page IS NULL OR replace(e.page_id, '-', '') = :page) LIMIT 1",
    _entity,
)


#: The seeded variants a plain kill cannot see, and the fault kind that catches each.
CAUGHT_BY = {
    "rename-without-fsync": ("powerloss",),
    "retry-duplicates": ("lost-response",),
    "error-drops-wal": ("error",),
    "recovery-deletes-first": ("recovery-crash",),
    "inplace-pwrite": ("torn",),
}


#: The seeded variants each write path of the engine exercises; a scenario names the paths
#: its sync takes, and expects findings from those variants only.
EXERCISED_BY = {
    "pull": ("inplace-write", "rename-without-fsync"),
    "push": ("push-not-idempotent", "retry-duplicates", "error-drops-wal"),
    "merge": (
        "conflict-no-wal",
        "wal-delete-before-push",
        "inplace-write",
        "push-not-idempotent",
        "rename-without-fsync",
        "retry-duplicates",
        "error-drops-wal",
        "recovery-deletes-first",
    ),
    "gc": ("gc-no-wal",),
}
#: Variants every sync exercises: any unfinished entry (recovery) and the poll cursor.
EVERY_SYNC = ("recovery-ignores-wal", "inplace-pwrite")


def kasten_scenario(
    name: str, data: KastenWorld, *, paths: Sequence[str], **kwargs: Any
) -> Scenario:
    """A scenario crashing one sync of ``data``'s world, over every engine variant.

    Args:
        paths: the write paths (keys of :data:`EXERCISED_BY`) the sync takes; the variants
            they exercise are expected to be caught.
    """
    catches = dict.fromkeys([*EVERY_SYNC, *(v for p in paths for v in EXERCISED_BY[p])])
    return Scenario(
        name=name,
        setup=_setup(data),
        workload=_sync,
        restart=_sync,
        observe=observe,
        invariants=invariants(data.remote_trash),
        context=lambda world: _fake(world).mock(),
        variants=VARIANTS,
        expect_findings={variant: CAUGHT_BY.get(variant, ()) for variant in catches},
        program=("crashkit.demo.kasten",),
        preload=("crashkit.demo.kasten", "notion_client", "respx", "merge3"),
        journal=JOURNAL,
        **kwargs,
    )
