"""Generated worlds: hypothesis finds the world, crashkit finds the point, and both shrink.

A :class:`WorldSearch` explores one variant of a :class:`~crashkit.scenario.Generated`
under one fault kind. It hands hypothesis a test whose body, for one drawn world,
builds the world's scenario, dry-runs it and crashes it at its points with the same
:class:`~crashkit.engine.explorer.Explorer` a fixed scenario uses; the body fails as
soon as a point has a finding. Hypothesis then shrinks the world while a finding of
the same kind (the same invariant under the same fault) persists at some point of it;
a smaller world that fails another way counts as passing, so the shrunk world is the
smallest one for the first finding. Hypothesis's example database keeps the failing
world, so the next run tries it first.

The worlds are hypothesis's to draw, as in any hypothesis test: random, unless
``--hypothesis-seed`` or a profile with ``derandomize`` fixes them; crashkit's seed
chooses the sampled points of each world. What reproduces a finding exactly is its
world, which the results file and the replay line carry.

Budgets: ``options.examples`` worlds at most (hypothesis's ``max_examples``), drawing
stops after ``options.budget`` seconds, each world is crashed at every point of the
fault (or a seeded sample of ``options.sample``), and the search of a world stops at its
first failing point. Shrinking runs one fault and stops at the first failing point too.

When the search ends, one world is run whole (every chosen point, its failing points'
worlds kept as artifacts): the shrunk world of a finding, else the last world tried.
Its points are what the results file, the strip in the report and the verdict show;
each failing point's record holds the world under ``world``.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Verbosity, given, settings
from hypothesis.errors import Flaky, HypothesisException

from crashkit.engine.artifacts import ArtifactStore
from crashkit.engine.explorer import Explorer
from crashkit.engine.records import trace_record
from crashkit.engine.result import PointResult
from crashkit.engine.sweep import VariantSummary, default_jobs, explorer_for
from crashkit.errors import ScenarioError
from crashkit.faults import fault_kind
from crashkit.launch import Launcher
from crashkit.model.operation import Operation
from crashkit.model.outcome import Finding, PointId, in_shard
from crashkit.model.sampling import sample_points
from crashkit.options import Options
from crashkit.scenario.generated import Generated, encode_world
from crashkit.scenario.scenario import Scenario

__all__ = ["SearchOutcome", "WorldFailed", "WorldSearch", "search_generated", "searched"]

#: The invariant of a world whose setup or uncrashed run is broken (the program raised,
#: hung, or the world could not be built).
DRY_RUN = "dry-run"


class WorldFailed(AssertionError):
    """A drawn world has a finding of the kind being shrunk (raised to hypothesis)."""


@dataclass
class SearchOutcome:
    """What a search of one variant under one fault found."""

    generated: Generated
    variant: str
    fault: str
    #: Worlds crashed (drawn, replayed from the database, or tried while shrinking).
    worlds: int = 0
    #: Points run over all of them.
    points: int = 0
    #: Crash points among them (point 0, each world's golden run, aside).
    struck: int = 0
    duration: float = 0.0
    #: Worlds crashed until the first finding (None: no finding).
    found_after: int | None = None
    #: Seconds from the first finding to the shrunk world.
    shrink_seconds: float | None = None
    #: The shrunk world's first point with the finding.
    finding: PointResult | None = None
    #: The world run whole at the end (the shrunk one, else the last one tried), as JSON.
    world: Any = None
    #: That world's points, in order.
    results: list[PointResult] = field(default_factory=list)
    #: Its explorer (prepared; its work folder removed), for the trace record.
    explorer: Explorer | None = None
    #: Why the search itself broke (hypothesis saw a flaky world), if it did.
    error: str | None = None

    @property
    def invariant(self) -> str | None:
        return self.finding.findings[0].invariant if self.finding else None

    def summary(self) -> VariantSummary:
        """The variant's summary, from the points of the world run whole."""
        summary = VariantSummary(self.generated.shape(), self.variant, faults=(self.fault,))
        for result in self.results:
            summary.add(result)
        summary.error = self.error
        # Points differ from world to world: the fault had somewhere to strike if it struck.
        summary.offered = {self.fault: self.struck}
        return summary

    def records(self) -> list[dict[str, Any]]:
        """The results lines: the world's trace, its points, and the search's own line."""
        lines = []
        if self.explorer is not None and self.explorer.golden is not None:
            lines.append(trace_record(self.explorer, self.fault))
        lines += [record for result in self.results for record in result.records()]
        return [*lines, self.to_json()]

    def to_json(self) -> dict[str, Any]:
        finding = self.finding
        return {
            "type": "generated",
            "scenario": self.generated.name,
            "scenario_id": self.generated.id,
            "variant": self.variant,
            "fault": self.fault,
            "worlds": self.worlds,
            "points": self.points,
            "duration": round(self.duration, 3),
            "found_after": self.found_after,
            "shrink_seconds": None
            if self.shrink_seconds is None
            else round(self.shrink_seconds, 3),
            "invariant": self.invariant,
            "point": finding.point if finding else None,
            "op": finding.op.to_json() if finding else None,
            "finding": finding.findings[0].to_json() if finding else None,
            "world": self.world,
            "world_blob": encode_world(self.world) if finding else None,
            "replay": finding.replay if finding else None,
            "expected_findings": self.generated.shape().expects_findings(self.variant),
            "error": self.error,
        }


@dataclass
class WorldSearch:
    """Search one variant of a generated scenario under one fault kind (see the module).

    Args:
        work_dir: a private folder for the worlds' snapshots and points.
        on_progress: called after each world with (worlds, points) so far.
    """

    generated: Generated
    variant: str
    fault: str
    options: Options
    launcher: Launcher
    work_dir: Path
    artifacts: ArtifactStore | None = None
    on_progress: Callable[[int, int], None] | None = None

    def __post_init__(self) -> None:
        self.outcome = SearchOutcome(self.generated, self.variant, self.fault)
        self._target: str | None = None
        #: The kind of operation the first finding was at ((kind, function); None: the
        #: uncrashed run): while shrinking, only points of that kind are tried.
        self._target_op: tuple[str, str] | None = None
        self._failing: tuple[Any, PointResult] | None = None
        #: While shrinking: each world tried (as JSON) and its finding, since hypothesis's
        #: shrinker reaches one world through many choice sequences.
        self._shrunk: dict[str, PointResult | None] = {}
        self._last_clean: tuple[Any, Explorer, list[PointResult]] | None = None
        self._numbers = itertools.count()
        self._started = 0.0
        self._found_at = 0.0

    # -- the search -------------------------------------------------------------------

    def run(self) -> SearchOutcome:
        """Draw, crash and shrink; then run the chosen world whole."""
        self._started = time.monotonic()
        try:
            self._hypothesis_test()()
        except WorldFailed:
            pass
        except Flaky as error:
            self.outcome.error = f"a world failed once and passed when run again: {error}"
        except HypothesisException as error:
            self.outcome.error = f"hypothesis stopped the search: {error}"
        if self._failing is not None:
            self.outcome.shrink_seconds = time.monotonic() - self._found_at
            self._run_whole(*self._failing)
        elif self._last_clean is not None:
            world, explorer, results = self._last_clean
            self.outcome.world, self.outcome.explorer, self.outcome.results = (
                world,
                explorer,
                results,
            )
        self.outcome.duration = time.monotonic() - self._started
        return self.outcome

    def _hypothesis_test(self) -> Callable[[], None]:
        # The profile's settings (derandomize, database, phases) carry over; deadlines are
        # off (a world takes seconds) and so are the health checks about slow or large data.
        @settings(
            max_examples=self.options.examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
            print_blob=False,
            report_multiple_bugs=False,
        )
        @given(self.generated.world)
        def crash_world(world: Any) -> None:
            self._try(world)

        # One database entry per (scenario, variant, fault), whatever the function's code.
        # The worlds are hypothesis's to draw: its --hypothesis-seed and a derandomize
        # profile fix them (hypothesis's @seed would also switch the database off);
        # crashkit's seed chooses the sampled points only.
        key = f"crashkit:{self.generated.id}:{self.variant}:{self.fault}"
        crash_world._hypothesis_internal_database_key = key.encode()
        test: Callable[[], None] = crash_world
        return test

    def _spent(self) -> bool:
        """The time budget for drawing new worlds is spent (and nothing is being shrunk)."""
        budget = self.options.budget
        return (
            self._target is None
            and budget is not None
            and time.monotonic() - self._started > budget
        )

    def _try(self, world: Any) -> None:
        """Crash one world; raise WorldFailed if it has a finding of the kind sought."""
        if self._spent():
            return  # hypothesis draws on to its max_examples; these cost nothing
        data = self.generated.encode(world)
        key = json.dumps(data, sort_keys=True)
        if self._target is not None and key in self._shrunk:
            hit = self._shrunk[key]  # another choice sequence, the same world
        else:
            hit = self._crash_world(data, world)
            if self._target is not None:
                self._shrunk[key] = hit
        if hit is None:
            return
        if self._target is None:
            self._target = hit.findings[0].invariant
            self._target_op = (hit.op.kind, hit.op.function) if hit.point else None
            self.outcome.found_after = self.outcome.worlds
            self._found_at = time.monotonic()
        self._failing = (data, hit)
        raise WorldFailed(f"{hit.findings[0].invariant} at point {hit.point}")

    def _crash_world(self, data: Any, world: Any) -> PointResult | None:
        """Crash one world (counted); its first point with the finding sought, if any."""
        explorer = self._explorer(self.generated.scenario_for(world))
        try:
            results, hit = self._crash(explorer, stop_early=True)
        finally:
            explorer.close()
        self.outcome.worlds += 1
        self.outcome.points += len(results)
        self.outcome.struck += sum(1 for result in results if result.point)
        if self.on_progress is not None:
            self.on_progress(self.outcome.worlds, self.outcome.points)
        if hit is None and self._target is None:
            self._last_clean = (data, explorer, results)
        return hit  # type: ignore[no-any-return]

    def _explorer(self, scenario: Scenario, artifacts: ArtifactStore | None = None) -> Explorer:
        folder = self.work_dir / f"w{next(self._numbers):05d}-{self.variant}-{self.fault}"
        return explorer_for(
            scenario, self.variant, self.launcher, folder, self.options, artifacts=artifacts
        )

    def _matches(self, result: PointResult) -> bool:
        if not result.findings:
            return False
        return self._target is None or self._target in {f.invariant for f in result.findings}

    def _crash(
        self, explorer: Explorer, stop_early: bool, also: tuple[int, ...] = ()
    ) -> tuple[list[PointResult], Any]:
        """Run the chosen points of one world (and ``also`` these) in order, in parallel;
        its results, and its first point with a finding of the kind sought (None: none)."""
        try:
            explorer.prepare()
        except ScenarioError as error:
            broken = _broken(explorer, self.fault, error)
            return [broken], broken if self._matches(broken) else None
        points = self._points(explorer, shrinking=stop_early and self._target is not None)
        points = sorted({*points, *also})
        if fault_kind(self.fault).recordable:
            explorer.plan_kills(p for p in points if p)
        jobs = self.options.jobs or default_jobs()
        results: list[PointResult] = []
        with ThreadPoolExecutor(jobs, thread_name_prefix="crashkit-world") as pool:
            futures = [pool.submit(explorer.run_point, p, self.fault) for p in points]
            for future in futures:
                result = future.result()
                results.append(result)
                if stop_early and self._matches(result):
                    _cancel(futures)
                    return results, result
        return results, next((r for r in results if self._matches(r)), None)

    def _points(self, explorer: Explorer, shrinking: bool) -> list[int]:
        """Point 0 (the uncrashed run) and the fault's points, or a seeded sample of them.
        While shrinking, only points at the kind of operation (and in the function) the
        finding was first seen at, all of them: a shrink step then costs a few points, not
        a world's worth."""
        offered = explorer.points_for(self.fault)
        if not shrinking:
            return [0, *sample_points(offered, self.options.sample, self.options.seed or 0)]
        if self._target_op is None:
            return [0]
        like = [p for p in offered if _signature(explorer.operation(p)) == self._target_op]
        return [0, *like]

    def _run_whole(self, data: Any, hit: PointResult) -> None:
        """Run the shrunk world at every chosen point, keeping failing points' worlds."""
        explorer = self._explorer(self.generated.scenario_from_json(data), self.artifacts)
        try:
            results, first = self._crash(explorer, stop_early=False, also=(hit.point,))
        finally:
            explorer.close()
        self.outcome.world, self.outcome.explorer, self.outcome.results = data, explorer, results
        self.outcome.finding = first or hit


def _signature(op: Operation) -> tuple[str, str]:
    return (op.kind, op.function)


def _broken(explorer: Explorer, fault: str, error: ScenarioError) -> PointResult:
    """Point 0 of a world whose setup or uncrashed run is broken: a finding, since the
    strategy drew it (an engine that raises on a world it should sync is a bug too)."""
    op = Operation(0, "none", "no crash (golden run)", "-")
    finding = Finding(DRY_RUN, f"the world's setup or uncrashed run is broken: {error}")
    return PointResult(explorer.scenario, explorer.variant, fault, 0, 1, op, [finding], [], 0.0)


def _cancel(futures: Iterable[Future[Any]]) -> None:
    """Drop the points not started yet; wait for the running ones (they own children)."""
    for future in futures:
        future.cancel()
    for future in futures:
        if not future.cancelled():
            future.exception()


def searched(
    generated: Generated, variant: str, fault: str, shard: tuple[int, int] | None = None
) -> bool:
    """Whether ``variant`` is searched under ``fault``: a known bug that names the faults
    meant to catch it only under those (worlds a fault cannot fail are not worth
    drawing), every other variant under every fault; with ``shard``, a search belongs to
    the shard its point 0 does (one shard runs it whole)."""
    meant = generated.shape().catching_faults(variant)
    mine = in_shard(PointId(generated.id, variant, fault, 0), shard)
    return mine and (not meant or fault in meant)


def _labelled(report: Callable[[str, int, int], None], label: str) -> Callable[[int, int], None]:
    def progress(worlds: int, points: int) -> None:
        report(label, worlds, points)

    return progress


def search_generated(
    generated: Iterable[Generated],
    options: Options,
    launcher: Launcher,
    work_dir: Path,
    *,
    artifacts: ArtifactStore | None = None,
    write: Callable[[dict[str, Any]], None] | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> list[SearchOutcome]:
    """Search every (generated scenario, variant, fault) ``options`` choose, one after
    another (each world's points run in parallel); results written as they come."""
    outcomes = []
    for number, item in enumerate(generated):
        variants = [v for v in item.variants if not options.variants or v in options.variants]
        for variant, fault in itertools.product(variants, options.faults):
            if not searched(item, variant, fault, options.shard):
                continue
            label = f"{item.name}[{variant}] {fault}"
            progress = None if on_progress is None else _labelled(on_progress, label)
            search = WorldSearch(
                item,
                variant,
                fault,
                options,
                launcher,
                work_dir / f"g{number:03d}",
                artifacts=artifacts,
                on_progress=progress,
            )
            outcome = search.run()
            for record in outcome.records() if write is not None else []:
                write(record)  # type: ignore[misc]
            outcomes.append(outcome)
    return outcomes
