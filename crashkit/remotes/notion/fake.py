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

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
import respx

from crashkit.remotes.notion.api import (
    ApiError,
    ApiRequest,
    ApiResponse,
    NewBlock,
    change,
    create_page,
    handle,
    normalize_id,
    parse_blocks,
    render_block,
    render_page,
    replace_blocks,
    rich_text,
    text_block,
)
from crashkit.remotes.notion.server import NotionServer
from crashkit.remotes.notion.store import Node, NotionStore, Trigger, Tx, format_time

__all__ = ["FakeNotion"]

#: A block as sent to Notion (``{"type": "paragraph", "paragraph": {...}}``), or a string
#: standing for a paragraph of that text.
BlockSpec = Mapping[str, Any] | str


class FakeNotion:
    """A fake Notion remote kept in one SQLite file.

    Args:
        store_path: the store file; created if missing, reused (with its pages, clock,
            armed faults and request log) if present.
        token: the bearer token clients must send (``Authorization: Bearer <token>``).
        base_url: where clients send requests in :meth:`mock`; the official SDK appends
            ``/v1/`` to it.
    """

    def __init__(
        self,
        store_path: str | os.PathLike[str],
        *,
        token: str = "secret_crashkit",
        base_url: str = "https://api.notion.com",
    ) -> None:
        self.store_path = os.fspath(store_path)
        self.token = token
        self.base_url = base_url.rstrip("/")
        self._store = NotionStore(self.store_path)

    def __repr__(self) -> str:
        return f"FakeNotion({self.store_path!r}, base_url={self.base_url!r})"

    # -- serving ------------------------------------------------------------------------------

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one request (path from ``/v1`` on) as Notion would; one store transaction."""
        return handle(self._store, self.token, request)

    def mock(self) -> respx.MockRouter:
        """A respx router sending every request under :attr:`base_url` to this fake.

        Use it as a context manager (or decorator). Other requests are left alone: they go
        to any other active respx router, or to the network when there is none. A request
        whose response is armed to be lost raises ``httpx.ReadTimeout`` after being applied.
        """
        router = respx.MockRouter(assert_all_called=False)
        router.route().mock(side_effect=lambda request: self._routed(router, request))
        return router

    def transport(self) -> httpx.BaseTransport:
        """An httpx transport answering every request from this fake.

        For ``httpx.Client(transport=fake.transport())``; ``notion_client.Client`` accepts such
        a client as ``client=``.
        """
        return httpx.MockTransport(lambda request: self._answer(request, self._path(request)))

    def serve(self, port: int = 0) -> NotionServer:
        """Start a real HTTP server for this fake on 127.0.0.1 (``with fake.serve() as server``).

        Args:
            port: the port to bind; 0 picks a free one (read it from ``server.url``).
        """
        return NotionServer(self.handle, port)

    def _routed(self, router: respx.MockRouter, request: httpx.Request) -> Any:
        path = self._path(request, strict=True)
        if path is not None:
            return self._answer(request, path)
        # Not for Notion: defer to other routers (None means "no match"), else pass through.
        active = router.Mocker.routers if router.Mocker is not None else []
        others = [other for other in active if other is not router]
        return None if others else request

    def _path(self, request: httpx.Request, *, strict: bool = False) -> str | None:
        """The request's path below :attr:`base_url` (``/v1/...``); None when not under it."""
        base = httpx.URL(self.base_url)
        url = request.url
        prefix = base.path.rstrip("/")
        same_origin = (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)
        if same_origin and url.path.startswith(prefix + "/"):
            return url.path[len(prefix) :]
        return None if strict else url.path

    def _answer(self, request: httpx.Request, path: str | None) -> httpx.Response:
        api_request = ApiRequest(
            method=request.method,
            path=path or request.url.path,
            query=dict(request.url.params),
            headers={name.lower(): value for name, value in request.headers.items()},
            body=request.content,
        )
        response = self.handle(api_request)
        if response.lost:
            raise httpx.ReadTimeout("fake Notion: response lost (the request was applied)",
                                    request=request)  # fmt: skip
        headers = {"Content-Type": "application/json; charset=utf-8", **response.headers}
        return httpx.Response(response.status, headers=headers, content=response.content())

    # -- fault triggers ----------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        method: str | None = None,
        path: str | None = None,
        count: int = 1,
        retry_after: int | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        """Make the next ``count`` matching requests fail with ``status``, applying nothing.

        The trigger fires before the request is looked at (as a failure in front of Notion
        would), so it also answers requests that would have failed otherwise.

        Args:
            status: the HTTP status, 400 to 599; the body is Notion's error object for it.
            method: match only this HTTP method (``"PATCH"``); None matches any.
            path: match only paths (``/v1/...``) containing this text or matching this regex.
            count: how many requests fail before the trigger disarms.
            retry_after: seconds for a ``Retry-After`` header (a 429 always has one; 0 if None).
            code: Notion's error code; the usual one for ``status`` if None.
            message: the error message; Notion's usual one if None.

        Raises:
            ValueError: ``status`` is not an error status, or ``count`` is below 1.
        """
        if not 400 <= status <= 599:
            raise ValueError(f"fail_next({status}): status must be 400-599, e.g. fail_next(503)")
        trigger = Trigger("fail", method, path, status, retry_after, code, message)
        self._arm(trigger, count)

    def lose_next_response(
        self, *, method: str | None = None, path: str | None = None, count: int = 1
    ) -> None:
        """Apply the next ``count`` matching requests but lose their responses.

        In-process the client gets ``httpx.ReadTimeout``; from :meth:`serve` the connection
        closes without an answer.

        Args:
            method: match only this HTTP method; None matches any.
            path: match only paths containing this text or matching this regex.
            count: how many responses are lost before the trigger disarms.

        Raises:
            ValueError: ``count`` is below 1.
        """
        self._arm(Trigger("lose", method, path), count)

    def disarm(self) -> None:
        """Forget every armed fault trigger."""
        with self._store.transaction() as tx:
            tx.disarm_all()

    def _arm(self, trigger: Trigger, count: int) -> None:
        if count < 1:
            raise ValueError(f"count={count}: a trigger must fire at least once, e.g. count=1")
        with self._store.transaction() as tx:
            tx.arm(trigger, count)

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

    def request_log(self) -> list[dict[str, Any]]:
        """Every request handled: ``method``, ``path``, ``status`` and ``fault`` (None,
        ``"fail"`` or ``"lose"``), oldest first."""
        with self._direct(write=False) as tx:
            return tx.request_log()

    @contextmanager
    def _direct(self, write: bool = True) -> Iterator[Tx]:
        try:
            with self._store.transaction(write) as tx:
                yield tx
        except ApiError as error:
            raise ValueError(f"fake Notion ({self.store_path}): {error.message}") from None

    def _page(self, tx: Tx, page_id: str) -> Node:
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
