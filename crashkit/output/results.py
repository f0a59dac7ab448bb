"""The results file: JSON lines appended as a sweep runs, the one source reports render from.

Each line is an object with a ``type``:

* ``run``: a sweep started (format version, time, command line, commit if known);
* ``trace``: a scenario variant's dry run under one fault: its N operations, the points
  the fault offers, the golden rounds and state;
* ``audit``: the journal audit's uncovered mutations of a variant's dry run;
* ``error``: a variant that could not be explored (its setup or dry run is broken);
* ``point``: one crash point's outcome (see :meth:`crashkit.engine.result.PointResult.to_json`);
  a recovery-crash point writes one per nested point (``nested``: r);
* ``end``: the sweep finished: its duration and point count.

Lines are written whole with one ``write`` on an ``O_APPEND`` descriptor, so a
killed sweep leaves at most a torn last line, which readers skip; ``--resume``
runs only the points that have no line yet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crashkit.errors import ResultsError
from crashkit.model.outcome import PointId

__all__ = ["FORMAT", "ResultsWriter", "end_record", "read_results"]

#: Bumped when a line's meaning changes; readers refuse other versions.
FORMAT = 1


def read_results(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every complete record in a results file (a torn last line is skipped).

    Raises:
        ResultsError: the file is missing, not JSON lines, or of another format version.
    """
    file = Path(path)
    if not file.exists():
        raise ResultsError(f"{file}: no such results file (run `crashkit run` to make one)")
    records = []
    lines = file.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError:
            if number == len(lines):
                break  # the line a killed sweep was writing
            raise ResultsError(f"{file}:{number}: not a JSON object: {line[:80]!r}") from None
        if record.get("type") == "run" and record.get("format") != FORMAT:
            raise ResultsError(
                f"{file}:{number}: results format {record.get('format')!r}, this crashkit reads "
                f"{FORMAT}; rerun the sweep with this version"
            )
        records.append(record)
    return records


def _commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def end_record(duration: float, points: int, seed: int | None) -> dict[str, Any]:
    """The line that closes a run: when it finished, how long it took, how many points
    ran, and the sampling seed (the CLI's and the pytest plugin's alike)."""
    return {
        "type": "end",
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration": round(duration, 3),
        "points": points,
        "seed": seed,
    }


class ResultsWriter:
    """Appends records to a results file, one whole line per write, from any thread.

    Args:
        path: the JSON lines file; its folder is created.
        resume: keep the existing records (and report their points as done) instead of
            starting the file afresh.
    """

    def __init__(self, path: str | os.PathLike[str], *, resume: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        #: The points an earlier run of a resumed sweep did (first-level points).
        self.done: set[PointId] = set()
        #: The point records an earlier run of a resumed sweep wrote.
        self.earlier: list[dict[str, Any]] = []
        if resume and self.path.exists():
            self.earlier = [r for r in read_results(self.path) if r["type"] == "point"]
            self.done = {PointId.of(r).top for r in self.earlier}
            self._drop_torn_tail()
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (0 if resume else os.O_TRUNC)
        self._fd = os.open(self.path, flags, 0o644)
        self._lock = threading.Lock()
        self.write(
            {
                "type": "run",
                "format": FORMAT,
                "resumed": bool(resume and self.done),
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
                "argv": sys.argv,
                "commit": _commit(),
                "cpus": os.cpu_count(),
            }
        )

    def _drop_torn_tail(self) -> None:
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with self.path.open("r+b") as f:
                f.truncate(data.rfind(b"\n") + 1)

    def write(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, default=str, ensure_ascii=False) + "\n").encode()
        with self._lock:
            written = os.write(self._fd, line)
            if written != len(line):  # pragma: no cover - only on a full disk
                raise ResultsError(f"{self.path}: short write ({written} of {len(line)} bytes)")

    def write_all(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            self.write(record)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
