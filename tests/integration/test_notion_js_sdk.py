"""The loopback fake Notion, driven from Node by the official JavaScript SDK.

``tests/js/drive_fake_notion.cjs`` runs ``@notionhq/client`` 5.x (pinned by
``tests/js/package-lock.json``) against :meth:`FakeNotion.serve` and prints what it saw;
the assertions are here. The SDK is installed with ``npm ci`` when ``tests/js/node_modules``
lacks it (CI does so up front, in ``.ci/run``). Skipped only where Node.js or npm is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from crashkit.remotes.notion.fake import FakeNotion

JS = Path(__file__).resolve().parents[1] / "js"
SCRIPT = JS / "drive_fake_notion.cjs"
TOKEN = "secret_js_sdk"

#: Node 18 is the oldest the SDK supports (it relies on the global fetch).
MIN_NODE = 18

pytestmark = pytest.mark.slow


def _node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(name for name, path in (("node", node), ("npm", npm)) if not path)
        pytest.skip(
            f"{missing} not found on PATH: the JavaScript SDK test needs Node.js >= {MIN_NODE} "
            "and npm (e.g. `apt-get install nodejs npm`); CI installs them"
        )
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    major = int(version.stdout.strip().lstrip("v").split(".")[0])
    if major < MIN_NODE:
        pytest.skip(f"Node.js {version.stdout.strip()} is too old for @notionhq/client 5.x "
                    f"(needs >= {MIN_NODE})")  # fmt: skip
    return node


def _install_sdk() -> None:
    if (JS / "node_modules" / "@notionhq" / "client" / "package.json").exists():
        return
    npm = shutil.which("npm") or "npm"
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS, capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.fail(f"`npm ci` in {JS} failed (it needs the npm registry):\n{done.stderr}")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], FakeNotion, str]:
    """One run of the script against a fresh fake, with its faults armed first."""
    node = _node()
    _install_sdk()
    fake = FakeNotion(tmp_path_factory.mktemp("js") / "notion.sqlite3", token=TOKEN)
    root = fake.create_page("JS root")
    fake.fail_next(429, method="GET", path=f"/v1/pages/{root}$", retry_after=1)
    fake.fail_next(429, method="GET", path=f"/v1/blocks/{root}$", retry_after=0, count=3)
    fake.fail_next(503, method="GET", path=f"/v1/blocks/{root}/children$")
    fake.fail_next(503, method="PATCH", path=f"/v1/blocks/{root}$")
    with fake.serve() as server:
        done = subprocess.run(
            [node, str(SCRIPT), server.url, TOKEN, root],
            capture_output=True, text=True, timeout=120, check=False, cwd=JS,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )  # fmt: skip
    assert done.returncode == 0, f"the script failed:\n{done.stderr}"
    return json.loads(done.stdout), fake, root


@pytest.fixture(scope="module")
def seen(run: tuple[dict[str, Any], FakeNotion, str]) -> dict[str, Any]:
    return run[0]


def test_the_sdk_is_5x_speaking_2025_09_03(seen: dict[str, Any]) -> None:
    assert seen["sdk_version"].split(".")[0] == "5"
    assert seen["notion_version"] == "2025-09-03"


def test_pages_rich_text_and_trash(seen: dict[str, Any]) -> None:
    pages = seen["pages"]
    assert pages["full_page"] is True
    assert pages["parent"]["type"] == "page_id"
    assert pages["icon"] == {"type": "emoji", "emoji": "📄"}
    bold, plain = pages["title"]
    assert bold == {
        "type": "text",
        "plain_text": "bold link",
        "href": "https://example.com/a",
        "annotations": {"bold": True, "italic": False, "strikethrough": False,
                        "underline": False, "code": False, "color": "red"},
    }  # fmt: skip
    assert (plain["plain_text"], plain["href"], plain["annotations"]["bold"]) == (
        " and plain", None, False,
    )  # fmt: skip
    assert pages["retrieved_title"] == "bold link and plain"
    assert pages["retrieved_same_id"] is True
    assert pages["renamed"] == "renamed"
    off, on = {"in_trash": False, "archived": False}, {"in_trash": True, "archived": True}
    assert (pages["trashed"], pages["restored"]) == (on, off)
    assert (pages["archived"], pages["unarchived"]) == (on, off)
    assert pages["edit_trashed"]["code"] == "validation_error"
    assert "archived" in pages["edit_trashed"]["message"]


def test_blocks_pagination_children_and_delete(seen: dict[str, Any]) -> None:
    blocks = seen["blocks"]
    assert blocks["appended"] == [100, 100, 50]
    assert blocks["list_requests"] == [100, 100, 51]  # "first" and 250 paragraphs
    assert blocks["texts_in_order"] is True
    assert blocks["listed"] == 251
    assert blocks["toggle"]["has_children"] is True
    assert blocks["toggle"]["inside"] == ["inside"]
    annotations = blocks["toggle"]["rich_text"][0]["annotations"]
    assert (annotations["italic"], annotations["code"], annotations["bold"]) == (True, True, False)
    assert blocks["paragraph_has_children"] is False
    assert blocks["sub_page_block"] == [{"id": True, "title": "Sub page", "has_children": False}]
    assert blocks["sub_page_retrieved"] == {"type": "child_page", "title": "Sub page"}
    assert blocks["append_child_page"]["code"] == "validation_error"
    assert blocks["append_child_page"]["status"] == 400
    assert blocks["deleted"] == {"in_trash": True, "archived": True}
    assert blocks["after_delete"] == 252  # 251 + toggle + sub page - deleted "first"
    assert blocks["first_after_delete"] == "p0"
    assert (blocks["page_has_children"], blocks["page_block_type"]) == (True, "child_page")


def test_databases_and_data_sources(seen: dict[str, Any]) -> None:
    dbs = seen["databases"]
    database = dbs["database"]
    assert (database["object"], database["title"], database["data_sources"]) == (
        "database", "Tasks", 1,
    )  # fmt: skip
    assert database["parent"]["type"] == "page_id"
    source = dbs["data_source"]
    assert database["retrieved_data_sources"] == [{"id": source["id"], "name": "Tasks"}]
    assert source["object"] == "data_source"
    assert source["parent"]["type"] == "database_id"
    assert source["database_parent"]["type"] == "page_id"
    assert source["property_types"] == {
        "Name": "title", "Status": "select", "Priority": "number", "Done": "checkbox",
        "Due": "date", "Notes": "rich_text", "Tags": "multi_select",
    }  # fmt: skip
    row = dbs["row"]
    assert row["parent"] == {"type": "data_source_id", "data_source_id": source["id"],
                             "database_id": row["parent"]["database_id"]}  # fmt: skip
    assert row["property_types"] == source["property_types"]
    assert row["notes"][0]["href"] == "https://example.com/3"
    assert row["notes"][0]["annotations"]["underline"] is True
    assert (row["status"], row["due"]) == ("todo", {"start": "2026-03-01", "end": None,
                                                    "time_zone": None})  # fmt: skip


def test_data_source_queries(seen: dict[str, Any]) -> None:
    dbs = seen["databases"]
    assert dbs["query_object"] == {"object": "list", "type": "page_or_data_source"}
    assert dbs["query_open"] == ["fix crash", "write spec", "review"]
    assert dbs["query_by_due"] == ["plan", "fix crash", "write spec", "ship", "review"]
    assert dbs["query_either"] == ["fix crash", "plan", "ship", "write spec"]
    assert dbs["query_due_before"] == ["plan", "fix crash"]
    assert dbs["paged"] == ["write spec", "fix crash", "ship", "review", "plan"]
    assert dbs["every_row"] == 5


def test_rows_update_and_trash(seen: dict[str, Any]) -> None:
    dbs = seen["databases"]
    assert dbs["updated"] == {"done": True, "status": "blocked", "retrieved_done": True,
                              "name_kept": "fix crash"}  # fmt: skip
    assert dbs["status_options_after"] == ["todo", "done", "blocked"]
    assert dbs["trashed_row"] is True
    assert dbs["after_trash"] == ["write spec", "fix crash", "ship", "plan"]
    assert dbs["database_block"] == {"type": "child_database", "title": "Tasks",
                                     "has_children": False}  # fmt: skip


def test_bad_rows_and_queries_are_validation_errors(seen: dict[str, Any]) -> None:
    dbs = seen["databases"]
    assert dbs["unknown_property"]["message"] == "Nope is not a property that exists."
    assert dbs["wrong_value"]["message"].startswith("body failed validation: body.properties")
    assert "Missing" in dbs["unknown_filter_property"]["message"]
    for name in ("unknown_property", "wrong_value", "unknown_filter_property"):
        assert (dbs[name]["api_response_error"], dbs[name]["status"], dbs[name]["code"]) == (
            True, 400, "validation_error",
        )  # fmt: skip


def test_errors_are_api_response_errors(seen: dict[str, Any]) -> None:
    errors = seen["errors"]
    expected = {
        "not_found": (404, "object_not_found"),
        "block_not_found": (404, "object_not_found"),
        "too_many_children": (400, "validation_error"),
        "text_too_long": (400, "validation_error"),
        "unauthorized": (401, "unauthorized"),
        "rate_limited_out_of_retries": (429, "rate_limited"),
        "unavailable_patch_not_retried": (503, "service_unavailable"),
    }
    for name, (status, code) in expected.items():
        error = errors[name]
        assert (error["api_response_error"], error["status"], error["code"]) == (
            True, status, code,
        ), name  # fmt: skip
    assert "Could not find page with ID" in errors["not_found"]["message"]
    assert errors["rate_limited_out_of_retries"]["retry_after"] == "0"


def test_retries_follow_retry_after(run: tuple[dict[str, Any], FakeNotion, str]) -> None:
    seen, fake, root = run
    served = seen["errors"]["rate_limited_then_served"]
    assert served["id"] is True
    assert served["ms"] >= 1000  # Retry-After: 1 was waited for
    log = fake.request_log()

    def statuses(method: str, path: str) -> list[int]:
        return [r["status"] for r in log if (r["method"], r["path"]) == (method, path)]

    assert statuses("GET", f"/v1/pages/{root}") == [429, 200]
    assert statuses("GET", f"/v1/blocks/{root}") == [429, 429, 429]  # 1 try + 2 retries
    assert statuses("GET", f"/v1/blocks/{root}/children") == [503, 200]
    assert statuses("PATCH", f"/v1/blocks/{root}") == [503]
    assert seen["errors"]["unavailable_get_retried"] == ["child_page", "child_database"]
