"""The top of the page: the facts of the run, and the banner answering whether anything broke.

The banner counts scenario variants by their one verdict (:attr:`Row.outcome`), as the
CLI's summary does: a known bug whose catching faults were not swept is said to be not
swept, never counted as no longer caught.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from crashkit.model.outcome import Verdict
from crashkit.output.report.records import Record
from crashkit.output.report.rows import Row, by_variant

__all__ = ["banner", "header", "sweep_duration"]

#: A run record, the point records that follow it, and the end record closing it.
Run = tuple[Record, list[Record], Record | None]


def header(records: list[Record], rows: list[Row]) -> Record:
    """The facts at the top: when, which commit, how much ran, how fast."""
    runs = [r for r in records if r.get("type") == "run"]
    points = sum(len(row.results) for row in rows)
    duration, estimated = sweep_duration(records)
    swept = {row.fault for row in rows}
    for run in runs:
        swept.update(run.get("faults") or ())
    # The fault kinds the runs knew (their registry, written in the run record), in its order.
    kinds = list(dict.fromkeys(str(k) for run in runs for k in run.get("fault_kinds") or ()))
    faults = [f for f in kinds if f in swept] + sorted(swept - set(kinds))
    return {
        "date": _date(runs),
        "commits": list(dict.fromkeys(str(r["commit"]) for r in runs if r.get("commit"))),
        "runs": len(runs),
        "scenarios": len({row.scenario_id for row in rows}),
        "variants": len({(row.scenario_id, row.variant) for row in rows}),
        "faults": faults,
        "faults_not_run": [f for f in kinds if f not in swept],
        "no_points": _no_points(rows),
        "points": points,
        "enumerated": sum(row.enumerated for row in rows),
        "duration": ("≈ " if estimated else "") + _seconds(duration),
        "rate": f"{points / duration:.1f}" if duration > 0 else "-",
    }


def _no_points(rows: list[Row]) -> list[tuple[str, list[str]]]:
    """Each fault kind that offered no crash point in some variant, with those variants."""
    empty: dict[str, list[str]] = {}
    for row in rows:
        if row.offered is not None and not row.offered and row.error is None:
            empty.setdefault(row.fault, []).append(f"{row.scenario}[{row.variant}]")
    return list(empty.items())


def _runs(records: list[Record]) -> list[Run]:
    """Each run record with the point records that follow it and the end record closing it."""
    runs: list[Run] = []
    for record in records:
        kind = record.get("type")
        if kind == "run":
            runs.append((record, [], None))
        elif runs and kind == "point":
            runs[-1][1].append(record)
        elif runs and kind == "end":
            runs[-1] = (runs[-1][0], runs[-1][1], record)
    return runs


def sweep_duration(records: list[Record]) -> tuple[float, bool]:
    """Seconds the sweeps took, and whether that is an estimate (a run without an end record).

    Shards are added up: the figure is the work done, and points per second its rate.
    """
    total, estimated = 0.0, False
    for run, points, end in _runs(records):
        if end is not None and end.get("duration") is not None:
            total += float(end["duration"])
        else:
            cpus = max(int(run.get("cpus") or 1), 1)
            total += sum(float(p.get("duration") or 0) for p in points) / cpus
            estimated = True
    return total, estimated


def _date(runs: list[Record]) -> str:
    started = sorted(str(r["started"]) for r in runs if r.get("started"))
    if not started:
        return "unknown"
    try:
        when = datetime.fromisoformat(started[0])
    except ValueError:
        return started[0]
    zone = when.tzname() or ""
    return f"{when:%Y-%m-%d %H:%M} {'UTC' if zone in ('UTC', 'UTC+00:00') else zone}".strip()


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"


def banner(rows: list[Row]) -> Record:
    """The one-line answer: is anything broken that is not known to be broken?

    Counted by scenario variant. Each list holds, per variant with that verdict, the row
    that shows it (``failing`` holds every failing or broken row, to link each fault).
    """
    variants = by_variant(rows)
    failing = [row for row in rows if not row.outcome.ok and row.verdict[0] == "bad"]
    missed = _shown(variants, Verdict.NOT_CAUGHT, lambda row: row.verdict[0] == "warn")
    return {
        "level": "bad" if failing else "warn" if missed else "good",
        "failing": failing,
        "broken": sum(not members[0].outcome.ok for members in variants),
        "missed": missed,
        "caught": _shown(variants, Verdict.CAUGHT, lambda row: row.failed > 0),
        "not_swept": _shown(variants, Verdict.NOT_SWEPT, lambda row: True),
    }


def _shown(variants: list[list[Row]], outcome: Verdict, shows: Callable[[Row], bool]) -> list[Row]:
    """For each variant judged ``outcome``, its first row that ``shows`` it (else its first)."""
    judged = (members for members in variants if members[0].outcome is outcome)
    return [next((row for row in members if shows(row)), members[0]) for members in judged]
