"""The plugin's per-process state: the options, the seed, the launcher and explorers,
and (where reports arrive) the results file and the report."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from crashkit.engine.artifacts import ArtifactStore
from crashkit.engine.explorer import Explorer
from crashkit.engine.sweep import chosen, explorer_for
from crashkit.engine.workdir import new_work_dir
from crashkit.errors import ResultsError, UsageError
from crashkit.faults import FAULT_KINDS, FAULTS
from crashkit.launch import Launcher, make_launcher
from crashkit.model.outcome import PointId, Verdict, in_shard, verdict, verdict_word
from crashkit.options import INI_KEYS, Options, as_ini_key, project_settings, with_settings
from crashkit.output.results import ResultsWriter, end_record, read_results, record_identity
from crashkit.scenario.journal import audit_sites
from crashkit.scenario.scenario import Scenario

__all__ = ["CrashkitSession", "Recorder", "crashkit_session", "session_options", "session_seed"]

_SESSION = pytest.StashKey["CrashkitSession"]()
_OPTIONS = pytest.StashKey[Options]()
_SEED = pytest.StashKey[int]()


def session_options(config: pytest.Config) -> Options:
    """The sweep's options, from the same sources as ``crashkit run``: ``[tool.crashkit]``,
    then the ini file's ``crashkit_*`` keys, then the command line. pytest.UsageError,
    with the fix, for a bad value."""
    if _OPTIONS not in config.stash:
        table, path = project_settings(config.rootpath)
        ini = {name: config.getini(key) for key, name in INI_KEYS.items()}
        ini = {name: value for name, value in ini.items() if value not in ("", None, [])}
        flags = {name: config.getoption(key) for key, name in INI_KEYS.items()}
        given = {k: v for k, v in flags.items() if v is not None}
        try:
            options = with_settings(Options(), table, f"{path} [tool.crashkit]")
            options = with_settings(options, ini, str(config.inipath), as_ini_key)
            # Output paths from the files (or the defaults) are under the rootdir; those
            # given on the command line, under the folder pytest was started in.
            options = options.under(config.rootpath)
            options = with_settings(options, given, "", _as_flag)
            options = options.under(config.invocation_params.dir)
        except UsageError as error:
            raise pytest.UsageError(str(error)) from None
        if options.shard is not None and options.sample is not None and options.seed is None:
            # Shards run as separate jobs must sample the same points: one seed for all.
            options = options.replace(seed=0)
        config.stash[_OPTIONS] = options
    return config.stash[_OPTIONS]


def _as_flag(name: str, value: object) -> str:
    return f"--crashkit-{name.replace('_', '-')}={value}"


def session_seed(config: pytest.Config) -> int:
    """The sampling seed: given, handed down by the xdist controller, or drawn once."""
    if _SEED not in config.stash:
        given = session_options(config).seed
        handed = getattr(config, "workerinput", {}).get("crashkit_seed")
        config.stash[_SEED] = (
            given
            if given is not None
            else (handed if handed is not None else random.randrange(10_000))
        )
    return config.stash[_SEED]


def artifact_store(config: pytest.Config) -> ArtifactStore | None:
    """Where failing points' worlds are kept (``--crashkit-artifacts``; None: nowhere)."""
    options = session_options(config)
    return ArtifactStore(Path(options.artifacts)) if options.wants_artifacts else None


def clear_artifacts(config: pytest.Config) -> None:
    """A new session's artifacts replace the last one's (called once, before any worker)."""
    store = artifact_store(config)
    if store is not None:
        store.clear()


class CrashkitSession:
    """Per pytest process: the launcher, the work folder, the explorers."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        seed = session_seed(config)
        self.options = session_options(config).replace(seed=seed)
        self.work_dir = new_work_dir()
        self.artifacts = artifact_store(config)
        self._launcher: Launcher | None = None
        self._explorers: dict[tuple[str, str], Explorer] = {}
        #: The variants whose traces were sent with a result.
        self.sent: set[tuple[str, str]] = set()

    @property
    def faults(self) -> tuple[str, ...]:
        return self.options.faults

    def launcher(self, scenario: Scenario) -> Launcher:
        if self._launcher is None:
            preload = scenario.preload_modules()
            self._launcher = make_launcher(self.options.launcher, preload)
        return self._launcher

    def explorer(self, scenario: Scenario, variant: str) -> Explorer:
        key = (scenario.id, variant)
        if key not in self._explorers:
            folder = self.work_dir / f"{len(self._explorers):03d}-{scenario.name}-{variant}"
            launcher = self.launcher(scenario)
            self._explorers[key] = explorer_for(
                scenario, variant, launcher, folder, self.options, artifacts=self.artifacts
            )
        return self._explorers[key]

    def points(self, explorer: Explorer, fault: str) -> list[int]:
        """The points of ``fault`` this session runs: as ``crashkit run`` chooses them."""
        return [p for f, p in chosen(explorer, self.options) if f == fault]

    def chooses(self, point: PointId) -> bool:
        """Whether a stand-in item (a broken variant) belongs to this session's shard."""
        return in_shard(point, self.options.shard)

    def close(self) -> None:
        if self._launcher is not None:
            self._launcher.close()
        shutil.rmtree(self.work_dir, ignore_errors=True)


def crashkit_session(config: pytest.Config) -> CrashkitSession:
    if _SESSION not in config.stash:
        config.stash[_SESSION] = CrashkitSession(config)
        config.add_cleanup(config.stash[_SESSION].close)
    return config.stash[_SESSION]


class Recorder:
    """Writes every crash point's results line as it arrives; renders the report at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.options = session_options(config)
        self.writer: ResultsWriter | None = None
        self.records: list[dict[str, Any]] = []
        self.seen: set[tuple[Any, ...] | None] = set()
        #: The results file as an earlier run left it (a partial run merges into it).
        self.earlier = b""
        #: Why this run is partial (None: a whole run, whose results replace the last).
        self.partial: str | None = None

    def add(self, records: list[dict[str, Any]]) -> None:
        if self.writer is None:
            self.earlier = _earlier(Path(self.options.results))
            self.writer = ResultsWriter(self.options.results, about=self.options.facts())
            self.records.append(self.writer.run)  # the report's date, commit and faults
        for record in records:
            key = record_identity(record)
            if record["type"] in ("trace", "audit") and key in self.seen:
                continue  # every xdist worker sends the dry run once
            self.seen.add(key)
            self.records.append(record)
            self.writer.write(record)

    def finish(self, duration: float, partial: str | None = None) -> Path | None:
        """Close the results file and render the HTML report (None when nothing ran).

        Args:
            partial: why only some points ran (``-k``, ``--lf``, ``-x``, ...): then this
                run's points are merged into the earlier results, point by point (the
                newer result of a point wins), instead of replacing them.
        """
        if self.writer is None:
            return None
        points = sum(1 for r in self.records if r["type"] == "point")
        end = end_record(duration, points, session_seed(self.config))
        self.writer.write(end)
        self.writer.close()
        self.records.append(end)  # the report's duration and rate
        records = self.records
        if partial and self.earlier:
            self.partial = partial
            path = Path(self.options.results)
            _replace(path, self.earlier + path.read_bytes())
            records = read_results(path)
        if not self.options.wants_report:
            return None
        from crashkit.output.report import write_report

        return write_report(records, self.options.report)

    def summary_lines(self) -> list[str]:
        lines = []
        for record in self.records:
            if record["type"] == "audit" and record["uncovered"]:
                sites = audit_sites(record["uncovered"])
                lines.append(
                    f"journal audit {record['scenario']}[{record['variant']}]: "
                    f"{len(record['uncovered'])} uncovered mutation(s) at {len(sites)} site(s)"
                )
                lines += [f"  {site}" for site in sites]
        lines += self._known_bugs_not_caught() + self._known_bugs_not_swept()
        lines += [_search_line(r) for r in self.records if r["type"] == "generated"]
        return [*lines, *self._no_points(), faults_line(self.options.faults)]

    def _no_points(self) -> list[str]:
        """A line per fault kind that offered no crash point in some variant."""
        empty: dict[str, list[str]] = {}
        for r in self.records:
            if r["type"] == "trace" and r.get("points") == []:
                empty.setdefault(r["fault"], []).append(f"{r['scenario']}[{r['variant']}]")
        return [
            f"{fault} offered no crash point in {', '.join(names)}: nothing it strikes "
            f"({FAULTS[fault].summary})"
            for fault, names in empty.items()
            if fault in FAULTS
        ]

    def _known_bugs_not_swept(self) -> list[str]:
        """Known-buggy variants none of whose catching faults ran: not swept, not missed."""
        lines = []
        for (s, v), points in self._known_points().items():
            meant = {f for r in points for f in r.get("expected_faults") or []}
            if _verdict(points) is Verdict.NOT_SWEPT:
                word = verdict_word(Verdict.NOT_SWEPT, meant)
                lines.append(f"known-buggy variant {s}[{v}]: {word}, which did not run")
        return lines

    def _known_points(self) -> dict[tuple[str, str], list[dict[str, Any]]]:
        variants: dict[tuple[str, str], list[dict[str, Any]]] = {}
        searched = {(r["scenario"], r["variant"]) for r in self.records if r["type"] == "generated"}
        for r in self.records:
            if r["type"] != "point" or not r["expected_findings"]:
                continue
            if (r["scenario"], r["variant"]) in searched:
                continue  # a generated scenario's search says itself what it found
            variants.setdefault((r["scenario"], r["variant"]), []).append(r)
        return variants

    def _known_bugs_not_caught(self) -> list[str]:
        """Known-buggy variants swept under a fault meant to catch them, with no failure
        (the verdict ``crashkit run`` gives them too)."""
        return [
            f"known-buggy variant {s}[{v}] had no failing point in this run: the bug is no "
            "longer caught (or it was fixed); update expect_findings"
            for (s, v), points in self._known_points().items()
            if _verdict(points) is Verdict.NOT_CAUGHT
        ]


class CrashPointRepr:
    """A failing crash point's report text, with a one-line ``reprcrash.message`` (what
    JUnit XML puts in its ``message`` attribute; the whole text goes in the element)."""

    def __init__(self, text: str, message: str, path: str, line: int) -> None:
        from _pytest._code.code import ReprFileLocation

        self.text = text
        self.reprcrash = ReprFileLocation(path, line, message)

    def toterminal(self, out: Any) -> None:
        out.line(self.text)

    def __str__(self) -> str:
        return self.text


def annotate(report: pytest.TestReport, records: list[dict[str, Any]]) -> None:
    """Give a failing crash point's report a one-line message naming the point and the
    failed invariants (its JUnit properties are the item's: see ``CrashPoint.runtest``)."""
    points = [r for r in records if r.get("type") == "point"]
    if not points:
        return
    point = points[0]
    op = point.get("op") or {}
    operation = f"{op.get('kind', '?')} {op.get('target', '')}".strip()
    facts = {"fault": point["fault"], "point": point["point"], "operation": operation}
    facts["replay"] = point.get("replay", "")
    report.user_properties += [
        (k, v) for k, v in facts.items() if (k, v) not in report.user_properties
    ]
    if report.failed and isinstance(report.longrepr, str):
        invariants = sorted({f["invariant"] for r in points for f in r.get("findings") or []})
        message = (
            f"crash point {point['point']} ({point['fault']}, {operation}): "
            f"{', '.join(invariants) or 'failed'}"
        )
        where = str(op.get("file") or report.location[0])
        report.longrepr = CrashPointRepr(report.longrepr, message, where, int(op.get("line") or 0))  # type: ignore[assignment]


def _earlier(path: Path) -> bytes:
    """The results an earlier run left at ``path`` (empty when none, or unreadable)."""
    try:
        read_results(path)  # whole and of this format, or not merged into
        return path.read_bytes()
    except (OSError, ResultsError):
        return b""


def _replace(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole: a temporary file beside it, fsynced, renamed."""
    temp = path.with_name(path.name + ".tmp")
    with open(temp, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temp, path)


def faults_line(faults: tuple[str, ...]) -> str:
    """Which fault kinds ran and which did not (as ``crashkit run`` says it)."""
    missing = [f for f in FAULT_KINDS if f not in faults]
    line = f"faults run: {', '.join(faults)}"
    if missing:
        line += f"; not run: {', '.join(missing)} (--crashkit-faults=all runs every kind)"
    return line


def _search_line(record: dict[str, Any]) -> str:
    """A generated scenario's search in a line: worlds tried and what they found."""
    head = (
        f"generated {record['scenario']}[{record['variant']}] {record['fault']}: "
        f"{record['worlds']} worlds, {record['points']} points"
    )
    if record.get("invariant"):
        return f"{head}: {record['invariant']} at point {record['point']} of a shrunk world"
    known = " (a known bug: more worlds may find it)" if record.get("expected_findings") else ""
    return f"{head}: no finding{known}"


def _verdict(points: list[dict[str, Any]]) -> Verdict:
    return verdict(
        expected=True,
        meant={f for r in points for f in r.get("expected_faults") or []},
        swept={r["fault"] for r in points},
        failed=sum(r["outcome"] == "fail" for r in points),
    )
