"""Crash points per second: the fork server against a fresh interpreter per child.

Runs the same crash points of one scenario variant side by side in one run:

1. with children forked from the fork server (the default), with J parallel jobs and
   with one job;
2. with a fresh interpreter per child (``fresh_interpreter=True``), the naive baseline;
3. the raw cost of one child for a trivial phase (one SQLite commit and one file write,
   then SIGKILL; the ``TINY`` scenario below), next to a bare child and to
   ``python -c "import httpx"``, to compare with DESIGN.md section 7.

Setup and the golden run are timed on their own and left out of points/s. Nothing is
asserted: the numbers move with the machine and its load. From the repository:

    python benchmarks/bench_points.py [--scenario scenarios/test_conflict.py]
        [--points N] [--jobs J] [--faults kill,...] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import multiprocess

from crashkit import Scenario, World
from crashkit._runner import Explorer, new_work_dir
from crashkit._scenario import resolve
from crashkit._starter import ChildStarter, make_starter
from crashkit.errors import CrashkitError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SCENARIO = ROOT / "scenarios" / "test_conflict.py"
#: (name, fresh_interpreter)
MODES = (("fork server", False), ("fresh interpreter", True))
FORK, FRESH = MODES[0][0], MODES[1][0]
#: What DESIGN.md section 7 measured, for comparison.
DESIGN_FORK_MS = 4
DESIGN_FRESH_MS = 95
#: multiprocess starts children so named without importing this script as ``__main__``.
CHILD_NAME = "crashkit-child-bench"


# -- the tiny scenario of the raw child measurement -------------------------------------
# It travels to each child by value (dill), so no child imports a scenario file: the
# functions import what they use themselves.


def _tiny_setup(world: World) -> None:
    import sqlite3

    db = sqlite3.connect(world.path("state.db"))
    with db:
        db.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)")
    db.close()


def _tiny_workload(world: World) -> None:
    import sqlite3

    db = sqlite3.connect(world.path("state.db"))
    with db:
        db.execute("INSERT OR REPLACE INTO kv VALUES ('note', 'synced')")
    db.close()
    world.path("note.md").write_text("# note\n")


def _tiny_restart(world: World) -> None:
    """Nothing to recover (the raw measurement never restarts)."""


def _tiny_observe(world: World) -> dict[str, Any]:
    note = world.path("note.md")
    return {"note": note.read_text() if note.exists() else None}


#: One SQLite commit and one file write.
TINY = Scenario(
    name="bench-tiny",
    setup=_tiny_setup,
    workload=_tiny_workload,
    restart=_tiny_restart,
    observe=_tiny_observe,
    timeout=30.0,
)


# -- measuring ---------------------------------------------------------------------------


def fault_kinds() -> tuple[str, ...]:
    """The fault kinds the plugin offers (imported late: it imports pytest)."""
    from crashkit import _pytest

    return tuple(getattr(_pytest, "FAULT_KINDS", ("kill",)))


def sample(points: list[int], size: int | None, seed: int) -> list[int]:
    if size is None or size >= len(points):
        return points
    return sorted(random.Random(seed).sample(points, size))


@dataclass
class Timing:
    """One timed batch of crash points."""

    mode: str
    fault: str
    jobs: int
    points: int
    seconds: float = 0.0
    findings: int = 0
    errors: list[str] = field(default_factory=list)
    #: Step name -> the durations of each call (one-job runs only).
    steps: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    @property
    def rate(self) -> float:
        return self.points / self.seconds if self.seconds > 0 else 0.0


class Bench:
    """An explorer per (scenario, mode), all on one fork server, and the timings."""

    def __init__(self, scenario: Scenario, variant: str) -> None:
        self.scenario, self.variant = scenario, variant
        self.tiny = TINY
        self.preload = list(
            dict.fromkeys([*scenario.preload_modules(), *self.tiny.preload_modules()])
        )
        self.work = new_work_dir()
        # A process has one fork server: it gets every module either scenario preloads.
        self.starters: dict[bool, ChildStarter] = {
            fresh: make_starter(fresh, self.preload) for _, fresh in MODES
        }
        self.explorers: dict[tuple[str, bool], Explorer] = {}
        #: Seconds of setup + golden run per explorer: not part of points/s.
        self.prepared: dict[tuple[str, bool], float] = {}

    def close(self) -> None:
        for starter in self.starters.values():
            starter.close()
        shutil.rmtree(self.work, ignore_errors=True)

    def explorer(self, scenario: Scenario, variant: str, fresh: bool) -> Explorer:
        """The explorer, prepared on first use (setup and golden run, timed apart)."""
        key = (scenario.name, fresh)
        if key not in self.explorers:
            folder = self.work / f"{len(self.explorers):02d}-{scenario.name}"
            explorer = Explorer(scenario, variant, self.starters[fresh], folder, str(ROOT))
            started = time.perf_counter()
            explorer.prepare()
            self.prepared[key] = time.perf_counter() - started
            self.explorers[key] = explorer
        return self.explorers[key]

    # -- crash points ----------------------------------------------------------------------

    def measure(self, mode: str, fresh: bool, fault: str, jobs: int, points: list[int]) -> Timing:
        """Time ``points`` on ``jobs`` threads; with one job, also the runner's steps."""
        explorer = self.explorer(self.scenario, self.variant, fresh)
        timing = Timing(mode, fault, jobs, len(points))
        timers = self._time_steps(explorer, timing.steps) if jobs == 1 else []
        started = time.perf_counter()
        try:
            with ThreadPoolExecutor(jobs, thread_name_prefix="bench") as pool:
                futures = [pool.submit(explorer.run_point, p, fault) for p in points]
                for future in futures:
                    try:
                        timing.findings += not future.result().passed
                    except Exception as error:  # keep measuring; printed below the table
                        timing.errors.append(f"{type(error).__name__}: {error}")
        finally:
            timing.seconds = time.perf_counter() - started
            for name in timers:
                del explorer.__dict__[name]
        return timing

    @staticmethod
    def _time_steps(explorer: Explorer, steps: dict[str, list[float]]) -> list[str]:
        """Wrap the explorer's steps (copy, children, observe) to add up their times."""

        def child(world: Path, run_dir: Path, phase: str, **kwargs: Any) -> str:
            return f"{'crashed ' if kwargs.get('crash_at') else ''}{phase} child"

        labels: dict[str, Callable[..., str]] = {
            "_world": lambda *a, **k: "world copy",
            "_copy": lambda *a, **k: "world copy",
            "_run_child": child,
            "_observe": lambda *a, **k: "observe in the parent",
        }
        wrapped = []
        for name, label in labels.items():
            method = getattr(explorer, name, None)
            if method is None:
                continue

            def wrapper(
                *args: Any, _method: Any = method, _label: Any = label, **kwargs: Any
            ) -> Any:
                started = time.perf_counter()
                try:
                    return _method(*args, **kwargs)
                finally:
                    steps[_label(*args, **kwargs)].append(time.perf_counter() - started)

            setattr(explorer, name, wrapper)
            wrapped.append(name)
        return wrapped

    # -- one child --------------------------------------------------------------------------

    def tiny_children(self, fresh: bool, count: int) -> tuple[list[float], list[float], int]:
        """World copy and child (start to reaped) times of the tiny phase killed at its end."""
        explorer = self.explorer(self.tiny, "default", fresh)
        after_last = explorer.points  # N+1: SIGKILL right after the last operation
        copies, children, killed = [], [], 0
        for number in range(count):
            started = time.perf_counter()
            world = explorer._world(f"raw{number:03d}")
            copied = time.perf_counter()
            run = explorer._run_child(
                world, world.parent / "crash", "workload", crash_at=after_last
            )
            copies.append(copied - started)
            children.append(time.perf_counter() - copied)
            killed += run.exit.killed
            shutil.rmtree(world.parent, ignore_errors=True)
        return copies, children, killed

    @staticmethod
    def bare_children(fresh: bool, count: int) -> list[float]:
        """A child that exits at once: what the start method itself costs."""
        context = multiprocess.get_context("spawn" if fresh else "forkserver")
        times = []
        for _ in range(count):
            started = time.perf_counter()
            process = context.Process(target=os._exit, args=(0,), name=CHILD_NAME)
            process.start()
            process.join()
            process.close()
            times.append(time.perf_counter() - started)
        return times

    def preloaded(self) -> tuple[list[str], list[str]]:
        """Which of the preload modules a fork server child finds imported, and which not."""
        out = self.work / "preloaded.txt"
        code = (
            "import sys\n"
            f"open({str(out)!r}, 'w').write(' '.join("
            f"m for m in {self.preload!r} if m in sys.modules))\n"
        )
        process = multiprocess.get_context("forkserver").Process(
            target=exec, args=(code,), name=CHILD_NAME
        )
        process.start()
        process.join()
        process.close()
        warm = out.read_text().split() if out.exists() else []
        return warm, [m for m in self.preload if m not in warm]


def python_importing(module: str, count: int) -> list[float]:
    """``python -c "import module"``, start to exit."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        times.append(time.perf_counter() - started)
    return times


# -- printing ------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def spread(times: Sequence[float]) -> str:
    return f"{ms(statistics.median(times))} (min {ms(min(times))})" if times else "-"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b > 0 else "n/a"


def jobs_label(jobs: int) -> str:
    return f"{jobs} job" if jobs == 1 else f"{jobs} jobs"


def print_table(rows: Sequence[Sequence[str]], right: Sequence[bool]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for number, row in enumerate(rows):
        cells = [
            cell.rjust(width) if align else cell.ljust(width)
            for cell, width, align in zip(row, widths, right, strict=True)
        ]
        print("  " + "  ".join(cells).rstrip())
        if number == 0:
            print("  " + "  ".join("-" * width for width in widths))


def print_steps(timing: Timing) -> None:
    per_point = timing.seconds / timing.points
    parts, accounted = [], 0.0
    for label, times in timing.steps.items():
        accounted += sum(times)
        parts.append(f"{len(times) / timing.points:.1f} x {label} {ms(statistics.mean(times))}")
    parts.append(f"checks and the rest {ms(per_point - accounted / timing.points)}")
    print(f"  {timing.mode}: {ms(per_point)} per point = " + ", ".join(parts))


# -- main ----------------------------------------------------------------------------------


def parse(argv: Sequence[str], kinds: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Crash points per second: fork server vs a fresh interpreter per child."
    )
    parser.add_argument(
        "--scenario",
        default=str(DEFAULT_SCENARIO),
        help="scenario file, or path.py::name (default: the bundled conflict scenario)",
    )
    parser.add_argument("--variant", default="correct", help="engine variant (default: correct)")
    parser.add_argument(
        "--points",
        type=int,
        help="run a seeded sample of this many crash points (default: every point)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="parallel jobs; a 1-job run is measured too (default: all cores)",
    )
    parser.add_argument(
        "--faults",
        default=",".join(kinds),
        help=f"fault kinds, comma separated (default: all this crashkit has: {','.join(kinds)})",
    )
    parser.add_argument(
        "--children", type=int, default=10, help="samples per raw child measurement (default 10)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2 samples per raw child measurement (a smoke test)",
    )
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.children < 1 or (args.points is not None and args.points < 1):
        parser.error("--jobs, --points and --children must be at least 1")
    if args.quick:
        args.children = min(args.children, 2)
    return args


def main(argv: Sequence[str]) -> int:
    kinds = fault_kinds()
    args = parse(argv, kinds)
    requested = [f.strip() for f in args.faults.split(",") if f.strip()]
    faults = [f for f in requested if f in kinds]
    skipped = {
        f: f"not supported yet (crashkit._pytest.FAULT_KINDS is {', '.join(kinds)})"
        for f in requested
        if f not in faults
    }
    if not faults:
        print(f"no supported fault kind among {requested}; choose among {', '.join(kinds)}")
        return 2
    try:
        scenario = resolve(args.scenario, [])
        bench = Bench(scenario, args.variant)
    except CrashkitError as error:
        print(error)
        return 2
    try:
        run(bench, args, faults, skipped)
    except CrashkitError as error:
        print(error)
        return 1
    finally:
        bench.close()
    return 0


def run(bench: Bench, args: argparse.Namespace, faults: list[str], skipped: dict[str, str]) -> None:
    scenario, first = bench.scenario, faults[0]
    load = os.getloadavg()
    began = time.perf_counter()
    jobs_list = [args.jobs, 1] if args.jobs > 1 else [1]

    # Setup and golden run of both modes first: not part of the timed points.
    explorers = {fresh: bench.explorer(scenario, args.variant, fresh) for _, fresh in MODES}
    every = explorers[False].points_for(first)
    points = sample(every, args.points, args.seed)
    how = "every one" if len(points) == len(every) else f"a seeded sample, seed {args.seed}"
    print(
        f"crashkit benchmark: {scenario.id} [{args.variant}]; python "
        f"{platform.python_version()}, {os.cpu_count()} cores, load average "
        + " ".join(f"{x:.2f}" for x in load)
    )
    print(f"crash points: {len(points)} of {len(every)} ({how}): {points}")
    print(
        "setup + golden run (not in points/s): "
        + ", ".join(
            f"{mode} {bench.prepared[(scenario.name, fresh)]:.2f} s" for mode, fresh in MODES
        )
    )
    warm, cold = bench.preloaded()
    print(
        f"fork server preload: {len(warm)} of {len(bench.preload)} modules imported there"
        + (
            f"; not: {', '.join(cold)} (every child imports {'it' if len(cold) == 1 else 'them'})"
            if cold
            else ""
        )
    )
    if sys.flags.dont_write_bytecode:
        print("note: PYTHONDONTWRITEBYTECODE is set: every fresh interpreter compiles from source")
    print()

    # 1 and 2: the same points under both modes, J jobs then 1 job.
    timings = [
        bench.measure(mode, fresh, first, jobs, points)
        for jobs in jobs_list
        for mode, fresh in MODES
    ]
    rows = [["mode", "fault", "jobs", "points", "seconds", "points/s", "findings"]]
    rows += [
        [
            t.mode,
            t.fault,
            str(t.jobs),
            str(t.points),
            f"{t.seconds:.2f}",
            f"{t.rate:.2f}",
            str(t.findings),
        ]
        for t in timings
    ]
    print_table(rows, [False, False, True, True, True, True, True])
    by = {(t.mode, t.jobs): t for t in timings}
    print()
    print(
        "ratio fork server / fresh interpreter (points/s): "
        + ", ".join(
            f"{jobs_label(j)} {ratio(by[(FORK, j)].rate, by[(FRESH, j)].rate)}" for j in jobs_list
        )
    )
    if args.jobs > 1:
        print(
            f"parallel speedup ({jobs_label(args.jobs)} / 1 job): "
            + ", ".join(
                f"{mode} {ratio(by[(mode, args.jobs)].rate, by[(mode, 1)].rate)}"
                for mode, _ in MODES
            )
        )

    # Per fault kind: fork server, J jobs, a sample of each kind's own points.
    per_fault = {first: by[(FORK, args.jobs)]}
    for fault in faults[1:]:
        try:
            offered = explorers[False].points_for(fault)
            if not offered:
                skipped[fault] = "no crash points in this scenario"
                continue
            chosen = sample(offered, args.points, args.seed)
            per_fault[fault] = bench.measure(FORK, False, fault, args.jobs, chosen)
        except (CrashkitError, NotImplementedError) as error:
            skipped[fault] = f"not supported by this runner ({type(error).__name__}: {error})"
    print(
        f"points/s by fault kind ({FORK}, {jobs_label(args.jobs)}): "
        + ", ".join(f"{f} {t.rate:.2f} ({t.points} points)" for f, t in per_fault.items())
    )
    for fault, why in skipped.items():
        print(f"skipped fault kind {fault}: {why}")
    for t in [*timings, *per_fault.values()]:
        for problem in dict.fromkeys(t.errors):
            print(f"error ({t.mode}, {t.fault}, {jobs_label(t.jobs)}): {problem}")
    if any(t.findings for t in timings) and not scenario.expects_findings(args.variant):
        print("warning: a correct variant had findings; those points may not be typical")

    print()
    print(f"where a point's time goes (the 1-job runs, {first}, mean per point):")
    for mode, _ in MODES:
        print_steps(by[(mode, 1)])

    # 3: the raw cost of one child.
    n = args.children
    raw = {fresh: bench.tiny_children(fresh, n) for _, fresh in MODES}
    bare = {fresh: bench.bare_children(fresh, n) for _, fresh in MODES}
    httpx = python_importing("httpx", n)
    whole = {
        fresh: [a + b for a, b in zip(raw[fresh][0], raw[fresh][1], strict=True)]
        for _, fresh in MODES
    }
    print()
    print(
        f"one child, median (min) of {n}; the tiny phase: one SQLite commit, one file write, "
        "SIGKILL (its setup + golden run: "
        + ", ".join(
            f"{mode} {bench.prepared[(bench.tiny.name, fresh)]:.2f} s" for mode, fresh in MODES
        )
        + ")"
    )
    rows = [
        ["what", FORK, FRESH, "design"],
        ["bare child (exits at once)", spread(bare[False]), spread(bare[True]), ""],
        ["world copy", spread(raw[False][0]), spread(raw[True][0]), ""],
        ["tiny phase child", spread(raw[False][1]), spread(raw[True][1]), ""],
        [
            "world copy + tiny phase child",
            spread(whole[False]),
            spread(whole[True]),
            f"~{DESIGN_FORK_MS} ms (fork server)",
        ],
        ['python -c "import httpx"', "", spread(httpx), f"~{DESIGN_FRESH_MS} ms"],
    ]
    print_table(rows, [False, True, True, False])
    print(
        "ratio fresh interpreter / fork server (one tiny child): "
        + ratio(statistics.median(whole[True]), statistics.median(whole[False]))
    )
    for mode, fresh in MODES:
        if raw[fresh][2] != n:
            print(f"note: {n - raw[fresh][2]} of {n} {mode} tiny children did not die by SIGKILL")
    print()
    print(
        f"total {time.perf_counter() - began:.1f} s; load average now "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
        + " (the numbers move with the machine's load)"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
