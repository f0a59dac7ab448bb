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
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crashkit.errors import ResultsError
from crashkit.model.outcome import PointId

__all__ = ["FORMAT", "ResultsWriter", "end_record", "read_results", "record_identity"]

#: Bumped when a line's meaning changes; readers refuse other versions.
FORMAT = 1


def read_results(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every complete record in a results file (a torn last line, the one a killed sweep
    was writing, is skipped).

    Raises:
        ResultsError: the file is missing, a folder, not a results file, of another format
            version, or damaged before its last line; the message names the line, what is
            wrong with it and the fix.
    """
    return _read(Path(path))[0]


#: What each kind of line must hold, and of which type, to be read at all.
_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "run": {"format": int},
    "trace": {"scenario_id": str, "variant": str, "points": list, "operations": list},
    "audit": {"scenario_id": str, "variant": str, "uncovered": list},
    "error": {"scenario_id": str, "variant": str, "error": str},
    "point": {
        "scenario_id": str,
        "variant": str,
        "fault": str,
        "point": int,
        "outcome": str,
        "findings": list,
        "op": dict,
    },
    "generated": {"scenario_id": str, "variant": str, "fault": str, "worlds": int},
    "end": {},
}


def _read(file: Path) -> tuple[list[dict[str, Any]], int]:
    """The records, and the byte offset just past the last whole one."""
    if not file.exists():
        raise ResultsError(f"{file}: no such results file (run `crashkit run` to make one)")
    if not file.is_file():
        raise ResultsError(
            f"{file}: is a folder, not a results file; give the file in it, e.g. "
            f"{file / 'results.jsonl'}"
        )
    try:
        data = file.read_bytes()
    except OSError as error:
        raise ResultsError(f"{file}: cannot be read ({error.strerror})") from None
    if not data:
        raise ResultsError(f"{file}: is empty: no sweep wrote to it (run `crashkit run`)")
    # JSON lines end at b"\n" only: a U+2028 in a string is not the end of a line.
    lines = data.split(b"\n")
    records: list[dict[str, Any]] = []
    offset = 0
    for number, raw in enumerate(lines, 1):
        last = number == len(lines) or (number == len(lines) - 1 and not lines[-1])
        if not raw and number == len(lines):
            break
        try:
            record = _record(raw, number == 1)
        except ValueError as error:
            if last and records:
                break  # the line a killed sweep was writing
            raise ResultsError(
                f"{file}:{number}: {error}: {raw[:80]!r}\n  fix: this file is not a crashkit "
                "results file, or was damaged: give another one, or sweep afresh without "
                "--resume"
            ) from None
        records.append(record)
        offset += len(raw) + 1
    if records and records[0].get("format") != FORMAT:
        raise ResultsError(
            f"{file}:1: results format {records[0].get('format')!r}, this crashkit reads "
            f"{FORMAT}; rerun the sweep with this version"
        )
    return records, min(offset, len(data))


def _record(raw: bytes, first: bool) -> dict[str, Any]:
    """One line's record; ValueError saying what is wrong with it."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except ValueError:
        raise ValueError("not JSON") from None
    if not isinstance(record, dict):
        raise ValueError(f"a JSON {type(record).__name__}, not an object")
    kind = record.get("type")
    if kind not in _FIELDS:
        raise ValueError(f"no known type ({kind!r}; known: {', '.join(_FIELDS)})")
    if first and kind != "run":
        raise ValueError("the first line is not a run line")
    for name, expected in _FIELDS[kind].items():
        value = record.get(name)
        if not isinstance(value, expected) or isinstance(value, bool):
            raise ValueError(f"a {kind} line whose {name!r} is {value!r}")
    return record


def encode_line(record: dict[str, Any]) -> bytes:
    """One record as one line of ASCII JSON: nothing in it any reader could take for the
    end of a line (U+2028, U+0085...), and text that is not valid Unicode (a lone
    surrogate from a program's output) escaped rather than fatal."""
    return (json.dumps(record, default=str) + "\n").encode("ascii")


def record_identity(record: dict[str, Any]) -> tuple[Any, ...] | None:
    """What a record stands for, so that a later one of the same replaces it (None: a run
    or end line, which describes a run: all are kept)."""
    kind = record.get("type")
    if kind in ("point", "trace"):  # a trace is its variant's point 0 under its fault
        return (kind, PointId.of(record))
    if kind in ("audit", "error"):  # one per variant, whatever the fault
        return (kind, record["scenario_id"], record["variant"])
    if kind == "generated":  # one search per variant and fault
        return (kind, record["scenario_id"], record["variant"], record["fault"])
    return None


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


def _truncate(path: Path, end: int) -> None:
    """Drop what follows the last whole record (a torn or damaged last line), so that a
    resumed sweep appends after a line that reads."""
    if path.stat().st_size > end:
        with path.open("r+b") as file:
            file.truncate(end)
            os.fsync(file.fileno())


class ResultsWriter:
    """Appends records to a results file, one whole line per write, from any thread.

    Args:
        path: the JSON lines file; its folder is created.
        resume: keep the existing records (and report their points as done) instead of
            starting the file afresh.
        about: more facts for the run record, e.g. the fault kinds asked for
            (``faults``) and known (``fault_kinds``), which the report's header shows.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        resume: bool = False,
        about: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ResultsError(
                f"{self.path}: is a folder; name the results file, e.g. "
                f"{self.path / 'results.jsonl'}"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        #: The points an earlier run of a resumed sweep did (first-level points).
        self.done: set[PointId] = set()
        #: The point records an earlier run of a resumed sweep wrote.
        self.earlier: list[dict[str, Any]] = []
        if resume and self.path.exists() and self.path.stat().st_size:
            records, end = _read(self.path)
            self.earlier = [r for r in records if r["type"] == "point"]
            self.done = {PointId.of(r).top for r in self.earlier}
            _truncate(self.path, end)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (0 if resume else os.O_TRUNC)
        self._fd = os.open(self.path, flags, 0o644)
        self._lock = threading.Lock()
        run = {
            "type": "run",
            "format": FORMAT,
            "resumed": bool(resume and self.done),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "argv": sys.argv,
            "commit": _commit(),
            "cpus": os.cpu_count(),
            **(about or {}),
        }
        #: The run record (the report's header reads it).
        self.run = run
        #: A resumed file gets its run line with its first new record: a resumption that
        #: finds nothing left to do leaves the file as it was.
        self._header = encode_line(run) if self.earlier else b""
        if not self.earlier:
            self.write(run)

    def write(self, record: dict[str, Any]) -> None:
        with self._lock:
            line, self._header = self._header + encode_line(record), b""
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
