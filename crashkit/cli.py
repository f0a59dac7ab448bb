"""The ``crashkit`` command: run, points, replay."""

from __future__ import annotations

import argparse
import contextlib
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

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from crashkit.engine.artifacts import MANIFEST, ArtifactStore, Recheck, recheck
from crashkit.engine.explorer import Explorer
from crashkit.engine.generation import SearchOutcome, search_generated
from crashkit.engine.result import PointResult
from crashkit.engine.sweep import Sweep, VariantSummary, check_variants, explorer_for
from crashkit.engine.workdir import new_work_dir
from crashkit.errors import CrashkitError, ScenarioError, UsageError
from crashkit.faults import FAULT_KINDS, FAULTS
from crashkit.launch import LAUNCHERS, make_launcher
from crashkit.model.outcome import Verdict
from crashkit.options import Options, load_settings, project_options
from crashkit.output.report import merge_results, write_report
from crashkit.output.results import ResultsWriter, end_record, read_results
from crashkit.remotes import REMOTES, Serving, serve_remote
from crashkit.scenario.generated import Generated, decode_world, load_all, resolve_generated
from crashkit.scenario.scenario import Scenario, resolve

__all__ = ["main"]

DEFAULT_RESULTS = Options.results
DEFAULT_REPORT = Options.report
DEFAULT_ARTIFACTS = "reports/artifacts"


def default_paths() -> list[str]:
    """The bundled scenarios: ``./scenarios`` if present, else the ones beside the package."""
    here = Path("scenarios")
    if here.is_dir():
        return [str(here)]
    bundled = Path(__file__).resolve().parent.parent / "scenarios"
    return [str(bundled)] if bundled.is_dir() else []


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
    commands = parser.add_subparsers(dest="command", required=True)

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
        default=DEFAULT_ARTIFACTS,
        help="where failing points' worlds are kept, 'none' for nowhere (default: %(default)s)",
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
    args = _parser().parse_args(argv)
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
        },
    )


def _run(args: argparse.Namespace, console: Console) -> int:
    options = run_options(args)
    paths = args.paths or default_paths()
    if not paths:
        console.print("[red]crashkit:[/] no scenarios given and no scenarios/ folder here")
        return 2
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
    check_outputs(options, args.artifacts)
    artifacts = _artifact_store(args.artifacts, args.resume)
    summaries: list[VariantSummary] = []
    outcomes: list[SearchOutcome] = []
    with ResultsWriter(options.results, resume=args.resume) as results:
        progress = _progress(console, args.quiet)
        with progress:
            if scenarios:
                summaries = _sweep(scenarios, options, results, artifacts, progress)
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
) -> list[VariantSummary]:
    task = progress.add_task("crash points", total=0)
    sweep = Sweep(
        scenarios,
        options=options,
        results=results,
        artifacts=artifacts,
        on_result=lambda r: progress.advance(task),
        on_prepared=lambda e: progress.update(
            task, total=(progress.tasks[task].total or 0) + len(sweep.planned(e))
        ),
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
    task = progress.add_task("generated worlds", total=None)
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
        TimeElapsedColumn(),
        console=console,
        disable=quiet or not console.is_terminal,
    )


def _print_summary(console: Console, summaries: list[VariantSummary], results: str) -> None:
    table = Table(title="crashkit sweep", title_justify="left")
    columns = (
        "scenario",
        "variant",
        "points",
        "passed",
        "failed",
        "failed under",
        "findings",
        "verdict",
    )
    for column in columns:
        table.add_column(column)
    for s in summaries:
        findings = ", ".join(f"{name} x{count}" for name, count in _by_count(s.by_invariant))
        table.add_row(
            escape(s.scenario.name),
            escape(s.variant),
            str(s.points),
            str(s.passed),
            str(s.failed),
            escape(", ".join(f"{fault} x{n}" for fault, n in _by_count(s.by_fault)) or "-"),
            escape(findings or ("error" if s.error else "-")),
            _verdict(s),
        )
    console.print(table)
    for s in summaries:
        if s.error:
            console.print(
                f"[bold red]{escape(s.scenario.name)}[{escape(s.variant)}] could not "
                f"be explored:[/] {escape(s.error)}"
            )
    for s in summaries:
        if s.uncovered:
            console.print(
                f"[bold yellow]journal audit[/] {escape(s.scenario.name)}"
                f"[{escape(s.variant)}]: {len(s.uncovered)} uncovered mutation(s)"
            )
            for line in s.uncovered:
                console.print(f"  {escape(line)}")
    total = sum(s.points for s in summaries)
    console.print(f"{total} points; results in {escape(results)}")


def _by_count(counts: Counter[str]) -> list[tuple[str, int]]:
    """Most first, ties by name: the same table from every run (sets of invariant names
    are counted in an order that differs between processes)."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _verdict(summary: VariantSummary) -> str:
    verdict = summary.verdict
    if verdict is Verdict.NOT_SWEPT:
        meant = ", ".join(sorted(summary.scenario.catching_faults(summary.variant)))
        return f"[dim]not swept (caught by {meant})[/]"
    return _VERDICT_WORDS[verdict]


_VERDICT_WORDS = {
    Verdict.BROKEN: "[red]broken[/]",
    Verdict.CAUGHT: "[yellow]caught (known bug)[/]",
    Verdict.NOT_CAUGHT: "[red]bug not caught[/]",
    Verdict.CLEAN: "[green]clean[/]",
    Verdict.FAILING: "[bold red]FINDINGS[/]",
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
        result = explorer.run_point(args.point, args.fault)
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
        f"[bold]{escape(result.scenario.name)}[{escape(result.variant)}] "
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
