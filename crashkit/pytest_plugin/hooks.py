"""crashkit's pytest plugin, registered through the ``pytest11`` entry point.

Declares the options (one group, every option prefixed ``--crashkit-`` and also
settable in the ini file), the markers, and the hooks; the engine (:mod:`.session`, :mod:`.items`)
is imported only when a scenario is collected or a crash point reports, so the plugin
is inert in a suite that defines none.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest

from crashkit.pytest_plugin.names import (
    ARTIFACTS,
    BUDGET,
    EXAMPLES,
    FAULTS,
    LAUNCHER,
    MAX_ROUNDS,
    REPORT,
    RESULTS,
    SAMPLE,
    SEED,
    SHARD,
    TIMEOUT,
)

# A declarative table: (option, ini name, metavar, ini type, default, help); ini types
# as pytest reads them (int and float since pytest 8.4). Relative
# output paths from the ini file or the default are under pytest's rootdir; from the
# command line, under the folder pytest was started in (as --junitxml).
_OPTIONS: list[tuple[str, str, str, str, str | None, str]] = [
    (
        RESULTS,
        "crashkit_results",
        "PATH",
        "string",
        "reports/results.jsonl",
        "JSON lines results file, appended as points run (default: %(default)s under the "
        "rootdir); a partial run (-k, -m, --lf, -x, node ids) merges its points into it",
    ),
    (
        REPORT,
        "crashkit_report",
        "PATH",
        "string",
        "reports/index.html",
        "HTML crash-point report written at the end (default: %(default)s under the "
        "rootdir); 'none' to skip",
    ),
    (
        ARTIFACTS,
        "crashkit_artifacts",
        "DIR",
        "string",
        "reports/artifacts",
        "where failing points' worlds are kept: the first 5 per variant and fault in each "
        "process (each xdist worker keeps its own 5) (default: %(default)s under the "
        "rootdir); 'none' for nowhere",
    ),
    (
        FAULTS,
        "crashkit_faults",
        "KIND[,KIND...]",
        "args",
        "kill",
        "fault kinds, comma-separated, or all (default: %(default)s; the kinds: "
        "crashkit run --help)",
    ),
    (
        SAMPLE,
        "crashkit_sample",
        "N",
        "int",
        None,
        "run N seeded crash points per scenario variant and fault instead of all of them",
    ),
    (SEED, "crashkit_seed", "S", "int", None, "seed for --crashkit-sample (default: random)"),
    (SHARD, "crashkit_shard", "I/N", "string", None, "run shard I of N of the points"),
    (
        TIMEOUT,
        "crashkit_timeout",
        "SECONDS",
        "float",
        None,
        "seconds a child may run (default: the scenario's)",
    ),
    (
        LAUNCHER,
        "crashkit_launcher",
        "NAME",
        "string",
        "forkserver",
        "how children start (default: %(default)s; the launchers: crashkit run --help)",
    ),
    (
        MAX_ROUNDS,
        "crashkit_max_rounds",
        "N",
        "int",
        None,
        "restart rounds allowed to reach a fixpoint (default: the scenario's)",
    ),
    (
        EXAMPLES,
        "crashkit_examples",
        "N",
        "int",
        "20",
        "worlds a generated scenario draws per variant and fault (default: %(default)s)",
    ),
    (
        BUDGET,
        "crashkit_budget",
        "SECONDS",
        "float",
        None,
        "seconds a generated scenario spends drawing worlds per variant and fault "
        "(shrinking a finding goes on past it)",
    ),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    # The kinds and launchers are named by `crashkit run --help`, from their registries;
    # importing those here would cost every pytest run a quarter of a second.
    group = parser.getgroup("crashkit", "crash-consistency scenarios (crashkit)")
    for option, ini, metavar, kind, default, help_text in _OPTIONS:
        text = help_text.replace("%(default)s", str(default))
        group.addoption(option, dest=ini, default=None, metavar=metavar, help=text)
        # No ini default: an unset key reads as empty and leaves the value to the other
        # sources. Faults are a list (one kind per line, or comma-separated).
        parser.addini(ini, text, type=kind, default=None)  # type: ignore[arg-type]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "crashkit: a crash point of a crashkit scenario (added automatically)"
    )
    config.addinivalue_line(
        "markers",
        "known_bug(*variants, faults=()): the named engine variants are known to be buggy: "
        "their failing points are expected failures (under the given fault kinds only, if "
        "named). Added with no arguments to the points of a scenario's expect_findings.",
    )
    config.pluginmanager.register(_Results(config), "crashkit-results")
    if any(config.getoption(option[1]) is not None for option in _OPTIONS):
        from crashkit.pytest_plugin.session import session_options

        session_options(config)  # bad values are usage errors before anything runs


class _Results:
    """Collects crash point results where reports arrive (the xdist controller, or the only
    process); imports the engine only once a crash point has reported."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started = time.monotonic()
        self.recorder: Any = None
        self.cleared = False
        self.report_path: Any = None
        self.deselected = 0

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        records = getattr(item, "crashkit_records", None)
        if records is not None and call.when == "call":
            report.crashkit = records()
        return report

    @pytest.hookimpl(tryfirst=True)  # before junitxml reads the report
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        records = getattr(report, "crashkit", None)
        if not records or hasattr(self.config, "workerinput"):
            return
        from crashkit.pytest_plugin.session import annotate

        annotate(report, records)
        if self.recorder is None:
            from crashkit.pytest_plugin.session import Recorder

            self.recorder = Recorder(self.config)
        self.recorder.add(records)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput") or not any(
            hasattr(item, "crashkit_records") for item in session.items
        ):
            return
        self._clear_artifacts()

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """pytest-xdist's controller collects nothing itself; it hears of each worker's
        collection before any test is sent out, which is when the old artifacts can go."""
        from crashkit.pytest_plugin.items import is_crash_point_id

        if any(is_crash_point_id(i) for i in ids):
            self._clear_artifacts()

    def _clear_artifacts(self) -> None:
        if self.cleared or self._selecting():
            return  # a partial run keeps the full run's worlds: its results still name them
        self.cleared = True
        from crashkit.pytest_plugin.session import clear_artifacts

        clear_artifacts(self.config)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += sum(hasattr(item, "crashkit_records") for item in items)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.recorder is not None:
            why = self._partial(session, exitstatus)
            self.report_path = self.recorder.finish(time.monotonic() - self.started, why)

    def _partial(self, session: pytest.Session, exitstatus: int) -> str | None:
        """Why only some of the collected crash points ran (None: all of them)."""
        reasons = {
            **self._selections(),
            "deselected items": self.deselected,
            "stopped early (-x, --maxfail)": bool(session.shouldstop or session.shouldfail),
            "interrupted": exitstatus == pytest.ExitCode.INTERRUPTED,
        }
        given = [name for name, value in reasons.items() if value]
        return ", ".join(given) or None

    def _selecting(self) -> bool:
        """Whether the command line chooses some tests only (-k, -m, --lf, node ids)."""
        return any(self._selections().values())

    def _selections(self) -> dict[str, Any]:
        option = self.config.option
        return {
            "-k": getattr(option, "keyword", ""),
            "-m": getattr(option, "markexpr", ""),
            "--lf": getattr(option, "lf", False),
            "--sw": getattr(option, "stepwise", False),
            "--deselect": getattr(option, "deselect", None),
            "node ids": any("::" in str(arg) for arg in self.config.args),
        }

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.recorder is None:
            return
        from crashkit.pytest_plugin.session import session_options, session_seed

        write = terminalreporter.write_line
        terminalreporter.section("crashkit")
        for line in self.recorder.summary_lines():
            write(line)
        if session_options(self.config).sample is not None:  # the seed chose the sample
            write(f"seed {session_seed(self.config)} (repeat this sample with {SEED}=N)")
        results = session_options(self.config).results
        if self.recorder.partial:
            write(
                f"results: {results} (a partial run, {self.recorder.partial}: its points "
                "merged into the earlier results)"
            )
        else:
            write(f"results: {results}")
        if self.report_path:
            write(f"report: {self.report_path}")


def pytest_report_collectionfinish(config: pytest.Config, items: list[pytest.Item]) -> Any:
    """After "collected N items": which fault kinds the crash points run (and which not)."""
    points = [item for item in items if hasattr(item, "crashkit_records")]
    if not points:
        return None
    from crashkit.pytest_plugin.session import faults_line, session_options, session_seed

    options = session_options(config)
    line = f"crashkit: {len(points)} crash point(s); {faults_line(options.faults)}"
    if options.sample is not None:
        line += f"; a sample of {options.sample} per variant, seed {session_seed(config)}"
    return line


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> Any:
    # A scenario object exists only where crashkit was imported: until then, stay inert.
    scenarios = sys.modules.get("crashkit.scenario.scenario")
    if scenarios is None:
        return None
    if isinstance(obj, scenarios.Scenario):
        from crashkit.pytest_plugin.items import collect_scenario

        return collect_scenario(collector, name, obj)
    generated = sys.modules.get("crashkit.scenario.generated")
    if generated is not None and isinstance(obj, generated.Generated):
        from crashkit.pytest_plugin.generated import collect_generated

        return collect_generated(collector, name, obj)
    return None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: hand workers the controller's seed, so they collect the same sample."""
    from crashkit.pytest_plugin.session import session_seed

    node.workerinput["crashkit_seed"] = session_seed(node.config)
