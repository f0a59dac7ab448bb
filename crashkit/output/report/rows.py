"""The report's model: one strip (:class:`Row`) per scenario variant and fault, judged.

Each variant is judged once, over every fault its rows cover, by
:func:`crashkit.model.outcome.verdict`, the function the CLI and the pytest plugin
use too, so the report never contradicts the console. A row's own word says what
its fault found and stays within that verdict.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from crashkit.model.outcome import PointId, Verdict, fault_cell, verdict, verdict_word
from crashkit.output.report.records import Record

__all__ = [
    "Line",
    "Row",
    "RowKey",
    "build_rows",
    "by_scenario",
    "by_variant",
    "matrix",
    "row_key",
]

#: One strip: scenario id, variant, fault.
RowKey = tuple[str, str, str]


def row_key(point: PointId) -> RowKey:
    """The strip a point is drawn in."""
    return (point.scenario_id, point.variant, point.fault)


def _golden_op() -> Record:
    return {"index": 0, "kind": "none", "target": "no crash (golden run)", "function": "-"}


def _end_op(index: int) -> Record:
    return {"index": index, "kind": "end", "target": "after the last operation", "function": "-"}


@dataclass
class Row:
    """One strip: a scenario variant under one fault, with every point's result.

    A point is a first-level crash point ``k``. Under recovery-crash one point holds
    several records, one per nested point (a crash inside the first restart): the point
    ran when any of them exists and failed when any of them failed.
    """

    scenario: str
    scenario_id: str
    variant: str
    fault: str
    #: Whether the variant is known to be buggy (any of its records says so).
    expected: bool = False
    #: The fault kinds meant to catch the known bug (empty: any), from its records.
    meant: frozenset[str] = frozenset()
    operations: list[Record] | None = None  #: the trace's operations 1..N (None: no trace)
    #: The points this fault offers on the trace (None: an older file, every point 1..N+1).
    offered: list[int] | None = None
    #: Point -> nested point (None: not nested) -> its record.
    results: dict[int, dict[int | None, Record]] = field(default_factory=dict)
    #: Whether point 0, the golden run (run once per variant, under one fault), is this row's.
    golden: bool = False
    #: The variant's verdict, over all its rows (see :func:`_judge`).
    outcome: Verdict = Verdict.CLEAN
    uncovered: list[Record] = field(default_factory=list)
    #: What the probe could not see in the dry run (see the syscall probe), one line each.
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    index: int = 0
    #: The enumerated points, sorted (see :meth:`settle`).
    points: list[int] = field(default_factory=list)
    failed: int = 0
    invariants: Counter[str] = field(default_factory=Counter)

    @property
    def key(self) -> RowKey:
        return (self.scenario_id, self.variant, self.fault)

    def point_id(self, point: int, nested: int | None = None) -> PointId:
        """The identity of one of this strip's points (see :meth:`PointId.of`)."""
        return PointId(self.scenario_id, self.variant, self.fault, point, nested)

    def take(self, record: Record) -> None:
        """Add a trace or point record of this strip."""
        self.expected = self.expected or bool(record.get("expected_findings"))
        self.meant |= frozenset(record.get("expected_faults") or ())
        if record["type"] == "trace":
            self.operations = list(record.get("operations") or [])
            self.warnings = [str(w) for w in record.get("warnings") or []]
            offered = record.get("points")
            self.offered = None if offered is None else [int(k) for k in offered]
        else:
            point = PointId.of(record)
            self.results.setdefault(point.point, {})[point.nested] = record

    def settle(self) -> None:
        """Work out the enumerated points and the counts, once every record is in."""
        self.points = sorted(self._enumerated())
        self.failed = 0
        self.invariants = Counter()
        for records in self.results.values():
            failing = [r for r in records.values() if r.get("outcome") == "fail"]
            self.failed += bool(failing)
            self.invariants.update(
                {f.get("invariant", "?") for r in failing for f in r.get("findings") or []}
            )

    def _enumerated(self) -> set[int]:
        enumerated = set(self.results)
        if self.offered is not None:
            enumerated.update(self.offered)
        elif self.operations is not None or self.results:
            enumerated.update(range(1, self.n + 2))
        has_data = self.offered is not None or self.operations is not None or self.results
        if self.golden and has_data:
            enumerated.add(0)
        return enumerated

    @property
    def n(self) -> int:
        """N, the number of durable operations in the dry run."""
        if self.operations is not None:
            return len(self.operations)
        records = [r for found in self.results.values() for r in found.values()]
        return max((int(r.get("points") or 0) - 1 for r in records), default=0)

    @property
    def enumerated(self) -> int:
        """How many points this fault offers on the trace (point 0 included if it is ours)."""
        return len(self.points)

    @property
    def passed(self) -> int:
        return len(self.results) - self.failed

    @property
    def not_run(self) -> list[int]:
        """Enumerated points with no result (sampled out, in another shard, interrupted)."""
        return [k for k in self.points if k not in self.results]

    @property
    def verdict(self) -> tuple[str, str]:
        """A CSS class and a word for the outcome under this fault, within :attr:`outcome`
        (:func:`crashkit.model.outcome.fault_cell`, as the CLI's summary draws it)."""
        return fault_cell(
            outcome=self.outcome,
            expected=self.expected,
            meant=self.meant,
            fault=self.fault,
            offered=sum(1 for point in self.points if point != 0),
            ran=len(self.results),
            failed=self.failed,
        )

    @property
    def verdict_word(self) -> str:
        """The variant's verdict, in the words of the CLI and pytest."""
        return verdict_word(self.outcome, self.meant)

    def records(self, point: int) -> list[tuple[int | None, Record]]:
        """The records of one point: the plain one first, then the nested ones in order."""
        found = self.results.get(point) or {}
        return sorted(found.items(), key=lambda item: -1 if item[0] is None else item[0])

    def op(self, point: int) -> Record:
        """The operation before which point ``point`` crashes (0: none, N+1: the end)."""
        if point == 0:
            return _golden_op()
        if self.operations is not None and 1 <= point <= len(self.operations):
            return self.operations[point - 1]
        known = [r for r in (self.results.get(point) or {}).values() if r.get("op")]
        if known:
            return dict(known[0]["op"])
        if point == self.n + 1:
            return _end_op(point)
        return {"index": point, "kind": "?", "target": "unknown operation", "function": "?"}


@dataclass
class _Grouping:
    """The records sorted into strips, with what belongs to a variant as a whole."""

    rows: dict[RowKey, Row] = field(default_factory=dict)
    audits: dict[tuple[str, str], list[Record]] = field(default_factory=dict)
    errors: dict[tuple[str, str], Record] = field(default_factory=dict)
    #: The fault of each variant's first trace: its golden run's, unless a record says.
    first_fault: dict[tuple[str, str], str] = field(default_factory=dict)

    def take(self, record: Record) -> None:
        kind = record.get("type")
        if kind in ("trace", "point"):
            row = self._row(record, PointId.of(record).fault)
            row.take(record)
            if kind == "trace":
                self.first_fault.setdefault((row.scenario_id, row.variant), row.fault)
        elif kind == "audit":
            self.audits[(record["scenario_id"], record["variant"])] = record.get("uncovered") or []
        elif kind == "error":
            self.errors[(record["scenario_id"], record["variant"])] = record

    def _row(self, record: Record, fault: str) -> Row:
        key = (record["scenario_id"], record["variant"], fault)
        if key not in self.rows:
            self.rows[key] = Row(record["scenario"], key[0], key[1], fault)
        return self.rows[key]

    def attach(self) -> None:
        """Give each variant's rows its error and audit (an error with no row gets one)."""
        for (scenario_id, variant), error in self.errors.items():
            matching = [r for r in self.rows.values() if r.key[:2] == (scenario_id, variant)]
            if not matching:
                matching = [self._row(error, PointId.of(error).fault)]
            for row in matching:
                row.error = str(error.get("error", ""))
        for row in self.rows.values():
            row.uncovered = self.audits.get((row.scenario_id, row.variant), [])


def build_rows(records: Iterable[Record]) -> list[Row]:
    """Group the records into strips, judge each variant, order by scenario then variant."""
    grouping = _Grouping()
    for record in records:
        grouping.take(record)
    grouping.attach()
    rows = list(grouping.rows.values())
    for members in by_variant(rows):
        _give_golden(members, grouping.first_fault)
        _judge(members)
    scenarios = list(dict.fromkeys(row.scenario_id for row in rows))
    rows.sort(key=lambda r: (scenarios.index(r.scenario_id), r.expected, r.variant, r.fault))
    for index, row in enumerate(rows):
        row.index = index
    return rows


def _give_golden(members: list[Row], first_fault: dict[tuple[str, str], str]) -> None:
    """Point 0 is the row's that holds a record of it; with none, the first fault traced's."""
    holders = {row.fault for row in members if 0 in row.results}
    if not holders:
        first = members[0]
        holders = {first_fault.get((first.scenario_id, first.variant), first.fault)}
    for row in members:
        row.golden = row.fault in holders
        row.settle()


def _judge(members: list[Row]) -> None:
    """The variant's one verdict, over every fault its rows cover, given to each row."""
    expected = any(row.expected for row in members)
    meant = frozenset().union(*(row.meant for row in members))
    outcome = verdict(
        expected=expected,
        meant=meant,
        swept={row.fault for row in members},
        failed=sum(row.failed for row in members),
        broken=any(row.error is not None for row in members),
    )
    for row in members:
        row.expected, row.meant, row.outcome = expected, meant, outcome


def by_variant(rows: Iterable[Row]) -> list[list[Row]]:
    """Rows grouped by scenario variant, in order of first appearance."""
    variants: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows:
        variants[(row.scenario_id, row.variant)].append(row)
    return list(variants.values())


def by_scenario(rows: list[Row]) -> list[tuple[Row, list[Row]]]:
    """Rows grouped by scenario: (the first row, standing for the scenario; all its rows)."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[row.scenario_id].append(row)
    return [(members[0], members) for members in groups.values()]


#: The class of each verdict's badge.
VERDICT_CLASS = {
    Verdict.CLEAN: "good",
    Verdict.FAILING: "bad",
    Verdict.BROKEN: "bad",
    Verdict.CAUGHT: "known",
    Verdict.NOT_CAUGHT: "warn",
    Verdict.NOT_SWEPT: "none",
}


@dataclass
class Line:
    """One line of the summary matrix: a scenario variant, its strip under each fault
    (None: not swept under it), and its verdict."""

    first: Row
    cells: list[Row | None]
    invariants: Counter[str]

    @property
    def rows(self) -> str:
        """The indexes of its strips, for the page's filters."""
        return " ".join(str(cell.index) for cell in self.cells if cell is not None)

    @property
    def verdict(self) -> tuple[str, str]:
        return VERDICT_CLASS[self.first.outcome], self.first.verdict_word


def matrix(rows: list[Row], faults: list[str]) -> list[Line]:
    """The summary as a matrix: a line per scenario variant, a cell per fault in ``faults``."""
    lines = []
    for members in by_variant(rows):
        by_fault = {row.fault: row for row in members}
        invariants: Counter[str] = Counter()
        for row in members:
            invariants.update(row.invariants)
        lines.append(Line(members[0], [by_fault.get(f) for f in faults], invariants))
    return lines
