"""``FakeNotion``: a fake of the Notion API subset a sync engine uses, over a SQLite store.

It serves two ways: in the client's process through respx (:meth:`FakeNotion.mock`, or an
httpx transport from :meth:`FakeNotion.transport`), and as a real HTTP server on 127.0.0.1
(:meth:`FakeNotion.serve`). Both answer from the same store file, so several processes can
share one remote, and the remote outlives any client killed mid-request. A direct Python API
(no HTTP, no auth) sets up scenarios and reads the remote back for invariant checks::

    fake = FakeNotion(tmp_path / "notion.sqlite3")
    page_id = fake.create_page("Inbox", blocks=["first paragraph"])
    with fake.mock():
        client = notion_client.Client(auth=fake.token, base_url=fake.base_url)
        client.blocks.children.list(page_id)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from crashkit.remotes.base import FakeRemote
from crashkit.remotes.exchange import Request, Response
from crashkit.remotes.notion.api import (
    ApiError,
    NewBlock,
    answer,
    change,
    create_database,
    create_page,
    find_data_source,
    normalize_id,
    parse_blocks,
    render_block,
    render_page,
    replace_blocks,
    rich_text,
    text_block,
)
from crashkit.remotes.notion.databases import parse_schema
from crashkit.remotes.notion.store import Node, NotionTx, format_time, open_store
from crashkit.remotes.store import Store

__all__ = ["FakeNotion"]

#: A block as sent to Notion (``{"type": "paragraph", "paragraph": {...}}``), or a string
#: standing for a paragraph of that text.
BlockSpec = Mapping[str, Any] | str


class FakeNotion(FakeRemote[NotionTx]):
    """A fake Notion remote kept in one SQLite file.

    Args:
        store_path: the store file; created if missing, reused (with its pages, clock,
            armed faults and request log) if present.
        token: the bearer token clients must send (``Authorization: Bearer <token>``).
        base_url: where clients send requests in :meth:`mock`; the official SDK appends
            ``/v1/`` to it; ``https://api.notion.com`` if None.
    """

    name = "notion"
    summary = "the Notion API's pages, blocks, databases and data sources (a sync engine's)"
    default_base_url = "https://api.notion.com"

    def open_store(self, path: str) -> Store[NotionTx]:
        """Notion's tables in the store file."""
        return open_store(path)

    def answer(self, tx: NotionTx, request: Request) -> Response:
        """Answer one request (path from ``/v1`` on) as Notion would."""
        return answer(tx, self.token, request)

    def error(
        self,
        status: int,
        message: str | None = None,
        *,
        code: str | None = None,
        retry_after: int | None = None,
    ) -> Response:
        """Notion's error object for ``status``, with its usual code and message if None."""
        if retry_after is None and status == 429:
            # Notion always tells a rate-limited client when to come back; 0 keeps tests fast.
            retry_after = 0
        return ApiError(status, code, message, retry_after).response()

    def serving_notes(self) -> list[str]:
        """The root page to put pages under, made if the store has no top-level page."""
        roots = [p for p in self.pages() if p["parent"].get("type") == "workspace"]
        root = roots[0]["id"] if roots else self.create_page("crashkit root")
        return [f"root page: {root}"]

    # -- direct API --------------------------------------------------------------------------

    def create_page(
        self, title: str, *, parent: str | None = None, blocks: Iterable[BlockSpec] = ()
    ) -> str:
        """Create a page directly (no HTTP, no auth, no limit of 100 blocks); return its id.

        Args:
            title: the page title (plain text).
            parent: the parent page's id; None for a top-level (workspace) page.
            blocks: the page's children, as sent to Notion, or strings for paragraphs.

        Raises:
            ValueError: an unknown or archived parent, or a malformed block.
        """
        with self._direct() as tx:
            parent_id = None if parent is None else self._page(tx, parent).id
            title_text = rich_text([{"text": {"content": title}}], "title")
            return create_page(tx, parent_id, title_text, self._blocks(blocks)).id

    def create_database(
        self, title: str, properties: Mapping[str, Any], *, parent: str
    ) -> tuple[str, str]:
        """Create a database with one data source directly; return both ids.

        Args:
            title: the database's (and its data source's) title.
            properties: the schema, as sent to Notion (``{"Name": {"title": {}}, ...}``).
            parent: the page the database is in.

        Raises:
            ValueError: an unknown or archived parent, or a schema Notion would refuse.
        """
        with self._direct() as tx:
            parent_id = self._page(tx, parent).id
            schema = parse_schema(dict(properties), "properties")
            text = rich_text([{"text": {"content": title}}], "title")
            payload = {
                "title": text,
                "description": [],
                "is_inline": False,
                "icon": None,
                "cover": None,
            }
            database = create_database(tx, parent_id, payload, schema)
            return database.id, tx.children(database.id)[0].id

    def rows(self, data_source_id: str) -> list[dict[str, Any]]:
        """The data source's pages that are not in the trash, in creation order.

        Raises:
            ValueError: no data source has this id.
        """
        with self._direct(write=False) as tx:
            source = find_data_source(tx, normalize_id(data_source_id) or data_source_id)
            return [render_page(node) for node in tx.children(source.id)]

    def page(self, page_id: str) -> dict[str, Any]:
        """The page object, as ``GET /v1/pages/{id}`` returns it.

        Raises:
            ValueError: no page has this id.
        """
        with self._direct(write=False) as tx:
            return render_page(self._page(tx, page_id))

    def pages(self, include_archived: bool = False) -> list[dict[str, Any]]:
        """Every page object, in creation order."""
        with self._direct(write=False) as tx:
            return [render_page(node) for node in tx.pages(include_archived)]

    def blocks(self, page_id: str) -> list[dict[str, Any]]:
        """The page's non-archived children in order, as full block objects (all of them).

        Raises:
            ValueError: no page has this id.
        """
        with self._direct(write=False) as tx:
            page = self._page(tx, page_id)
            return [render_block(tx, node) for node in tx.children(page.id)]

    def set_blocks(self, page_id: str, blocks: Iterable[BlockSpec]) -> None:
        """Replace the page's blocks, as an edit made in Notion's app (one clock tick).

        Sub-pages (``child_page`` blocks) stay; every other child is archived.

        Raises:
            ValueError: no page has this id, it is archived, or a block is malformed.
        """
        with self._direct() as tx:
            page = self._page(tx, page_id)
            if page.archived:
                raise ValueError(f"set_blocks({page_id!r}): the page is archived")
            replace_blocks(tx, page, self._blocks(blocks))

    def archive_page(self, page_id: str) -> None:
        """Archive (trash) a page, as an edit made in Notion's app (one clock tick).

        Raises:
            ValueError: no page has this id.
        """
        with self._direct() as tx:
            page = self._page(tx, page_id)
            change(tx, page, page.payload, True)

    def clock(self) -> str:
        """The remote's current time, e.g. ``2026-01-01T00:03:00.000Z``."""
        with self._direct(write=False) as tx:
            return format_time(tx.now())

    @contextmanager
    def _direct(self, write: bool = True) -> Iterator[NotionTx]:
        try:
            with self.store.transaction(write) as tx:
                yield tx
        except ApiError as error:
            raise ValueError(f"fake Notion ({self.store_path}): {error.message}") from None

    def _page(self, tx: NotionTx, page_id: str) -> Node:
        node = tx.node(normalize_id(page_id) or "")
        if node is None or not node.is_page:
            raise ValueError(
                f"{page_id!r} is not a page of the fake Notion store {self.store_path}; "
                "pass an id returned by fake.create_page() or by POST /v1/pages"
            )
        return node

    @staticmethod
    def _blocks(blocks: Iterable[BlockSpec]) -> list[NewBlock]:
        sent = [text_block(block) if isinstance(block, str) else dict(block) for block in blocks]
        return parse_blocks(sent, "blocks", limit=None)
