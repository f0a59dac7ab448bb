"""The three bugs of shape are real: in a world of the shape each needs, the variant
damages the world and the correct engine does not. (crashkit finds them from generated
worlds: ``crashkit/demo/scenarios/kasten_generated.py``; these worlds are written by hand
only to check the variants themselves.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from kasten_support import Opener, page_text, synced

from crashkit.demo import kasten
from crashkit.demo.kasten.variants import FIRST_CHUNK_COMMITS, FIRST_PAGE_ONLY, NO_TEXT_SPLIT
from crashkit.remotes.notion.fake import FakeNotion

LONG = "".join(f"- item {i}\n" for i in range(150))  # 150 blocks: two list pages, two appends


@pytest.mark.parametrize(("bugs", "damaged"), [([FIRST_PAGE_ONLY], True), ([], False)])
def test_first_page_only_leaves_old_blocks_past_100_under_a_push(
    folder: Path, fake: FakeNotion, open_engine: Opener, bugs: list[str], damaged: bool
) -> None:
    page = synced(folder, fake, "a.md", [f"old {i}" for i in range(130)])
    (folder / "a.md").write_text(LONG)
    open_engine(bugs).sync()
    text = page_text(fake, page)
    assert (text != LONG) is damaged
    assert ("old 129" in text) is damaged  # never listed, never deleted


def test_first_page_only_cuts_a_long_page_on_a_pull(
    folder: Path, fake: FakeNotion, open_engine: Opener
) -> None:
    page = synced(folder, fake, "a.md", ["short"])
    fake.set_blocks(page, [f"remote {i}" for i in range(120)])
    open_engine([FIRST_PAGE_ONLY]).sync()
    assert "remote 99" in (folder / "a.md").read_text()
    assert "remote 100" not in (folder / "a.md").read_text()


@pytest.mark.parametrize(("bugs", "pushed"), [([NO_TEXT_SPLIT], False), ([], True)])
def test_no_text_split_cannot_push_a_paragraph_over_2000_characters(
    folder: Path, fake: FakeNotion, open_engine: Opener, bugs: list[str], pushed: bool
) -> None:
    page = synced(folder, fake, "a.md", ["short"])
    long = " ".join(["wörter"] * 400) + "\n"  # 2,799 characters in one paragraph
    (folder / "a.md").write_text(long)
    engine = open_engine(bugs)
    if pushed:
        engine.sync()
    else:
        with pytest.raises(kasten.RemoteError, match="400"):
            engine.sync()
    assert (page_text(fake, page) == long) is pushed


@pytest.mark.parametrize(("bugs", "stale"), [([FIRST_CHUNK_COMMITS], True), ([], False)])
def test_first_chunk_commits_leaves_a_stale_page_when_the_last_append_fails(
    folder: Path, fake: FakeNotion, open_engine: Opener, bugs: list[str], stale: bool
) -> None:
    page = synced(folder, fake, "a.md", ["old"])
    (folder / "a.md").write_text(LONG)
    engine = open_engine(bugs)
    _fail_second_append(engine, fake)  # blocks 1-100 go through, 101-150 are refused
    with pytest.raises(kasten.RemoteError):
        engine.sync()
    open_engine(bugs).sync()  # a later start: nothing journaled (bug) or the push replayed
    assert (page_text(fake, page) != LONG) is stale


def _fail_second_append(engine: kasten.Engine, fake: FakeNotion) -> None:
    """The second append request of the engine's next push gets a 500 (nothing applied)."""
    remote = engine._ops._remote
    original = remote._append_chunk
    appends = []

    def append(page_id: str, chunk: list[dict[str, object]]) -> object:
        appends.append(page_id)
        if len(appends) == 2:
            fake.fail_next(500, method="PATCH", path="/children")
        return original(page_id, chunk)

    remote._append_chunk = append  # type: ignore[method-assign]
