"""What a crash point comes to: findings, restart rounds, its identity and the verdicts.

One point identity (:class:`PointId`), one shard function (:func:`in_shard`) and one
verdict function (:func:`verdict`) serve the CLI, the pytest plugin and the report
alike, so that ``crashkit run --shard 2/4`` and ``pytest --crashkit-shard 2/4`` run the
same points, and the console, the pytest summary and the report agree on every variant.
"""

from __future__ import annotations

import enum
import zlib
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from crashkit.errors import UsageError

__all__ = [
    "Finding",
    "PointId",
    "Round",
    "Verdict",
    "fault_cell",
    "in_shard",
    "parse_shard",
    "verdict",
    "verdict_word",
]


@dataclass(frozen=True)
class Finding:
    """A failed invariant at a point: which one, why, and how the world differs from golden."""

    invariant: str
    message: str
    diff: str = ""

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Round:
    """One restart round: a fresh process running recovery plus one sync."""

    number: int
    #: ``ok``, ``raised``, ``hang``, ``died`` (killed by a signal it did not expect) or
    #: ``unobservable`` (it left a world that cannot be observed).
    exit: str
    operations: int
    #: The world-mutating operations it performed (file writes, remote pushes), described.
    mutations: tuple[str, ...]
    #: Whether the observed state differs from the state before the round.
    changed: bool
    duration: float

    @property
    def quiet(self) -> bool:
        return self.exit == "ok" and not self.changed and not self.mutations

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.number,
            "exit": self.exit,
            "operations": self.operations,
            "mutations": list(self.mutations),
            "changed": self.changed,
            "duration": round(self.duration, 4),
        }


@dataclass(frozen=True, order=True)
class PointId:
    """What identifies a crash point across runs, processes and shards.

    ``nested`` is the point inside the first restart a recovery-crash point crashed too
    (None for every other point). A point is resumed, sharded and sampled as a whole: its
    nested points go with it (see :attr:`top`).
    """

    scenario_id: str
    variant: str
    fault: str
    point: int
    nested: int | None = None

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> PointId:
        """The identity of a results line (a point, or a trace or error line at point 0)."""
        nested = record.get("nested")
        return cls(
            str(record["scenario_id"]),
            str(record["variant"]),
            str(record.get("fault") or "kill"),
            int(record.get("point") or 0),
            None if nested is None else int(nested),
        )

    @property
    def top(self) -> PointId:
        """The first-level point this one belongs to."""
        return replace(self, nested=None) if self.nested is not None else self

    def __str__(self) -> str:
        nested = f"/r{self.nested:02d}" if self.nested is not None else ""
        return f"{self.scenario_id}|{self.variant}|{self.fault}|p{self.point}{nested}"


def in_shard(point: PointId, shard: tuple[int, int] | None) -> bool:
    """Whether ``point`` belongs to shard ``(i, n)``: a stable hash of its identity, so
    shards agree without talking, whichever front end (CLI or pytest) chose the points."""
    if shard is None:
        return True
    index, count = shard
    return zlib.crc32(str(point.top).encode()) % count == index - 1


def parse_shard(value: object) -> tuple[int, int] | None:
    """``"2/4"`` -> (2, 4); None or ``""`` -> None; UsageError showing the right form."""
    if value is None or value == "":
        return None
    try:
        index, count = (int(part) for part in str(value).split("/"))
    except ValueError:
        index = count = 0
    if not 1 <= index <= count:
        raise UsageError(f"shard {value!r}: write I/N with 1 <= I <= N, e.g. 2/4")
    return index, count


class Verdict(enum.Enum):
    """How one scenario variant came out of a sweep."""

    #: A correct variant with no failing point.
    CLEAN = "clean"
    #: A correct variant with failing points: the program has a bug.
    FAILING = "failing"
    #: A known-buggy variant with failing points: the bug is still caught.
    CAUGHT = "caught"
    #: A known-buggy variant swept under a fault meant to catch it, with no failing point.
    NOT_CAUGHT = "not caught"
    #: A known-buggy variant none of whose catching faults was swept.
    NOT_SWEPT = "not swept"
    #: The variant could not be explored (its setup or dry run is broken).
    BROKEN = "broken"

    @property
    def ok(self) -> bool:
        """Whether the sweep may pass with it (a bug no longer caught is reported, not
        failed: it may have been fixed)."""
        return self not in (Verdict.FAILING, Verdict.BROKEN)


def verdict(
    *,
    expected: bool,
    meant: Collection[str],
    swept: Collection[str],
    failed: int,
    broken: bool = False,
) -> Verdict:
    """The one verdict of a variant.

    Args:
        expected: whether the variant is known to be buggy.
        meant: the fault kinds meant to catch it (empty: any fault).
        swept: the fault kinds this sweep ran on it.
        failed: how many of its points failed, under any fault.
        broken: it could not be explored at all.
    """
    if broken:
        return Verdict.BROKEN
    if not expected:
        return Verdict.FAILING if failed else Verdict.CLEAN
    if failed:
        return Verdict.CAUGHT
    if meant and not set(meant) & set(swept):
        return Verdict.NOT_SWEPT
    return Verdict.NOT_CAUGHT


def fault_cell(
    *,
    outcome: Verdict,
    expected: bool,
    meant: Collection[str],
    fault: str,
    offered: int,
    ran: int,
    failed: int,
) -> tuple[str, str]:
    """What one fault found in one variant: a class (``good``, ``bad``, ``known``,
    ``warn``, ``none``) and a word, within the variant's verdict ``outcome``. The CLI's
    summary and the report's draw their cells with it, so they use the same words.

    A known-buggy variant must be caught by some fault, not by each: a fault that found
    nothing in it says ``no findings``, unless the variant as a whole was not caught and
    this fault was meant to catch it (``not caught``).

    Args:
        offered: the crash points this fault offers on the variant's trace (1..N+1).
        ran: how many points ran under it (the golden run, point 0, included).
        failed: how many of those failed.
    """
    if not ran and outcome is Verdict.BROKEN:
        return "bad", "error"
    if not offered and not failed:  # it ran at most the golden run (point 0)
        return "none", "no points"
    if not ran:
        return "none", "not run"
    if failed:
        return ("known", "caught") if expected else ("bad", "failing")
    if not expected:
        return "good", "clean"
    if outcome is Verdict.NOT_CAUGHT and (not meant or fault in meant):
        return "warn", "not caught"
    return "none", "no findings"


def verdict_word(outcome: Verdict, meant: Collection[str] = ()) -> str:
    """The variant's verdict as the CLI, pytest and the report write it."""
    if outcome is Verdict.NOT_SWEPT and meant:
        return f"not swept (caught by {', '.join(sorted(meant))})"
    return outcome.value
