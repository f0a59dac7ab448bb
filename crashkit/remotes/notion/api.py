"""Request handling of the fake Notion remote: routes, validation, Notion's objects and errors.

:func:`answer` takes one HTTP request (method, ``/v1/...`` path, query, headers, raw body)
inside its store transaction and returns Notion's answer (status, headers, JSON body); the
fake remote around it (:mod:`crashkit.remotes.base`) adds the fault triggers and the log.

The shapes follow Notion's public API reference (https://developers.notion.com/reference):
page and block objects and the ``list`` object of paginated endpoints; the vocabulary every
route shares (error objects, ids, rich text) is in :mod:`~crashkit.remotes.notion.wire`.
"""

from __future__ import annotations

import copy
import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from crashkit.remotes.exchange import Request, Response
from crashkit.remotes.notion import databases as db
from crashkit.remotes.notion.store import Node, NotionTx
from crashkit.remotes.notion.wire import (
    ARCHIVED_MESSAGE,
    ApiError,
    at_most,
    flag,
    invalid,
    json_body,
    list_of,
    normalize_id,
    not_found,
    page_size,
    parse_id,
    plain,
    rich_text,
    stamps,
)

__all__ = [
    "SUPPORTED_VERSIONS",
    "ApiError",
    "NewBlock",
    "answer",
    "change",
    "create_database",
    "create_page",
    "create_row",
    "find_block",
    "find_data_source",
    "find_database",
    "find_page",
    "normalize_id",
    "parse_blocks",
    "parse_id",
    "parse_title",
    "render_block",
    "render_data_source",
    "render_database",
    "render_page",
    "replace_blocks",
    "rich_text",
    "text_block",
]

#: Notion's limits (https://developers.notion.com/reference/request-limits).
MAX_CHILDREN = 100
MAX_BLOCKS_PER_REQUEST = 1000
MAX_NESTING = 2

#: The Notion-Version header values the fake answers (the official SDK's defaults before
#: and since 2.5: https://developers.notion.com/reference/versioning); others are refused.
SUPPORTED_VERSIONS = ("2022-06-28", "2025-09-03")


#: Fields Notion fills in when a block of these types is created without them.
_BLOCK_DEFAULTS: dict[str, dict[str, Any]] = {
    "paragraph": {"color": "default"},
    "heading_1": {"color": "default", "is_toggleable": False},
    "heading_2": {"color": "default", "is_toggleable": False},
    "heading_3": {"color": "default", "is_toggleable": False},
    "bulleted_list_item": {"color": "default"},
    "numbered_list_item": {"color": "default"},
    "quote": {"color": "default"},
    "toggle": {"color": "default"},
    "to_do": {"color": "default", "checked": False},
    "callout": {"color": "default"},
}

_TYPE_PATTERN = re.compile(r"[a-z][a-z0-9_]*")


# -- entry point ------------------------------------------------------------------------------


def answer(tx: NotionTx, token: str, request: Request) -> Response:
    """Answer one request as Notion would; an error answer undoes what the request did.

    Args:
        tx: the request's transaction (which also holds its fault trigger and log line).
        token: the bearer token requests must carry.
        request: the request, with its path starting at ``/v1``.
    """
    try:
        with tx.savepoint():
            return Response(200, _route(tx, token, request))
    except ApiError as error:
        return error.response()


def _route(tx: NotionTx, token: str, request: Request) -> dict[str, Any]:
    _check_token(request, token)
    _check_version(request)
    for method, pattern, handler in _ROUTES:
        match = pattern.fullmatch(request.path)
        if match and method == request.method.upper():
            return handler(tx, request, match.groups())
    raise ApiError(400, "invalid_request_url", "Invalid request URL.")


def _check_token(request: Request, token: str) -> None:
    sent = request.headers.get("authorization", "")
    # compare_digest: the answer's timing tells nothing about how much of the token was right.
    if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        raise ApiError(401, "unauthorized", "API token is invalid.")


def _check_version(request: Request) -> None:
    version = request.headers.get("notion-version")
    if not version:
        message = (
            "Notion-Version header failed validation: "
            "Notion-Version header should be defined, instead was `undefined`."
        )
        raise ApiError(400, "missing_version", message)
    if version not in SUPPORTED_VERSIONS:
        supported = ", ".join(f"`{known}`" for known in SUPPORTED_VERSIONS)
        message = (
            "Notion-Version header failed validation: Notion-Version header should be one of "
            f"{supported} (the versions this fake supports), instead was `{version}`."
        )
        raise ApiError(400, "validation_error", message)
    if request.path.startswith(_DATA_SOURCE_PATHS) and version != "2025-09-03":
        message = (
            "This fake serves databases and data sources as Notion-Version `2025-09-03` "
            f"shapes them (a database holds data sources), instead was `{version}`."
        )
        raise ApiError(400, "invalid_request", message)


# -- parsing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewBlock:
    """A validated block of a request, before it has an id."""

    type: str
    payload: dict[str, Any]
    children: tuple[NewBlock, ...] = ()

    def count(self) -> int:
        """This block and all the blocks nested in it."""
        return 1 + sum(child.count() for child in self.children)


def parse_blocks(
    items: object, where: str, *, depth: int = 0, limit: int | None = MAX_CHILDREN
) -> list[NewBlock]:
    """Validate an array of block objects as sent to Notion.

    Args:
        items: the array from the request.
        where: its place in the request, for error messages (``body.children``).
        depth: how deep this array is nested inside the request's top-level array.
        limit: the most blocks allowed in this array (None: any number).

    Raises:
        ApiError: 400 validation_error, in Notion's wording.
    """
    if not isinstance(items, list):
        raise invalid(where, "should be an array")
    if limit is not None and len(items) > limit:
        raise invalid(f"{where}.length", at_most(limit, len(items)))
    blocks = [_parse_block(item, f"{where}[{i}]", depth) for i, item in enumerate(items)]
    total = sum(block.count() for block in blocks)
    if depth == 0 and limit is not None and total > MAX_BLOCKS_PER_REQUEST:
        raise invalid(where, at_most(MAX_BLOCKS_PER_REQUEST, total) + " blocks in all")
    return blocks


def _block_type(item: Mapping[str, Any], where: str) -> str:
    keys = [key for key in item if key not in ("object", "type", "id")]
    kind = item.get("type", keys[0] if len(keys) == 1 else None)
    if not isinstance(kind, str) or not _TYPE_PATTERN.fullmatch(kind):
        raise invalid(f"{where}.type", f"should be a block type, instead was `{json.dumps(kind)}`")
    if kind in ("child_page", "child_database"):
        raise invalid(f"{where}.{kind}", "should be not present; create pages with POST /v1/pages")
    return kind


def _parse_block(item: object, where: str, depth: int) -> NewBlock:
    if not isinstance(item, dict):
        raise invalid(where, "should be an object")
    kind = _block_type(item, where)
    payload = item.get(kind)
    if not isinstance(payload, dict):
        raise invalid(f"{where}.{kind}", "should be defined, instead was `undefined`")
    payload = {**_BLOCK_DEFAULTS.get(kind, {}), **payload}
    nested = payload.pop("children", None)
    children: list[NewBlock] = []
    if nested is not None:
        if depth >= MAX_NESTING:
            raise invalid(f"{where}.{kind}.children", "should be not present (two levels at most)")
        children = parse_blocks(nested, f"{where}.{kind}.children", depth=depth + 1)
    return NewBlock(kind, _with_rich_text(payload, f"{where}.{kind}"), tuple(children))


def _with_rich_text(payload: dict[str, Any], where: str) -> dict[str, Any]:
    # Unknown block types stay opaque; only Notion's rich-text fields are normalised.
    for key in ("rich_text", "caption"):
        if key in payload:
            payload[key] = rich_text(payload[key], f"{where}.{key}")
    return payload


def parse_title(properties: object) -> list[dict[str, Any]]:
    """The title of a page from its ``properties`` (the only property of a page's child).

    Accepts ``{"title": [...]}``, ``{"title": {"title": [...]}}`` and a property of another
    name holding ``{"type": "title", "title": [...]}``.

    Raises:
        ApiError: 400 validation_error.
    """
    if properties is None:
        return []
    if not isinstance(properties, dict):
        raise invalid("body.properties", "should be an object")
    title: list[dict[str, Any]] = []
    for name, value in properties.items():
        where = f"body.properties.{name}"
        if name == "title" and isinstance(value, list):
            title = rich_text(value, where)
        elif isinstance(value, dict) and "title" in value:
            title = rich_text(value["title"], f"{where}.title")
        else:
            raise invalid(where, "should be the title property (a page's child has only a title)")
    return title


def text_block(content: str) -> dict[str, Any]:
    """A paragraph block holding ``content`` (the shorthand of the direct API)."""
    return {"type": "paragraph", "paragraph": {"rich_text": [{"text": {"content": content}}]}}


# -- objects ---------------------------------------------------------------------------------


def _parent(node: Node) -> dict[str, Any]:
    if node.parent_type == "workspace":
        return {"type": "workspace", "workspace": True}
    if node.parent_type == "data_source_id":  # a row: its data source and that one's database
        database = node.payload["database_id"]
        return {"type": node.parent_type, node.parent_type: node.parent_id, "database_id": database}
    return {"type": node.parent_type, node.parent_type: node.parent_id}


def _page_url(node: Node) -> str:
    words = re.findall(r"[A-Za-z0-9]+", plain(node.payload.get("title", [])))
    slug = "-".join([*words, node.id.replace("-", "")])
    return f"https://www.notion.so/{slug}"


def render_page(node: Node) -> dict[str, Any]:
    """The page object Notion returns for a page (keys in Notion's order)."""
    title = node.payload.get("title", [])
    if "properties" in node.payload:  # a row of a data source
        properties = db.render_values(node)
    else:
        properties = {"title": {"id": "title", "type": "title", "title": title}}
    return {
        "object": "page",
        "id": node.id,
        **stamps(node),
        "cover": node.payload.get("cover"),
        "icon": node.payload.get("icon"),
        "parent": _parent(node),
        "archived": node.archived,
        "in_trash": node.archived,
        "properties": properties,
        "url": _page_url(node),
        "public_url": None,
    }


def render_block(tx: NotionTx, node: Node) -> dict[str, Any]:
    """The block object Notion returns for a block (a page is a ``child_page`` block, a
    database a ``child_database`` block)."""
    titled = node.is_page or node.type == db.DATABASE
    payload = {"title": plain(node.payload.get("title", []))} if titled else node.payload
    # A database's children are its data sources, which are no blocks.
    children = node.type != db.DATABASE and tx.has_children(node.id)
    return {
        "object": "block",
        "id": node.id,
        "parent": _parent(node),
        **stamps(node),
        "has_children": children,
        "archived": node.archived,
        "in_trash": node.archived,
        "type": node.type,
        node.type: payload,
    }


# -- operations shared by the HTTP routes and the direct API ----------------------------------


def find_page(tx: NotionTx, page_id: str) -> Node:
    """The page with this id, archived or not.

    Raises:
        ApiError: 404 object_not_found.
    """
    node = tx.node(page_id)
    if node is None or not node.is_page:
        raise not_found("page", page_id)
    return node


def find_block(tx: NotionTx, block_id: str) -> Node:
    """The block (or page, as a ``child_page`` block) with this id, archived or not.

    Raises:
        ApiError: 404 object_not_found.
    """
    node = tx.node(block_id)
    if node is None or node.type == db.DATA_SOURCE:
        raise not_found("block", block_id)
    return node


def _writable(node: Node) -> Node:
    if node.archived:
        raise ApiError(400, "validation_error", ARCHIVED_MESSAGE)
    return node


def create_page(
    tx: NotionTx,
    parent_id: str | None,
    title: list[dict[str, Any]],
    blocks: Sequence[NewBlock],
    extra: Mapping[str, Any] | None = None,
) -> Node:
    """Create a page (under a page, or at the workspace top when ``parent_id`` is None).

    Args:
        tx: the request's transaction.
        parent_id: the parent page, or None for a top-level page.
        title: the title, as normalised rich text.
        blocks: the page's first children.
        extra: ``icon`` and ``cover``, kept as sent.

    Raises:
        ApiError: 404 for an unknown parent, 400 for an archived one.
    """
    if parent_id is not None:
        _writable(find_page(tx, parent_id))
    at = tx.tick()
    parent_type = "workspace" if parent_id is None else "page_id"
    payload = {"title": title, "icon": None, "cover": None, **(extra or {})}
    node = Node(tx.new_id(), True, parent_type, parent_id, "child_page", payload, False, at, at)
    tx.insert(node, tx.make_room(parent_id, None, 1))
    _insert(tx, node, blocks, None, at)
    tx.touch(parent_id, at)
    return node


def append(tx: NotionTx, parent: Node, blocks: Sequence[NewBlock], after: int | None) -> list[Node]:
    """Insert blocks under ``parent`` after sibling position ``after`` (None: at the end).

    Raises:
        ApiError: 400 when the parent is archived.
    """
    _writable(parent)
    at = tx.tick()
    nodes = _insert(tx, parent, blocks, after, at)
    tx.touch(parent.id, at)
    return nodes


def _insert(
    tx: NotionTx, parent: Node, blocks: Sequence[NewBlock], after: int | None, at: int
) -> list[Node]:
    first = tx.make_room(parent.id, after, len(blocks))
    parent_type = "page_id" if parent.is_page else "block_id"
    nodes = []
    for offset, block in enumerate(blocks):
        node = Node(tx.new_id(), False, parent_type, parent.id, block.type, block.payload,
                    False, at, at)  # fmt: skip
        tx.insert(node, first + offset)
        _insert(tx, node, block.children, None, at)
        nodes.append(node)
    return nodes


def change(tx: NotionTx, node: Node, payload: dict[str, Any], archived: bool) -> Node:
    """Store a node's new payload and archive state, and touch what contains it."""
    at = tx.tick()
    tx.update(node.id, payload=payload, archived=archived, at=at)
    tx.touch(node.parent_id, at)
    return replace(node, payload=payload, archived=archived, edited=at)


def replace_blocks(tx: NotionTx, page: Node, blocks: Sequence[NewBlock]) -> None:
    """Archive a page's blocks (its sub-pages and databases stay) and append ``blocks``, as
    one edit."""
    at = tx.tick()
    for child in tx.children(page.id):
        if not child.is_page and child.type != db.DATABASE:
            tx.update(child.id, payload=child.payload, archived=True, at=at)
    _insert(tx, page, blocks, None, at)
    tx.touch(page.id, at)


def find_database(tx: NotionTx, database_id: str) -> Node:
    """The database with this id, trashed or not.

    Raises:
        ApiError: 404 object_not_found.
    """
    node = tx.node(database_id)
    if node is None or node.type != db.DATABASE:
        raise not_found("database", database_id)
    return node


def find_data_source(tx: NotionTx, source_id: str) -> Node:
    """The data source with this id; trashed with its database.

    Raises:
        ApiError: 404 object_not_found.
    """
    node = tx.node(source_id)
    if node is None or node.type != db.DATA_SOURCE:
        raise not_found("data_source", source_id)
    database = find_database(tx, str(node.parent_id))
    return replace(node, archived=node.archived or database.archived)


def create_row(
    tx: NotionTx,
    source: Node,
    properties: object,
    blocks: Sequence[NewBlock],
    extra: Mapping[str, Any] | None = None,
) -> Node:
    """Create a page in a data source, with property values checked against its schema.

    Raises:
        ApiError: 400 for a value that does not fit the schema or a trashed data source.
    """
    _writable(source)
    schema = copy.deepcopy(source.payload["properties"])
    values = {**db.default_values(schema), **db.parse_values(schema, properties, "body.properties")}
    at = tx.tick()
    payload = {
        "title": values[db.title_name(schema)]["title"],
        "icon": None,
        "cover": None,
        **(extra or {}),
        "database_id": source.parent_id,
        "properties": values,
    }
    node = Node(
        tx.new_id(), True, "data_source_id", source.id, "child_page", payload, False, at, at
    )
    tx.insert(node, tx.make_room(source.id, None, 1))
    _insert(tx, node, blocks, None, at)
    _keep_schema(tx, source, schema, at)
    tx.touch(source.id, at)
    return node


def _keep_schema(tx: NotionTx, source: Node, schema: dict[str, Any], at: int) -> None:
    """Store a data source's schema if a request grew it (a new select option)."""
    stored = tx.node(source.id)  # its own archive state, not its database's
    if stored is not None and schema != stored.payload["properties"]:
        payload = {**stored.payload, "properties": schema}
        tx.update(source.id, payload=payload, archived=stored.archived, at=at)


def create_database(
    tx: NotionTx,
    parent_id: str | None,
    payload: dict[str, Any],
    schema: dict[str, Any],
) -> Node:
    """Create a database with one data source (named as the database) holding ``schema``.

    Raises:
        ApiError: 404 for an unknown parent page, 400 for an archived one.
    """
    if parent_id is not None:
        _writable(find_page(tx, parent_id))
    at = tx.tick()
    parent_type = "workspace" if parent_id is None else "page_id"
    database = Node(tx.new_id(), False, parent_type, parent_id, db.DATABASE, payload, False, at, at)
    tx.insert(database, tx.make_room(parent_id, None, 1))
    source_payload = {"title": payload["title"], "description": [], "properties": schema}
    source = Node(
        tx.new_id(),
        False,
        "database_id",
        database.id,
        db.DATA_SOURCE,
        source_payload,
        False,
        at,
        at,
    )
    tx.insert(source, 0)
    tx.touch(parent_id, at)
    return database


def render_database(tx: NotionTx, node: Node) -> dict[str, Any]:
    """The database object, listing its data sources."""
    return db.render_database(node, _parent(node), tx.children(node.id))


def render_data_source(tx: NotionTx, node: Node) -> dict[str, Any]:
    """The data source object, with its schema."""
    database = find_database(tx, str(node.parent_id))
    return db.render_data_source(node, database, _parent(database))


# -- routes ----------------------------------------------------------------------------------

Handler = Callable[[NotionTx, Request, tuple[str, ...]], dict[str, Any]]


def _get_page(tx: NotionTx, request: Request, ids: tuple[str, ...]) -> dict[str, Any]:
    return render_page(find_page(tx, parse_id(ids[0], "path.page_id")))


def _post_page(tx: NotionTx, request: Request, ids: tuple[str, ...]) -> dict[str, Any]:
    body = json_body(request)
    source = _source_parent(tx, body.get("parent"))
    parent_id = None if source else _parse_parent(body.get("parent"))
    blocks = parse_blocks(body.get("children", []), "body.children")
    extra: dict[str, Any] = {key: body[key] for key in ("icon", "cover") if key in body}
    if source is not None:
        return render_page(create_row(tx, source, body.get("properties") or {}, blocks, extra))
    title = parse_title(body.get("properties"))
    return render_page(create_page(tx, parent_id, title, blocks, extra))


def _source_parent(tx: NotionTx, parent: object) -> Node | None:
    """The data source a new page is a row of, if its parent names one: ``data_source_id``,
    or ``database_id`` of a database with one data source (as before 2025-09-03)."""
    if not isinstance(parent, dict):
        return None
    if "data_source_id" in parent:
        return find_data_source(
            tx, parse_id(parent["data_source_id"], "body.parent.data_source_id")
        )
    if "database_id" not in parent:
        return None
    database = find_database(tx, parse_id(parent["database_id"], "body.parent.database_id"))
    sources = tx.children(database.id)
    if len(sources) != 1:
        problem = f"should be a database with one data source, instead had {len(sources)}"
        raise invalid("body.parent.database_id", f"{problem}; name one with data_source_id")
    return sources[0]


def _parse_parent(parent: object) -> str | None:
    if not isinstance(parent, dict):
        raise invalid("body.parent", f"should be an object, instead was `{json.dumps(parent)}`")
    if parent.get("workspace") is True:
        return None
    if "page_id" in parent:
        return parse_id(parent["page_id"], "body.parent.page_id")
    if parent.keys() - {"type"}:
        kinds = ", ".join(sorted(parent.keys() - {"type"}))
        raise invalid("body.parent", f"of type {kinds} is not supported by this fake")
    raise invalid("body.parent.page_id", "should be defined, instead was `undefined`")


def _patch_page(tx: NotionTx, request: Request, ids: tuple[str, ...]) -> dict[str, Any]:
    node = find_page(tx, parse_id(ids[0], "path.page_id"))
    body = json_body(request)
    archived = flag(body)
    payload = dict(node.payload)
    schema = None
    if "properties" in body and "properties" in payload:  # a row: any property of its schema
        source = find_data_source(tx, str(node.parent_id))
        schema = copy.deepcopy(source.payload["properties"])
        values = db.parse_values(schema, body["properties"], "body.properties")
        payload["properties"] = {**payload["properties"], **values}
        payload["title"] = payload["properties"][db.title_name(schema)]["title"]
    elif "properties" in body:
        payload["title"] = parse_title(body["properties"])
    payload.update({key: body[key] for key in ("icon", "cover") if key in body})
    if node.archived and archived is not False and payload != node.payload:
        raise ApiError(400, "validation_error", ARCHIVED_MESSAGE)
    node = change(tx, node, payload, node.archived if archived is None else archived)
    if schema is not None:
        _keep_schema(tx, find_data_source(tx, str(node.parent_id)), schema, node.edited)
    return render_page(node)


def _get_block(tx: NotionTx, request: Request, ids: tuple[str, ...]) -> dict[str, Any]:
    return render_block(tx, find_block(tx, parse_id(ids[0], "path.block_id")))


def _patch_block(tx: NotionTx, request: Request, ids: tuple[str, ...]) -> dict[str, Any]:
    node = find_block(tx, parse_id(ids[0], "path.block_id"))
    body = json_body(request)
    archived = flag(body)
    payload = dict(node.payload)
    for key in body.keys() - {"archived", "in_trash", "type"}:
        if key != node.type or node.is_page or not isinstance(body[key], dict):
            raise invalid(f"body.{key}", f"should be not present (the block is a {node.type})")
        payload.update(_with_rich_text(dict(body[key]), f"body.{key}"))
    if node.archived and archived is not False:
        raise ApiError(400, "validation_error", ARCHIVED_MESSAGE)
    archived = node.archived if archived is None else archived
    return render_block(tx, change(tx, node, payload, archived))


def _delete_block(tx: NotionTx, request: Request, ids: tuple[str, ...]) -> dict[str, Any]:
    node = _writable(find_block(tx, parse_id(ids[0], "path.block_id")))
    return render_block(tx, change(tx, node, node.payload, True))


def _list_children(tx: NotionTx, request: Request, ids: tuple[str, ...]) -> dict[str, Any]:
    parent = find_block(tx, parse_id(ids[0], "path.block_id"))
    if parent.type == db.DATABASE:
        return list_of([], None)
    size = page_size(request.query.get("page_size"))
    start = _cursor(tx, parent, request.query.get("start_cursor"))
    rows = tx.children(parent.id, from_ord=start, limit=size + 1)
    next_cursor = rows[size].id if len(rows) > size else None
    return list_of([render_block(tx, row) for row in rows[:size]], next_cursor)


def _cursor(tx: NotionTx, parent: Node, raw: str | None) -> int | None:
    if raw is None:
        return None
    node = tx.node(parent_id) if (parent_id := normalize_id(raw)) else None
    if node is None or node.parent_id != parent.id:
        raise invalid(
            "query.start_cursor", f"should be a cursor from this list, instead was `{raw}`"
        )
    return tx.ord_of(node.id)


def _append_children(tx: NotionTx, request: Request, ids: tuple[str, ...]) -> dict[str, Any]:
    parent = find_block(tx, parse_id(ids[0], "path.block_id"))
    body = json_body(request)
    if "children" not in body:
        raise invalid("body.children", "should be defined, instead was `undefined`")
    blocks = parse_blocks(body["children"], "body.children")
    if parent.type == db.DATABASE:
        raise invalid(
            "path.block_id",
            "should be a block that can have children, instead was "
            "a database; add its rows with POST /v1/pages",
        )
    nodes = append(tx, parent, blocks, _position(tx, parent, body))
    # Notion answers with the newly created first-level blocks, not all of the parent's.
    return list_of([render_block(tx, node) for node in nodes], None)


#: An insertion point before every possible sibling position (``position: start``).
_START = -(2**40)


def _position(tx: NotionTx, parent: Node, body: Mapping[str, Any]) -> int | None:
    """The sibling position to insert after: ``after`` (deprecated) or ``position``."""
    position = body.get("position")
    if body.get("after") is not None:
        return _sibling(tx, parent, body["after"], "body.after")
    if position is None or position == {"type": "end"}:
        return None
    if position == {"type": "start"}:
        return _START
    if isinstance(position, dict) and position.get("type") == "after_block":
        after = position.get("after_block")
        raw = after.get("id") if isinstance(after, dict) else None
        return _sibling(tx, parent, raw, "body.position.after_block.id")
    raise invalid("body.position.type", "should be `start`, `end` or `after_block`")


def _sibling(tx: NotionTx, parent: Node, raw: object, where: str) -> int:
    node = tx.node(parse_id(raw, where))
    if node is None or node.archived or node.parent_id != parent.id:
        raise invalid(where, f"should be a child of block {parent.id}, instead was `{raw}`")
    return tx.ord_of(node.id) or 0  # never None: the node was just found


def _post_database(tx: NotionTx, request: Request, ids: tuple[str, ...]) -> dict[str, Any]:
    body = json_body(request)
    parent_id = _parse_parent(body.get("parent"))
    initial = body.get("initial_data_source") or {}
    if not isinstance(initial, dict):
        raise invalid("body.initial_data_source", "should be an object")
    where = "body.initial_data_source.properties"
    schema = db.parse_schema(initial.get("properties"), where)
    payload = {
        **_database_fields(body, {"title": [], "description": [], "is_inline": False}),
        "icon": body.get("icon"),
        "cover": body.get("cover"),
    }
    return render_database(tx, create_database(tx, parent_id, payload, schema))


def _database_fields(body: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """A database's title, description and is_inline, from a request or as they were."""
    fields = dict(current)
    for key in ("title", "description"):
        if key in body:
            fields[key] = rich_text(body[key], f"body.{key}")
    if "is_inline" in body:
        if not isinstance(body["is_inline"], bool):
            raise invalid(
                "body.is_inline",
                f"should be a boolean, instead was `{json.dumps(body['is_inline'])}`",
            )
        fields["is_inline"] = body["is_inline"]
    return fields


def _get_database(tx: NotionTx, request: Request, ids: tuple[str, ...]) -> dict[str, Any]:
    return render_database(tx, find_database(tx, parse_id(ids[0], "path.database_id")))


def _patch_database(tx: NotionTx, request: Request, ids: tuple[str, ...]) -> dict[str, Any]:
    node = find_database(tx, parse_id(ids[0], "path.database_id"))
    body = json_body(request)
    archived = flag(body)
    payload = {**node.payload, **_database_fields(body, node.payload)}
    payload.update({key: body[key] for key in ("icon", "cover") if key in body})
    if node.archived and archived is not False and payload != node.payload:
        raise ApiError(400, "validation_error", ARCHIVED_MESSAGE)
    archived = node.archived if archived is None else archived
    return render_database(tx, change(tx, node, payload, archived))


def _get_data_source(tx: NotionTx, request: Request, ids: tuple[str, ...]) -> dict[str, Any]:
    source = find_data_source(tx, parse_id(ids[0], "path.data_source_id"))
    return render_data_source(tx, source)


def _query_data_source(tx: NotionTx, request: Request, ids: tuple[str, ...]) -> dict[str, Any]:
    source = find_data_source(tx, parse_id(ids[0], "path.data_source_id"))
    body = json_body(request)
    size = page_size(body.get("page_size"), "body.page_size")
    rows = [render_page(node) for node in tx.children(source.id)]
    rows = db.select_rows(source.payload["properties"], rows, body)
    start = 0
    if body.get("start_cursor") is not None:
        cursor = body["start_cursor"]
        ids_ = [row["id"] for row in rows]
        if not isinstance(cursor, str) or normalize_id(cursor) not in ids_:
            raise invalid(
                "body.start_cursor",
                f"should be a cursor from this query, instead was `{json.dumps(cursor)}`",
            )
        start = ids_.index(normalize_id(cursor))
    page = rows[start : start + size]
    next_cursor = rows[start + size]["id"] if len(rows) > start + size else None
    return list_of(page, next_cursor, "page_or_data_source")


_ID = r"([^/]+)"
_ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    ("GET", re.compile(rf"/v1/pages/{_ID}"), _get_page),
    ("POST", re.compile(r"/v1/pages"), _post_page),
    ("PATCH", re.compile(rf"/v1/pages/{_ID}"), _patch_page),
    ("GET", re.compile(rf"/v1/blocks/{_ID}/children"), _list_children),
    ("PATCH", re.compile(rf"/v1/blocks/{_ID}/children"), _append_children),
    ("GET", re.compile(rf"/v1/blocks/{_ID}"), _get_block),
    ("PATCH", re.compile(rf"/v1/blocks/{_ID}"), _patch_block),
    ("DELETE", re.compile(rf"/v1/blocks/{_ID}"), _delete_block),
    ("POST", re.compile(r"/v1/databases"), _post_database),
    ("GET", re.compile(rf"/v1/databases/{_ID}"), _get_database),
    ("PATCH", re.compile(rf"/v1/databases/{_ID}"), _patch_database),
    ("GET", re.compile(rf"/v1/data_sources/{_ID}"), _get_data_source),
    ("POST", re.compile(rf"/v1/data_sources/{_ID}/query"), _query_data_source),
]

#: Paths whose objects only API version 2025-09-03 shapes as this fake does.
_DATA_SOURCE_PATHS = ("/v1/databases", "/v1/data_sources")
