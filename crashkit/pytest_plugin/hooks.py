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

# A declarative table: (option, ini name, default, help).
_OPTIONS: list[tuple[str, str, str | None, str]] = [
    (
        RESULTS,
        "crashkit_results",
        "reports/results.jsonl",
        "JSON lines results file, appended as points run (default: %(default)s)",
    ),
    (
        REPORT,
        "crashkit_report",
        "reports/index.html",
        "HTML crash-point report written at the end (default: %(default)s); 'none' to skip",
    ),
    (
        FAULTS,
        "crashkit_faults",
        "kill",
        "comma-separated fault kinds, or all (default: %(default)s; the kinds: "
        "crashkit run --help)",
    ),
    (
        SAMPLE,
        "crashkit_sample",
        None,
        "run N seeded crash points per scenario variant instead of all of them",
    ),
    (SEED, "crashkit_seed", None, "seed for --crashkit-sample (default: random, printed)"),
    (SHARD, "crashkit_shard", None, "run shard I of N of the points, written I/N"),
    (TIMEOUT, "crashkit_timeout", None, "seconds a child may run (default: the scenario's)"),
    (
        LAUNCHER,
        "crashkit_launcher",
        "forkserver",
        "how children start (default: %(default)s; the launchers: crashkit run --help)",
    ),
    (
        MAX_ROUNDS,
        "crashkit_max_rounds",
        None,
        "restart rounds allowed to reach a fixpoint (default: the scenario's)",
    ),
    (
        EXAMPLES,
        "crashkit_examples",
        "20",
        "worlds a generated scenario draws per variant and fault (default: %(default)s)",
    ),
    (
        BUDGET,
        "crashkit_budget",
        None,
        "seconds a generated scenario spends drawing worlds per variant and fault "
        "(shrinking a finding goes on past it)",
    ),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    # The kinds and launchers are named by `crashkit run --help`, from their registries;
    # importing those here would cost every pytest run a quarter of a second.
    group = parser.getgroup("crashkit", "crash-consistency scenarios (crashkit)")
    for option, ini, default, help_text in _OPTIONS:
        group.addoption(
            option,
            dest=ini,
            default=None,
            metavar="VALUE",
            help=help_text.replace("%(default)s", str(default)),
        )
        # No ini default: an unset key reads as "" and leaves the value to the other sources.
        parser.addini(ini, help_text.replace("%(default)s", str(default)))


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
    if any(config.getoption(ini) is not None for _, ini, _, _ in _OPTIONS):
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

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        records = getattr(item, "crashkit_records", None)
        if records is not None and call.when == "call":
            report.crashkit = records()
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        records = getattr(report, "crashkit", None)
        if not records or hasattr(self.config, "workerinput"):
            return
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
        if self.cleared:
            return
        self.cleared = True
        from crashkit.pytest_plugin.session import clear_artifacts

        clear_artifacts(self.config)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.recorder is not None:
            self.report_path = self.recorder.finish(time.monotonic() - self.started)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.recorder is None:
            return
        from crashkit.pytest_plugin.session import session_options, session_seed

        write = terminalreporter.write_line
        terminalreporter.section("crashkit")
        for line in self.recorder.summary_lines():
            write(line)
        write(f"seed {session_seed(self.config)} (repeat a sampled run with {SEED}=N)")
        write(f"results: {session_options(self.config).results}")
        if self.report_path:
            write(f"report: {self.report_path}")


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
