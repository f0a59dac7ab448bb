"""A sweep: many scenario variants, every (or a sample of) crash points, in parallel.

The CLI and the pytest plugin both drive this one engine.
"""

from __future__ import annotations

import itertools
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crashkit.engine.artifacts import ArtifactStore
from crashkit.engine.explorer import Explorer
from crashkit.engine.records import audit_record, error_record, trace_record
from crashkit.engine.result import PointResult
from crashkit.engine.workdir import new_work_dir
from crashkit.errors import ScenarioError, UsageError
from crashkit.faults import KILL, fault_kind
from crashkit.launch import Launcher, make_launcher
from crashkit.model.outcome import PointId, Verdict, fault_cell, in_shard, verdict
from crashkit.model.sampling import sample_points
from crashkit.options import Options
from crashkit.output.results import ResultsWriter, end_record
from crashkit.scenario.journal import audit_sites
from crashkit.scenario.scenario import Scenario

__all__ = ["Sweep", "VariantSummary", "chosen", "explorer_for"]


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
    #: The journal audit: one line per source site of uncovered mutations.
    uncovered: list[str] = field(default_factory=list)
    #: What the probe could not see in the dry run (one line each).
    warnings: list[str] = field(default_factory=list)
    #: How many mutations the journal audit found uncovered.
    mutations: int = 0
    #: Failed points per fault kind.
    by_fault: Counter[str] = field(default_factory=Counter)
    #: The fault kinds swept.
    faults: tuple[str, ...] = (KILL,)
    #: Points run per fault kind.
    ran_by_fault: Counter[str] = field(default_factory=Counter)
    #: The crash points each fault kind offers on the variant's trace (known once it is
    #: prepared): a fault with none found nothing because it had nowhere to strike.
    offered: dict[str, int] = field(default_factory=dict)

    @property
    def expected(self) -> bool:
        return self.scenario.expects_findings(self.variant)

    @property
    def verdict(self) -> Verdict:
        """The variant's verdict (:func:`crashkit.model.outcome.verdict`)."""
        return verdict(
            expected=self.expected,
            meant=self.scenario.catching_faults(self.variant),
            swept=self.faults,
            failed=self.failed,
            broken=self.error is not None,
        )

    def cell(self, fault: str) -> tuple[str, str]:
        """What ``fault`` found in this variant (:func:`crashkit.model.outcome.fault_cell`)."""
        return fault_cell(
            outcome=self.verdict,
            expected=self.expected,
            meant=self.scenario.catching_faults(self.variant),
            fault=fault,
            offered=self.offered.get(fault, 0),
            ran=self.ran_by_fault[fault],
            failed=self.by_fault[fault],
        )

    @property
    def ok(self) -> bool:
        """Clean for a correct variant; for a known-buggy one, any outcome is acceptable."""
        return self.verdict.ok

    def add(self, result: PointResult) -> None:
        self.count(result.fault, {f.invariant for f in result.findings})

    def count(self, fault: str, failed: set[str]) -> None:
        """Count one point under ``fault`` whose ``failed`` invariants are given."""
        self.points += 1
        self.ran_by_fault[fault] += 1
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
        options: how (:class:`crashkit.Options`); keyword ``settings`` change single
            fields of it, e.g. ``Sweep(scenarios, faults=["kill", "error"], jobs=2)``.
        results: where results go (None: nowhere, e.g. for ``points``).
        on_result: called with each point's result (the CLI's progress bar).
        on_prepared: called with each explorer once its dry run is done.
        work_base: where the private work folder goes (default:
            :func:`crashkit.engine.workdir.default_work_base`).
        artifacts: keeps the worlds of failing points (beside the report).
        keep_worlds: keep every point's world (for inspection).
    """

    def __init__(
        self,
        scenarios: Sequence[Scenario],
        *,
        options: Options | None = None,
        results: ResultsWriter | None = None,
        keep_worlds: bool = False,
        artifacts: ArtifactStore | None = None,
        on_result: Callable[[PointResult], None] | None = None,
        on_prepared: Callable[[Explorer], None] | None = None,
        work_base: str | None = None,
        **settings: Any,
    ) -> None:
        self.scenarios = list(scenarios)
        self.options = (options or Options()).replace(**settings)
        self.variants = self.options.variants
        self.jobs = self.options.jobs or default_jobs()
        self.results = results
        self.faults = self.options.faults
        check_variants(self.scenarios, self.variants)
        self.keep_worlds = keep_worlds
        self.artifacts = artifacts
        self.on_result, self.on_prepared = on_result, on_prepared
        self.work_dir = new_work_dir(work_base)
        preload = list(dict.fromkeys(m for s in self.scenarios for m in s.preload_modules()))
        self.launcher: Launcher = make_launcher(self.options.launcher, preload)
        self.explorers = self._explorers()

    def _explorers(self) -> list[Explorer]:
        explorers = []
        for number, scenario in enumerate(self.scenarios):
            names = [v for v in scenario.variants if not self.variants or v in self.variants]
            for variant in names:
                # Numbered: two scenarios (from two files) may share a name.
                folder = self.work_dir / f"{number:03d}-{scenario.name}-{variant}"
                explorers.append(
                    explorer_for(
                        scenario,
                        variant,
                        self.launcher,
                        folder,
                        self.options,
                        keep_worlds=self.keep_worlds,
                        artifacts=self.artifacts,
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
            self.launcher.close()
            raise
        finally:
            pool.shutdown(wait=True)
            self.close()
        points = sum(s.points for s in summaries.values())
        self._write(end_record(time.monotonic() - started, points, self.options.seed or 0))
        return list(summaries.values())

    def _count_earlier_points(self, summaries: dict[int, VariantSummary]) -> None:
        """A resumed sweep's verdicts include the points the earlier run already did."""
        if self.results is None:
            return
        by_key = {(e.scenario.id, e.variant): summaries[id(e)] for e in self.explorers}
        points: dict[PointId, set[str]] = {}
        for record in self.results.earlier:  # nested records: one point, counted once
            failed = points.setdefault(PointId.of(record).top, set())
            failed.update(f["invariant"] for f in record["findings"])
        for point, failed in points.items():
            summary = by_key.get((point.scenario_id, point.variant))
            if summary is not None:
                summary.count(point.fault, failed)

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
                self._write(error_record(explorer, error))
                continue
            for fault in self.faults:
                self._write(trace_record(explorer, fault))
            if explorer.scenario.journal is not None:
                self._write(audit_record(explorer))
            summaries[id(explorer)].uncovered = [u.describe() for u in explorer.prepare().uncovered]
            summaries[id(explorer)].warnings = list(explorer.prepare().warnings)
            uncovered = [u.to_json() for u in explorer.prepare().uncovered]
            summaries[id(explorer)].uncovered = audit_sites(uncovered)
            summaries[id(explorer)].mutations = len(uncovered)
            summaries[id(explorer)].offered = {f: len(explorer.points_for(f)) for f in self.faults}
            if self.on_prepared is not None:
                self.on_prepared(explorer)
            ready.append(explorer)
        kept = {id(e) for e in ready}
        return [e for e in self.explorers if id(e) in kept]

    def planned(self, explorer: Explorer) -> list[tuple[str, int]]:
        """The (fault, point) pairs this sweep runs for ``explorer``, minus those already done."""
        done = self.results.done if self.results is not None else set()
        return [
            (fault, p)
            for fault, p in chosen(explorer, self.options)
            if PointId(explorer.scenario.id, explorer.variant, fault, p) not in done
        ]

    def _run_points(
        self,
        pool: ThreadPoolExecutor,
        explorers: Iterable[Explorer],
        summaries: dict[int, VariantSummary],
    ) -> None:
        futures: dict[Future[PointResult], Explorer] = {}
        queues = []
        for explorer in explorers:
            planned = self.planned(explorer)
            explorer.plan_kills(p for f, p in planned if fault_kind(f).recordable)
            queues.append([(explorer, fault, point) for fault, point in planned])
        # One point of each variant in turn, ``jobs`` variants at a time: a variant's first
        # kill point waits for its recording run, and points queued behind it would wait
        # too, leaving cores idle; more variants at once would only hold more recorded
        # crash states in the work folder.
        for explorer, fault, point in _round_robin(queues, self.jobs):
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
        """Stop the launcher and remove the work folder (unless worlds are kept)."""
        self.launcher.close()
        if not self.keep_worlds:
            shutil.rmtree(self.work_dir, ignore_errors=True)


def explorer_for(
    scenario: Scenario,
    variant: str,
    launcher: Launcher,
    folder: Path,
    options: Options,
    **extra: Any,
) -> Explorer:
    """An explorer of one variant as ``options`` say (the CLI and the plugin alike)."""
    return Explorer(
        scenario,
        variant,
        launcher,
        folder,
        os.getcwd(),
        record_kills=not options.kill_each_point,
        timeout=options.timeout,
        max_rounds=options.max_rounds,
        **extra,
    )


def _prepare(explorer: Explorer) -> None:
    """Set up and dry-run a variant, unless it needs what only pytest gives (fixtures)."""
    why = explorer.scenario.needs_pytest()
    if why is not None:
        raise ScenarioError(explorer.scenario.name, *why)
    explorer.prepare()


def _round_robin(queues: list[list[Any]], width: int) -> list[Any]:
    """The items of ``queues``, ``width`` queues at a time, taken one from each in turn
    (each queue keeps its order)."""
    taken = []
    for start in range(0, len(queues), width):
        rows = itertools.zip_longest(*queues[start : start + width], fillvalue=_GAP)
        taken += [item for row in rows for item in row if item is not _GAP]
    return taken


_GAP = object()


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


def chosen(explorer: Explorer, options: Options) -> list[tuple[str, int]]:
    """The (fault, point) pairs of ``explorer`` that ``options`` choose: every point each
    fault offers, or a seeded sample; point 0 (the golden run, the same under every fault)
    under the first fault only; then only those of the shard. The CLI and the pytest
    plugin choose with this one function, so they run the same points."""
    pairs = []
    for fault in options.faults:
        golden = [0] if fault == options.faults[0] else []
        offered = explorer.points_for(fault)
        points = golden + sample_points(offered, options.sample, options.seed or 0)
        pairs += [(fault, p) for p in points]
    return [
        (fault, p)
        for fault, p in pairs
        if in_shard(PointId(explorer.scenario.id, explorer.variant, fault, p), options.shard)
    ]
