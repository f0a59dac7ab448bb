"""The fake remotes' registry, and serving a remote by name."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from crashkit.errors import UsageError
from crashkit.remotes import REMOTES, serve_remote


def test_every_remote_is_registered_under_its_name_with_a_summary() -> None:
    assert "notion" in REMOTES
    for name, remote in REMOTES.items():
        assert remote.name == name
        assert remote.summary and "\n" not in remote.summary


def test_serve_remote_makes_the_store_folder_and_names_the_root_page(tmp_path: Path) -> None:
    store = tmp_path / "not" / "made" / "notion.sqlite3"
    with serve_remote("notion", store, token="t0ken") as serving:
        assert serving.url.startswith("http://127.0.0.1:")
        headers = {"Authorization": "Bearer t0ken", "Notion-Version": "2025-09-03"}
        root = serving.notes[0].removeprefix("root page: ")
        answer = httpx.get(f"{serving.url}/v1/pages/{root}", headers=headers)
        assert answer.status_code == 200
    with serve_remote("notion", store) as again:
        assert again.notes == serving.notes  # the root page is reused, not made twice


def test_serve_remote_rejects_an_unknown_name_listing_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"'s3'.*notion"), serve_remote("s3", tmp_path / "x"):
        pass  # pragma: no cover - never entered
