"""The ``crashkit`` command: run, points, replay."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from crashkit._results import ResultsWriter
from crashkit._runner import Explorer, PointResult, new_work_dir
from crashkit._scenario import Scenario, load_scenarios, resolve
from crashkit._starter import make_starter
from crashkit._sweep import Sweep, VariantSummary
from crashkit.errors import CrashkitError

__all__ = ["main"]

DEFAULT_RESULTS = "reports/results.jsonl"


def default_paths() -> list[str]:
    """The bundled scenarios: ``./scenarios`` if present, else the ones beside the package."""
    here = Path("scenarios")
    if here.is_dir():
        return [str(here)]
    bundled = Path(__file__).resolve().parent.parent / "scenarios"
    return [str(bundled)] if bundled.is_dir() else []


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
    run.add_argument("-j", "--jobs", type=int, default=None, help="children at once (cores)")
    run.add_argument("--results", default=DEFAULT_RESULTS, help="JSON lines results file")
    run.add_argument("--resume", action="store_true", help="skip points already in --results")
    run.add_argument("--sample", type=int, default=None, help="N seeded points per variant")
    run.add_argument("--seed", type=int, default=0, help="seed for --sample")
    run.add_argument(
        "--fresh-interpreter",
        action="store_true",
        help="start each child as a new interpreter instead of forking",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    points = commands.add_parser("points", help="list a scenario's enumerated crash points")
    points.add_argument("scenario", help="path.py::name, path.py, or a bundled scenario's name")
    points.add_argument("-V", "--variant", default=None, help="variant (default: the first)")

    replay = commands.add_parser("replay", help="rerun one point verbosely, keeping its world")
    replay.add_argument("scenario", help="path.py::name, path.py, or a bundled scenario's name")
    replay.add_argument("-p", "--point", type=int, required=True, help="the point (0: no crash)")
    replay.add_argument("-V", "--variant", default=None, help="variant (default: the first)")
    replay.add_argument(
        "--keep",
        default="reports/replay",
        help="folder the crashed world is copied to (default: %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 160)  # logs and CI: do not wrap the summary
    try:
        if args.command == "run":
            return _run(args, console)
        if args.command == "points":
            return _points(args, console)
        return _replay(args, console)
    except CrashkitError as error:
        console.print(f"[bold red]crashkit:[/] {escape(str(error))}")
        return 2
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]: results so far are kept; rerun with --resume")
        return 130


# -- run -------------------------------------------------------------------------


def _run(args: argparse.Namespace, console: Console) -> int:
    paths = args.paths or default_paths()
    if not paths:
        console.print("[red]crashkit:[/] no scenarios given and no scenarios/ folder here")
        return 2
    scenarios = load_scenarios(paths, args.scenario)
    with ResultsWriter(args.results, resume=args.resume) as results:
        progress = _progress(console, args.quiet)
        task = progress.add_task("crash points", total=0)
        sweep = Sweep(
            scenarios,
            variants=args.variant,
            jobs=args.jobs,
            results=results,
            fresh_interpreter=args.fresh_interpreter,
            sample=args.sample,
            seed=args.seed,
            on_result=lambda r: progress.advance(task),
            on_prepared=lambda e: progress.update(
                task, total=(progress.tasks[task].total or 0) + len(sweep.planned(e))
            ),
        )
        with progress:
            summaries = sweep.run()
    _print_summary(console, summaries, args.results)
    return 0 if all(s.ok for s in summaries) else 1


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
    for column in ("scenario", "variant", "points", "passed", "failed", "findings", "verdict"):
        table.add_column(column)
    for s in summaries:
        findings = ", ".join(f"{name} x{count}" for name, count in s.by_invariant.most_common())
        table.add_row(
            escape(s.scenario.name),
            escape(s.variant),
            str(s.points),
            str(s.passed),
            str(s.failed),
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


def _verdict(summary: VariantSummary) -> str:
    if summary.error:
        return "[red]broken[/]"
    if summary.expected:
        return "[yellow]caught (known bug)[/]" if summary.failed else "[red]bug not caught[/]"
    return "[green]clean[/]" if not summary.failed else "[bold red]FINDINGS[/]"


# -- points and replay -------------------------------------------------------------


def _explorer(spec: str, variant: str | None, keep: bool) -> tuple[Explorer, Path]:
    scenario: Scenario = resolve(spec, default_paths())
    variant = variant or next(iter(scenario.variants))
    work = new_work_dir()
    starter = make_starter(False, scenario.preload)
    return Explorer(scenario, variant, starter, work, os.getcwd(), keep), work


def _points(args: argparse.Namespace, console: Console) -> int:
    explorer, work = _explorer(args.scenario, args.variant, keep=False)
    try:
        golden = explorer.prepare()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = Table(
        title=escape(f"{explorer.scenario.name} [{explorer.variant}]: {explorer.points} points"),
        title_justify="left",
    )
    for column in ("point", "operation", "target", "caller"):
        table.add_column(column)
    for point in range(1, explorer.points + 1):
        op = explorer.operation(point)
        table.add_row(f"p{point:02d}", op.kind, escape(op.target), escape(op.where))
    console.print(table)
    console.print(f"golden run: {len(golden.rounds)} restart round(s) to a fixpoint")
    return 0


def _replay(args: argparse.Namespace, console: Console) -> int:
    explorer, work = _explorer(args.scenario, args.variant, keep=True)
    try:
        result = explorer.run_point(args.point)
        kept = _keep_world(work, args.point, Path(args.keep))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _print_point(console, result, kept)
    return 0 if result.passed or result.expected else 1


def _keep_world(work: Path, point: int, keep: Path) -> Path | None:
    run = work / f"p{point:03d}" if point else work / "golden"
    if not run.exists():
        return None
    if keep.exists():
        shutil.rmtree(keep)
    shutil.copytree(run, keep, symlinks=True)
    return keep


def _print_point(console: Console, result: PointResult, kept: Path | None) -> None:
    console.print(
        f"[bold]{escape(result.scenario.name)}[{escape(result.variant)}] "
        f"point {result.point} of {result.points}[/]: {escape(result.op.describe())}"
    )
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
