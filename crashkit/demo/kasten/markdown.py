"""Markdown bodies <-> Notion blocks, and the canonical form both sides are compared in.

A kasten note is a markdown file: an optional YAML frontmatter, local only, and a
body that is mirrored to a Notion page as a flat list of blocks. No inline
formatting is parsed: ``**bold**``, links and the like stay in the text verbatim.

Supported subset, one markdown block to one Notion block::

    markdown                       normal form          Notion block
    plain lines                    kept, joined by \\n   paragraph
    "#" .. "######" text           "#", "##", "###"     heading_1 .. heading_3
    "- text", "* text"             "- text"             bulleted_list_item
    "7. text", "7) text"           "1. text"            numbered_list_item
    "- [ ] text", "- [X] text"     "- [ ]", "- [x]"     to_do
    "> text"                       "> text"             quote
    fence of 3+ backticks          "```lang"            code
    "---", "***", "___" (or more)  "---"                divider

Reading rules:

- ``\\r\\n`` and a lone ``\\r`` end a line like ``\\n``.
- Outside code fences, trailing spaces and tabs are dropped from every line;
  leading whitespace (tabs included) is text.
- Markers count only at column 0, so nested lists are not supported: an
  indented ``- x`` is plain text. A marker is followed by spaces or tabs,
  which are dropped, or by nothing (``-`` alone is an empty bullet, ``#`` an
  empty heading_1). Seven or more ``#`` are plain text.
- Consecutive plain lines form one paragraph. Plain lines right after a list
  item continue that item (CommonMark's lazy continuation); consecutive quote
  lines form one quote. A blank line ends all three. Any marker line starts a
  new block, even inside a paragraph (there are no setext headings).
- A fence opens with 3 or more backticks and an optional info string, and is
  closed by a line of at least as many backticks (then only spaces or tabs);
  an unclosed fence runs to the end of the body. Its content is kept byte for
  byte. The info string maps, ignoring case, to one of Notion's languages
  (its full text, a common alias, or its first word); anything else, and no
  info string, is Notion's "plain text", written back with no language.

Normal form (what :func:`normalize` returns and :func:`content_hash` hashes):
blocks as in the table, separated by one blank line, except consecutive list
items of the same block type, which sit on consecutive lines. Headings deeper
than ``###`` become ``###``. A fence has 3 backticks, or one more than the
longest backtick-only line of its content. The body ends with exactly one
``\\n``; a body without blocks is ``""``. A normalized body never starts like a
frontmatter (a divider is always followed by a blank line or the end).

Notion side: rich text is cut into pieces of at most :data:`RICH_TEXT_LIMIT`
UTF-16 code units, never inside a code point, and joined back when read.
:func:`blocks_to_markdown` reads ``plain_text``, else ``text.content``. It
skips, rendering nothing: unsupported block types (image, table, toggle,
callout, child_page, ...), archived or trashed blocks, and children of blocks,
so a page holding them does not round trip and the caller decides whether to
warn. Its result is always in normal form, which means that Notion text that
looks like markdown syntax (a paragraph starting with ``- ``) is read as that
syntax, and that empty paragraphs (Notion's vertical space) vanish.

Known limit: Notion takes at most 100 rich-text objects per block, about
200 000 UTF-16 code units; a longer block is rejected by the API rather than
split here, since splitting would change the block structure.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "CODE_LANGUAGES",
    "PLAIN_TEXT",
    "RICH_TEXT_LIMIT",
    "blocks_to_markdown",
    "content_hash",
    "join_frontmatter",
    "markdown_to_blocks",
    "normalize",
    "split_frontmatter",
]

#: Longest ``text.content`` Notion accepts. The documented unit is "characters";
#: Notion validates with JavaScript string lengths, which count UTF-16 code units
#: (an emoji weighs 2), and counting those is safe under either reading.
#: https://developers.notion.com/reference/request-limits
RICH_TEXT_LIMIT: Final = 2000

#: Notion's code-block language for text without a known language.
PLAIN_TEXT: Final = "plain text"

#: The values Notion accepts for ``code.language``, as listed by its own
#: validation error (quoted in https://github.com/ftnext/sphinx-notion/issues/3).
CODE_LANGUAGES: Final = frozenset(
    {
        "abap", "abc", "agda", "arduino", "ascii art", "assembly", "bash", "basic",
        "bnf", "c", "c#", "c++", "clojure", "coffeescript", "coq", "css", "dart",
        "dhall", "diff", "docker", "ebnf", "elixir", "elm", "erlang", "f#", "flow",
        "fortran", "gherkin", "glsl", "go", "graphql", "groovy", "haskell", "hcl",
        "html", "idris", "java", "javascript", "json", "julia", "kotlin", "latex",
        "less", "lisp", "livescript", "llvm ir", "lua", "makefile", "markdown",
        "markup", "matlab", "mathematica", "mermaid", "nix", "notion formula",
        "objective-c", "ocaml", "pascal", "perl", "php", PLAIN_TEXT, "powershell",
        "prolog", "protobuf", "purescript", "python", "r", "racket", "reason",
        "ruby", "rust", "sass", "scala", "scheme", "scss", "shell", "smalltalk",
        "solidity", "sql", "swift", "toml", "typescript", "vb.net", "verilog",
        "vhdl", "visual basic", "webassembly", "xml", "yaml", "java/c/c++/c#",
    }
)  # fmt: skip

#: Info strings commonly written in fences for a language Notion names otherwise.
_ALIASES: Final = {
    "cpp": "c++", "cs": "c#", "csharp": "c#", "dockerfile": "docker",
    "golang": "go", "js": "javascript", "kt": "kotlin", "md": "markdown",
    "objc": "objective-c", "ps1": "powershell", "py": "python", "python3": "python",
    "rb": "ruby", "rs": "rust", "sh": "shell", "tex": "latex", "text": PLAIN_TEXT,
    "ts": "typescript", "txt": PLAIN_TEXT, "yml": "yaml", "zsh": "shell",
}  # fmt: skip

_LIST_TYPES: Final = frozenset({"bulleted_list_item", "numbered_list_item", "to_do"})
#: Blocks that the next line may extend (see ``_continues``).
_OPEN_TYPES: Final = _LIST_TYPES | {"paragraph", "quote"}
_SUPPORTED_TYPES: Final = _OPEN_TYPES | {"heading_1", "heading_2", "heading_3", "code", "divider"}
_MARKERS: Final = {
    "heading_1": "#",
    "heading_2": "##",
    "heading_3": "###",
    "bulleted_list_item": "-",
    "numbered_list_item": "1.",
}
#: Pseudo block type of a blank line while parsing.
_BLANK: Final = "blank"
_TRAILING_WHITESPACE: Final = " \t"

_FENCE: Final = re.compile(r"(`{3,})(.*)")


@dataclass
class _Node:
    """One block while parsing or rendering; ``type`` is Notion's block type."""

    type: str
    text: str = ""
    checked: bool = False
    language: str = PLAIN_TEXT


_LINE_RULES: Final[tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], _Node]], ...]] = (
    (re.compile(r"-{3,}|\*{3,}|_{3,}"), lambda m: _Node("divider")),
    (
        re.compile(r"(#{1,6})(?:[ \t]+(.*))?"),
        lambda m: _Node(f"heading_{min(len(m[1]), 3)}", m[2] or ""),
    ),
    (
        re.compile(r"[-*][ \t]+\[([ xX])\](?:[ \t]+(.*))?"),
        lambda m: _Node("to_do", m[2] or "", checked=m[1] != " "),
    ),
    (re.compile(r"[-*](?:[ \t]+(.*))?"), lambda m: _Node("bulleted_list_item", m[1] or "")),
    (
        re.compile(r"[0-9]{1,9}[.)](?:[ \t]+(.*))?"),
        lambda m: _Node("numbered_list_item", m[1] or ""),
    ),
    (re.compile(r">[ \t]*(.*)"), lambda m: _Node("quote", m[1])),
)
"""Marker lines, tried in order on a line without trailing whitespace."""


# --- frontmatter -----------------------------------------------------------


def split_frontmatter(text: str) -> tuple[str, str]:
    """Split a note into its YAML frontmatter and its body.

    The frontmatter is a first line ``---``, a non-blank second line, and the
    lines up to the next ``---`` line, fences and line ending included. The
    non-blank second line keeps a body that starts with a divider (always
    followed by a blank line in normal form) from being taken for one.

    Returns:
        ``(frontmatter, body)`` with ``frontmatter + body == text``;
        ``frontmatter`` is ``""`` when there is none.
    """
    lines = text.split("\n")
    first = lines[0].removeprefix("\ufeff").rstrip()
    if len(lines) < 2 or first != "---" or not lines[1].strip():
        return "", text
    end = len(lines[0]) + 1
    for line in lines[1:]:
        end += len(line) + 1
        if line.rstrip() == "---":
            return text[:end], text[end:]
    return "", text


def join_frontmatter(frontmatter: str, body: str) -> str:
    """Put a note back together; the inverse of :func:`split_frontmatter`.

    A line break is added after a frontmatter that lacks one, so that a kept
    frontmatter can be joined to a new body.
    """
    if frontmatter and body and not frontmatter.endswith("\n"):
        frontmatter += "\n"
    return frontmatter + body


# --- markdown ---------------------------------------------------------------


def normalize(body: str) -> str:
    """Return the normal form of a markdown body (see the module docstring)."""
    return _render(_parse(body))


def content_hash(body: str) -> str:
    """Return the SHA-256 hex digest of the normal form of ``body``, in UTF-8."""
    return hashlib.sha256(normalize(body).encode("utf-8")).hexdigest()


def _parse(body: str) -> list[_Node]:
    nodes: list[_Node] = []
    open_node: _Node | None = None
    for token in _tokens(body):
        if open_node is not None and _continues(open_node, token):
            open_node.text += "\n" + token.text
            continue
        if token.type != _BLANK:
            nodes.append(token)
        open_node = token if token.type in _OPEN_TYPES else None
    return nodes


def _continues(node: _Node, token: _Node) -> bool:
    """Whether the one-line ``token`` is a further line of ``node``."""
    if token.type == "paragraph":
        return node.type == "paragraph" or node.type in _LIST_TYPES
    return token.type == node.type == "quote"


def _tokens(body: str) -> Iterator[_Node]:
    """Yield one node per line, or per whole fenced code block."""
    lines = _split_lines(body)
    pos = 0
    while pos < len(lines):
        line = lines[pos].rstrip(_TRAILING_WHITESPACE)
        fence = _FENCE.fullmatch(line)
        if fence is None:
            yield _classify(line)
            pos += 1
            continue
        end = _closing_fence(lines, pos + 1, len(fence[1]))
        yield _Node("code", "\n".join(lines[pos + 1 : end]), language=_language(fence[2]))
        pos = end + 1


def _split_lines(body: str) -> list[str]:
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()  # the last line's terminator, not an empty line
    return lines


def _classify(line: str) -> _Node:
    if not line:
        return _Node(_BLANK)
    for pattern, build in _LINE_RULES:
        match = pattern.fullmatch(line)
        if match is not None:
            return build(match)
    return _Node("paragraph", line)


def _closing_fence(lines: list[str], start: int, width: int) -> int:
    """Index of the line closing a fence of ``width`` backticks, or ``len(lines)``."""
    for index in range(start, len(lines)):
        if _backtick_run(lines[index]) >= width:
            return index
    return len(lines)


def _backtick_run(line: str) -> int:
    """Length of ``line`` if it is backticks and trailing whitespace only, else 0."""
    stripped = line.rstrip(_TRAILING_WHITESPACE)
    return len(stripped) if stripped and not stripped.strip("`") else 0


def _language(info: str) -> str:
    """Notion's language for a fence info string (or a language read back)."""
    words = info.lower().split()
    for candidate in (" ".join(words), words[0] if words else ""):
        name = _ALIASES.get(candidate, candidate)
        if name in CODE_LANGUAGES:
            return name
    return PLAIN_TEXT


def _render(nodes: list[_Node]) -> str:
    if not nodes:
        return ""
    parts = [_render_node(nodes[0])]
    for previous, node in itertools.pairwise(nodes):
        tight = previous.type == node.type and node.type in _LIST_TYPES
        parts.append("\n" if tight else "\n\n")
        parts.append(_render_node(node))
    return "".join(parts) + "\n"


def _render_node(node: _Node) -> str:
    if node.type == "paragraph":
        return node.text
    if node.type == "divider":
        return "---"
    if node.type == "code":
        return _render_code(node)
    if node.type == "quote":
        return "\n".join(_prefixed(">", line) for line in node.text.split("\n"))
    if node.type == "to_do":
        return _prefixed("- [x]" if node.checked else "- [ ]", node.text)
    return _prefixed(_MARKERS[node.type], node.text)


def _prefixed(marker: str, text: str) -> str:
    """``marker`` before the first line of ``text``, without trailing whitespace."""
    first, newline, rest = text.partition("\n")
    head = f"{marker} {first}" if first else marker
    return head + newline + rest


def _render_code(node: _Node) -> str:
    fence = "`" * max([3] + [_backtick_run(line) + 1 for line in node.text.split("\n")])
    info = "" if node.language == PLAIN_TEXT else node.language
    content = node.text + "\n" if node.text else ""
    return f"{fence}{info}\n{content}{fence}"


# --- Notion blocks ------------------------------------------------------------


def markdown_to_blocks(body: str, *, split: bool = True) -> list[dict[str, Any]]:
    """Convert a markdown body to Notion block objects for ``blocks.children.append``.

    The list is flat and may hold more than the 100 blocks one request takes. Text over
    Notion's limit is cut into several rich-text objects; ``split=False`` (the
    ``no-text-split`` bug) sends it as one, which Notion refuses.
    """
    return [_to_block(node, split) for node in _parse(body)]


def blocks_to_markdown(blocks: Iterable[Mapping[str, Any]]) -> str:
    """Convert block objects, as the Notion API returns them, to a normalized body.

    Unsupported, archived and trashed blocks are skipped (see the module docstring).
    """
    nodes = [node for block in blocks if (node := _from_block(block)) is not None]
    return normalize(_render(nodes))


def _to_block(node: _Node, split: bool = True) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    if node.type != "divider":
        payload["rich_text"] = _rich_text(node.text, split)
    if node.type == "to_do":
        payload["checked"] = node.checked
    if node.type == "code":
        payload["language"] = node.language
    return {"object": "block", "type": node.type, node.type: payload}


def _rich_text(text: str, split: bool = True) -> list[dict[str, Any]]:
    chunks = _chunks(text) if split else [text] if text else []
    return [{"type": "text", "text": {"content": chunk}} for chunk in chunks]


def _chunks(text: str, limit: int = RICH_TEXT_LIMIT) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` UTF-16 code units."""
    if len(text) * 2 <= limit:
        return [text] if text else []
    chunks: list[str] = []
    start = used = 0
    for index, char in enumerate(text):
        width = 2 if ord(char) > 0xFFFF else 1  # outside the BMP: a surrogate pair
        if used + width > limit:
            chunks.append(text[start:index])
            start, used = index, 0
        used += width
    chunks.append(text[start:])
    return chunks


def _from_block(block: Mapping[str, Any]) -> _Node | None:
    kind = block.get("type")
    if kind not in _SUPPORTED_TYPES or block.get("archived") or block.get("in_trash"):
        return None
    payload: Mapping[str, Any] = block.get(kind) or {}
    return _Node(
        str(kind),
        _plain_text(payload.get("rich_text") or ()),
        checked=bool(payload.get("checked")),
        language=_language(str(payload.get("language") or "")),
    )


def _plain_text(items: Iterable[Mapping[str, Any]]) -> str:
    return "".join(_item_text(item) for item in items)


def _item_text(item: Mapping[str, Any]) -> str:
    plain = item.get("plain_text")
    if isinstance(plain, str):
        return plain
    text: Mapping[str, Any] = item.get("text") or {}
    return str(text.get("content") or "")
