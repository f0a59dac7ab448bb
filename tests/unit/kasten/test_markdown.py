"""Markdown <-> Notion blocks: one example per construct, then the properties the sync relies on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crashkit.demo.kasten.markdown import (
    PLAIN_TEXT,
    RICH_TEXT_LIMIT,
    blocks_to_markdown,
    content_hash,
    join_frontmatter,
    markdown_to_blocks,
    normalize,
    split_frontmatter,
)

Block = dict[str, Any]
PROPERTY = settings(max_examples=250, deadline=None)
T = TypeVar("T")


def text_block(kind: str, *contents: str, **extra: object) -> Block:
    rich = [{"type": "text", "text": {"content": content}} for content in contents]
    return {"object": "block", "type": kind, kind: {"rich_text": rich, **extra}}


def rich_texts(blocks: list[Block]) -> Iterator[str]:
    for block in blocks:
        for item in block[block["type"]].get("rich_text", []):
            yield item["text"]["content"]


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def as_api_returns(block: Block) -> Block:
    """``block`` dressed like an API response: ids, annotations, plain_text."""
    kind = block["type"]
    payload = dict(block[kind])
    payload["rich_text"] = [
        {**item, "annotations": {"bold": False}, "plain_text": item["text"]["content"]}
        for item in payload.get("rich_text", [])
    ]
    return {"id": "b1", "has_children": False, "archived": False, **block, kind: payload}


# --- frontmatter -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "frontmatter", "body"),
    [
        ("---\ntitle: x\n---\nbody\n", "---\ntitle: x\n---\n", "body\n"),
        ("---\ntitle: x\n---", "---\ntitle: x\n---", ""),
        ("---\r\ntitle: x\r\n---\r\nbody\r\n", "---\r\ntitle: x\r\n---\r\n", "body\r\n"),
        ("---\n---\nbody\n", "---\n---\n", "body\n"),
        ("\ufeff---\na: 1\n---\n", "\ufeff---\na: 1\n---\n", ""),
        ("body\n---\na: 1\n---\n", "", "body\n---\na: 1\n---\n"),
        ("---\na: 1\nno closing fence\n", "", "---\na: 1\nno closing fence\n"),
        # A body that starts with a divider, in normal form, is not a frontmatter.
        ("---\n\nfoo\n\n---\n", "", "---\n\nfoo\n\n---\n"),
        ("---\n", "", "---\n"),
        ("", "", ""),
    ],
)
def test_split_frontmatter(text: str, frontmatter: str, body: str) -> None:
    assert split_frontmatter(text) == (frontmatter, body)
    assert join_frontmatter(frontmatter, body) == text


def test_join_frontmatter_adds_the_missing_line_break() -> None:
    assert join_frontmatter("---\na: 1\n---", "new\n") == "---\na: 1\n---\nnew\n"
    assert join_frontmatter("", "new\n") == "new\n"


def test_frontmatter_stays_out_of_the_hash_and_the_blocks() -> None:
    _, body = split_frontmatter("---\ntags: [a]\n---\n# Hi\n")
    assert content_hash(body) == content_hash("# Hi\n")
    assert markdown_to_blocks(body) == [text_block("heading_1", "Hi")]


# --- one example per construct -------------------------------------------------


@pytest.mark.parametrize(
    ("markdown", "normal", "blocks"),
    [
        (
            "a line\nnext line  \n",
            "a line\nnext line\n",
            [text_block("paragraph", "a line\nnext line")],
        ),
        (
            "one\n\n\n\ntwo",
            "one\n\ntwo\n",
            [text_block("paragraph", "one"), text_block("paragraph", "two")],
        ),
        (
            "\tindented **bold**",
            "\tindented **bold**\n",
            [text_block("paragraph", "\tindented **bold**")],
        ),
        ("#  Title", "# Title\n", [text_block("heading_1", "Title")]),
        ("## Sub", "## Sub\n", [text_block("heading_2", "Sub")]),
        ("###### Deep", "### Deep\n", [text_block("heading_3", "Deep")]),
        ("#", "#\n", [{"object": "block", "type": "heading_1", "heading_1": {"rich_text": []}}]),
        ("####### seven", "####### seven\n", [text_block("paragraph", "####### seven")]),
        ("#tag", "#tag\n", [text_block("paragraph", "#tag")]),
        (
            "* a\n-  b\n",
            "- a\n- b\n",
            [text_block("bulleted_list_item", "a"), text_block("bulleted_list_item", "b")],
        ),
        (
            "- a\n  continued",
            "- a\n  continued\n",
            [text_block("bulleted_list_item", "a\n  continued")],
        ),
        (
            "3. a\n\n7) b",
            "1. a\n1. b\n",
            [text_block("numbered_list_item", "a"), text_block("numbered_list_item", "b")],
        ),
        (
            "- [ ] open\n* [X] done",
            "- [ ] open\n- [x] done\n",
            [text_block("to_do", "open", checked=False), text_block("to_do", "done", checked=True)],
        ),
        ("- [x]done", "- [x]done\n", [text_block("bulleted_list_item", "[x]done")]),
        (
            "- a\n1. b\n- [ ] c\n",
            "- a\n\n1. b\n\n- [ ] c\n",
            [
                text_block("bulleted_list_item", "a"),
                text_block("numbered_list_item", "b"),
                text_block("to_do", "c", checked=False),
            ],
        ),
        ("> a\n>\n>b", "> a\n>\n> b\n", [text_block("quote", "a\n\nb")]),
        ("> a\n\n> b", "> a\n\n> b\n", [text_block("quote", "a"), text_block("quote", "b")]),
        ("> a\nb", "> a\n\nb\n", [text_block("quote", "a"), text_block("paragraph", "b")]),
        (
            "```Py\nx = 1  \n\n```\n",
            "```python\nx = 1  \n\n```\n",
            [text_block("code", "x = 1  \n", language="python")],
        ),
        ("```brainfuck\n+\n```", "```\n+\n```\n", [text_block("code", "+", language=PLAIN_TEXT)]),
        ("```\n```", "```\n```\n", [text_block("code", language=PLAIN_TEXT)]),
        (
            "```text\nunclosed\n",
            "```\nunclosed\n```\n",
            [text_block("code", "unclosed", language=PLAIN_TEXT)],
        ),
        (
            "````visual  Basic\n```\n````",
            "````visual basic\n```\n````\n",
            [text_block("code", "```", language="visual basic")],
        ),
        (
            "***\n___\n-----",
            "---\n\n---\n\n---\n",
            [{"object": "block", "type": "divider", "divider": {}}] * 3,
        ),
        ("a\r\nb\rc\r\n", "a\nb\nc\n", [text_block("paragraph", "a\nb\nc")]),
        (" \n\t\n", "", []),
    ],
)
def test_construct(markdown: str, normal: str, blocks: list[Block]) -> None:
    assert normalize(markdown) == normal
    assert markdown_to_blocks(markdown) == blocks
    assert blocks_to_markdown(blocks) == normal


def test_long_text_is_split_by_utf16_units_and_never_inside_an_emoji() -> None:
    text = "a" + "😀" * 1500
    contents = list(rich_texts(markdown_to_blocks(text)))
    assert [utf16_units(content) for content in contents] == [1999, 1002]
    assert "".join(contents) == text


def test_text_at_the_limit_stays_whole() -> None:
    assert list(rich_texts(markdown_to_blocks("é" * RICH_TEXT_LIMIT))) == ["é" * RICH_TEXT_LIMIT]


# --- reading what the API returns --------------------------------------------------


def test_reads_api_responses_and_joins_rich_text() -> None:
    blocks = [
        as_api_returns(text_block("heading_2", "Ti", "tle")),
        as_api_returns(text_block("code", "print()", language="python")),
        as_api_returns(text_block("to_do", "x", checked=True)),
    ]
    assert blocks_to_markdown(blocks) == "## Title\n\n```python\nprint()\n```\n\n- [x] x\n"


def test_prefers_plain_text_which_covers_mentions() -> None:
    mention = {"type": "mention", "mention": {"type": "user"}, "plain_text": "@Ann"}
    block = {"type": "paragraph", "paragraph": {"rich_text": [mention]}}
    assert blocks_to_markdown([block]) == "@Ann\n"


def test_skips_unsupported_archived_and_trashed_blocks() -> None:
    blocks = [
        {"type": "image", "image": {"type": "external", "external": {"url": "u"}}},
        {"type": "unsupported", "unsupported": {}},
        {**text_block("paragraph", "gone"), "archived": True},
        {**text_block("paragraph", "binned"), "in_trash": True},
        text_block("paragraph", "kept"),
    ]
    assert blocks_to_markdown(blocks) == "kept\n"


def test_notion_side_oddities_come_back_normalized() -> None:
    blocks = [
        text_block("paragraph"),  # an empty paragraph: vertical space in Notion
        text_block("heading_1", "two\nlines"),
        text_block("quote", " padded "),
        text_block("code", "```\nx", language="Unknown"),
    ]
    assert blocks_to_markdown(blocks) == "# two\n\nlines\n\n> padded\n\n````\n```\nx\n````\n"


# --- properties ----------------------------------------------------------------------

#: Text of a line that no marker matches: it starts with a letter.
_line_text = st.builds(
    lambda first, rest: (first + rest).rstrip(" \t"),
    st.sampled_from("abXYé😀"),
    st.text(st.sampled_from("ab XY,.!?*_#>-[]`é😀\t\x00"), max_size=25),
)
_code_line = st.text(st.sampled_from("ab #->-*`\t 😀"), max_size=20).filter(
    lambda line: line.rstrip(" \t").strip("`") != "" or len(line.rstrip(" \t")) < 3
)
#: (fence info as written, language in normal form)
_languages = st.sampled_from(
    [("", ""), ("python", "python"), ("Python", "python"), ("py", "python"),
     ("plain text", ""), ("brainfuck", ""), ("visual basic", "visual basic"),
     ("c++ linenos", "c++")]
)  # fmt: skip

_Spec = tuple[str, Any]
_specs: st.SearchStrategy[_Spec] = st.one_of(
    st.tuples(st.just("paragraph"), st.lists(_line_text, min_size=1, max_size=3)),
    st.tuples(st.just("heading"), st.tuples(st.integers(1, 6), _line_text)),
    st.tuples(st.just("bullet"), st.lists(_line_text, min_size=1, max_size=2)),
    st.tuples(st.just("numbered"), st.lists(_line_text, min_size=1, max_size=2)),
    st.tuples(st.just("to_do"), st.tuples(st.booleans(), _line_text)),
    st.tuples(st.just("quote"), st.lists(_line_text | st.just(""), min_size=1, max_size=3)),
    # A single empty line of code is the empty code block, written without it.
    st.tuples(
        st.just("code"),
        st.tuples(_languages, st.lists(_code_line, max_size=3).filter(lambda ls: ls != [""])),
    ),
    st.tuples(st.just("divider"), st.none()),
)
_documents = st.lists(_specs, max_size=8)


class _Writer:
    """Writes a document spec as markdown, in normal form or with random variations."""

    def __init__(self, draw: st.DrawFn, tidy: bool) -> None:
        self.draw, self.tidy = draw, tidy

    def pick(self, normal: T, strategy: st.SearchStrategy[T]) -> T:
        return normal if self.tidy else self.draw(strategy)

    def line(self, text: str) -> str:
        return text + self.pick("", st.sampled_from(["", " ", "\t", "  \t"]))

    def marked(self, marker: str, text: str) -> str:
        gap = self.pick(" ", st.sampled_from([" ", "  ", "\t"]))
        return self.line(f"{marker}{gap}{text}" if text else marker)

    def block(self, kind: str, data: Any) -> list[str]:
        return getattr(self, f"write_{kind}")(data)  # type: ignore[no-any-return]

    def write_paragraph(self, lines: list[str]) -> list[str]:
        return [self.line(text) for text in lines]

    def write_heading(self, data: tuple[int, str]) -> list[str]:
        level, text = data
        return [self.marked("#" * (min(level, 3) if self.tidy else level), text)]

    def write_bullet(self, lines: list[str]) -> list[str]:
        marker = self.pick("-", st.sampled_from("-*"))
        return [self.marked(marker, lines[0]), *map(self.line, lines[1:])]

    def write_numbered(self, lines: list[str]) -> list[str]:
        number = self.pick(1, st.integers(0, 999))
        dot = self.pick(".", st.sampled_from(".)"))
        return [self.marked(f"{number}{dot}", lines[0]), *map(self.line, lines[1:])]

    def write_to_do(self, data: tuple[bool, str]) -> list[str]:
        checked, text = data
        mark = self.pick("x", st.sampled_from("xX")) if checked else " "
        return [self.marked(f"{self.pick('-', st.sampled_from('-*'))} [{mark}]", text)]

    def write_quote(self, lines: list[str]) -> list[str]:
        return [self.marked(">", text) for text in lines]

    def write_code(self, data: tuple[tuple[str, str], list[str]]) -> list[str]:
        (written, normal), lines = data
        fence = self.pick("```", st.sampled_from(["```", "````"]))
        return [self.line(fence + self.pick(normal, st.just(written))), *lines, self.line(fence)]

    def write_divider(self, _: None) -> list[str]:
        return [self.line(self.pick("---", st.sampled_from(["---", "***", "___", "-----"])))]

    def blanks(self, previous: str, kind: str) -> list[str]:
        lists = {"bullet", "numbered", "to_do"}
        if self.tidy:
            return [] if previous == kind and kind in lists else [""]
        merges = (kind == "paragraph" and previous in lists | {"paragraph"}) or (
            kind == previous == "quote"
        )
        count = self.draw(st.integers(1 if merges else 0, 3))
        return [self.line("") for _ in range(count)]

    def document(self, specs: list[_Spec]) -> str:
        lines: list[str] = []
        for index, (kind, data) in enumerate(specs):
            if index:
                lines += self.blanks(specs[index - 1][0], kind)
            lines += self.block(kind, data)
        newline = self.pick("\n", st.sampled_from(["\n", "\r\n"]))
        end = self.pick("\n" if lines else "", st.sampled_from(["", "\n", "\n\n", "\n \n"]))
        return newline.join(lines) + end.replace("\n", newline)


@st.composite
def _written_twice(draw: st.DrawFn) -> tuple[str, str]:
    """One document, written in normal form and with random variations."""
    specs = draw(_documents)
    return _Writer(draw, tidy=True).document(specs), _Writer(draw, tidy=False).document(specs)


_markdownish = st.text(st.sampled_from(list("#-*_>`[]xX1.) \t\n\r\x00aé😀")), max_size=80)
_long_texts = st.builds(
    lambda prefix, size, tail: prefix + "😀a" * size + tail,
    st.sampled_from(["", "a", "# ", "- ", "```\n"]),
    st.integers(990, 2100),
    st.text(st.sampled_from("a😀\n "), max_size=10),
)
_any_markdown = st.one_of(
    st.text(), _markdownish, _written_twice().map(lambda pair: pair[1]), _long_texts
)


@PROPERTY
@given(_written_twice())
def test_normal_form_ignores_how_a_document_is_written(pair: tuple[str, str]) -> None:
    tidy, messy = pair
    assert normalize(messy) == tidy
    assert content_hash(messy) == content_hash(tidy)


@PROPERTY
@given(_any_markdown)
def test_normalize_is_idempotent(markdown: str) -> None:
    assert normalize(normalize(markdown)) == normalize(markdown)


@PROPERTY
@given(_any_markdown)
def test_blocks_round_trip_to_the_normal_form(markdown: str) -> None:
    assert blocks_to_markdown(markdown_to_blocks(markdown)) == normalize(markdown)


@PROPERTY
@given(_any_markdown)
def test_blocks_round_trip_through_the_api_shape(markdown: str) -> None:
    blocks = [as_api_returns(block) for block in markdown_to_blocks(markdown)]
    assert blocks_to_markdown(blocks) == normalize(markdown)


@PROPERTY
@given(_any_markdown)
def test_blocks_depend_only_on_the_normal_form(markdown: str) -> None:
    assert markdown_to_blocks(normalize(markdown)) == markdown_to_blocks(markdown)


@PROPERTY
@given(_any_markdown)
def test_rich_text_fits_notion_limit(markdown: str) -> None:
    blocks = markdown_to_blocks(markdown)
    contents = list(rich_texts(blocks))
    assert all(0 < utf16_units(content) <= RICH_TEXT_LIMIT for content in contents)


@PROPERTY
@given(_any_markdown)
def test_normal_form_shape(markdown: str) -> None:
    normal = normalize(markdown)
    assert normal == "" or (normal.endswith("\n") and not normal.endswith("\n\n"))
    assert "\r" not in normal
    assert split_frontmatter(normal) == ("", normal)


@PROPERTY
@given(_any_markdown)
def test_content_hash_is_the_hash_of_the_normal_form(markdown: str) -> None:
    assert content_hash(markdown) == content_hash(normalize(markdown))
    assert len(content_hash(markdown)) == 64


@PROPERTY
@given(
    st.one_of(st.text(), _markdownish, st.builds("---\n{}\n---\n{}".format, st.text(), st.text()))
)
def test_frontmatter_split_is_undone_by_join(text: str) -> None:
    frontmatter, body = split_frontmatter(text)
    assert frontmatter + body == text
    assert join_frontmatter(frontmatter, body) == text


@PROPERTY
@given(st.sampled_from(["---\na: 1\n---\n", "---\na: 1\n---", ""]), _any_markdown)
def test_kept_frontmatter_survives_a_new_body(frontmatter: str, markdown: str) -> None:
    body = normalize(markdown)
    joined_frontmatter, joined_body = split_frontmatter(join_frontmatter(frontmatter, body))
    assert joined_body == body
    assert joined_frontmatter.rstrip("\n") == frontmatter.rstrip("\n")
