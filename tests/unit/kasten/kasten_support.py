"""Shared pieces of kasten's tests: helpers and the setups (worlds) the crash tests use."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from crashkit.demo import kasten
from crashkit.demo.kasten.markdown import blocks_to_markdown
from crashkit.remotes.notion.fake import FakeNotion

Opener = Callable[..., kasten.Engine]

#: The variants a plain kill does not find, and the fault that does.
FAULT_VARIANTS: dict[str, str] = {
    "rename-without-fsync": "powerloss",
    "retry-duplicates": "lost-response",
    "error-drops-wal": "error",
    "recovery-deletes-first": "recovery-crash",
    "inplace-pwrite": "torn",
}


def page_text(fake: FakeNotion, page_id: str) -> str:
    """The page's content as kasten reads it back."""
    return blocks_to_markdown(fake.blocks(page_id))


def sync_until_quiet(engine: kasten.Engine, limit: int = 5) -> list[kasten.SyncReport]:
    """Sync until a cycle changes nothing, as the harness's restart rounds do."""
    reports = []
    for _ in range(limit):
        reports.append(engine.sync())
        if not reports[-1].changed:
            return reports
    raise AssertionError(f"no fixpoint after {limit} cycles: {reports}")


# -- setups: each leaves one write path to run at the next sync ----------------------


def synced(root: Path, fake: FakeNotion, name: str, blocks: list[str]) -> str:
    """A page holding ``blocks``, linked to ``name`` and synced once."""
    page = fake.create_page(name, blocks=blocks)
    kasten.link(root, name, page)
    with kasten.Engine.open(root) as engine:
        engine.sync()
    return page


def push_build(root: Path, fake: FakeNotion) -> None:
    synced(root, fake, "a.md", ["old one", "old two"])
    (root / "a.md").write_text("".join(f"- line {i}\n" for i in range(101)))  # two appends


def small_push_build(root: Path, fake: FakeNotion) -> None:
    """A note of three paragraphs, synced, then a fourth added locally (one append)."""
    synced(root, fake, "a.md", ["one", "two", "three"])
    (root / "a.md").write_text("one\n\ntwo\n\nthree\n\nfour\n")


def fill_build(root: Path, fake: FakeNotion) -> None:
    page = fake.create_page("new", blocks=["first paragraph", "second paragraph"])
    kasten.link(root, "sub/new.md", page)  # missing file in a missing folder


def merge_build(root: Path, fake: FakeNotion) -> None:
    page = synced(root, fake, "a.md", ["one", "two", "three"])
    (root / "a.md").write_text("---\nkeep: me\n---\none\n\nmine\n\nthree\n")
    fake.set_blocks(page, ["one", "theirs", "three", "four"])


def delete_build(root: Path, fake: FakeNotion) -> None:
    synced(root, fake, "a.md", ["bye"])
    (root / "a.md").unlink()
