"""The two sides of one linked note, as a sync cycle sees them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import files
from .errors import NoteError
from .markdown import (
    blocks_to_markdown,
    content_hash,
    markdown_to_blocks,
    normalize,
    split_frontmatter,
)

__all__ = ["Note", "PageView", "pushed_hash"]


@dataclass(frozen=True)
class Note:
    """The local file: its frontmatter (local only), normalized body, and the body's hash."""

    frontmatter: str
    body: str
    hash: str | None  #: None when the file does not exist

    @classmethod
    def read(cls, path: Path) -> Note:
        """Read the note at ``path``.

        Raises:
            NoteError: the file is not UTF-8 text.
        """
        try:
            text = files.read_text(path)
        except UnicodeDecodeError:
            raise NoteError(f"{path} is not UTF-8 text", "save it as UTF-8") from None
        if text is None:
            return cls("", "", None)
        frontmatter, body = split_frontmatter(text)
        return cls(frontmatter, normalize(body), content_hash(body))

    @property
    def exists(self) -> bool:
        return self.hash is not None


@dataclass(frozen=True)
class PageView:
    """The page as polled; ``body`` is None when its edit time had not moved (not fetched)."""

    edit_time: str
    archived: bool = False
    body: str | None = None
    hash: str | None = None
    block_ids: tuple[str, ...] = ()

    @property
    def fetched(self) -> bool:
        return self.body is not None


def pushed_hash(body: str) -> str:
    """The hash the page's markdown has once ``body`` is pushed (it went through blocks)."""
    return content_hash(blocks_to_markdown(markdown_to_blocks(body)))
