"""The remote side: Notion pages, through the official SDK (``notion-client``) only.

Nothing here knows it may be talking to a fake: the base URL and token decide.

Retries: the SDK may retry a 429 (Notion applied nothing) and a 5xx answer to
GET or DELETE; it never retries a POST or PATCH after a 5xx, and never a
request whose answer was lost. Every retry it makes is therefore safe, and
the push itself is a replacement (list, delete each, append) that gives the
same page however often it is repeated. Anything else that fails surfaces as
:class:`~kasten.errors.RemoteError`; the journal keeps the operation, and the
next sync replays it (the replay first looks at what the page holds).

A request that got no answer is never sent again here: a read timeout (which
the SDK raises as ``RequestTimeoutError``, wrapping ``httpx.ReadTimeout``) or
a dropped connection says nothing about whether Notion applied it. The
``retry-duplicates`` variant does send an append again at once, and so
appends twice whenever the first one was applied.
"""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from notion_client import Client
from notion_client.client import RetryOptions
from notion_client.errors import HTTPResponseError, RequestTimeoutError

from .errors import RemoteError

__all__ = ["MAX_BLOCKS_PER_APPEND", "PageState", "Remote", "content_ids", "page_unavailable"]

#: Notion accepts at most 100 blocks per append and answers at most 100 per list page.
MAX_BLOCKS_PER_APPEND = 100
PAGE_SIZE = 100

Block = dict[str, Any]

_LOGGER = logging.getLogger("kasten.remote")

_RETRY_LATER = "try again later; the unfinished operation is journaled and the next sync replays it"
_FIXES = {
    "unauthorized": "check the token (crashkit-kasten init --token TOKEN, or $KASTEN_TOKEN)",
    "restricted_resource": "share the page with the integration in Notion",
    "object_not_found": "check the page id, and that the page is shared with the integration",
}


@dataclass(frozen=True)
class PageState:
    """What a poll learns from retrieving a page."""

    edit_time: str
    archived: bool


class Remote:
    """A Notion workspace reached at ``base_url`` with ``token``.

    Args:
        base_url: the API's base URL (the SDK appends ``/v1/``).
        token: the integration token.
        retries: SDK retries of 429 answers and of 5xx answers to GET/DELETE.
        retry_unanswered: send an append that got no answer once more, at once (the
            ``retry-duplicates`` bug).
        first_page_only: read only the first page of a page's blocks (the
            ``first-page-only`` bug).
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        retries: int = 2,
        retry_unanswered: bool = False,
        first_page_only: bool = False,
    ) -> None:
        self._retry_unanswered = retry_unanswered
        self._first_page_only = first_page_only
        retry: RetryOptions | bool = False
        if retries:
            retry = RetryOptions(
                max_retries=retries, initial_retry_delay_ms=500, max_retry_delay_ms=4000
            )
        http = httpx.Client(verify=_ssl_context())
        self._client = Client(
            client=http, auth=token, base_url=base_url, retry=retry, logger=_LOGGER
        )

    def close(self) -> None:
        self._client.close()

    def page(self, page_id: str) -> PageState:
        """The page's ``last_edited_time`` and whether it is archived (in the trash)."""
        page = self._call(f"GET page {page_id}", self._client.pages.retrieve, page_id)
        archived = bool(page.get("in_trash") or page.get("archived"))
        return PageState(str(page["last_edited_time"]), archived)

    def blocks(self, page_id: str) -> list[Block]:
        """The page's top-level blocks, in order, across every list page."""
        blocks: list[Block] = []
        cursor: str | None = None
        while True:
            answer = self._call(
                f"GET children of {page_id}",
                self._client.blocks.children.list,
                page_id,
                start_cursor=cursor,
                page_size=PAGE_SIZE,
            )
            blocks.extend(answer["results"])
            cursor = answer.get("next_cursor")
            # first-page-only: has_more is ignored, so a long page reads as its first 100.
            if not answer.get("has_more") or not cursor or self._first_page_only:
                return blocks

    def replace_children(self, page_id: str, blocks: Sequence[Block]) -> tuple[str, ...]:
        """Make ``blocks`` the page's whole content: delete what is there, then append.

        Idempotent: repeated, or resumed after a crash at any request, it ends
        with exactly ``blocks``, because it deletes whatever the page holds now
        rather than what an earlier run thought it held. Returns the new block ids.
        """
        for block_id in content_ids(self.blocks(page_id)):
            self.delete_block(block_id)
        return self.append(page_id, blocks)

    def append_then_delete(
        self, page_id: str, blocks: Sequence[Block], old_ids: Sequence[str]
    ) -> tuple[str, ...]:
        """The ``push-not-idempotent`` variant: append first, then delete the ids known before.

        A repeat after the append duplicates the new content: the second run
        appends again and deletes only the ids stored at the last sync.
        """
        new_ids = self.append(page_id, blocks)
        for block_id in old_ids:
            self.delete_block(block_id)
        return new_ids

    def append(self, page_id: str, blocks: Sequence[Block]) -> tuple[str, ...]:
        """Append ``blocks`` at the end of the page, 100 per request; returns their ids."""
        ids: list[str] = []
        for start in range(0, len(blocks), MAX_BLOCKS_PER_APPEND):
            chunk = list(blocks[start : start + MAX_BLOCKS_PER_APPEND])
            answer = self._append_chunk(page_id, chunk)
            ids.extend(block["id"] for block in answer["results"])
        return tuple(ids)

    def _append_chunk(self, page_id: str, chunk: list[Block]) -> Any:
        what = f"PATCH children of {page_id}"
        append = self._client.blocks.children.append
        try:
            return self._call(what, append, page_id, children=chunk)
        except RemoteError as error:
            if error.answered or not self._retry_unanswered:
                raise
            # retry-duplicates: no answer is taken for "not applied" and the append is
            # sent again, although Notion may have applied the first one.
            _LOGGER.warning("retrying %s after %s", what, error.problem)
            return self._call(what, append, page_id, children=chunk)

    def delete_block(self, block_id: str) -> None:
        """Delete (archive) a block; one that is already gone counts as deleted."""
        try:
            self._call(f"DELETE block {block_id}", self._client.blocks.delete, block_id)
        except RemoteError as error:
            if not _already_gone(error):
                raise

    def archive(self, page_id: str) -> None:
        """Move the page to the trash, unless it is there already (so a replay sends nothing).

        A page Notion no longer knows (deleted from the trash) counts as archived.
        """
        try:
            if self.page(page_id).archived:
                return
        except RemoteError as error:
            if error.status == 404:
                return
            raise
        self._call(f"PATCH page {page_id}", self._client.pages.update, page_id, in_trash=True)

    def _call(self, what: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except HTTPResponseError as error:
            # Notion's error objects, and answers that are not one (a proxy's 502 page).
            code = str(getattr(error.code, "value", error.code))  # the SDK's codes are enums
            raise RemoteError(
                f"{what}: Notion answered {error.status} {code}: {error}",
                _FIXES.get(code, _RETRY_LATER),
                error.status,
                code,
            ) from error
        except (RequestTimeoutError, httpx.HTTPError) as error:
            raise RemoteError(f"{what}: no answer ({error!r})", _RETRY_LATER) from error


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~30 ms; one context serves every engine of a process
    # (a crash harness opens a fresh engine for every restart).
    return httpx.create_ssl_context()


def content_ids(blocks: Sequence[Block]) -> tuple[str, ...]:
    """The ids of the blocks that are the note's content: sub-pages are not."""
    return tuple(block["id"] for block in blocks if block.get("type") != "child_page")


def page_unavailable(error: RemoteError) -> bool:
    """Whether the page is in the trash, gone, or not shared: retrying will not help."""
    return error.status in (403, 404) or _already_gone(error)


def _already_gone(error: RemoteError) -> bool:
    # Notion answers a delete of an archived block with 400 "Can't edit block that is archived".
    return error.status == 404 or (error.status == 400 and "archived" in error.problem)
