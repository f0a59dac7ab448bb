"""Notion's wire vocabulary, shared by every route of the fake: error objects, ids, JSON
bodies, the archive flags, rich text, timestamps, users and ``list`` objects.

The shapes follow Notion's public API reference (https://developers.notion.com/reference);
the official SDKs read errors from ``{"object": "error", "status", "code", "message"}``
(the JavaScript SDK ignores a body whose ``code`` it does not know, and retries ``429`` after
the ``Retry-After`` seconds).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from crashkit.remotes.exchange import Request, Response
from crashkit.remotes.notion.store import ID_NAMESPACE, Node, format_time

__all__ = [
    "ARCHIVED_MESSAGE",
    "BOT_USER",
    "MAX_PAGE_SIZE",
    "ApiError",
    "at_most",
    "flag",
    "invalid",
    "json_body",
    "list_of",
    "normalize_id",
    "not_found",
    "page_size",
    "parse_id",
    "plain",
    "rich_text",
    "stamps",
    "string",
]

#: Notion's limits (https://developers.notion.com/reference/request-limits).
MAX_TEXT = 2000
MAX_RICH_TEXT_ITEMS = 100
MAX_PAGE_SIZE = 100

#: The integration (bot user) every object is created and edited by.
BOT_USER = {"object": "user", "id": str(uuid.uuid5(ID_NAMESPACE, "bot"))}


#: Notion's code for each error status (https://developers.notion.com/reference/status-codes).
DEFAULT_CODES = {
    400: "validation_error",
    401: "unauthorized",
    403: "restricted_resource",
    404: "object_not_found",
    409: "conflict_error",
    429: "rate_limited",
    500: "internal_server_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
    # Only the fake's loopback server answers these (a request over its limits, or one it
    # cannot parse); Notion's own front end refuses such requests before the API sees them.
    413: "validation_error",
    431: "validation_error",
    501: "invalid_request",
}

DEFAULT_MESSAGES = {
    "validation_error": "body failed validation.",
    "unauthorized": "API token is invalid.",
    "restricted_resource": "API token does not have access to this resource.",
    "object_not_found": "Could not find the requested object.",
    "conflict_error": "Conflict occurred while saving. Please try again.",
    "rate_limited": "You have been rate limited. Please try again in a few minutes.",
    "internal_server_error": "Unexpected error occurred.",
    "bad_gateway": "Bad gateway.",
    "service_unavailable": "Notion is unavailable, please try again later.",
    "gateway_timeout": "Gateway timeout.",
    "invalid_request": "This request is not supported.",
}

ARCHIVED_MESSAGE = "Can't edit block that is archived. You must unarchive the block before editing."

_ANNOTATIONS = {
    "bold": False,
    "italic": False,
    "strikethrough": False,
    "underline": False,
    "code": False,
    "color": "default",
}


_ID_PATTERN = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


# -- errors ---------------------------------------------------------------------------------


class ApiError(Exception):
    """A Notion error answer, raised anywhere inside a handler (the request is undone).

    Args:
        status: the HTTP status.
        code: Notion's error code; the usual one for ``status`` when omitted.
        message: Notion's message; a generic one for the code when omitted.
        retry_after: seconds for a ``Retry-After`` header, if any.
    """

    def __init__(
        self,
        status: int,
        code: str | None = None,
        message: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        code = code or DEFAULT_CODES.get(status, "internal_server_error")
        message = message or DEFAULT_MESSAGES.get(code, f"Request failed with status {status}.")
        super().__init__(status, code, message, retry_after)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def response(self) -> Response:
        """The error object Notion answers with."""
        body = {"object": "error", "status": self.status, "code": self.code}
        headers = {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}
        return Response(self.status, {**body, "message": self.message}, headers)


def invalid(where: str, problem: str) -> ApiError:
    """A 400 validation_error in Notion's wording: ``body failed validation: body.x ...``."""
    part = where.split(".", 1)[0].split("[", 1)[0]
    return ApiError(400, "validation_error", f"{part} failed validation: {where} {problem}.")


def not_found(kind: str, object_id: str) -> ApiError:
    """A 404 object_not_found in Notion's wording."""
    message = (
        f"Could not find {kind} with ID: {object_id}. "
        "Make sure the relevant pages and databases are shared with your integration."
    )
    return ApiError(404, "object_not_found", message)


# -- values --------------------------------------------------------------------------------


def parse_id(raw: object, where: str) -> str:
    """Notion's dashed form of an id given with or without dashes."""
    if not isinstance(raw, str) or not _ID_PATTERN.fullmatch(raw):
        raise invalid(where, f"should be a valid uuid, instead was `{json.dumps(raw)}`")
    return str(uuid.UUID(raw))


def json_body(request: Request) -> dict[str, Any]:
    if not request.body.strip():
        return {}
    try:
        body = json.loads(request.body)
    except ValueError:
        raise ApiError(400, "invalid_json", "Error parsing JSON body.") from None
    if not isinstance(body, dict):
        raise invalid("body", "should be an object")
    return body


def flag(body: Mapping[str, Any]) -> bool | None:
    """The requested archive state: ``archived`` and ``in_trash`` are synonyms."""
    flags = {key: body[key] for key in ("archived", "in_trash") if key in body}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise invalid(f"body.{key}", f"should be a boolean, instead was `{json.dumps(value)}`")
    if len(set(flags.values())) > 1:
        raise invalid("body.in_trash", "should equal body.archived when both are given")
    return next(iter(flags.values()), None)


def rich_text(items: object, where: str) -> list[dict[str, Any]]:
    """Rich text as Notion returns it, with ``plain_text``, ``annotations`` and ``href``.

    Raises:
        ApiError: 400 validation_error, e.g. a ``text.content`` over 2000 characters.
    """
    if not isinstance(items, list):
        raise invalid(where, "should be an array")
    if len(items) > MAX_RICH_TEXT_ITEMS:
        raise invalid(f"{where}.length", at_most(MAX_RICH_TEXT_ITEMS, len(items)))
    return [_rich_item(item, f"{where}[{i}]") for i, item in enumerate(items)]


def at_most(limit: int, actual: int) -> str:
    return f"should be ≤ `{limit}`, instead was `{actual}`"


def _rich_item(item: object, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise invalid(where, "should be an object")
    kind = item.get("type") or next((k for k in ("text", "equation", "mention") if k in item), "")
    annotations = item.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise invalid(f"{where}.annotations", "should be an object")
    if kind == "text":
        value, text, href = _text(item.get("text"), f"{where}.text")
    elif kind == "equation":
        text = string(item.get("equation"), "expression", f"{where}.equation")
        value, href = {"expression": text}, None
    elif kind == "mention" and isinstance(item.get("mention"), dict):
        value, text, href = item["mention"], item.get("plain_text", ""), item.get("href")
    else:
        raise invalid(f"{where}.text", "should be defined, instead was `undefined`")
    annotations = {**_ANNOTATIONS, **annotations}
    # Notion's key order, so that dumps of the fake read like dumps of Notion.
    return {"type": kind, kind: value, "annotations": annotations, "plain_text": text, "href": href}


def string(parent: object, key: str, where: str) -> str:
    """The string at ``parent[key]``; 400 if there is none."""
    value = parent.get(key) if isinstance(parent, dict) else None
    if not isinstance(value, str):
        raise invalid(f"{where}.{key}", f"should be a string, instead was `{json.dumps(value)}`")
    return value


def _text(text: object, where: str) -> tuple[dict[str, Any], str, str | None]:
    """The ``text`` object, its plain text and its link."""
    content = string(text, "content", where)
    if len(content) > MAX_TEXT:
        raise invalid(f"{where}.content.length", at_most(MAX_TEXT, len(content)))
    link = text.get("link") if isinstance(text, dict) else None
    href = None if link is None else string(link, "url", f"{where}.link")
    value = {"content": content, "link": None if href is None else {"url": href}}
    return value, content, href


def plain(title: Sequence[Mapping[str, Any]]) -> str:
    """The plain text of a rich-text array."""
    return "".join(str(item.get("plain_text", "")) for item in title)


def normalize_id(raw: str) -> str | None:
    """Notion's dashed form of an id given with or without dashes; None if it is no id."""
    return str(uuid.UUID(raw)) if _ID_PATTERN.fullmatch(raw) else None


def page_size(raw: object, where: str = "query.page_size") -> int:
    """A ``page_size`` from a query string (text) or a body (a number): 1 to 100, else 400."""
    if raw is None:
        return MAX_PAGE_SIZE
    text = str(raw) if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
    size = int(text) if text.isdigit() else 0
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise invalid(where, f"should be a number from 1 to 100, instead was `{raw}`")
    return size


def stamps(node: Node) -> dict[str, Any]:
    """The created and last-edited times and users of an object."""
    return {
        "created_time": format_time(node.created),
        "last_edited_time": format_time(node.edited),
        "created_by": BOT_USER,
        "last_edited_by": BOT_USER,
    }


def list_of(
    results: list[dict[str, Any]], next_cursor: str | None, kind: str = "block"
) -> dict[str, Any]:
    """The ``list`` object of a paginated endpoint; ``kind`` names what it lists."""
    return {
        "object": "list",
        "results": results,
        "next_cursor": next_cursor,
        "has_more": next_cursor is not None,
        "type": kind,
        kind: {},
    }
