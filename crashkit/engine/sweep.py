"""A sweep: many scenario variants, every (or a sample of) crash points, in parallel.

The CLI and the pytest plugin both drive this one engine.
"""

from __future__ import annotations

import os
import shutil
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crashkit.engine.artifacts import ArtifactStore
from crashkit.faults.kinds import FAULT_KINDS
from crashkit.output.results import ResultsWriter, point_key
from crashkit.engine.explorer import Explorer, PointResult, fault_kind, new_work_dir, sample_points
from crashkit.scenario.scenario import Scenario
from crashkit.launch.starters import ChildStarter, make_starter
from crashkit.errors import ScenarioError, UsageError

__all__ = ["Sweep", "VariantSummary"]


@dataclass
class VariantSummary:
    """The outcome of one scenario variant."""

    scenario: Scenario
    variant: str
    points: int = 0
    passed: int = 0
    failed: int = 0
    by_invariant: Counter[str] = field(default_factory=Counter)
    #: Why the variant could not be explored at all (setup or golden run broken).
    error: str | None = None
    #: The journal audit's uncovered mutations (one line each).
    uncovered: list[str] = field(default_factory=list)
    #: Failed points per fault kind.
    by_fault: Counter[str] = field(default_factory=Counter)
    #: The fault kinds swept.
    faults: tuple[str, ...] = ("kill",)

    @property
    def expected(self) -> bool:
        return self.scenario.expects_findings(self.variant)

    @property
    def exercised(self) -> bool:
        """Whether the faults swept are meant to catch this known-buggy variant."""
        return self.scenario.should_catch(self.variant, self.faults)

    @property
    def ok(self) -> bool:
        """Clean for a correct variant; for a known-buggy one, any outcome is acceptable."""
        return self.error is None and (self.expected or self.failed == 0)

    def add(self, result: PointResult) -> None:
        self.count(result.fault, {f.invariant for f in result.findings})

    def count(self, fault: str, failed: set[str]) -> None:
        """Count one point under ``fault`` whose ``failed`` invariants are given."""
        self.points += 1
        if not failed:
            self.passed += 1
            return
        self.failed += 1
        self.by_invariant.update(failed)
        self.by_fault[fault] += 1


class Sweep:
    """Explore scenario variants and write every point's result as it comes.

    Args:
        scenarios: what to explore.
        variants: only these variant names (all of each scenario's when empty).
        jobs: points run at once (default: :func:`default_jobs`, one per core plus one).
        faults: the fault kinds to sweep (:data:`crashkit.faults.kinds.FAULT_KINDS`).
        fresh_interpreter: start children as new interpreters instead of forking.
        results: where results go (None: nowhere, e.g. for ``points``).
        sample: run a seeded sample of this many points per variant instead of all.
        shard: run only the points of shard ``(i, n)``.
        on_result: called with each point's result (the CLI's progress bar).
        work_base: where the private work folder goes (default:
            :func:`crashkit.engine.explorer.default_work_base`).
        artifacts: keeps the worlds of failing points (beside the report).
        kill_each_point: run the workload in a child killed at each kill point, instead of
            recording every kill point's crash state in one run (slower; it also reruns the
            workload once per point, so a nondeterministic program shows more often).
    """

    def __init__(
        self,
        scenarios: Sequence[Scenario],
        *,
        variants: Sequence[str] = (),
        jobs: int | None = None,
        fresh_interpreter: bool = False,
        results: ResultsWriter | None = None,
        faults: Sequence[str] = ("kill",),
        sample: int | None = None,
        seed: int = 0,
        shard: tuple[int, int] | None = None,
        keep_worlds: bool = False,
        artifacts: ArtifactStore | None = None,
        on_result: Callable[[PointResult], None] | None = None,
        on_prepared: Callable[[Explorer], None] | None = None,
        work_base: str | None = None,
        kill_each_point: bool = False,
    ) -> None:
        self.scenarios = list(scenarios)
        self.variants = tuple(variants)
        self.jobs = max(1, jobs or default_jobs())
        self.results = results
        self.faults = tuple(faults)
        for fault in self.faults:
            fault_kind(fault)  # a UsageError naming the valid kinds
        check_variants(self.scenarios, self.variants)
        if sample is not None and sample < 1:
            raise UsageError(f"sample={sample}: sample at least 1 point (or sweep them all)")
        self.sample, self.seed, self.shard = sample, seed, shard
        self.keep_worlds = keep_worlds
        self.artifacts = artifacts
        self.kill_each_point = kill_each_point
        self.on_result, self.on_prepared = on_result, on_prepared
        self.work_dir = new_work_dir(work_base)
        preload = list(dict.fromkeys(m for s in self.scenarios for m in s.preload_modules()))
        self.starter: ChildStarter = make_starter(fresh_interpreter, preload)
        self.explorers = self._explorers()

    def _explorers(self) -> list[Explorer]:
        explorers = []
        for number, scenario in enumerate(self.scenarios):
            names = [v for v in scenario.variants if not self.variants or v in self.variants]
            for variant in names:
                # Numbered: two scenarios (from two files) may share a name.
                folder = self.work_dir / f"{number:03d}-{scenario.name}-{variant}"
                explorers.append(
                    Explorer(
                        scenario,
                        variant,
                        self.starter,
                        folder,
                        os.getcwd(),
                        self.keep_worlds,
                        self.artifacts,
                        record_kills=not self.kill_each_point,
                    )
                )
        return explorers

    def run(self) -> list[VariantSummary]:
        """Explore everything; results are written as they come."""
        summaries = {
            id(e): VariantSummary(e.scenario, e.variant, faults=self.faults) for e in self.explorers
        }
        self._count_earlier_points(summaries)
        started = time.monotonic()
        pool = ThreadPoolExecutor(self.jobs, thread_name_prefix="crashkit")
        try:
            ready = self._prepare_all(pool, summaries)
            self._run_points(pool, ready, summaries)
        except BaseException:
            # Interrupted (Ctrl-C) or broken: drop the queued points, kill the running ones.
            pool.shutdown(wait=False, cancel_futures=True)
            self.starter.close()
            raise
        finally:
            pool.shutdown(wait=True)
            self.close()
        points = sum(s.points for s in summaries.values())
        self._write(
            {
                "type": "end",
                "finished": datetime.now(UTC).isoformat(timespec="seconds"),
                "duration": round(time.monotonic() - started, 3),
                "points": points,
            }
        )
        return list(summaries.values())

    def _count_earlier_points(self, summaries: dict[int, VariantSummary]) -> None:
        """A resumed sweep's verdicts include the points the earlier run already did."""
        if self.results is None:
            return
        by_key = {(e.scenario.id, e.variant): summaries[id(e)] for e in self.explorers}
        points: dict[tuple[str, str, str, int], set[str]] = {}
        for record in self.results.earlier:  # nested records: one point, counted once
            failed = points.setdefault(point_key(record), set())
            failed.update(f["invariant"] for f in record["findings"])
        for (scenario_id, variant, fault, _), failed in points.items():
            summary = by_key.get((scenario_id, variant))
            if summary is not None:
                summary.count(fault, failed)

    def _prepare_all(
        self, pool: ThreadPoolExecutor, summaries: dict[int, VariantSummary]
    ) -> list[Explorer]:
        futures = {pool.submit(_prepare, e): e for e in self.explorers}
        ready = []
        for future in as_completed(futures):
            explorer = futures[future]
            try:
                future.result()
            except ScenarioError as error:
                summaries[id(explorer)].error = str(error)
                self._write(
                    {
                        "type": "error",
                        "scenario": explorer.scenario.name,
                        "scenario_id": explorer.scenario.id,
                        "variant": explorer.variant,
                        "error": str(error),
                    }
                )
                continue
            for fault in self.faults:
                self._write(trace_record(explorer, fault))
            if explorer.scenario.journal is not None:
                self._write(audit_record(explorer))
            summaries[id(explorer)].uncovered = [u.describe() for u in explorer.prepare().uncovered]
            if self.on_prepared is not None:
                self.on_prepared(explorer)
            ready.append(explorer)
        kept = {id(e) for e in ready}
        return [e for e in self.explorers if id(e) in kept]

    def planned(self, explorer: Explorer) -> list[tuple[str, int]]:
        """The (fault, point) pairs this sweep runs for ``explorer``, minus those already done.

        Point 0, the golden run, is the same under every fault: it runs once, under the first.
        """
        done = self.results.done if self.results is not None else set()
        return [
            (fault, p)
            for fault in self.faults
            for p in chosen_points(explorer, fault, self.faults, self.sample, self.seed)
            if (explorer.scenario.id, explorer.variant, fault, p) not in done
            and in_shard((explorer.scenario.id, explorer.variant, fault, p), self.shard)
        ]

    def _run_points(
        self,
        pool: ThreadPoolExecutor,
        explorers: Iterable[Explorer],
        summaries: dict[int, VariantSummary],
    ) -> None:
        futures: dict[Future[PointResult], Explorer] = {}
        for explorer in explorers:
            planned = self.planned(explorer)
            explorer.plan_kills(p for f, p in planned if f == "kill")
            for fault, point in planned:
                futures[pool.submit(explorer.run_point, point, fault)] = explorer
        for future in as_completed(futures):
            result = future.result()
            for record in result.records():
                self._write(record)
            summaries[id(futures[future])].add(result)
            if self.on_result is not None:
                self.on_result(result)

    def _write(self, record: dict[str, Any]) -> None:
        if self.results is not None:
            self.results.write(record)

    def close(self) -> None:
        """Stop the starter and remove the work folder (unless worlds are kept)."""
        self.starter.close()
        if not self.keep_worlds:
            shutil.rmtree(self.work_dir, ignore_errors=True)


def _prepare(explorer: Explorer) -> None:
    """Set up and dry-run a variant, unless it needs what only pytest gives (fixtures)."""
    why = explorer.scenario.needs_pytest()
    if why is not None:
        raise ScenarioError(explorer.scenario.name, *why)
    explorer.prepare()


def default_jobs() -> int:
    """Points run at once by default: one per core, plus one. A point spends part of its
    time in the parent (copying, observing, checking) and in hand-offs between processes;
    the extra job keeps every core busy meanwhile (about 15% more points per second here)."""
    return (os.cpu_count() or 1) + 1


def check_variants(scenarios: Sequence[Scenario], variants: Sequence[str]) -> None:
    """Every variant asked for exists in some scenario (UsageError naming the others)."""
    known = {v for scenario in scenarios for v in scenario.variants}
    unknown = sorted(set(variants) - known)
    if unknown:
        raise UsageError(
            f"no scenario has the variant(s) {', '.join(unknown)}; "
            f"choose among {', '.join(sorted(known))}"
        )


def chosen_points(
    explorer: Explorer, fault: str, faults: Sequence[str], sample: int | None, seed: int
) -> list[int]:
    """The points of ``fault`` to run: all it offers, or a seeded sample; and point 0 (the
    golden run, the same under every fault) under the first fault swept only."""
    golden = [0] if fault == faults[0] else []
    return golden + sample_points(explorer.points_for(fault), sample, seed)


def in_shard(key: tuple[str, str, str, int], shard: tuple[int, int] | None) -> bool:
    """Shards split points by a stable hash of their key, so shards agree without talking."""
    if shard is None:
        return True
    index, count = shard
    return zlib.crc32("|".join(map(str, key)).encode()) % count == index - 1


def parse_shard(value: str | None) -> tuple[int, int] | None:
    """``"2/4"`` -> (2, 4); UsageError showing the right form otherwise."""
    if not value:
        return None
    try:
        index, count = (int(part) for part in str(value).split("/"))
    except ValueError:
        index = count = 0
    if not 1 <= index <= count:
        raise UsageError(f"shard {value!r}: write I/N with 1 <= I <= N, e.g. 2/4")
    return index, count


def parse_faults(values: Sequence[str]) -> list[str]:
    """Fault kinds from comma-separated values, or ``all``; UsageError for unknown ones."""
    names = [n.strip() for v in values or ["kill"] for n in str(v).split(",") if n.strip()]
    if "all" in names:
        return list(FAULT_KINDS)
    unknown = [n for n in names if n not in FAULT_KINDS]
    if unknown or not names:
        raise UsageError(
            f"unknown fault kind(s) {', '.join(unknown or names)}; choose among "
            f"{', '.join(FAULT_KINDS)} or all, e.g. kill,error"
        )
    return list(dict.fromkeys(names))


def audit_record(explorer: Explorer) -> dict[str, Any]:
    """The results line listing a variant's mutations no journal entry covered."""
    return {
        "type": "audit",
        "scenario": explorer.scenario.name,
        "scenario_id": explorer.scenario.id,
        "variant": explorer.variant,
        "uncovered": [u.to_json() for u in explorer.prepare().uncovered],
    }


def trace_record(explorer: Explorer, fault: str = "kill") -> dict[str, Any]:
    """The results line describing a variant's dry run, and the points ``fault`` offers on it."""
    golden = explorer.prepare()
    return {
        "type": "trace",
        "scenario": explorer.scenario.name,
        "scenario_id": explorer.scenario.id,
        "variant": explorer.variant,
        "fault": fault,
        "points": explorer.points_for(fault),
        "expected_findings": explorer.scenario.expects_findings(explorer.variant),
        "operations": [op.to_json() for op in golden.trace],
        "golden_rounds": [r.to_json() for r in golden.rounds],
        "golden_state": golden.state,
    }
