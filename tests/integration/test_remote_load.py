"""The fake Notion's loopback server under a bounded load of valid, refused and misbehaving
clients (``benchmarks/remote_load.py``; ``benchmarks/bench_remote.py`` prints its figures):
every request is answered or refused with a Notion error, slow and silent connections are
closed within the limits, the server's threads stay bounded, and the store is intact."""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
from collections import Counter
from contextlib import closing
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from crashkit.remotes.notion.fake import FakeNotion
from crashkit.remotes.server import Limits


def _load_module() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "remote_load.py"
    spec = importlib.util.spec_from_file_location("remote_load", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["remote_load"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


remote_load = _load_module()

#: Short timeouts, so that slow and silent clients are cut quickly.
LIMITS = Limits(threads=4, connections=64, idle_timeout=0.5, request_timeout=0.5)
#: How late past its timeout a slow or silent connection may be closed.
SLACK = 1.0


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[FakeNotion, Any]:
    fake = FakeNotion(tmp_path_factory.mktemp("load") / "notion.sqlite3")
    root = fake.create_page("load root")
    with fake.serve(limits=LIMITS) as server:
        result = remote_load.run_load(server.address, root, clients=20, requests=5000)
    return fake, result


def test_every_request_is_answered_as_its_kind_requires(loaded: tuple[FakeNotion, Any]) -> None:
    _, result = loaded
    assert len(result.outcomes) == 5000
    assert {o.kind for o in result.outcomes} == set(remote_load.MIX)
    wrong = Counter(
        (o.kind, o.status, o.error)
        for o in result.outcomes
        if o.error is not None or o.status != remote_load.MIX[o.kind][1]
    )
    assert not wrong, f"answers other than expected, by (kind, status, error): {wrong}"


def test_every_refusal_is_a_notion_error(loaded: tuple[FakeNotion, Any]) -> None:
    _, result = loaded
    for outcome in result.outcomes:
        if outcome.status is None or outcome.status < 300:
            continue
        body = outcome.body
        assert isinstance(body, dict), outcome
        assert body.keys() >= {"object", "status", "code", "message"}, outcome
        assert (body["object"], body["status"]) == ("error", outcome.status), outcome
        assert body["code"] == remote_load.CODES[outcome.kind], outcome


def test_slow_and_silent_connections_are_closed_within_the_limits(
    loaded: tuple[FakeNotion, Any],
) -> None:
    _, result = loaded
    cut = [o for o in result.outcomes if o.kind in ("slowloris", "silent")]
    assert cut
    assert max(o.seconds for o in cut) < LIMITS.request_timeout + SLACK


def test_the_server_holds_a_bounded_number_of_threads(loaded: tuple[FakeNotion, Any]) -> None:
    _, result = loaded
    assert result.max_server_threads <= LIMITS.threads + 1  # the workers and the I/O loop
    # This process: what ran before (the server's threads included), 20 clients, the watcher.
    assert result.max_threads <= result.threads_before + 20 + 1
    assert remote_load.server_threads() == 0  # all ended with the server


def test_the_store_is_intact(loaded: tuple[FakeNotion, Any]) -> None:
    fake, result = loaded
    creates = sum(o.kind == "create" for o in result.outcomes)
    assert len(result.pages) == creates  # every create was acknowledged
    for page_id, blocks in result.pages.items():
        assert fake.page(page_id)["id"] == page_id
        assert len(fake.blocks(page_id)) == blocks  # the first block and every appended one
    with closing(sqlite3.connect(fake.store_path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
