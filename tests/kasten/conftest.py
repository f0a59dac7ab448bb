"""Fixtures for kasten's tests: a fake Notion in-process, an initialized folder, an engine."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest


def _import_the_kasten_package() -> None:
    """Import the ``kasten`` package, not this folder of the same name.

    pytest puts ``tests/`` on ``sys.path`` (for ``tests/conftest.py``), and there
    this folder, having no ``__init__.py``, would pass for a namespace package
    ``kasten``. Once the real package is in ``sys.modules`` every import finds it.
    """
    if getattr(sys.modules.get("kasten"), "__file__", None) is None:
        sys.modules.pop("kasten", None)
        here = Path(__file__).resolve().parent.parent
        saved = sys.path[:]
        sys.path[:] = [p for p in saved if Path(p or ".").resolve() != here]
        try:
            __import__("kasten")
        finally:
            sys.path[:] = saved


_import_the_kasten_package()

import kasten  # noqa: E402 (after the guard above)
from kasten_support import Opener  # noqa: E402

from crashkit._fake_notion import FakeNotion  # noqa: E402


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
