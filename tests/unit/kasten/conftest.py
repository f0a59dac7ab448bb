"""Fixtures for kasten's tests: a fake Notion in-process, an initialized folder, an engine."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from kasten_support import Opener

from crashkit.demo import kasten
from crashkit.remotes.notion.fake import FakeNotion


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings come from each test's folder, never from the developer's shell; the
    # SDK's retries are off so that an injected 5xx or 429 is seen as it is.
    for var in ("KASTEN_REMOTE", "KASTEN_TOKEN", "KASTEN_BUGS", "KASTEN_GC_RETENTION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KASTEN_RETRIES", "0")


@pytest.fixture
def fast_path(tmp_path: Path) -> Iterator[Path]:
    """A fresh folder in memory (tmpfs) when there is one, else ``tmp_path``.

    kasten and the fake fsync every commit, as they must; on a real disk that
    is most of a test's time, and these tests are about order, not the disk.
    """
    shm = Path("/dev/shm")
    if not (shm.is_dir() and shutil.disk_usage(shm).free > 1 << 28):
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="kasten-test-", dir=shm))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def fake(fast_path: Path) -> Iterator[FakeNotion]:
    remote = FakeNotion(fast_path / "notion.sqlite3")
    with remote.mock():
        yield remote


@pytest.fixture
def folder(fast_path: Path, fake: FakeNotion) -> Path:
    root = fast_path / "notes"
    root.mkdir()
    kasten.init(root, remote=fake.base_url, token=fake.token)
    return root


@pytest.fixture
def open_engine(folder: Path) -> Iterator[Opener]:
    """Open engines on ``folder`` (each a fresh process would be); all closed at the end."""
    opened: list[kasten.Engine] = []

    def open_(bugs: Iterable[str] | None = None) -> kasten.Engine:
        engine = kasten.Engine.open(folder, bugs=bugs)
        opened.append(engine)
        return engine

    yield open_
    for engine in opened:
        engine.close()
