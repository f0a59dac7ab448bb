"""The pytest side of crashkit: scenarios become one test item per crash point.

Every (scenario, variant, fault, point) is an item with a stable readable name,
``conflict[correct-kill-p07-fs.write-handle_conflict]``, so ``-k``, ``--lf``,
``-x``, ``--junitxml`` and pytest-xdist work as usual. Collection runs each
variant's dry run (deterministic, so every xdist worker collects the same
items); running an item crashes, restarts and checks that one point through the
same :class:`crashkit.engine.explorer.Explorer` the CLI uses.
"""

from __future__ import annotations

import inspect
import linecache
import os
import random
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest.fixtures import TopRequest

from crashkit.engine.artifacts import ArtifactStore
from crashkit.output.results import ResultsWriter
from crashkit.engine.explorer import Explorer, PointResult, new_work_dir
from crashkit.scenario.scenario import Scenario, ScenarioRef
from crashkit.launch.starters import ChildStarter, make_starter
from crashkit.engine.sweep import (
    audit_record,
    chosen_points,
    parse_faults,
    parse_shard,
    trace_record,
)
from crashkit.errors import ScenarioError, UsageError
from crashkit.pytest_plugin.hooks import (
    FAULTS,
    MAX_ROUNDS,
    REPORT,
    RESULTS,
    SAMPLE,
    SEED,
    SHARD,
    TIMEOUT,
    option,
)

_SESSION = pytest.StashKey["CrashkitSession"]()
_SEED = pytest.StashKey[int]()


def _dest(flag: str) -> str:
    return flag.removeprefix("--").replace("-", "_")


def _int_option(config: pytest.Config, flag: str) -> int | None:
    value = option(config, _dest(flag))
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise pytest.UsageError(f"{flag}={value!r} is not a whole number; e.g. {flag}=20") from None


def session_seed(config: pytest.Config) -> int:
    """The sampling seed: given, handed down by the xdist controller, or drawn once."""
    if _SEED not in config.stash:
        given = _int_option(config, SEED)
        handed = getattr(config, "workerinput", {}).get("crashkit_seed")
        config.stash[_SEED] = (
            given
            if given is not None
            else (handed if handed is not None else random.randrange(10_000))
        )
    return config.stash[_SEED]


def _faults(config: pytest.Config) -> list[str]:
    try:
        return parse_faults([str(option(config, _dest(FAULTS)))])
    except UsageError as error:
        raise pytest.UsageError(f"{FAULTS}: {error}") from None


def _shard(config: pytest.Config) -> tuple[int, int] | None:
    try:
        return parse_shard(option(config, _dest(SHARD)))
    except UsageError as error:
        raise pytest.UsageError(f"{SHARD}: {error}") from None


def validate_options(config: pytest.Config) -> None:
    """Raise pytest.UsageError, naming the fix, for any malformed crashkit option."""
    _faults(config)
    _shard(config)
    for flag in (SAMPLE, SEED, TIMEOUT, MAX_ROUNDS):
        value = _int_option(config, flag)
        least = 0 if flag == SEED else 1
        if value is not None and value < least:
            raise pytest.UsageError(f"{flag}={value} must be at least {least}, e.g. {flag}=20")


def artifact_store(config: pytest.Config) -> ArtifactStore | None:
    """Failing points' worlds go to ``artifacts/`` beside the report (none without a report)."""
    report = str(option(config, _dest(REPORT)))
    if report.lower() == "none":
        return None
    return ArtifactStore(Path(report).parent / "artifacts")


def clear_artifacts(config: pytest.Config) -> None:
    """A new session's artifacts replace the last one's (called once, before any worker)."""
    store = artifact_store(config)
    if store is not None:
        store.clear()


class CrashkitSession:
    """Per pytest process: the child starter, the work folder, the explorers."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        validate_options(config)  # ini values too, not only the command line's
        self.faults = _faults(config)
        self.sample = _int_option(config, SAMPLE)
        self.seed = session_seed(config)
        self.shard = _shard(config)
        self.timeout = _int_option(config, TIMEOUT)
        self.max_rounds = _int_option(config, MAX_ROUNDS)
        self.work_dir = new_work_dir()
        self.artifacts = artifact_store(config)
        self._starter: ChildStarter | None = None
        self._explorers: dict[tuple[str, str], Explorer] = {}
        self.sent: set[tuple[str, str, str]] = set()

    def starter(self, scenario: Scenario) -> ChildStarter:
        if self._starter is None:
            self._starter = make_starter(False, scenario.preload_modules())
        return self._starter

    def explorer(self, scenario: Scenario, variant: str) -> Explorer:
        key = (scenario.id, variant)
        if key not in self._explorers:
            folder = self.work_dir / f"{len(self._explorers):03d}-{scenario.name}-{variant}"
            self._explorers[key] = Explorer(
                scenario,
                variant,
                self.starter(scenario),
                folder,
                os.getcwd(),
                artifacts=self.artifacts,
            )
        return self._explorers[key]

    def points(self, explorer: Explorer, fault: str) -> list[int]:
        return chosen_points(explorer, fault, self.faults, self.sample, self.seed)

    def in_shard(self, nodeid: str) -> bool:
        if self.shard is None:
            return True
        index, count = self.shard
        return zlib.crc32(nodeid.encode()) % count == index - 1

    def close(self) -> None:
        if self._starter is not None:
            self._starter.close()
        shutil.rmtree(self.work_dir, ignore_errors=True)


def crashkit_session(config: pytest.Config) -> CrashkitSession:
    if _SESSION not in config.stash:
        config.stash[_SESSION] = CrashkitSession(config)
        config.add_cleanup(config.stash[_SESSION].close)
    return config.stash[_SESSION]


def _apply_overrides(scenario: Scenario, session: CrashkitSession) -> None:
    if session.timeout is not None:
        scenario.timeout = session.timeout
    if session.max_rounds is not None:
        scenario.max_rounds = session.max_rounds


def collect_scenario(collector: pytest.Collector, name: str, scenario: Scenario) -> list[Any]:
    """The items of one scenario: a crash point item per (variant, fault, point)."""
    session = crashkit_session(collector.config)
    if scenario.source is None:
        scenario.source = ScenarioRef(str(collector.path.resolve()), name)
    _apply_overrides(scenario, session)
    items: list[Any] = []
    for variant in scenario.variants:
        for fault in session.faults:
            items.extend(_variant_items(collector, session, scenario, variant, fault))
    return [item for item in items if session.in_shard(item.nodeid)]


def _variant_items(
    collector: pytest.Collector,
    session: CrashkitSession,
    scenario: Scenario,
    variant: str,
    fault: str,
) -> Iterator[pytest.Item]:
    explorer = session.explorer(scenario, variant)
    try:
        explorer.prepare()
    except ScenarioError as error:
        name = f"{scenario.name}[{variant}-{fault}-dry-run]"
        yield BrokenScenario.from_parent(
            collector, name=name, nodeid=_nodeid(collector, name), error=error
        )
        return
    width = max(2, len(str(explorer.points)))
    for point in session.points(explorer, fault):
        op = explorer.operation(point)
        label = {0: "golden", explorer.points: "end"}.get(point, f"{op.kind}-{op.function}")
        name = f"{scenario.name}[{variant}-{fault}-p{point:0{width}d}-{label}]"
        try:
            yield CrashPoint.from_parent(
                collector,
                name=name,
                nodeid=_nodeid(collector, name),
                explorer=explorer,
                point=point,
                fault=fault,
            )
        except ScenarioError as error:  # its fixtures cannot be set up: one failing item
            name = f"{scenario.name}[{variant}-{fault}-fixtures]"
            yield BrokenScenario.from_parent(
                collector, name=name, nodeid=_nodeid(collector, name), error=error
            )
            return


def _parametrized(info: Any, name: str) -> bool:
    definitions = info.name2fixturedefs.get(name)
    return bool(definitions) and definitions[-1].params is not None


def _taking(names: tuple[str, ...]) -> Any:
    """A function whose parameters are ``names``: what pytest reads fixture requests from."""

    def crash_point(**fixtures: Any) -> None:
        """Stands for the crash point in pytest's fixture machinery; never called."""

    crash_point.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
    )
    return crash_point


def _nodeid(collector: pytest.Collector, name: str) -> str:
    """The item's node id, given as a string so pytest parses ``name[params]`` the way it
    parses ids read back from its cache (``--lf``) or the command line."""
    return f"{collector.nodeid}::{name}"


class CrashPointFailed(Exception):
    """A crash point's invariants failed (carries the result for the failure report)."""

    def __init__(self, result: PointResult) -> None:
        super().__init__(result.point)
        self.result = result


class CrashPoint(pytest.Item):
    """One crash point of one scenario variant under one fault.

    It takes part in pytest's fixtures as a test function does: the fixtures the
    scenario's invariants ask for (``def f(world, expected_pages)``), ``usefixtures``
    marks and autouse fixtures are set up around it and torn down after it.
    """

    def __init__(self, *, explorer: Explorer, point: int, fault: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.explorer = explorer
        self.point = point
        self.fault = fault
        self.op = explorer.operation(point)
        self.result: PointResult | None = None
        self.add_marker("crashkit")
        if explorer.scenario.expects_findings(explorer.variant):
            self.add_marker("known_bug")
        self._init_fixtures(explorer.scenario.fixture_names())

    def _init_fixtures(self, names: tuple[str, ...]) -> None:
        # What pytest.Function does, for an item whose "function" takes ``names``.
        self.obj = _taking(names)
        info = self.session._fixturemanager.getfixtureinfo(self, self.obj, None)
        # A crash point is one test, never a parametrized family: a parametrized fixture
        # it only meets through autouse is left out; one its invariants ask for is an error.
        asked = [n for n in names if _parametrized(info, n)]
        if asked:
            raise ScenarioError(
                self.explorer.scenario.name,
                f"its invariants ask for the parametrized fixture(s) {', '.join(asked)}",
                "crash points are not parametrized: give the fixture one value, or build "
                "one scenario per value",
            )
        info.names_closure[:] = [n for n in info.names_closure if not _parametrized(info, n)]
        self._fixtureinfo = info
        self.fixturenames = info.names_closure
        self._initrequest()

    def _initrequest(self) -> None:
        """A fresh fixture request (pytest calls this again when an item is rerun)."""
        self.funcargs: dict[str, Any] = {}
        self._request = TopRequest(self, _ispytest=True)  # type: ignore[arg-type]

    def setup(self) -> None:
        self._request._fillfixtures()

    def known_bug(self) -> tuple[bool, frozenset[str]]:
        """Whether this variant is known to be buggy, and the faults meant to catch it: from
        the scenario's ``expect_findings``, or a ``known_bug("variant", ...)`` mark (module
        ``pytestmark``, conftest), optionally with ``faults=[...]``. Its failing points are
        expected failures under any fault, as ``crashkit run`` counts them; the faults only
        say where a failure is owed (the end-of-session "no longer caught" check)."""
        scenario, variant = self.explorer.scenario, self.explorer.variant
        if scenario.expects_findings(variant):
            return True, frozenset(scenario.catching_faults(variant))
        for mark in self.iter_markers("known_bug"):
            if variant in mark.args:
                faults = mark.kwargs.get("faults", ())
                return True, frozenset([faults] if isinstance(faults, str) else faults)
        return False, frozenset()

    def runtest(self) -> None:
        fixtures = {n: self.funcargs[n] for n in self.explorer.scenario.fixture_names()}
        self.result = self.explorer.run_point(self.point, self.fault, fixtures)
        if not self.result.findings:
            return
        if self.known_bug()[0]:
            names = ", ".join(sorted({f.invariant for f in self.result.findings}))
            pytest.xfail(f"known bug in variant {self.explorer.variant!r}: {names}")
        raise CrashPointFailed(self.result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CrashPointFailed):
            return format_failure(excinfo.value.result, self.nodeid, session_seed(self.config))
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[os.PathLike[str] | str, int | None, str]:
        source = Path(self.op.file)
        if self.op.line and source.exists():
            return source, self.op.line - 1, f"crash point {self.point}: {self.op.describe()}"
        return self.path, None, f"crash point {self.point}: {self.op.describe()}"

    def crashkit_records(self) -> list[dict[str, Any]]:
        """The results lines this item contributes (its point; the dry run's, once per process)."""
        records = []
        session = crashkit_session(self.config)
        key = (self.explorer.scenario.id, self.explorer.variant, self.fault)
        if key not in session.sent:
            session.sent.add(key)
            records.append(trace_record(self.explorer, self.fault))
            if self.explorer.scenario.journal is not None:
                records.append(audit_record(self.explorer))
        if self.result is not None:
            known, faults = self.known_bug()
            for point in self.result.records():
                point["source"] = source_line(self.op.file, self.op.line)
                point["nodeid"] = self.nodeid
                if known and not point["expected_findings"]:  # declared by a mark
                    point["expected_findings"] = True
                    point["expected_faults"] = sorted(faults)
                records.append(point)
        return records


class BrokenScenario(pytest.Item):
    """Stands in for a variant whose setup or dry run failed: it fails with the reason."""

    def __init__(self, *, error: ScenarioError, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise self.error

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        return str(excinfo.value)

    def reportinfo(self) -> tuple[os.PathLike[str] | str, int | None, str]:
        return self.path, None, self.name


def source_line(file: str, line: int) -> str:
    """The text of ``file:line`` (empty when unknown)."""
    return linecache.getline(file, line).strip() if line else ""


def format_failure(result: PointResult, nodeid: str, seed: int) -> str:
    """What a failing crash point shows: operation, findings with diffs, rounds, the replay."""
    op = result.op
    lines = [
        f"crash point {result.point} of {result.points} ({result.fault}): {op.kind} {op.target}",
        f"  fault: {result.injection}",
        f"  in {op.where}",
    ]
    if source := source_line(op.file, op.line):
        lines.append(f"  > {source}")
    for finding in result.findings:
        lines += ["", f"FINDING {finding.invariant}: {finding.message}"]
        if finding.diff:
            lines += ["", finding.diff.rstrip()]
    if result.rounds:
        lines += ["", "recovery, round by round:"]
        lines += [
            f"  round {r.number}: {r.exit}, {r.operations} operations, "
            f"{len(r.mutations)} mutations, {'changed' if r.changed else 'unchanged'}"
            for r in result.rounds
        ]
    if result.output.strip():
        lines += ["", "program output of the crashed run:", result.output.rstrip()]
    lines += ["", f"replay: {result.replay}", f"rerun:  pytest '{nodeid}' {SEED}={seed}"]
    return "\n".join(lines)


# -- results and the report, on the controller (or the only process) -----------------


class Recorder:
    """Writes every crash point's results line as it arrives; renders the report at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.writer: ResultsWriter | None = None
        self.records: list[dict[str, Any]] = []
        self.seen: set[tuple[str, ...]] = set()

    def add(self, records: list[dict[str, Any]]) -> None:
        if self.writer is None:
            self.writer = ResultsWriter(option(self.config, _dest(RESULTS)))
        for record in records:
            key = (
                record["type"],
                record.get("scenario_id", ""),
                record.get("variant", ""),
                record.get("fault", ""),
                str(record.get("point", "")),
            )
            if record["type"] in ("trace", "audit") and key in self.seen:
                continue  # every xdist worker sends the dry run once
            self.seen.add(key)
            self.records.append(record)
            self.writer.write(record)

    def finish(self, duration: float) -> Path | None:
        """Close the results file and render the HTML report (None when nothing ran)."""
        if self.writer is None:
            return None
        points = sum(1 for r in self.records if r["type"] == "point")
        self.writer.write(
            {
                "type": "end",
                "duration": round(duration, 3),
                "points": points,
                "seed": session_seed(self.config),
            }
        )
        self.writer.close()
        target = str(option(self.config, _dest(REPORT)))
        if target.lower() == "none":
            return None
        from crashkit.output.report.render import write_report

        return write_report(self.records, target)

    def summary_lines(self) -> list[str]:
        lines = []
        for record in self.records:
            if record["type"] == "audit" and record["uncovered"]:
                lines.append(
                    f"journal audit {record['scenario']}[{record['variant']}]: "
                    f"{len(record['uncovered'])} uncovered mutation(s)"
                )
                lines += [
                    f"  {u['function']}, {u['file']}:{u['line']}: {u['kind']} {u['target']}"
                    for u in record["uncovered"][:20]
                ]
        lines += self._known_bugs_not_caught()
        return lines

    def _known_bugs_not_caught(self) -> list[str]:
        """Known-buggy variants swept under a fault meant to catch them, with no failure."""
        caught: dict[tuple[str, str], bool] = {}
        for r in self.records:
            meant = set(r.get("expected_faults") or [])
            if (
                r["type"] == "point"
                and r["expected_findings"]
                and (not meant or r["fault"] in meant)
            ):
                key = (r["scenario"], r["variant"])
                caught[key] = caught.get(key, False) or r["outcome"] == "fail"
        return [
            f"known-buggy variant {s}[{v}] had no failing point in this run: the bug is no "
            "longer caught (or it was fixed); update expect_findings"
            for (s, v), hit in caught.items()
            if not hit
        ]
