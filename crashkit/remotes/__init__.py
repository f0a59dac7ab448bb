"""Fake remotes: web APIs a program under test talks to, kept in a SQLite file.

A generic fake remote (:mod:`~crashkit.remotes.base`) gives every remote a transactional
store with armed faults and a request log (:mod:`~crashkit.remotes.store`), in-process
mounting through respx (:mod:`~crashkit.remotes.mount`) and a loopback HTTP server
(:mod:`~crashkit.remotes.server`), all speaking :mod:`~crashkit.remotes.exchange`'s
requests and responses. Each remote is one package or module on top of it
(:mod:`~crashkit.remotes.notion`) and one line in :data:`REMOTES`, which the CLI reads.

Layer: the fakes run inside the child next to the program under test, so they stay
self-contained. Modules here may import :mod:`crashkit.errors`,
:mod:`crashkit.probes.quiet` (to hide the store's own writes from the probe) and each
other; nothing else of crashkit (not the engine, child, launch, output, cli,
pytest_plugin or scenario), not even inside a function.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crashkit.errors import UsageError
from crashkit.remotes.base import DEFAULT_TOKEN, FakeRemote
from crashkit.remotes.notion.fake import FakeNotion

__all__ = ["REMOTES", "FakeRemote", "Serving", "serve_remote"]

#: Every fake remote by name; the CLI's choices and help text come from here.
REMOTES: dict[str, type[FakeRemote[Any]]] = {"notion": FakeNotion}


@dataclass(frozen=True)
class Serving:
    """A remote being served on loopback by :func:`serve_remote`."""

    #: The base URL to give clients, like ``http://127.0.0.1:PORT``.
    url: str
    remote: FakeRemote[Any]
    #: What a person needs besides the URL and token (Notion: the root page), one per line.
    notes: list[str]


@contextmanager
def serve_remote(
    name: str, store_path: str | os.PathLike[str], port: int = 0, token: str = DEFAULT_TOKEN
) -> Iterator[Serving]:
    """Serve the remote registered as ``name`` on 127.0.0.1 until the block ends.

    Args:
        name: a key of :data:`REMOTES`.
        store_path: the store file; made (with its folder) if missing, else reused.
        port: the port to bind; 0 picks a free one.
        token: the bearer token clients must send.

    Raises:
        UsageError: no remote is registered as ``name``.
    """
    remote_class = _registered(name)
    Path(store_path).parent.mkdir(parents=True, exist_ok=True)
    remote = remote_class(store_path, token=token)
    notes = remote.serving_notes()
    with remote.serve(port) as server:
        yield Serving(server.url, remote, notes)


def _registered(name: str) -> type[FakeRemote[Any]]:
    if name not in REMOTES:
        known = ", ".join(sorted(REMOTES))
        raise UsageError(f"no fake remote is called {name!r}; choose one of: {known}")
    return REMOTES[name]
