"""The fake Notion remote, driven by the official SDK in-process (respx) and over loopback HTTP."""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import notion_client
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st
from notion_client import APIErrorCode, APIResponseError
from notion_client.errors import HTTPResponseError, RequestTimeoutError

from crashkit.probes import quiet as _quiet
from crashkit.remotes.exchange import Request
from crashkit.remotes.notion.fake import FakeNotion
from crashkit.remotes.server import Limits, LoopbackServer

TOKEN = "secret_crashkit"

#: The SDK adds a console handler per client unless given a logger; one silent logger for all.
SDK_LOGGER = logging.getLogger("tests.fake_notion.sdk")


#: Each httpx.Client loads the CA bundle (~40 ms) unless given a context; share one.
TLS = ssl.create_default_context()


def sdk(**options: Any) -> notion_client.Client:
    """An official SDK client that neither retries nor logs unless asked."""
    defaults = {"auth": TOKEN, "retry": False, "logger": SDK_LOGGER}
    if "client" not in options:
        defaults["client"] = httpx.Client(verify=TLS)
    return notion_client.Client(**{**defaults, **options})


def paragraph(text: str) -> dict[str, Any]:
    return {"type": "paragraph", "paragraph": {"rich_text": [{"text": {"content": text}}]}}


def title(text: str) -> dict[str, Any]:
    return {"title": [{"text": {"content": text}}]}


@dataclass
class Remote:
    """A fake being served one way, and a factory of SDK clients pointed at it."""

    fake: FakeNotion
    mode: str
    url: str
    _clients: list[notion_client.Client] = field(default_factory=list)

    def client(self, token: str = TOKEN, retry: bool = False) -> notion_client.Client:
        client = sdk(auth=token, base_url=self.url, retry=retry)
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()


@pytest.fixture
def fake(tmp_path: Path) -> FakeNotion:
    return FakeNotion(tmp_path / "notion.sqlite3")


@pytest.fixture(params=["mock", "serve"])
def remote(request: pytest.FixtureRequest, fake: FakeNotion) -> Iterator[Remote]:
    if request.param == "mock":
        with fake.mock():
            served = Remote(fake, "mock", fake.base_url)
            yield served
    else:
        with fake.serve() as server:
            served = Remote(fake, "serve", server.url)
            yield served
    served.close()


@pytest.fixture
def notion(remote: Remote) -> notion_client.Client:
    return remote.client()


def new_page(notion: notion_client.Client, name: str = "Inbox", **kwargs: Any) -> dict[str, Any]:
    parent = kwargs.pop("parent", {"workspace": True})
    page: dict[str, Any] = notion.pages.create(parent=parent, properties=title(name), **kwargs)
    return page


def children(notion: notion_client.Client, block_id: str) -> list[dict[str, Any]]:
    listed = notion_client.helpers.collect_paginated_api(
        notion.blocks.children.list, block_id=block_id
    )
    return list(listed)


# -- shapes ----------------------------------------------------------------------------------


def test_create_page_with_children_returns_notions_shapes(notion: notion_client.Client) -> None:
    page = new_page(notion, "Hello world", children=[paragraph("one"), paragraph("two")])

    assert page["object"] == "page"
    assert str(uuid.UUID(page["id"])) == page["id"]
    assert page["parent"] == {"type": "workspace", "workspace": True}
    assert (page["archived"], page["in_trash"]) == (False, False)
    assert page["url"].endswith("Hello-world-" + page["id"].replace("-", ""))
    (text,) = page["properties"]["title"]["title"]
    assert text["plain_text"] == "Hello world"
    assert text["href"] is None
    assert text["annotations"]["bold"] is False
    assert notion.pages.retrieve(page["id"]) == page

    blocks = children(notion, page["id"])
    assert [b["paragraph"]["rich_text"][0]["plain_text"] for b in blocks] == ["one", "two"]
    assert blocks[0]["parent"] == {"type": "page_id", "page_id": page["id"]}
    assert blocks[0]["object"] == "block"
    assert blocks[0]["has_children"] is False
    assert notion.blocks.retrieve(blocks[0]["id"]) == blocks[0]


def test_sub_page_appears_as_child_page_block(notion: notion_client.Client) -> None:
    parent = new_page(notion, "Parent", children=[paragraph("intro")])
    sub = new_page(notion, "Child", parent={"page_id": parent["id"]})

    assert sub["parent"] == {"type": "page_id", "page_id": parent["id"]}
    last = children(notion, parent["id"])[-1]
    assert (last["id"], last["type"], last["child_page"]) == (
        sub["id"],
        "child_page",
        {"title": "Child"},
    )
    assert notion.pages.retrieve(parent["id"])["last_edited_time"] == sub["created_time"]


def test_unknown_block_types_are_kept_as_sent(notion: notion_client.Client) -> None:
    page = new_page(notion)
    odd = {"type": "synced_thing", "synced_thing": {"anything": [1, {"x": None}]}}
    notion.blocks.children.append(page["id"], children=[odd])

    assert children(notion, page["id"])[0]["synced_thing"] == {"anything": [1, {"x": None}]}


def test_nested_children_and_ids_without_dashes(notion: notion_client.Client) -> None:
    toggle = {"toggle": {"rich_text": [], "children": [paragraph("inside")]}}
    page = new_page(notion, children=[toggle])
    (block,) = children(notion, page["id"].replace("-", ""))

    assert block["has_children"] is True
    assert "children" not in block["toggle"]
    assert children(notion, block["id"])[0]["parent"] == {
        "type": "block_id",
        "block_id": block["id"],
    }


# -- pagination and limits -------------------------------------------------------------------


def test_250_blocks_list_in_pages_of_100(notion: notion_client.Client) -> None:
    page = new_page(notion)
    appended: list[str] = []
    for start, stop in ((0, 100), (100, 200), (200, 250)):
        batch = [paragraph(f"line {i}") for i in range(start, stop)]
        answer = notion.blocks.children.append(page["id"], children=batch)
        assert answer["object"] == "list"
        appended += [block["id"] for block in answer["results"]]

    first = notion.blocks.children.list(page["id"], page_size=100)
    assert (len(first["results"]), first["has_more"]) == (100, True)
    assert (first["type"], first["block"]) == ("block", {})
    second = notion.blocks.children.list(
        page["id"], page_size=100, start_cursor=first["next_cursor"]
    )
    third = notion.blocks.children.list(
        page["id"], page_size=100, start_cursor=second["next_cursor"]
    )
    assert (len(third["results"]), third["has_more"], third["next_cursor"]) == (50, False, None)
    listed = [b["id"] for answer in (first, second, third) for b in answer["results"]]
    assert listed == appended
    assert len(set(appended)) == 250


def test_appending_101_blocks_is_a_validation_error(notion: notion_client.Client) -> None:
    page = new_page(notion)
    with pytest.raises(APIResponseError) as caught:
        notion.blocks.children.append(page["id"], children=[paragraph("x")] * 101)

    assert (caught.value.status, caught.value.code) == (400, APIErrorCode.ValidationError)
    assert children(notion, page["id"]) == []


def test_text_content_over_2000_characters_is_rejected(notion: notion_client.Client) -> None:
    page = new_page(notion)
    notion.blocks.children.append(page["id"], children=[paragraph("x" * 2000)])
    with pytest.raises(APIResponseError) as caught:
        notion.blocks.children.append(page["id"], children=[paragraph("x" * 2001)])

    assert caught.value.code == APIErrorCode.ValidationError
    assert "2000" in str(caught.value)
    assert len(children(notion, page["id"])) == 1


def test_page_size_over_100_is_rejected(notion: notion_client.Client) -> None:
    page = new_page(notion)
    with pytest.raises(APIResponseError, match="page_size"):
        notion.blocks.children.list(page["id"], page_size=101)


def test_append_after_a_block_and_at_the_start(notion: notion_client.Client) -> None:
    page = new_page(notion, children=[paragraph("a"), paragraph("c")])
    first = children(notion, page["id"])[0]
    notion.blocks.children.append(page["id"], children=[paragraph("b")], after=first["id"])
    start = {"type": "start"}
    notion.blocks.children.append(page["id"], children=[paragraph("0")], position=start)

    texts = [b["paragraph"]["rich_text"][0]["plain_text"] for b in children(notion, page["id"])]
    assert texts == ["0", "a", "b", "c"]


# -- deleting and archiving ------------------------------------------------------------------


def test_delete_block_archives_it(notion: notion_client.Client) -> None:
    page = new_page(notion, children=[paragraph("keep"), paragraph("drop")])
    page_blocks = children(notion, page["id"])
    drop = page_blocks[1]

    deleted = notion.blocks.delete(drop["id"])

    assert (deleted["id"], deleted["archived"], deleted["in_trash"]) == (drop["id"], True, True)
    assert [b["id"] for b in children(notion, page["id"])] == [page_blocks[0]["id"]]
    assert notion.blocks.retrieve(drop["id"])["archived"] is True
    assert notion.pages.retrieve(page["id"])["last_edited_time"] == deleted["last_edited_time"]
    with pytest.raises(APIResponseError, match="archived"):
        notion.blocks.delete(drop["id"])


def test_archive_and_restore_page(remote: Remote, notion: notion_client.Client) -> None:
    parent = new_page(notion, "Parent")
    sub = new_page(notion, "Sub", parent={"page_id": parent["id"]})

    archived = notion.pages.update(sub["id"], archived=True)

    assert (archived["archived"], archived["in_trash"]) == (True, True)
    assert children(notion, parent["id"]) == []
    assert [p["id"] for p in remote.fake.pages()] == [parent["id"]]
    assert len(remote.fake.pages(include_archived=True)) == 2
    with pytest.raises(APIResponseError, match="archived"):
        notion.pages.update(sub["id"], properties=title("renamed"))

    restored = notion.pages.update(sub["id"], in_trash=False, properties=title("Back"))
    assert restored["archived"] is False
    assert children(notion, parent["id"])[0]["child_page"] == {"title": "Back"}


# -- databases and data sources (API version 2025-09-03) -------------------------------------

SCHEMA = {
    "Name": {"title": {}},
    "Status": {"select": {"options": [{"name": "todo"}, {"name": "done"}]}},
    "Priority": {"number": {}},
    "Done": {"checkbox": {}},
    "Due": {"date": {}},
    "Edited": {"last_edited_time": {}},
}


def new_database(notion: notion_client.Client, parent_id: str) -> tuple[dict[str, Any], str]:
    database: dict[str, Any] = notion.databases.create(
        parent={"type": "page_id", "page_id": parent_id},
        title=[{"text": {"content": "Tasks"}}],
        initial_data_source={"properties": SCHEMA},
    )
    return database, database["data_sources"][0]["id"]


def row(
    notion: notion_client.Client, source_id: str, name: str, priority: int | None, **more: Any
) -> dict[str, Any]:
    properties = {"Name": title(name)["title"], "Priority": {"number": priority}, **more}
    properties["Name"] = {"title": properties["Name"]}
    page: dict[str, Any] = notion.pages.create(
        parent={"type": "data_source_id", "data_source_id": source_id}, properties=properties
    )
    return page


def names(result: dict[str, Any]) -> list[str]:
    return [p["properties"]["Name"]["title"][0]["plain_text"] for p in result["results"]]


def test_database_holds_one_data_source_with_the_schema(notion: notion_client.Client) -> None:
    parent = new_page(notion, "Home")
    database, source_id = new_database(notion, parent["id"])

    assert database["object"] == "database"
    assert database["parent"] == {"type": "page_id", "page_id": parent["id"]}
    assert database["data_sources"] == [{"id": source_id, "name": "Tasks"}]
    assert (database["in_trash"], database["is_inline"]) == (False, False)
    assert notion.databases.retrieve(database["id"]) == database
    source = notion.data_sources.retrieve(source_id)
    assert source["object"] == "data_source"
    assert source["parent"] == {"type": "database_id", "database_id": database["id"]}
    assert source["database_parent"] == database["parent"]
    assert {name: p["type"] for name, p in source["properties"].items()} == {
        "Name": "title", "Status": "select", "Priority": "number", "Done": "checkbox",
        "Due": "date", "Edited": "last_edited_time",
    }  # fmt: skip
    assert source["properties"]["Name"]["id"] == "title"
    (block,) = children(notion, parent["id"])
    assert (block["id"], block["type"], block["child_database"]) == (
        database["id"], "child_database", {"title": "Tasks"},
    )  # fmt: skip
    assert block["has_children"] is False
    assert notion.blocks.children.list(database["id"])["results"] == []


def test_rows_carry_typed_properties(notion: notion_client.Client) -> None:
    _, source_id = new_database(notion, new_page(notion)["id"])

    page = row(notion, source_id, "spec", 3, Status={"select": {"name": "todo"}},
               Due={"date": {"start": "2026-02-01"}})  # fmt: skip

    database_id = notion.data_sources.retrieve(source_id)["parent"]["database_id"]
    assert page["parent"] == {"type": "data_source_id", "data_source_id": source_id,
                              "database_id": database_id}  # fmt: skip
    values = page["properties"]
    assert values["Name"]["title"][0]["plain_text"] == "spec"
    assert values["Priority"] == {"id": values["Priority"]["id"], "type": "number", "number": 3}
    assert values["Status"]["select"]["name"] == "todo"
    assert values["Done"]["checkbox"] is False  # unset values are the type's empty value
    assert values["Due"]["date"] == {"start": "2026-02-01", "end": None, "time_zone": None}
    assert values["Edited"]["last_edited_time"] == page["last_edited_time"]
    assert notion.pages.retrieve(page["id"]) == page

    updated = notion.pages.update(page["id"], properties={"Done": {"checkbox": True},
                                                          "Status": {"select": {"name": "new"}}})
    assert updated["properties"]["Done"]["checkbox"] is True
    assert updated["properties"]["Name"] == values["Name"]
    options = notion.data_sources.retrieve(source_id)["properties"]["Status"]["select"]["options"]
    assert [o["name"] for o in options] == ["todo", "done", "new"]


def test_query_filters_sorts_and_pages(notion: notion_client.Client) -> None:
    _, source_id = new_database(notion, new_page(notion)["id"])
    for name, priority in [("b", 2), ("a", 5), ("c", None), ("d", 1)]:
        row(notion, source_id, name, priority, Done={"checkbox": priority == 1})

    everything = notion.data_sources.query(source_id)
    assert (everything["object"], everything["type"]) == ("list", "page_or_data_source")
    assert names(everything) == ["b", "a", "c", "d"]  # creation order without sorts
    by_priority = notion.data_sources.query(
        source_id, sorts=[{"property": "Priority", "direction": "descending"}]
    )
    assert names(by_priority) == ["a", "b", "d", "c"]  # empty values last
    kept = notion.data_sources.query(source_id, filter={"and": [
        {"property": "Done", "checkbox": {"equals": False}},
        {"property": "Priority", "number": {"is_not_empty": True}},
    ]}, sorts=[{"property": "Name", "direction": "ascending"}])  # fmt: skip
    assert names(kept) == ["a", "b"]
    newest = notion.data_sources.query(
        source_id, sorts=[{"timestamp": "created_time", "direction": "descending"}], page_size=3
    )
    assert (names(newest), newest["has_more"]) == (["d", "c", "a"], True)
    rest = notion.data_sources.query(
        source_id, sorts=[{"timestamp": "created_time", "direction": "descending"}],
        start_cursor=newest["next_cursor"],
    )  # fmt: skip
    assert (names(rest), rest["has_more"], rest["next_cursor"]) == (["b"], False, None)


def test_trashed_rows_and_databases(notion: notion_client.Client) -> None:
    database, source_id = new_database(notion, new_page(notion)["id"])
    keep, drop = row(notion, source_id, "keep", 1), row(notion, source_id, "drop", 2)

    assert notion.pages.update(drop["id"], in_trash=True)["in_trash"] is True
    assert names(notion.data_sources.query(source_id)) == ["keep"]
    trashed = notion.databases.update(database["id"], in_trash=True)
    assert (trashed["in_trash"], trashed["archived"]) == (True, True)
    assert notion.data_sources.retrieve(source_id)["in_trash"] is True
    with pytest.raises(APIResponseError, match="archived"):
        row(notion, source_id, "late", 3)
    notion.databases.update(database["id"], archived=False)
    assert names(notion.data_sources.query(source_id)) == ["keep"]
    assert notion.pages.retrieve(keep["id"])["in_trash"] is False


def test_a_database_parent_names_its_only_data_source(notion: notion_client.Client) -> None:
    database, source_id = new_database(notion, new_page(notion)["id"])
    page = notion.pages.create(parent={"database_id": database["id"]},
                               properties={"Name": title("via database")})  # fmt: skip
    assert page["parent"]["data_source_id"] == source_id


def test_a_new_row_is_no_edit_of_the_page_holding_the_database(fake: FakeNotion,
                                                                 notion: notion_client.Client
                                                                 ) -> None:  # fmt: skip
    parent = new_page(notion, "Home")
    _, source_id = new_database(notion, parent["id"])
    edited = notion.pages.retrieve(parent["id"])["last_edited_time"]
    row(notion, source_id, "row", 1)
    assert notion.pages.retrieve(parent["id"])["last_edited_time"] == edited
    fake.set_blocks(parent["id"], ["replaced"])  # an edit in the app keeps the database
    assert [b["type"] for b in children(notion, parent["id"])] == ["child_database", "paragraph"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda n, p, s: n.databases.create(parent={"page_id": p}, initial_data_source={
            "properties": {"Note": {"rich_text": {}}}}), "exactly one title property"),
        (lambda n, p, s: n.databases.create(parent={"page_id": p}, initial_data_source={
            "properties": {"Name": {"title": {}}, "R": {"relation": {}}}}), "`\"relation\"`"),
        (lambda n, p, s: row(n, s, "x", 1, Nope={"number": 1}), "Nope is not a property"),
        (lambda n, p, s: row(n, s, "x", True), "should be a number"),  # type: ignore[arg-type]
        (lambda n, p, s: row(n, s, "x", 1, Due={"date": {"start": "soon"}}), "ISO 8601"),
        (lambda n, p, s: row(n, s, "x", 1, Edited={"last_edited_time": "x"}), "read-only"),
        (lambda n, p, s: n.data_sources.query(s, filter={"property": "Priority", "number": {
            "about": 1}}), "greater_than"),
        (lambda n, p, s: n.data_sources.query(s, filter={"property": "Priority", "number": {
            "greater_than": None}}), "should be a number value"),
        (lambda n, p, s: n.data_sources.query(s, filter={"or": [{"and": [{"or": []}]}]}),
         "nested two levels at most"),
        (lambda n, p, s: n.data_sources.query(s, sorts=[{"property": "Size"}]),
         "Could not find property with name or id: Size"),
        (lambda n, p, s: n.data_sources.query(s, start_cursor=str(uuid.uuid4())),
         "body.start_cursor should be a cursor"),
        (lambda n, p, s: n.data_sources.query(s, page_size=101), "body.page_size"),
    ],
    ids=["no-title", "relation", "unknown-property", "wrong-type", "bad-date", "read-only",
         "bad-condition", "null-operand", "deep-filter", "unknown-sort", "bad-cursor", "page-size"],
)  # fmt: skip
def test_bad_schemas_values_and_queries_are_validation_errors(
    notion: notion_client.Client, call: Callable[..., Any], message: str
) -> None:
    parent = new_page(notion)
    _, source_id = new_database(notion, parent["id"])
    with pytest.raises(APIResponseError) as caught:
        call(notion, parent["id"], source_id)
    assert (caught.value.status, caught.value.code) == (400, APIErrorCode.ValidationError)
    assert message in str(caught.value)


#: Any JSON, leaning on the names the query and the schema use, to reach deep branches.
_NAMES = st.sampled_from(["Name", "Priority", "Status", "Done", "Due", "Edited", "title",
                          "and", "or", "property", "timestamp", "created_time", "equals",
                          "contains", "before", "is_empty", "number", "select", "date",
                          "checkbox", "rich_text", "direction", "descending", "start", "name"])
_SCALARS = (st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False)
            | _NAMES | st.sampled_from(["2026-01-01", "2026-01-01T00:03:00Z", "x", "todo"]))
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_NAMES, inner, max_size=3),
    max_leaves=12,
)  # fmt: skip
#: Filters of the right shape with any property, type key, condition and operand.
_CONDITIONS = st.sampled_from(["equals", "does_not_equal", "contains", "does_not_contain",
                               "starts_with", "ends_with", "is_empty", "is_not_empty",
                               "greater_than", "less_than_or_equal_to", "before", "after",
                               "on_or_after", "nope"])
_KINDS = st.sampled_from(["title", "rich_text", "number", "checkbox", "select", "date",
                          "multi_select", "last_edited_time", "created_time"])
_LEAF = st.builds(
    lambda prop, kind, condition, operand, timestamp: (
        {"timestamp": kind, kind: {condition: operand}} if timestamp
        else {"property": prop, kind: {condition: operand}}
    ),
    st.sampled_from(["Name", "Priority", "Status", "Done", "Due", "Edited", "title", "x"]),
    _KINDS, _CONDITIONS, _SCALARS, st.booleans(),
)
_FILTERS = st.recursive(_LEAF, lambda inner: st.builds(
    lambda joint, parts: {joint: parts}, st.sampled_from(["and", "or"]),
    st.lists(inner, max_size=3)), max_leaves=6)  # fmt: skip
_SORTS = st.lists(st.fixed_dictionaries(
    {"direction": st.sampled_from(["ascending", "descending"])},
    optional={"property": st.sampled_from(["Name", "Priority", "Status", "Done", "Due"]),
              "timestamp": st.sampled_from(["created_time", "last_edited_time"])},
), max_size=3)  # fmt: skip


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> tuple[FakeNotion, str]:
    """A fake with a database and two rows, shared by the examples (which only add rows)."""
    fake = FakeNotion(tmp_path_factory.mktemp("fuzz") / "notion.sqlite3")
    _, source_id = fake.create_database("Fuzz", SCHEMA, parent=fake.create_page("Home"))
    with fake.mock():
        notion = sdk(base_url=fake.base_url)
        row(notion, source_id, "one", 1, Due={"date": {"start": "2026-01-02"}})
        row(notion, source_id, "two", None, Status={"select": {"name": "todo"}})
        notion.close()
    return fake, source_id


@settings(max_examples=100, deadline=None)
@given(filter_=_JSON, sorts=_JSON, properties=_JSON, shaped=_FILTERS, ordered=_SORTS)
def test_any_query_or_row_body_is_answered_without_a_server_error(
    fuzzed: tuple[FakeNotion, str], filter_: Any, sorts: Any, properties: Any,
    shaped: dict[str, Any], ordered: list[dict[str, Any]],
) -> None:  # fmt: skip
    fake, source_id = fuzzed
    headers = {"authorization": f"Bearer {fake.token}", "notion-version": "2025-09-03"}
    query = f"/v1/data_sources/{source_id}/query"
    parent = {"data_source_id": source_id}
    bodies = [
        (query, {"filter": filter_, "sorts": sorts}),
        (query, {"filter": shaped, "sorts": ordered}),
        ("/v1/pages", {"parent": parent, "properties": properties}),
        ("/v1/pages", {"parent": parent, "properties": {"Priority": properties}}),
    ]
    for path, body in bodies:
        answer = fake.handle(Request("POST", path, {}, headers, json.dumps(body).encode()))
        assert answer.status in (200, 400), (path, body, answer.body)
        if answer.status == 400:
            assert answer.body["code"] == "validation_error", answer.body


def test_unknown_databases_and_data_sources_are_not_found(notion: notion_client.Client) -> None:
    unknown = str(uuid.uuid4())
    page = new_page(notion)
    calls: list[Callable[[], Any]] = [
        lambda: notion.databases.retrieve(unknown),
        lambda: notion.data_sources.retrieve(unknown),
        lambda: notion.data_sources.query(unknown),
        lambda: notion.data_sources.retrieve(page["id"]),  # a page is no data source
        lambda: notion.pages.create(parent={"data_source_id": unknown}, properties={}),
    ]
    for call in calls:
        with pytest.raises(APIResponseError) as caught:
            call()
        assert (caught.value.status, caught.value.code) == (404, APIErrorCode.ObjectNotFound)


def test_databases_need_api_version_2025_09_03(remote: Remote) -> None:
    old = sdk(auth=TOKEN, base_url=remote.url, notion_version="2022-06-28")
    with pytest.raises(APIResponseError) as caught:
        old.databases.retrieve(str(uuid.uuid4()))
    old.close()
    assert (caught.value.status, caught.value.code) == (400, APIErrorCode.InvalidRequest)
    assert "2025-09-03" in str(caught.value)


# -- errors ----------------------------------------------------------------------------------


def test_wrong_token_is_unauthorized(remote: Remote) -> None:
    with pytest.raises(APIResponseError) as caught:
        remote.client(token="secret_wrong").pages.create(parent={"workspace": True}, properties={})

    assert (caught.value.status, caught.value.code) == (401, APIErrorCode.Unauthorized)
    assert remote.fake.pages() == []


def test_unknown_ids_are_not_found(notion: notion_client.Client) -> None:
    unknown = str(uuid.uuid4())
    calls: list[Callable[[], Any]] = [
        lambda: notion.pages.retrieve(unknown),
        lambda: notion.blocks.retrieve(unknown),
        lambda: notion.blocks.children.list(unknown),
        lambda: notion.blocks.delete(unknown),
        lambda: new_page(notion, parent={"page_id": unknown}),
    ]
    for call in calls:
        with pytest.raises(APIResponseError) as caught:
            call()
        assert (caught.value.status, caught.value.code) == (404, APIErrorCode.ObjectNotFound)
        assert unknown in str(caught.value)


def test_malformed_id_is_a_validation_error(notion: notion_client.Client) -> None:
    with pytest.raises(APIResponseError) as caught:
        notion.pages.retrieve("not-an-id")
    assert caught.value.code == APIErrorCode.ValidationError


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "validation_error"),
        (409, "conflict_error"),
        (429, "rate_limited"),
        (500, "internal_server_error"),
        (502, "bad_gateway"),
        (503, "service_unavailable"),
    ],
)
def test_armed_error_fails_one_request_without_applying_it(
    remote: Remote, notion: notion_client.Client, status: int, code: str
) -> None:
    page = new_page(notion)
    remote.fake.fail_next(status, method="PATCH", path="/children")
    notion.pages.retrieve(page["id"])  # does not match: the trigger stays armed

    with pytest.raises(HTTPResponseError) as caught:
        notion.blocks.children.append(page["id"], children=[paragraph("x")])

    assert caught.value.status == status
    assert f'"code": "{code}"' in caught.value.body
    assert children(notion, page["id"]) == []
    notion.blocks.children.append(page["id"], children=[paragraph("x")])  # consumed
    assert remote.fake.request_log()[-3]["fault"] == "fail"


def test_rate_limit_carries_retry_after(remote: Remote, notion: notion_client.Client) -> None:
    remote.fake.fail_next(429, retry_after=7)
    with pytest.raises(APIResponseError) as caught:
        notion.pages.retrieve(str(uuid.uuid4()))
    assert caught.value.headers["retry-after"] == "7"

    remote.fake.fail_next(429, count=2)  # Retry-After: 0, so the SDK's retries do not wait
    page = new_page(remote.client(retry=True))
    assert [entry["status"] for entry in remote.fake.request_log()[-3:]] == [429, 429, 200]
    assert remote.fake.page(page["id"])["id"] == page["id"]


def test_custom_code_and_message(remote: Remote, notion: notion_client.Client) -> None:
    remote.fake.fail_next(503, code="database_connection_unavailable", message="try later")
    with pytest.raises(HTTPResponseError) as caught:
        notion.pages.retrieve(str(uuid.uuid4()))
    # The SDK does not know this code, so it keeps the body but not the message.
    assert caught.value.status == 503
    assert json.loads(caught.value.body)["message"] == "try later"


def test_trigger_path_regex_and_count(remote: Remote, notion: notion_client.Client) -> None:
    page = new_page(notion)
    remote.fake.fail_next(500, path=r"^/v1/pages/[0-9a-f-]+$", count=2)
    for _ in range(2):
        with pytest.raises(APIResponseError):
            notion.pages.retrieve(page["id"])
    assert notion.pages.retrieve(page["id"])["id"] == page["id"]


def test_lost_response_is_applied(remote: Remote, notion: notion_client.Client) -> None:
    page = new_page(notion)
    remote.fake.lose_next_response(method="PATCH")

    # In-process the SDK sees httpx.ReadTimeout (as its RequestTimeoutError); over HTTP the
    # connection closes without an answer.
    lost = RequestTimeoutError if remote.mode == "mock" else httpx.RemoteProtocolError
    with pytest.raises(lost):
        notion.blocks.children.append(page["id"], children=[paragraph("applied")])

    assert [
        b["paragraph"]["rich_text"][0]["plain_text"] for b in remote.fake.blocks(page["id"])
    ] == ["applied"]
    assert remote.fake.request_log()[-1] == {
        "method": "PATCH",
        "path": f"/v1/blocks/{page['id']}/children",
        "status": 200,
        "fault": "lose",
    }


def test_missing_notion_version_header(fake: FakeNotion) -> None:
    with httpx.Client(verify=TLS, transport=fake.transport(), base_url=fake.base_url) as http:
        answer = http.get(
            "/v1/pages/" + str(uuid.uuid4()), headers={"Authorization": f"Bearer {TOKEN}"}
        )
    assert answer.status_code == 400
    assert answer.json()["code"] == "missing_version"
    assert answer.json()["object"] == "error"


def test_unsupported_notion_version_is_refused_naming_the_supported_ones(
    fake: FakeNotion,
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Notion-Version": "2021-05-13"}
    with httpx.Client(verify=TLS, transport=fake.transport(), base_url=fake.base_url) as http:
        answer = http.get("/v1/pages/" + str(uuid.uuid4()), headers=headers)
    assert (answer.status_code, answer.json()["code"]) == (400, "validation_error")
    assert "`2021-05-13`" in answer.json()["message"]
    assert "`2022-06-28`, `2025-09-03`" in answer.json()["message"]


def raw_exchange(server: LoopbackServer, data: bytes) -> tuple[int, dict[str, Any]]:
    """Send raw bytes to the server; its status and JSON body."""
    with socket.create_connection(server.address, timeout=5) as conn:
        conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
        answer = b"".join(iter(lambda: conn.recv(65536), b""))
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", 400, "validation_error"),
        (b"POST /v1/pages HTTP/1.1\r\nContent-Length: 2048\r\n\r\n" + b"{" * 2048,
         413, "validation_error"),
        (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n", 431, "validation_error"),
        (b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "invalid_request"),
        (b"POST /v1/pages HTTP/1.1\r\nAuthorization: Bearer secret_crashkit\r\n"
         b"Notion-Version: 2025-09-03\r\nContent-Length: 3\r\n\r\n{x}", 400, "invalid_json"),
    ],
)  # fmt: skip
def test_server_refusals_are_notion_errors(
    fake: FakeNotion, data: bytes, status: int, code: str
) -> None:
    with fake.serve(limits=Limits(max_body=1024, max_header=4096)) as server:
        answer = raw_exchange(server, data)
    assert answer[0] == status
    assert answer[1]["object"] == "error"
    assert (answer[1]["status"], answer[1]["code"]) == (status, code)
    assert answer[1]["message"]


def test_a_failing_fake_answers_500_without_a_traceback(
    fake: FakeNotion, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(tx: object, request: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(fake, "answer", broken)
    with fake.serve() as server:
        status, body = raw_exchange(server, b"GET /v1/pages/x HTTP/1.1\r\n\r\n")
    assert (status, body["code"]) == (500, "internal_server_error")
    assert "Traceback" not in body["message"]


def test_server_closes_a_silent_connection(fake: FakeNotion) -> None:
    limits = Limits(idle_timeout=0.2, request_timeout=0.2)
    with fake.serve(limits=limits) as server, socket.create_connection(server.address) as conn:
        conn.settimeout(5)
        conn.sendall(b"GET /v1/pa")  # and nothing more
        assert conn.recv(1) == b""  # closed by the server, long before the socket timeout


def test_unknown_route_is_invalid_request_url(fake: FakeNotion) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Notion-Version": "2025-09-03"}
    with httpx.Client(verify=TLS, transport=fake.transport(), base_url=fake.base_url) as http:
        answer = http.get("/v1/comments/x", headers=headers)
    assert (answer.status_code, answer.json()["code"]) == (400, "invalid_request_url")


# -- determinism and persistence -------------------------------------------------------------


def script(notion: notion_client.Client) -> list[dict[str, Any]]:
    page = new_page(notion, children=[paragraph("a")])
    added = notion.blocks.children.append(page["id"], children=[paragraph("b")])
    deleted = notion.blocks.delete(added["results"][0]["id"])
    return [
        page,
        added,
        deleted,
        notion.pages.retrieve(page["id"]),
        notion.blocks.children.list(page["id"]),
    ]


def test_ids_and_clock_are_deterministic(tmp_path: Path) -> None:
    answers = []
    for name in ("one", "two"):
        fake = FakeNotion(tmp_path / f"{name}.sqlite3")
        assert fake.clock() == "2026-01-01T00:00:00.000Z"
        with fake.mock(), closing(sdk(base_url=fake.base_url)) as notion:
            answers.append(script(notion))
        assert fake.clock() == "2026-01-01T00:03:00.000Z"  # three mutating requests

    assert answers[0] == answers[1]
    page = answers[0][3]
    assert (page["created_time"], page["last_edited_time"]) == (
        "2026-01-01T00:01:00.000Z",
        "2026-01-01T00:03:00.000Z",
    )


def test_store_persists_across_instances(tmp_path: Path) -> None:
    first = FakeNotion(tmp_path / "notion.sqlite3")
    page_id = first.create_page("Kept", blocks=["body"])
    first.fail_next(503)

    second = FakeNotion(tmp_path / "notion.sqlite3", token="other")
    with second.mock(), closing(sdk(auth="other", base_url=second.base_url)) as notion:
        with pytest.raises(APIResponseError):
            notion.pages.retrieve(page_id)
        assert (
            notion.pages.retrieve(page_id)["properties"]["title"]["title"][0]["plain_text"]
            == "Kept"
        )
    assert second.clock() == first.clock() == "2026-01-01T00:01:00.000Z"
    assert [entry["status"] for entry in first.request_log()] == [503, 200]


# -- the direct API --------------------------------------------------------------------------


def test_direct_api(fake: FakeNotion) -> None:
    parent = fake.create_page("Parent")
    page_id = fake.create_page("Notes", parent=parent, blocks=["one", paragraph("two")])
    assert fake.page(page_id)["parent"] == {"type": "page_id", "page_id": parent}
    assert [b["paragraph"]["rich_text"][0]["plain_text"] for b in fake.blocks(page_id)] == [
        "one",
        "two",
    ]

    fake.set_blocks(page_id.replace("-", ""), ["three"])

    assert [b["paragraph"]["rich_text"][0]["plain_text"] for b in fake.blocks(page_id)] == ["three"]
    assert fake.page(page_id)["last_edited_time"] == fake.clock() == "2026-01-01T00:03:00.000Z"
    fake.archive_page(page_id)
    assert [p["id"] for p in fake.pages()] == [parent]
    assert fake.blocks(parent) == []
    assert fake.request_log() == []


def test_direct_api_databases(fake: FakeNotion) -> None:
    home = fake.create_page("Home")
    database_id, source_id = fake.create_database("Tasks", SCHEMA, parent=home)
    with fake.mock():
        notion = sdk(base_url=fake.base_url)
        assert notion.databases.retrieve(database_id)["data_sources"][0]["id"] == source_id
        made = row(notion, source_id, "first", 1)
        notion.close()
    assert [r["id"] for r in fake.rows(source_id)] == [made["id"]]
    assert fake.rows(source_id)[0]["properties"]["Priority"]["number"] == 1
    with pytest.raises(ValueError, match="exactly one title"):
        fake.create_database("Bad", {"Note": {"rich_text": {}}}, parent=home)
    with pytest.raises(ValueError, match="Could not find data_source"):
        fake.rows(database_id)


def test_direct_api_has_no_block_limit(fake: FakeNotion) -> None:
    page_id = fake.create_page("Long", blocks=[f"line {i}" for i in range(150)])
    assert len(fake.blocks(page_id)) == 150


def test_direct_api_misuse_raises_value_error(fake: FakeNotion) -> None:
    with pytest.raises(ValueError, match="is not a page"):
        fake.page("nope")
    with pytest.raises(ValueError, match="is not a page"):
        fake.create_page("x", parent=str(uuid.uuid4()))
    with pytest.raises(ValueError, match="2000"):
        fake.create_page("x", blocks=["y" * 2001])
    with pytest.raises(ValueError, match="status"):
        fake.fail_next(200)
    with pytest.raises(ValueError, match="count"):
        fake.lose_next_response(count=0)


# -- transports ------------------------------------------------------------------------------


def test_server_binds_loopback_only(fake: FakeNotion) -> None:
    with fake.serve() as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.address[0] == "127.0.0.1"
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/v1/pages/x", verify=TLS)  # closed with the block


def test_transport_serves_an_sdk_client(fake: FakeNotion) -> None:
    page_id = fake.create_page("Via transport")
    http = httpx.Client(verify=TLS, transport=fake.transport())
    with closing(sdk(client=http)) as notion:
        assert notion.pages.retrieve(page_id)["id"] == page_id


@pytest.mark.parametrize("fake_inside", [True, False])
def test_mock_nests_with_other_respx_routers(fake: FakeNotion, fake_inside: bool) -> None:
    page_id = fake.create_page("Nested")
    other = respx.mock(assert_all_called=False)
    other.get("https://example.com/ping").respond(200, text="pong")
    outer, inner = (other, fake.mock()) if fake_inside else (fake.mock(), other)
    with outer, inner, closing(sdk()) as notion:
        assert notion.pages.retrieve(page_id)["id"] == page_id
        assert httpx.get("https://example.com/ping", verify=TLS).text == "pong"


def test_mock_passes_other_hosts_through(fake: FakeNotion) -> None:
    page_id = fake.create_page("Both ways")
    with fake.serve() as server, fake.mock(), closing(sdk(base_url=server.url)) as notion:
        assert notion.pages.retrieve(page_id)["id"] == page_id
    assert fake.request_log()[-1]["status"] == 200


def test_concurrent_clients_over_http(fake: FakeNotion) -> None:
    page_id = fake.create_page("Shared")
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with closing(sdk(base_url=server.url)) as notion:
                for i in range(5):
                    notion.blocks.children.append(page_id, children=[paragraph(f"{n}.{i}")])
        except BaseException as error:  # collected and re-raised by the test thread
            errors.append(error)

    with fake.serve() as server:
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    assert len(fake.blocks(page_id)) == 20
    assert fake.clock() == "2026-01-01T00:21:00.000Z"


def test_store_work_is_hidden_from_the_probe(
    fake: FakeNotion, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    real_connect = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        seen.append(_quiet.is_quiet())
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", connect)
    page_id = fake.create_page("Quiet")
    with fake.mock(), closing(sdk()) as notion:
        notion.pages.retrieve(page_id)

    assert seen and all(seen)


def _push_forever(store: str, page: str) -> None:
    """In a child: append groups of ten blocks, one request each, until killed."""
    fake = FakeNotion(store)
    with fake.mock():
        client = notion_client.Client(auth=fake.token, retry=False)
        for group in range(10_000):
            blocks = [
                {
                    "type": "paragraph",
                    "paragraph": {
                        "rich_text": [{"type": "text", "text": {"content": f"g{group}"}}]
                    },
                }
                for _ in range(10)
            ]
            client.blocks.children.append(page, children=blocks)
    os._exit(0)


def test_a_client_killed_mid_push_leaves_only_whole_requests(tmp_path):
    import signal
    import time

    store = str(tmp_path / "remote.sqlite3")
    page = FakeNotion(store).create_page("target")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        try:
            _push_forever(store, page)
        finally:
            os._exit(1)
    deadline = time.monotonic() + 30
    while len(FakeNotion(store).blocks(page)) < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)  # in the middle of some request, whichever it is
    os.waitpid(pid, 0)
    texts = [b["paragraph"]["rich_text"][0]["plain_text"] for b in FakeNotion(store).blocks(page)]
    assert len(texts) >= 50 and len(texts) % 10 == 0  # no half-applied append
    groups = [texts[i : i + 10] for i in range(0, len(texts), 10)]
    assert all(len(set(g)) == 1 for g in groups)
    assert [g[0] for g in groups] == [f"g{n}" for n in range(len(groups))]
    db = sqlite3.connect(store)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        db.close()
