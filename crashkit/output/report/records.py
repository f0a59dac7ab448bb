"""The records a report is drawn from: several results files read as one.

A sweep split into shards, or interrupted and resumed, leaves its points in several
files, and a rerun point appears twice; the report shows each point once, as last run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from crashkit.output.results import read_results, record_identity

__all__ = ["Record", "latest", "merge_results"]

#: One results line, as read (see :mod:`crashkit.output.results`).
Record = dict[str, Any]


def merge_results(paths: Sequence[str | os.PathLike[str]]) -> list[Record]:
    """Read several results files (shards, or a run and its resumption) as one.

    Records keep their order; where the same point, trace, audit or error occurs
    more than once, the last one read wins.

    Raises:
        ResultsError: a file is missing or unreadable (see :func:`read_results`).
    """
    return latest([record for path in paths for record in read_results(path)])


def latest(records: Iterable[Record]) -> list[Record]:
    """The records with duplicates dropped: for each point, trace, audit or error the last wins."""
    records = list(records)
    last = {record_identity(r): i for i, r in enumerate(records)}
    return [r for i, r in enumerate(records) if (k := record_identity(r)) is None or last[k] == i]
