"""Two results files side by side, verdict by scenario variant: the same engine swept two
ways (in-process and black-box mode, say), whose points differ but whose verdicts must not.

    python scripts/compare_verdicts.py A.jsonl B.jsonl [--suffix -cmd]

A scenario named ``NAME<suffix>`` in B is compared with ``NAME`` in A. Prints one line per
variant (verdict, points, failing points, the fault kinds that failed, in each file) and
exits 1 when a verdict differs, 2 on bad input. Only variants present in both are compared;
the others are listed.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from crashkit.errors import ResultsError
from crashkit.model.outcome import verdict
from crashkit.output.results import read_results


@dataclass
class Tally:
    """One scenario variant of one results file."""

    points: int = 0
    #: The points the traces offer (a sweep still running has run fewer).
    offered: int = 0
    failed: int = 0
    by_fault: Counter[str] = field(default_factory=Counter)
    swept: set[str] = field(default_factory=set)
    expected: bool = False
    meant: set[str] = field(default_factory=set)
    broken: bool = False

    @property
    def complete(self) -> bool:
        return self.broken or self.points >= self.offered

    @property
    def verdict(self) -> str:
        return verdict(expected=self.expected, meant=self.meant, swept=self.swept,
                       failed=self.failed, broken=self.broken).value  # fmt: skip

    def describe(self) -> str:
        faults = ", ".join(f"{k} x{n}" for k, n in sorted(self.by_fault.items())) or "-"
        return f"{self.verdict:<11} {self.points:>4} points {self.failed:>3} failing ({faults})"


def tally(records: Iterable[dict[str, Any]], suffix: str = "") -> dict[tuple[str, str], Tally]:
    """Each scenario variant's tally (scenario names with ``suffix`` removed)."""
    found: dict[tuple[str, str], Tally] = defaultdict(Tally)
    ended = False
    for record in records:
        kind = record.get("type")
        ended = ended or kind == "end"
        if kind not in ("trace", "point", "error"):
            continue
        name = (
            str(record.get("scenario", "?")).removesuffix(suffix)
            if suffix
            else record.get("scenario", "?")
        )
        entry = found[(str(name), str(record["variant"]))]
        if kind == "error":
            entry.broken = True
        elif kind == "trace":
            entry.swept.add(record["fault"])
            entry.offered += len(record.get("points") or [])
            entry.expected |= bool(record.get("expected_findings"))
            entry.meant |= set(record.get("expected_faults") or ())
        elif record.get("point", 0) > 0:
            entry.points += 1
            if record.get("findings"):
                entry.failed += 1
                entry.by_fault[record["fault"]] += 1
    if ended:  # the sweep finished: a sampled variant ran fewer points than offered
        for entry in found.values():
            entry.offered = min(entry.offered, entry.points)
    return found


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("first")
    parser.add_argument("second")
    parser.add_argument("--suffix", default="", help="removed from the second file's names")
    args = parser.parse_args(argv)
    try:
        first = tally(read_results(args.first))
        second = tally(read_results(args.second), args.suffix)
    except (OSError, ResultsError) as error:
        print(f"compare_verdicts: {error}")
        return 2
    differ = 0
    both = {k for k in first.keys() & second.keys() if first[k].complete and second[k].complete}
    for key in sorted(both):
        a, b = first[key], second[key]
        mark = "  " if a.verdict == b.verdict else "!!"
        differ += a.verdict != b.verdict
        print(f"{mark} {key[0]}[{key[1]}]\n     {a.describe()}\n     {b.describe()}")
    for name, only in ((args.first, first.keys() - second.keys()),
                       (args.second, second.keys() - first.keys())):  # fmt: skip
        if only:
            print(f"only in {name}: " + ", ".join(f"{s}[{v}]" for s, v in sorted(only)))
    unfinished = sorted((first.keys() & second.keys()) - both)
    if unfinished:
        print(f"not compared, still running: {len(unfinished)} variant(s)")
    same = len(both) - differ
    print(f"{same} variant(s) with the same verdict, {differ} different")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
