"""The ``crashkit`` command: run, points, replay."""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import signal
import sqlite3
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from crashkit.engine.artifacts import MANIFEST, ArtifactStore, Recheck, recheck
from crashkit.engine.explorer import Explorer
from crashkit.engine.generation import DRY_RUN, SearchOutcome, search_generated
from crashkit.engine.result import PointResult
from crashkit.engine.sweep import Sweep, VariantSummary, check_variants, explorer_for
from crashkit.engine.workdir import new_work_dir
from crashkit.errors import CrashkitError, ScenarioError, UsageError
from crashkit.faults import FAULT_KINDS, FAULTS
from crashkit.launch import LAUNCHERS, make_launcher
from crashkit.model.outcome import Verdict, verdict_word
from crashkit.options import Options, load_settings, project_options, pytest_pythonpath
from crashkit.output.report import merge_results, write_report
from crashkit.output.report.gate import judge
from crashkit.output.results import ResultsWriter, end_record, read_results
from crashkit.remotes import REMOTES, Serving, serve_remote
from crashkit.scenario.generated import Generated, decode_world, load_all, resolve_generated
from crashkit.scenario.scenario import Scenario, resolve

__all__ = ["main"]

DEFAULT_RESULTS = Options.results
DEFAULT_REPORT = Options.report
DEFAULT_ARTIFACTS = Options.artifacts


#: The embedded default: the demo engine's scenarios, shipped inside the package.
BUNDLED = Path(__file__).resolve().parent / "demo" / "scenarios"
#: What the embedded default imports beyond crashkit's own dependencies (the demo extra).
DEMO_MODULES = ("notion_client", "merge3")


def default_paths() -> list[str]:
    """The scenarios a bare ``crashkit run`` sweeps: ``./scenarios`` if present, else the
    embedded default (the demo engine's)."""
    here = Path("scenarios")
    if here.is_dir() and any(here.rglob("test_*.py")):  # not a folder of leftovers
        return [str(here)]
    return [str(BUNDLED)] if BUNDLED.is_dir() else []


def check_demo(paths: Sequence[str]) -> None:
    """UsageError with the install line when the embedded default is asked for without the
    ``demo`` extra (its engine needs notion-client and merge3)."""
    if str(BUNDLED) not in paths:
        return
    missing = [m for m in DEMO_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(
            f"the embedded default (the kasten demo engine) needs {', '.join(missing)}: "
            "pip install 'crashkit[demo]'; or name your own scenarios, e.g. crashkit run tests/"
        )


def version() -> str:
    """The installed distribution's version."""
    try:
        return importlib.metadata.version("crashkit")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a bare checkout
        return "unknown (not installed)"


def use_pythonpath(start: Path) -> None:
    """Put the folders of the pytest configuration's ``pythonpath`` on ``sys.path`` (children
    inherit it), so scenarios import the project's own modules as they do under pytest."""
    for folder in reversed(pytest_pythonpath(start)):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _port(text: str) -> int:
    """An argparse type: a TCP port, or 0 for any free one."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: give 1 to 65535, or 0 for any")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crashkit",
        description="Crash a program at every durable operation, restart it, check invariants.",
    )
    parser.add_argument("--version", action="version", version=f"crashkit {version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="sweep scenarios (the bundled ones by default)")
    run.add_argument("paths", nargs="*", help="scenario files or folders (default: scenarios/)")
    run.add_argument("-s", "--scenario", action="append", default=[], help="only this scenario")
    run.add_argument("-V", "--variant", action="append", default=[], help="only this variant")
    run.add_argument(
        "-j", "--jobs", type=_positive, default=None, help="points at once (default: cores + 1)"
    )
    run.add_argument(
        "-f",
        "--fault",
        action="append",
        default=None,
        metavar="KIND",
        help="fault kind(s) to sweep, repeatable or comma-separated, or 'all' (default: "
        "kill): " + "; ".join(f"{k.name}: {k.summary}" for k in FAULTS.values()),
    )
    run.add_argument(
        "--results", default=None, help=f"JSON lines results file (default: {DEFAULT_RESULTS})"
    )
    run.add_argument(
        "--report",
        default=None,
        help=f"HTML report written at the end, 'none' to skip (default: {DEFAULT_REPORT})",
    )
    run.add_argument(
        "--previous", default=None, help="an earlier results file, for the report's trend section"
    )
    run.add_argument(
        "--artifacts",
        default=None,
        help=f"where failing points' worlds are kept, 'none' for nowhere (default: "
        f"{DEFAULT_ARTIFACTS})",
    )
    run.add_argument("--resume", action="store_true", help="skip points already in --results")
    run.add_argument("--shard", default=None, metavar="I/N", help="run only shard I of N")
    run.add_argument("--sample", type=_positive, default=None, help="N seeded points per variant")
    run.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed for --sample and for drawing worlds (default: 0)",
    )
    run.add_argument(
        "--examples",
        type=_positive,
        default=None,
        metavar="N",
        help="worlds a generated scenario draws per variant and fault (default: 20)",
    )
    run.add_argument(
        "--budget",
        type=_positive,
        default=None,
        metavar="SECONDS",
        help="seconds a generated scenario spends drawing worlds per variant and fault "
        "(shrinking a finding goes on past it; default: no limit but --examples)",
    )
    run.add_argument("--timeout", type=_positive, default=None, help="seconds a child may run")
    run.add_argument(
        "--max-rounds", type=_positive, default=None, help="restart rounds to reach a fixpoint"
    )
    run.add_argument(
        "--launcher",
        choices=sorted(LAUNCHERS),
        default=None,
        help="how children start: "
        + "; ".join(f"{name}: {cls.summary}" for name, cls in LAUNCHERS.items()),
    )
    run.add_argument(
        "--fresh-interpreter",
        dest="launcher",
        action="store_const",
        const="spawn",
        help="the same as --launcher spawn",
    )
    run.add_argument(
        "--kill-each-point",
        action="store_const",
        const=True,
        default=None,
        help="kill a workload child at each kill point instead of recording every point's "
        "crash state in one run (slower; reruns the workload per point)",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    points = commands.add_parser("points", help="list a scenario's enumerated crash points")
    points.add_argument("scenario", help="path.py::name, path.py, or a bundled scenario's name")
    points.add_argument("-V", "--variant", default=None, help="variant (default: the first)")
    points.add_argument(
        "-f", "--fault", default="kill", choices=FAULT_KINDS, help="list this fault kind's points"
    )
    points.add_argument("--world", default=None, help=_WORLD_HELP)

    replay = commands.add_parser("replay", help="rerun one point verbosely, keeping its world")
    replay.add_argument("scenario", help="path.py::name, path.py, or a bundled scenario's name")
    replay.add_argument("-p", "--point", type=int, required=True, help="the point (0: no crash)")
    replay.add_argument("-V", "--variant", default=None, help="variant (default: the first)")
    replay.add_argument(
        "-f", "--fault", default="kill", choices=FAULT_KINDS, help="fault kind (default: kill)"
    )
    replay.add_argument("--world", default=None, help=_WORLD_HELP)
    replay.add_argument(
        "--keep",
        default="reports/replay",
        help="folder the crashed world is copied to (default: %(default)s)",
    )
    report = commands.add_parser(
        "report", help="render (and merge) results files into one HTML report"
    )
    report.add_argument("results", nargs="+", help="results files (several: shards, merged)")
    report.add_argument("-o", "--output", default=DEFAULT_REPORT, help="(default: %(default)s)")
    report.add_argument("--previous", default=None, help="an earlier run's results, for trends")
    report.add_argument("--merged", default=None, help="also write the merged results here")
    report.add_argument(
        "--recheck",
        action="store_true",
        help="judge the kept failing points again with the current invariants (no rerun); "
        "the report shows each verdict, and the exit status is 1 if any changed",
    )

    gate = commands.add_parser(
        "gate",
        help="CI's verdict on (merged) results: exit 0 clean, 1 findings, 2 the sweep went "
        "wrong; writes a Markdown summary",
    )
    gate.add_argument("results", nargs="+", help="results files (every shard's)")
    gate.add_argument(
        "--shards",
        type=_positive,
        default=None,
        help="the sweep's shard count (a shard without results is an error)",
    )
    gate.add_argument(
        "--summary",
        default=None,
        metavar="FILE",
        help="append the Markdown summary here (e.g. $GITHUB_STEP_SUMMARY); default: print it",
    )
    recheck = commands.add_parser(
        "recheck", help="judge kept failing points again with the current invariants"
    )
    recheck.add_argument(
        "folders", nargs="*", help=f"artifact folders (default: every one in {DEFAULT_ARTIFACTS})"
    )

    for name, remote in REMOTES.items():
        serve = commands.add_parser(
            f"serve-{name}", help=f"serve a fake of {remote.summary} on 127.0.0.1"
        )
        serve.set_defaults(remote=name)
        serve.add_argument("--port", type=_port, default=0, help="port (default: any free one)")
        serve.add_argument(
            "--store",
            default=f"reports/{name}.sqlite3",
            help="the fake's SQLite store, kept across restarts (default: %(default)s)",
        )
        serve.add_argument("--token", default="secret_crashkit", help="the bearer token it accepts")
    return parser


_WORLD_HELP = (
    "a generated scenario's world: the z:... word of a replay line, or a JSON file holding "
    "the world (a results file's 'world')"
)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM (a CI job cancelled) cleans up like Ctrl-C


def main(argv: Sequence[str] | None = None) -> int:
    if threading.current_thread() is not threading.main_thread():
        return _main(argv)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: Sequence[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:  # a bare `crashkit`: what it can do, not an error
        parser.print_help()
        return 0
    use_pythonpath(Path.cwd())
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 160)  # logs and CI: do not wrap the summary
    try:
        if args.command == "run":
            return _run(args, console)
        if args.command == "points":
            return _points(args, console)
        if args.command.startswith("serve-"):
            return _serve(args, console)
        if args.command == "report":
            return _report(args, console)
        if args.command == "recheck":
            return _recheck(args, console)
        if args.command == "gate":
            return _gate(args, console)
        return _replay(args, console)
    except CrashkitError as error:
        console.print(f"[bold red]crashkit:[/] {escape(str(error))}")
        return 2
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]: results so far are kept; rerun with --resume")
        return 130


# -- run -------------------------------------------------------------------------


def run_options(args: argparse.Namespace) -> Options:
    """The sweep's options: the project's settings (``[tool.crashkit]``, then the pytest
    ini keys), then this command line."""
    return load_settings(
        Path.cwd(),
        {
            "faults": args.fault,
            "variants": args.variant or None,
            "sample": args.sample,
            "seed": args.seed,
            "shard": args.shard,
            "jobs": args.jobs,
            "timeout": args.timeout,
            "max_rounds": args.max_rounds,
            "launcher": args.launcher,
            "kill_each_point": args.kill_each_point,
            "examples": args.examples,
            "budget": args.budget,
            "results": args.results,
            "report": args.report,
            "artifacts": args.artifacts,
        },
    )


def _run(args: argparse.Namespace, console: Console) -> int:
    options = run_options(args)
    paths = args.paths or default_paths()
    if not paths:
        console.print("[red]crashkit:[/] no scenarios given and no scenarios/ folder here")
        return 2
    check_demo(paths)
    scenarios, generated = load_all(paths, args.scenario)
    if not scenarios and not generated:
        raise UsageError(
            f"no scenarios in {', '.join(map(str, paths))}; a scenario file is named test_*.py "
            "and defines crashkit.Scenario objects at module level (see README: Write a scenario)"
        )
    # Everything that can be wrong with the command is found before any work starts, and
    # before the old results are replaced.
    check_variants([*scenarios, *(g.shape() for g in generated)], options.variants)
    previous = read_results(args.previous) if args.previous else None
    check_outputs(options, options.artifacts)
    variants = sum(
        1 for s in scenarios for v in s.variants if not options.variants or v in options.variants
    )
    what = f"{len(scenarios)} scenario(s), {variants} variant(s)"
    if generated:
        what += f", {len(generated)} generated scenario(s)"
    console.print(f"crashkit: {what}; {faults_line(options.faults)}")
    artifacts = _artifact_store(options.artifacts, args.resume)
    summaries: list[VariantSummary] = []
    outcomes: list[SearchOutcome] = []
    with ResultsWriter(options.results, resume=args.resume, about=options.facts()) as results:
        progress = _progress(console, args.quiet)
        with progress:
            if scenarios:
                summaries = _sweep(scenarios, options, results, artifacts, progress, variants)
            if generated:
                outcomes = _search(generated, options, results, artifacts, progress)
    summaries += [o.summary() for o in outcomes]
    _print_summary(console, summaries, options.results)
    _print_searches(console, outcomes)
    if options.wants_report:
        path = write_report(read_results(options.results), options.report, previous=previous)
        console.print(f"report: {escape(str(path))}")
    return 0 if all(s.ok for s in summaries) else 1


def _sweep(
    scenarios: list[Scenario],
    options: Options,
    results: ResultsWriter,
    artifacts: ArtifactStore | None,
    progress: Progress,
    variants: int,
) -> list[VariantSummary]:
    bar = SweepProgress(progress, variants)
    sweep = Sweep(
        scenarios,
        options=options,
        results=results,
        artifacts=artifacts,
        on_result=bar.point_done,
        on_prepared=lambda e: bar.prepared(len(sweep.planned(e))),
    )
    return sweep.run()


def _search(
    generated: list[Generated],
    options: Options,
    results: ResultsWriter,
    artifacts: ArtifactStore | None,
    progress: Progress,
) -> list[SearchOutcome]:
    """Search each generated scenario's variants and faults; progress shows worlds and
    points of the search under way."""
    task = progress.add_task("generated worlds", total=None, failing="")
    started = time.monotonic()
    preload = list(dict.fromkeys(m for g in generated for m in g.preload_modules()))
    launcher = make_launcher(options.launcher, preload)
    work = new_work_dir()
    try:
        outcomes = search_generated(
            generated,
            options,
            launcher,
            work,
            artifacts=artifacts,
            write=results.write,
            on_progress=lambda label, worlds, points: progress.update(
                task, description=f"{label}: {worlds} worlds, {points} points"
            ),
        )
    finally:
        launcher.close()
        shutil.rmtree(work, ignore_errors=True)
    points = sum(o.points for o in outcomes)
    results.write(end_record(time.monotonic() - started, points, options.seed or 0))
    return outcomes


def _print_searches(console: Console, outcomes: list[SearchOutcome]) -> None:
    """Per generated search: worlds tried; for a finding, the shrunk world and the replay."""
    for o in outcomes:
        head = (
            f"[bold]generated {escape(f'{o.generated.name}[{o.variant}]')} {o.fault}:[/] "
            f"{o.worlds} worlds, {o.points} points in {o.duration:.0f}s"
        )
        if o.error:
            console.print(f"{head}; [red]{escape(o.error)}[/]")
            continue
        if o.finding is None:
            console.print(f"{head}; no finding")
            continue
        f = o.finding
        console.print(
            f"{head}; [red]{escape(f.findings[0].invariant)}[/] after {o.found_after} "
            f"world(s), shrunk in {o.shrink_seconds or 0:.0f}s to point {f.point} "
            f"({escape(f.op.describe())}) of the world:"
        )
        console.print("  " + escape(json.dumps(o.world, ensure_ascii=False)), soft_wrap=True)
        console.print(f"  replay: {escape(f.replay)}", soft_wrap=True)


def check_outputs(options: Options, artifacts: str) -> None:
    """The results file, the report and the artifacts folder can be written where they are
    asked for; UsageError naming the one that cannot, and why."""
    wanted = [("--results", Path(options.results), False)]
    if options.wants_report:
        wanted.append(("--report", Path(options.report), False))
    if artifacts.lower() != "none":
        wanted.append(("--artifacts", Path(artifacts), True))
    for flag, path, folder in wanted:
        problem = _unwritable(path, folder)
        if problem:
            raise UsageError(f"{flag} {path}: {problem}")


def _unwritable(path: Path, folder: bool) -> str | None:
    if path.exists() and path.is_dir() != folder:
        return "is a folder; name a file in it" if not folder else "is a file; name a folder"
    parent = path if folder and path.exists() else path.parent
    existing = next((p for p in (parent, *parent.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        return f"{existing} is a file, so nothing can be made inside it"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    return None


def _artifact_store(folder: str, resume: bool) -> ArtifactStore | None:
    if folder.lower() == "none":
        return None
    store = ArtifactStore(Path(folder))
    if not resume:
        store.clear()  # a fresh sweep: the old artifacts belong to the old results
    return store


def _recheck(args: argparse.Namespace, console: Console) -> int:
    folders = [Path(f) for f in args.folders] or sorted(
        p.parent for p in Path(DEFAULT_ARTIFACTS).glob(f"*/{MANIFEST}")
    )
    if not folders:
        console.print(
            f"no artifacts to re-check (run `crashkit run` first; it keeps failing "
            f"points in {DEFAULT_ARTIFACTS})"
        )
        return 0
    changed = sum(_print_recheck(console, recheck(folder)).changed for folder in folders)
    console.print(f"{len(folders)} artifact(s) re-checked, {changed} changed")
    return 1 if changed else 0


def _print_recheck(console: Console, result: Recheck) -> Recheck:
    now = sorted({f.invariant for f in result.now})
    verdict = "[yellow]changed[/]" if result.changed else "same"
    console.print(
        f"{escape(str(result.folder))}: was {escape(', '.join(result.stored))}; now "
        f"{escape(', '.join(now) or 'clean')} -> {verdict}"
    )
    if result.skipped:
        console.print(
            f"  not re-judged without a rerun or pytest: {escape(', '.join(result.skipped))}"
        )
    return result


def _recheck_records(
    args: argparse.Namespace, records: list[dict[str, Any]], console: Console
) -> int:
    """Re-judge the kept artifacts of the records' failing points; each record gets a
    ``recheck`` entry for the report. Artifacts are looked for beside the report, then
    beside each results file. The number of changed verdicts."""
    bases = [Path(args.output).parent, *(Path(r).parent for r in args.results)]
    checked: dict[Path, Recheck] = {}
    for record in records:
        kept = record.get("artifacts") if record.get("type") == "point" else None
        folder = next((b / kept for b in bases if kept and (b / kept / MANIFEST).exists()), None)
        if folder is None:
            continue
        if folder not in checked:
            checked[folder] = _print_recheck(console, recheck(folder))
        record["recheck"] = checked[folder].to_json()
    changed = sum(r.changed for r in checked.values())
    console.print(f"{len(checked)} artifact(s) re-checked, {changed} changed")
    return changed


def _gate(args: argparse.Namespace, console: Console) -> int:
    verdict = judge(merge_results(args.results), args.shards)
    if args.summary:
        with open(args.summary, "a", encoding="utf-8") as summary:
            summary.write(verdict.markdown)
    else:
        console.print(escape(verdict.markdown))
    for reason in verdict.reasons:
        console.print(f"[red]crashkit gate:[/] {escape(reason)}")
    words = {0: "clean", 1: "findings", 2: "error"}
    console.print(f"crashkit gate: {words[verdict.status]} (exit {verdict.status})")
    return verdict.status


def _report(args: argparse.Namespace, console: Console) -> int:
    records = merge_results(args.results)
    changed = _recheck_records(args, records, console) if args.recheck else 0
    if args.merged:
        with ResultsWriter(args.merged) as merged:
            merged.write_all(r for r in records if r.get("type") != "run")
    previous = read_results(args.previous) if args.previous else None
    path = write_report(records, args.output, previous=previous)
    points = sum(1 for r in records if r.get("type") == "point")
    console.print(
        f"report: {escape(str(path))} ({points} points from {len(args.results)} results file(s))"
    )
    return 1 if changed else 0


def _progress(console: Console, quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TextColumn("[red]{task.fields[failing]}[/]"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=quiet or not console.is_terminal,
    )


class RateColumn(ProgressColumn):
    """Points per second, once there is a rate."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:.1f}/s")


class SweepProgress:
    """Two bars: the variants' dry runs, then the crash points. Points start only once
    every variant is prepared (:meth:`Sweep.run`), so the points bar has its whole total
    from the start instead of growing during setup."""

    def __init__(self, progress: Progress, variants: int) -> None:
        self.progress = progress
        self.setup = progress.add_task("dry runs", total=variants, failing="")
        self.points = progress.add_task("crash points", total=None, visible=False, failing="")
        self.planned = 0
        self.failing = 0

    def prepared(self, planned: int) -> None:
        self.planned += planned
        self.progress.advance(self.setup)

    def point_done(self, result: PointResult) -> None:
        task = self.progress.tasks[self.points]
        if task.total is None:  # the first point: every variant is prepared
            self.progress.update(self.setup, visible=False)
            self.progress.update(self.points, total=self.planned, visible=True)
        self.failing += not result.passed
        failing = f"{self.failing} failing" if self.failing else ""
        self.progress.update(self.points, advance=1, failing=failing)


def _print_summary(console: Console, summaries: list[VariantSummary], results: str) -> None:
    faults = summaries[0].faults if summaries else ()
    table = summary_table(summaries, faults, console.width)
    console.print(table)
    if "scenario" not in {column.header for column in table.columns}:  # the narrow form
        console.print(cell_legend())
    for line in failing_lines(summaries) + no_point_lines(summaries):
        console.print(line)
    console.print(faults_line(faults))
    for s in summaries:
        if s.error:
            console.print(f"[bold red]{_named(s)} could not be explored:[/] {escape(s.error)}")
    for s in summaries:
        for note in s.warnings:
            console.print(f"[bold yellow]warning[/] {_named(s)}: {escape(note)}")
    audited = [s for s in summaries if s.uncovered]
    if audited:
        console.print(
            f"[bold yellow]journal audit[/]: uncovered mutations in {len(audited)} variant(s), "
            "one line per site (the report lists each mutation)"
        )
    for s in audited:
        console.print(f"  {_named(s)}: {s.mutations} at {len(s.uncovered)} site(s)")
        for line in s.uncovered:
            console.print(f"    {escape(line)}")
    total = sum(s.points for s in summaries)
    console.print(f"{total} points; results in {escape(results)}")


#: The colour of each cell class (:func:`crashkit.model.outcome.fault_cell`).
_CELL_STYLE = {"good": "green", "bad": "bold red", "known": "yellow", "warn": "red", "none": "dim"}


def summary_table(
    summaries: Sequence[VariantSummary], faults: Sequence[str], width: int = 160
) -> Table:
    """The summary as a matrix: a row per scenario and variant, a column per fault kind,
    each cell what that fault found (a word and the failing count), then the verdict.

    When that does not fit in ``width`` columns, the scenario becomes a heading line, the
    fault names break at their hyphen and the cells use the short forms of
    :data:`SHORT_CELLS` (the legend says so). Variant names never wrap or shorten."""
    cells = [[_cell(s, fault) for fault in faults] for s in summaries]
    verdicts = [_verdict(s) for s in summaries]
    long = [*(len(s.scenario.name) for s in summaries), 8]
    natural = max(long) + 3 + _width(summaries, faults, cells, verdicts)
    compact = natural > width
    table = Table(
        title="crashkit sweep",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1, 0, 0) if compact else (0, 1),
    )
    longest = max((len(s.variant) for s in summaries), default=7)
    if not compact:
        table.add_column("scenario", no_wrap=True)
    table.add_column("variant", no_wrap=True, min_width=longest)
    for fault in faults:
        table.add_column(_short_header(fault) if compact else fault, overflow="fold")
    table.add_column("verdict")
    scenario = None
    for s, row, word in zip(summaries, cells, verdicts, strict=True):
        if compact:
            if s.scenario.name != scenario:
                scenario = s.scenario.name
                table.add_row(f"[bold]{escape(scenario)}[/]")
            row = [_short(cell) for cell in row]
        first = [escape(s.variant)] if compact else [escape(s.scenario.name), escape(s.variant)]
        table.add_row(*first, *(_styled(kind, text) for kind, text in row), word)
    return table


#: The short form of each cell word, for a summary that must fit a narrow terminal.
SHORT_CELLS = {
    "clean": "ok",
    "failing": "F",
    "caught": "C",
    "not caught": "NC",
    "no findings": "-",
    "no points": "n/a",
    "not run": "?",
    "error": "ERR",
}


def cell_legend() -> str:
    """What the short cells of a narrow summary stand for."""
    return "cells: " + ", ".join(f"{short} {word}" for word, short in SHORT_CELLS.items())


def _short_header(fault: str) -> str:
    """A fault's name in a narrow column: broken at its hyphens, long parts shortened
    (``lost-response`` -> ``lost-`` / ``respo.``); the faults line names them in full."""
    parts = [p if len(p) <= 6 else p[:5] + "." for p in fault.split("-")]
    return "-\n".join(parts)


def _cell(summary: VariantSummary, fault: str) -> tuple[str, str]:
    kind, word = summary.cell(fault)
    count = summary.by_fault[fault]
    return kind, f"{word} {count}" if count else word


def _short(cell: tuple[str, str]) -> tuple[str, str]:
    kind, text = cell
    word, _, count = text.rpartition(" ") if text[-1:].isdigit() else (text, "", "")
    return kind, SHORT_CELLS[word] + count


def _styled(kind: str, text: str) -> str:
    return f"[{_CELL_STYLE[kind]}]{escape(text)}[/]"


def _width(
    summaries: Sequence[VariantSummary],
    faults: Sequence[str],
    cells: list[list[tuple[str, str]]],
    verdicts: list[str],
) -> int:
    """The columns the full matrix needs after the scenario column."""
    longest = max((len(s.variant) for s in summaries), default=7)
    width = longest + 3
    for i, fault in enumerate(faults):
        width += max([len(fault), *(len(row[i][1]) for row in cells)]) + 3
    return width + max([7, *(len(Text.from_markup(v).plain) for v in verdicts)])


def faults_line(faults: Sequence[str]) -> str:
    """Which fault kinds ran and which did not."""
    missing = [f for f in FAULT_KINDS if f not in faults]
    line = f"faults run: {', '.join(faults) or 'none'}"
    if missing:
        line += f"; not run: {', '.join(missing)} (--fault all runs every kind)"
    return escape(line)


def failing_lines(summaries: Sequence[VariantSummary]) -> list[str]:
    """The failed invariants of each variant that has failing points."""
    return [
        f"{_named(s)} failed: "
        + escape(", ".join(f"{name} x{count}" for name, count in _by_count(s.by_invariant)))
        for s in summaries
        if s.failed
    ]


def no_point_lines(summaries: Sequence[VariantSummary]) -> list[str]:
    """A line per fault kind that offered no crash point in some variant: it found nothing
    because it had nowhere to strike, not because the program is right."""
    empty: dict[str, list[str]] = {}
    for s in summaries:
        for fault in s.faults:
            if s.error is None and s.offered and not s.offered.get(fault):
                empty.setdefault(fault, []).append(f"{s.scenario.name}[{s.variant}]")
    return [
        f"[yellow]{escape(fault)} offered no crash point[/] in {escape(', '.join(names))}: "
        f"nothing it strikes ({escape(FAULTS[fault].summary)})"
        for fault, names in empty.items()
    ]


def _named(summary: VariantSummary) -> str:
    """``scenario[variant]``, escaped whole (rich would take ``[variant]`` for markup)."""
    return escape(f"{summary.scenario.name}[{summary.variant}]")


def _by_count(counts: Counter[str]) -> list[tuple[str, int]]:
    """Most first, ties by name: the same table from every run (sets of invariant names
    are counted in an order that differs between processes)."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _verdict(summary: VariantSummary) -> str:
    outcome = summary.verdict
    word = verdict_word(outcome, summary.scenario.catching_faults(summary.variant))
    return f"[{_VERDICT_STYLE[outcome]}]{escape(word)}[/]"


_VERDICT_STYLE = {
    Verdict.BROKEN: "bold red",
    Verdict.CAUGHT: "yellow",
    Verdict.NOT_CAUGHT: "red",
    Verdict.NOT_SWEPT: "dim",
    Verdict.CLEAN: "green",
    Verdict.FAILING: "bold red",
}


# -- the fake remote ---------------------------------------------------------------


def _serve(args: argparse.Namespace, console: Console) -> int:
    with _serving(args) as serving:
        console.print(
            f"fake {escape(args.remote)} API at {serving.url} (token {escape(args.token)}, "
            f"store {escape(args.store)})"
        )
        for note in serving.notes:
            console.print(escape(note))
        console.print("Ctrl-C stops it; the store keeps everything.")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            console.print("stopped")
    return 0


@contextlib.contextmanager
def _serving(args: argparse.Namespace) -> Iterator[Serving]:
    """The remote served as asked; UsageError with the fix for a bad store or port."""
    try:
        context = serve_remote(args.remote, args.store, args.port, args.token)
        serving = context.__enter__()
    except sqlite3.Error as error:
        raise UsageError(
            f"--store {args.store}: not a usable SQLite store ({error}); name a new file, or "
            "one an earlier serve made"
        ) from None
    except OSError as error:
        raise UsageError(
            f"--port {args.port}: cannot listen on 127.0.0.1 ({error.strerror}); choose another "
            "port, or 0 for any free one"
        ) from None
    try:
        yield serving
    finally:
        context.__exit__(None, None, None)


# -- points and replay -------------------------------------------------------------


def _explorer(
    spec: str, variant: str | None, keep: bool, world: str | None = None
) -> tuple[Explorer, Path]:
    """An explorer of one point's variant, with the project's settings (its timeout, rounds
    and launcher), so that a replay runs the point as the sweep did; of a generated
    scenario, on the ``world`` given."""
    scenario = _scenario(spec, world)
    variant = variant or next(iter(scenario.variants))
    options = project_options(Path.cwd())
    work = new_work_dir()
    launcher = make_launcher(options.launcher, scenario.preload_modules())
    return explorer_for(scenario, variant, launcher, work, options, keep_worlds=keep), work


def _scenario(spec: str, world: str | None) -> Scenario:
    """The scenario ``spec`` names; a generated one needs its world (``--world``)."""
    if world is not None:
        return resolve_generated(spec, default_paths()).scenario_from_json(decode_world(world))
    try:
        return resolve(spec, default_paths())
    except ScenarioError as error:
        try:
            resolve_generated(spec, default_paths())
        except ScenarioError:
            raise error from None
        raise UsageError(
            f"{spec} is a generated scenario: its points exist for one world; give it with "
            "--world (the replay line of a finding has it, as does a results file's 'world')"
        ) from None


def _points(args: argparse.Namespace, console: Console) -> int:
    explorer, work = _explorer(args.scenario, args.variant, keep=False, world=args.world)
    try:
        golden = explorer.prepare()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = Table(
        title=escape(
            f"{explorer.scenario.name} [{explorer.variant}] under {args.fault}: "
            f"{len(explorer.points_for(args.fault))} points"
        ),
        title_justify="left",
    )
    for column in ("point", "operation", "target", "caller"):
        table.add_column(column)
    for point in explorer.points_for(args.fault):
        op = explorer.operation(point)
        table.add_row(f"p{point:02d}", op.kind, escape(op.target), escape(op.where))
    console.print(table)
    console.print(f"golden run: {len(golden.rounds)} restart round(s) to a fixpoint")
    return 0


def _replay(args: argparse.Namespace, console: Console) -> int:
    explorer, work = _explorer(args.scenario, args.variant, keep=True, world=args.world)
    # One point, shown whole: the workload really killed there, its trace and output kept.
    explorer.record_kills = False
    try:
        try:
            result = explorer.run_point(args.point, args.fault)
        except ScenarioError as error:
            if args.world is None:
                raise
            # A generated world the program cannot even run uncrashed: the search's
            # finding (dry-run), reproduced; not a broken scenario.
            where = f"{error.scenario}: {error.problem}"
            console.print(f"[bold red]FINDING {DRY_RUN}[/]: {escape(where)}")
            return 0 if explorer.scenario.expects_findings(args.variant) else 1
        kept = _keep_world(
            work, f"{args.fault}-p{args.point:03d}" if args.point else "golden", Path(args.keep)
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _print_point(console, result, kept)
    return 0 if result.passed or result.expected else 1


_REPLAY_MARK = ".crashkit-replay"


def _keep_world(work: Path, name: str, keep: Path) -> Path | None:
    run = work / name
    if not run.exists():
        return None
    if keep.exists():
        if not (keep / _REPLAY_MARK).exists() and any(keep.iterdir()):
            raise UsageError(
                f"--keep {keep}: the folder exists and holds other files; "
                "name a new folder (or an earlier replay's)"
            )
        shutil.rmtree(keep)
    shutil.copytree(run, keep, symlinks=True)
    (keep / _REPLAY_MARK).write_text("a world kept by crashkit replay; replaced by the next\n")
    return keep


def _print_point(console: Console, result: PointResult, kept: Path | None) -> None:
    console.print(
        f"[bold]{escape(f'{result.scenario.name}[{result.variant}]')} "
        f"point {result.point} of {result.points}[/] ({escape(result.fault)}): "
        f"{escape(result.op.describe())}"
    )
    if result.injection:
        console.print(f"  fault: {escape(result.injection)}")
    for r in result.rounds:
        state = "changed" if r.changed else "unchanged"
        console.print(
            f"  round {r.number}: {r.exit}, {r.operations} operations, "
            f"{len(r.mutations)} mutations, state {state}"
        )
        for mutation in r.mutations:
            console.print(f"      {escape(mutation)}")
    if result.output.strip():
        console.print("[dim]program output of the crashed run:[/]")
        console.print(escape(result.output.rstrip()))
    for finding in result.findings:
        console.print(
            f"[bold red]FINDING {escape(finding.invariant)}[/]: {escape(finding.message)}"
        )
        if finding.diff:
            console.print(escape(finding.diff.rstrip()))
    if result.passed:
        console.print("[green]pass[/]: every invariant holds")
    if kept is not None:
        console.print(
            f"world and run files kept in {escape(str(kept))} "
            "(world/ is the recovered world; crash/ and round*/ hold each child's "
            "trace.jsonl, output.txt, error.txt)"
        )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
