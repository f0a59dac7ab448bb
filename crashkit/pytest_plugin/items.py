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
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest.fixtures import TopRequest

from crashkit.engine.explorer import Explorer
from crashkit.engine.records import audit_record, trace_record
from crashkit.engine.result import PointResult
from crashkit.errors import ScenarioError
from crashkit.faults import FAULTS
from crashkit.model.outcome import PointId
from crashkit.pytest_plugin.names import SEED
from crashkit.pytest_plugin.session import CrashkitSession, crashkit_session, session_seed
from crashkit.scenario.scenario import Scenario, ScenarioRef

#: How a crash point item's ID looks (``name[variant-kill-p07-...]``), any fault kind.
_CRASH_POINT_ID = re.compile("-(" + "|".join(re.escape(name) for name in FAULTS) + r")-p\d+-")


def is_crash_point_id(nodeid: str) -> bool:
    """Whether ``nodeid`` names a crash point item (pytest-xdist hands the controller ids)."""
    return _CRASH_POINT_ID.search(nodeid) is not None


def collect_scenario(collector: pytest.Collector, name: str, scenario: Scenario) -> list[Any]:
    """The items of one scenario: a crash point item per (variant, fault, point)."""
    session = crashkit_session(collector.config)
    if scenario.source is None:
        scenario.source = ScenarioRef(str(collector.path.resolve()), name)
    items: list[Any] = []
    wanted = session.options.variants
    for variant in (v for v in scenario.variants if not wanted or v in wanted):
        for fault in session.faults:
            items.extend(_variant_items(collector, session, scenario, variant, fault))
    return items


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
        if session.chooses(PointId(scenario.id, variant, fault, 0)):
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
        # JUnit XML's <properties> of the test case (pytest reads them at teardown).
        self.user_properties += [
            ("fault", self.fault),
            ("point", self.point),
            ("operation", f"{self.op.kind} {self.op.target}"),
            ("replay", self.result.replay),
        ]
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
        scenario, variant = self.explorer.scenario, self.explorer.variant
        if (scenario.id, variant) not in session.sent:
            session.sent.add((scenario.id, variant))
            # Every fault's trace, those with no item too: the report shows that a fault
            # offered no point rather than leave it out.
            records += [trace_record(self.explorer, fault) for fault in session.faults]
            if scenario.journal is not None:
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
