"""Hypothesis strategies drawing kasten worlds (:class:`kasten_world.KastenWorld`).

A world is one to four notes of random markdown, in step on both sides after a
first sync, then random edits on each side. The markdown uses every block type
kasten syncs (paragraphs, three heading levels, bulleted, numbered and to-do
items, quotes, fenced code with or without a language, dividers); a note may be
empty, hold over 100 blocks (a block repeated), or text over Notion's 2,000
characters per rich-text object (a word repeated), in any script (accents, CJK,
emoji outside the BMP, which Notion counts twice); with or without a trailing
newline, with or without YAML frontmatter. Each side then edits: replaces,
inserts or deletes lines (both sides may touch the same lines, or different
ones), deletes the file, or moves the page to Notion's trash.

Repetitions are drawn as counts, so shrinking turns a 700-block note into the
smallest count that still fails, and a 6,000-character paragraph into the
shortest word and count that do.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import strategies as st
from kasten_world import KastenWorld

__all__ = ["kasten_worlds", "markdown_bodies", "world_size"]

#: Note file names: one of them not ASCII.
NAMES = ("a.md", "b.md", "c.md", "notiz-ü.md")

#: Characters of text: no markdown markers (a text must stay in its block), accents,
#: CJK, and emoji outside the BMP (two UTF-16 units each, as Notion counts them).
_CHARS = "abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 ,;:!?'äöüßéñçøåΩж漢字かな😀🎉"

FRONTMATTER = "---\ntitle: a note\ntags: [generated]\n---\n"


def _clean(text: str) -> str:
    words = text.split()
    return " ".join(words) if words else "x"


@st.composite
def _text(draw: Any, long: bool = True) -> str:
    """Words; sometimes (``long``) a word repeated to a length over Notion's 2,000
    characters per rich-text object (shrinking keeps it just over)."""
    word = draw(st.text(alphabet=_CHARS, min_size=1, max_size=12))
    if long and draw(st.integers(0, 7)) == 0:
        length = draw(st.integers(2001, 6000))
        text = _clean(" ".join([word] * (length // (len(word) + 1) + 1)))
        return text[:length].strip() + "x" * (length - len(text[:length].strip()))
    return _clean(word + draw(st.text(alphabet=_CHARS, max_size=30)))


@st.composite
def _block(draw: Any, long: bool = True) -> str:
    """One block of kasten's markdown (``long``: its text may exceed 2,000 characters)."""
    kind = draw(st.sampled_from(_KINDS))
    if kind == "divider":
        return "---"
    if kind == "code":
        language = draw(st.sampled_from(("", "python", "rust", "text")))
        lines = draw(st.lists(_text(long), min_size=0, max_size=3))
        return "\n".join([f"```{language}", *lines, "```"])
    return _PREFIX[kind] + draw(_text(long))


_PREFIX = {
    "paragraph": "",
    "heading_1": "# ",
    "heading_2": "## ",
    "heading_3": "### ",
    "bulleted": "- ",
    "numbered": "1. ",
    "to_do": "- [ ] ",
    "done": "- [x] ",
    "quote": "> ",
}
_KINDS = (*_PREFIX, "code", "divider")


@st.composite
def markdown_bodies(draw: Any) -> str:
    """A note's markdown: blocks separated by blank lines (a block may be repeated 101 to
    150 times, over the 100 blocks of one Notion request), ending with a newline or not.
    May be empty."""
    blocks: list[str] = []
    for _ in range(draw(st.integers(0, 5))):
        # Mostly single blocks; one run in sixteen repeats its block 101 to 150 times.
        count = draw(st.integers(101, 150)) if draw(st.integers(0, 15)) == 0 else 1
        blocks += [draw(_block(long=count == 1))] * count  # long text is not repeated
    body = "\n\n".join(blocks)
    return body + "\n" if body and draw(st.booleans()) else body


#: A line edit: ("replace", at, text), ("insert", at, text) or ("delete", at, "").
_LINE_EDIT = st.tuples(
    st.sampled_from(("replace", "insert", "delete")), st.integers(0, 1000), _text()
)


def _edited(body: str, edits: list[tuple[str, int, str]]) -> str:
    """``body`` with line edits applied (positions wrap around the lines there are)."""
    lines = body.split("\n") if body else []
    for action, at, text in edits:
        if action == "insert" or not lines:
            lines.insert(at % (len(lines) + 1), f"edited {text}")
        elif action == "replace":
            lines[at % len(lines)] = f"changed {text}"
        else:
            del lines[at % len(lines)]
    return "\n".join(lines)


_LOCAL = st.one_of(
    st.none(), st.just("delete"), st.lists(_LINE_EDIT, min_size=1, max_size=3)
)  # no edit, the file deleted, or lines edited
_REMOTE = st.one_of(st.none(), st.just("trash"), st.lists(_LINE_EDIT, min_size=1, max_size=3))


@st.composite
def kasten_worlds(draw: Any) -> KastenWorld:
    """A kasten world: notes in step, then edits on each side (see the module)."""
    count = draw(st.integers(1, len(NAMES)))
    notes, local, remote, front, trash = {}, {}, {}, {}, []
    for name in NAMES[:count]:
        body = draw(markdown_bodies())
        notes[name] = body
        if draw(st.booleans()):
            front[name] = FRONTMATTER
        mine, theirs = draw(_LOCAL), draw(_REMOTE)
        if mine == "delete":
            local[name] = None
        elif mine is not None:
            local[name] = _edited(body, mine)
        if theirs == "trash":
            trash.append(name)
        elif theirs is not None:
            remote[name] = _edited(body, theirs)
    return KastenWorld(
        notes=notes,
        local_edits=local,
        remote_edits=remote,
        frontmatter=front,
        remote_trash=tuple(trash),
    )


def world_size(world: KastenWorld | dict[str, Any]) -> dict[str, int]:
    """How big a world is: notes, lines of all notes, edits (local, remote, trash)."""
    data = world if isinstance(world, dict) else dataclasses.asdict(world)
    notes = data["notes"]
    return {
        "notes": len(notes),
        "lines": sum(len(body.split("\n")) for body in notes.values() if body),
        "chars": sum(len(body) for body in notes.values()),
        "edits": len(data["local_edits"]) + len(data["remote_edits"]) + len(data["remote_trash"]),
    }
