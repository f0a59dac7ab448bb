"""Crash points per second: the fork server against a fresh interpreter per child.

Sweeps the same crash points of the bundled scenarios (or the ones given) side by side
in one run:

1. with children forked from crashkit's fork server (the default), with J parallel
   jobs and with one job;
2. with a fresh interpreter per child (the ``spawn`` launcher), the naive baseline;
3. the raw cost of one child: an empty phase, and a trivial phase (one SQLite commit
   and one file write, then SIGKILL; the ``TINY`` scenario below), next to
   ``python -c "import httpx"``, to compare with DESIGN.md section 7;
4. per fault kind measured (the first kind's timing is the main fork server run with J
   jobs; each later kind has a run of its own), side by side with its points/s:

   - **the limit**: the program's own cost per point and the points/s that cost allows
     on this machine's cores. The cost of a point is the restart phases crashkit ran for
     that point (the same number of restart rounds, on the same crash states), run in
     one warm process (the benchmark process itself) with no harness (no probe, no
     child, no observation); plus, for fault kinds that run the workload to the point in
     a child of its own (every kind except ``kill``, whose points share one recording
     run of the workload), one run of the workload on a fresh copy of the snapshot. For
     ``kill``, the cost of one workload run divided by the number of points of that
     scenario measured is added instead. Limit points/s = ``os.cpu_count()`` / the mean
     cost per point (perfect parallelism). The restart-only cost per point is printed
     beside it.
   - **efficiency**: measured points/s / limit points/s.
   - **cores busy**: CPU time of the whole timed sweep (this process and every process
     it started, fork server children included) / its wall time / ``os.cpu_count()``.

   The crash states and round counts come from a separate, untimed pass over the same
   points, each explorer's ``restart_rounds`` wrapped to copy the world it is given
   before the real method runs and to note how many rounds that returned, by point (a
   powerloss point recovers up to four states, a recovery-crash point each nested
   crash: a point's cost is the sum over its states). Each stashed state is copied to a
   scratch folder (not timed); with the variant's environment in ``os.environ``, the
   world the current folder and the scenario's context entered (not timed), the
   scenario's ``restart`` is called as many times as the harness ran rounds there, and
   only those calls are timed. The workload's cost is the median of three timed runs,
   each on a fresh copy of the snapshot, after an untimed warm-up run. Whether the warm
   restarts reach the state the harness saw is checked only loosely: a phase that
   raises here is counted and named in a warning. Scenarios whose restart or workload
   is a command (black-box) get no limit ("n/a: command phases").

Setup and the golden run are timed on their own and left out of points/s. Nothing is
asserted: the numbers move with the machine and its load. From the repository:

    python benchmarks/bench_points.py [--scenario crashkit/demo/scenarios/test_conflict.py ...]
        [--points N] [--jobs J] [--faults kill,...] [--quick] [--no-limit]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crashkit import Scenario, World
from crashkit.engine.explorer import Explorer
from crashkit.engine.recording import Recordings
from crashkit.engine.sweep import default_jobs
from crashkit.engine.workdir import new_work_dir
from crashkit.errors import CrashkitError
from crashkit.faults import FAULT_KINDS, fault_kind
from crashkit.launch import Launcher, forkserver, make_launcher
from crashkit.model.outcome import Round
from crashkit.model.process import ChildJob
from crashkit.model.worlds import copy_world
from crashkit.probes.syscall import Session
from crashkit.scenario.command import is_command
from crashkit.scenario.scenario import load_scenarios, resolve

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "crashkit" / "demo" / "scenarios"
#: (name, fresh_interpreter)
MODES = (("fork server", False), ("fresh interpreter", True))
BLACK_BOX = "black box"
FORK, FRESH = MODES[0][0], MODES[1][0]
#: What DESIGN.md section 7 measured, for comparison.
DESIGN_FORK_MS = 4
DESIGN_FRESH_MS = 95
#: Crash points per scenario for the fault kinds after the first (some are slow by nature).
FAULT_SAMPLE = 8
#: Timed runs of each scenario's workload for the limit (the median counts), after one
#: untimed run that warms this process up.
WORKLOAD_RUNS = 3


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


# -- CPU time of a timed sweep ------------------------------------------------------------

#: utime, stime, cutime and cstime: fields 14-17 of ``/proc/PID/stat`` (proc(5)), counted in
#: the fields after the command name's closing parenthesis (which start at field 3).
_PROC_TIMES = slice(11, 15)


def proc_cpu_seconds(stat: str, ticks: int) -> float:
    """utime + stime + cutime + cstime of a ``/proc/PID/stat`` line, in seconds: what the
    process ran itself and what the children it reaped ran.

    >>> proc_cpu_seconds("42 (a) b) S 1 2 3 4 5 6 7 8 9 10 100 50 20 30 20 0", 100)
    2.0
    """
    fields = stat.rpartition(")")[2].split()
    return sum(int(f) for f in fields[_PROC_TIMES]) / ticks


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds used so far, at one instant (see :func:`cpu_between`)."""

    #: This process, every thread (``RUSAGE_SELF``).
    own: float
    #: The children this process reaped, and what they reaped (``RUSAGE_CHILDREN``).
    reaped: float
    #: The live fork servers, each with the children it reaped (``/proc/PID/stat``).
    servers: float


def cpu_between(before: CpuSample, after: CpuSample) -> float:
    """CPU seconds this process and every process it started used between two samples.

    A fork server reaps its own children, so their time is in the server's cutime and
    cstime, which reach this process's ``RUSAGE_CHILDREN`` only once the server exits and
    is reaped. A server alive at both samples counts its difference; one started in
    between, all it used; one that exited in between is in ``reaped`` whole, its share
    before the first sample taken off with ``before.servers``.

    >>> cpu_between(CpuSample(1.0, 2.0, 5.0), CpuSample(1.5, 4.5, 6.0))  # 1 server exited
    4.0
    """
    return (
        (after.own - before.own) + (after.reaped - before.reaped) + (after.servers - before.servers)
    )


def fork_server_seconds(pids: Sequence[int], ticks: int) -> float:
    """CPU seconds of these processes and their reaped children (a process gone by now
    is skipped: once reaped, it is in ``RUSAGE_CHILDREN``)."""
    total = 0.0
    for pid in pids:
        try:
            total += proc_cpu_seconds(Path(f"/proc/{pid}/stat").read_text(), ticks)
        except (OSError, ValueError):
            continue
    return total


def cpu_sample() -> CpuSample:
    """This process, its reaped children, and crashkit's live fork servers, now."""
    with forkserver._SERVERS_LOCK:
        pids = [server.process.pid for server in forkserver._SERVERS.values()]
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return CpuSample(
        own.ru_utime + own.ru_stime,
        reaped.ru_utime + reaped.ru_stime,
        fork_server_seconds(pids, os.sysconf("SC_CLK_TCK")),
    )


class CpuMeter:
    """Wall and CPU seconds of the section it is entered around: this process and every
    process it started, fork-server children included (see :func:`cpu_between`).

    >>> samples = iter([CpuSample(0.0, 0.0, 0.0), CpuSample(1.0, 0.0, 2.0)])
    >>> with CpuMeter(lambda: next(samples), clock=iter([10.0, 12.0]).__next__) as meter:
    ...     pass
    >>> meter.cpu_seconds, meter.wall_seconds, meter.busy(cores=2)
    (3.0, 2.0, 0.75)
    """

    def __init__(
        self,
        sample: Callable[[], CpuSample] = cpu_sample,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._sample, self._clock = sample, clock
        self.cpu_seconds = self.wall_seconds = 0.0

    def __enter__(self) -> CpuMeter:
        self._before, self._started = self._sample(), self._clock()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_seconds = self._clock() - self._started
        self.cpu_seconds = cpu_between(self._before, self._sample())

    def busy(self, cores: int) -> float:
        """The share of ``cores`` busy on average (1.0: every core all the time)."""
        return self.cpu_seconds / self.wall_seconds / cores if self.wall_seconds > 0 else 0.0


# -- measuring ---------------------------------------------------------------------------


def fault_kinds() -> tuple[str, ...]:
    """Every fault kind crashkit offers (its registry)."""
    return FAULT_KINDS


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
    #: CPU seconds of the timed sweep: this process and all it started (see CpuMeter).
    cpu: float = 0.0
    findings: int = 0
    errors: list[str] = field(default_factory=list)
    #: Scenario id -> seconds until its last point was done.
    by_scenario: dict[str, float] = field(default_factory=dict)
    #: Step name -> the durations of each call (one-job runs only).
    steps: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    @property
    def rate(self) -> float:
        return self.points / self.seconds if self.seconds > 0 else 0.0

    def busy(self, cores: int) -> float:
        """CPU time / wall time / ``cores``: the share of the cores the sweep kept busy."""
        return self.cpu / self.seconds / cores if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Stash:
    """A crash state the harness recovered, copied before its restart rounds ran, and how
    many rounds it ran there."""

    scenario: str
    point: int
    world: Path
    rounds: int


@dataclass
class Limit:
    """The program's own cost of one fault kind's points, run in this warm process with no
    harness, and the points/s it allows (see the module docstring)."""

    fault: str
    points: int
    #: Seconds of the warm restarts, every point's rounds on every stashed state.
    restart: float = 0.0
    #: How many restart calls that was.
    restarts: int = 0
    #: Seconds of workload charged to the points (a run each, or a share of one for kill).
    workload: float = 0.0
    #: Phases that raised in this process (the harness's children did not, or not there).
    raised: list[str] = field(default_factory=list)
    #: Errors of the untimed pass that stashed the crash states.
    errors: list[str] = field(default_factory=list)
    #: Why there is no limit (None: there is one).
    missing: str | None = None

    @property
    def restart_per_point(self) -> float:
        return self.restart / self.points if self.points else 0.0

    @property
    def per_point(self) -> float:
        """Mean seconds of the program's own work per point."""
        return (self.restart + self.workload) / self.points if self.points else 0.0

    def rate(self, cores: int) -> float:
        """Points/s with ``cores`` cores doing nothing but this work (perfect parallelism)."""
        return cores / self.per_point if self.per_point > 0 else 0.0


def _tiny_report_modules(world: World) -> None:
    """The preload check's phase: which of ``$MODULES`` this child found imported."""
    import os
    import sys

    wanted = os.environ["MODULES"].split()
    world.path("preloaded.txt").write_text(" ".join(m for m in wanted if m in sys.modules))


@contextlib.contextmanager
def silenced_descriptors() -> Iterator[None]:
    """Descriptors 1 and 2 sent to /dev/null (a command's output, which bypasses
    ``sys.stdout``), restored afterwards."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


@contextlib.contextmanager
def as_a_child_would(explorer: Explorer, world: Path) -> Iterator[World]:
    """``world`` set up in this process as a child runs a phase there, minus the harness:
    the variant's environment in ``os.environ``, the world the current folder, the
    scenario's context entered (a fake remote's routing), the program's output discarded.
    No probe is installed here (its patches live in children only). All is restored."""
    view = World(world, explorer.variant, explorer.env)
    context = explorer.scenario.context
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.update(explorer.env)
    os.chdir(world)
    try:
        with (
            silenced_descriptors(),
            context(view) if context is not None else contextlib.nullcontext(),
        ):
            yield view
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


class Bench:
    """An explorer per (scenario, mode) and the timings; one launcher per mode."""

    def __init__(self, scenarios: Sequence[Scenario], variant: str) -> None:
        self.scenarios, self.variant = list(scenarios), variant
        self.tiny = TINY
        self.preload = list(
            dict.fromkeys([m for s in [*self.scenarios, self.tiny] for m in s.preload_modules()])
        )
        self.work = new_work_dir()
        self.launchers: dict[bool, Launcher] = {
            fresh: make_launcher("spawn" if fresh else "forkserver", self.preload)
            for _, fresh in MODES
        }
        self.explorers: dict[tuple[str, bool], Explorer] = {}
        #: Seconds of setup + golden run per explorer: not part of points/s.
        self.prepared: dict[tuple[str, bool], float] = {}
        #: Scenario id -> seconds of one warm workload run, and what raised there.
        self.workloads: dict[str, tuple[float, list[str]]] = {}

    def close(self) -> None:
        for launcher in self.launchers.values():
            launcher.close()
        shutil.rmtree(self.work, ignore_errors=True)

    def explorer(self, scenario: Scenario, variant: str, fresh: bool) -> Explorer:
        """The explorer, prepared on first use (setup and golden run, timed apart)."""
        key = (scenario.id, fresh)
        if key not in self.explorers:
            folder = self.work / f"{len(self.explorers):02d}-{scenario.name}"
            explorer = Explorer(scenario, variant, self.launchers[fresh], folder, str(ROOT))
            started = time.perf_counter()
            explorer.prepare()
            self.prepared[key] = time.perf_counter() - started
            self.explorers[key] = explorer
        return self.explorers[key]

    def prepared_seconds(self, fresh: bool) -> float:
        return sum(t for (sid, f), t in self.prepared.items() if f == fresh and sid != TINY.id)

    # -- crash points ----------------------------------------------------------------------

    def measure(
        self, mode: str, fresh: bool, fault: str, jobs: int, points: dict[str, list[int]]
    ) -> Timing:
        """Time ``points`` (scenario id -> points) on ``jobs`` threads, all scenarios in one
        pool as a sweep runs them; with one job, also the explorer's steps."""
        explorers = {
            s.id: self.explorer(s, self.variant, fresh) for s in self.scenarios if s.id in points
        }
        for explorer in explorers.values():
            # Each measurement is a first pass over the points, as a sweep makes one: a
            # second pass over the same explorer records again and shares nothing.
            explorer.recordings = Recordings(explorer)
        timing = Timing(mode, fault, jobs, sum(len(p) for p in points.values()))
        timers = (
            [(e, self._time_steps(e, timing.steps)) for e in explorers.values()]
            if jobs == 1
            else []
        )
        meter = CpuMeter()
        started = time.perf_counter()
        try:
            # The meter is left after the pool, which waits for every point.
            with meter, ThreadPoolExecutor(jobs, thread_name_prefix="bench") as pool:
                futures = []
                for sid, chosen in points.items():
                    explorers[sid].plan_kills(chosen)
                    for point in chosen:
                        future = pool.submit(explorers[sid].run_point, point, fault)
                        futures.append((sid, future))
                for sid, future in futures:
                    try:
                        result = future.result()
                        timing.findings += not result.passed
                        timing.by_scenario[sid] = max(
                            timing.by_scenario.get(sid, 0.0), time.perf_counter() - started
                        )
                    except Exception as error:  # keep measuring; printed below the table
                        timing.errors.append(f"{type(error).__name__}: {error}")
        finally:
            timing.seconds = time.perf_counter() - started
            timing.cpu = meter.cpu_seconds
            for explorer, names in timers:
                for name in names:
                    del explorer.__dict__[name]
        return timing

    @staticmethod
    def _time_steps(explorer: Explorer, steps: dict[str, list[float]]) -> list[str]:
        """Wrap the explorer's steps (copy, children, observe) to add up their times."""

        def child(world: Path, run_dir: Path, phase: str, *args: Any, **kwargs: Any) -> str:
            if kwargs.get("record_at") or kwargs.get("record_every"):
                return "recording workload child"
            return f"{'crashed ' if kwargs.get('crash_at') else ''}{phase} child"

        labels: dict[str, Callable[..., str]] = {
            "fresh_world": lambda *a, **k: "world copy",
            "copy": lambda *a, **k: "world copy",
            "run_child": child,
            "observe": lambda *a, **k: "observe in the parent",
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

    # -- the limit: the program's own cost per point ------------------------------------------

    def limit(self, fault: str, jobs: int, points: dict[str, list[int]]) -> Limit:
        """The program's own cost of ``points`` under ``fault`` (see the module docstring):
        an untimed pass stashes each crash state the harness recovered and its round count,
        then its restarts run again here, timed, as many times as the harness ran rounds."""
        scenarios = [s for s in self.scenarios if s.id in points]
        limit = Limit(fault, sum(len(p) for p in points.values()))
        if any(is_command(s.restart) or is_command(s.workload) for s in scenarios):
            limit.missing = "command phases"
            return limit
        folder = self.work / f"stash-{fault}"
        try:
            stashes = self.stash_states(fault, jobs, points, folder, limit.errors)
            scratch = self.work / "limit-scratch" / "world"
            for stash in stashes:
                explorer = self.explorers[(stash.scenario, False)]
                if scratch.parent.exists():
                    shutil.rmtree(scratch.parent)
                scratch.parent.mkdir(parents=True)
                copy_world(stash.world, scratch)  # not timed
                with as_a_child_would(explorer, scratch) as view:
                    for _ in range(stash.rounds):
                        limit.restarts += 1
                        started = time.perf_counter()
                        try:
                            explorer.scenario.restart(view)
                        except Exception as error:
                            limit.raised.append(
                                f"{explorer.scenario.name} p{stash.point:02d} restart: "
                                f"{type(error).__name__}: {error}"
                            )
                            break  # a round that raises ends the rounds, as in the harness
                        finally:
                            limit.restart += time.perf_counter() - started
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            shutil.rmtree(self.work / "limit-scratch", ignore_errors=True)
        # kill (the one recordable kind) gets every point's state from one recording run of
        # the workload per scenario; the other kinds run the workload in a child per point.
        shared = fault_kind(fault).recordable
        for scenario in scenarios:
            seconds, raised = self.warm_workload(scenario)
            limit.workload += seconds if shared else seconds * len(points[scenario.id])
            limit.raised += raised
        return limit

    def stash_states(
        self,
        fault: str,
        jobs: int,
        points: dict[str, list[int]],
        folder: Path,
        errors: list[str],
    ) -> list[Stash]:
        """The limit's untimed pass: ``points`` run again as :meth:`measure` runs them (a
        first pass, on ``jobs`` threads), with each explorer's ``restart_rounds`` wrapped to
        copy the world it is given before the real method runs, and to note how many rounds
        that returned, by the point whose thread asked."""
        explorers = {s.id: self.explorer(s, self.variant, False) for s in self.scenarios}
        explorers = {sid: e for sid, e in explorers.items() if sid in points}
        stashes: list[Stash] = []
        lock, numbers, current = threading.Lock(), itertools.count(), threading.local()

        def wrap(sid: str, real: Callable[[Path], tuple[Any, ...]]) -> Any:
            def restart_rounds(world: Path) -> tuple[Any, ...]:
                into = folder / f"{next(numbers):05d}" / "world"
                into.parent.mkdir(parents=True)
                copy_world(world, into)
                returned = real(world)  # (rounds, findings, ...): the rounds come first
                rounds: list[Round] = returned[0]
                with lock:
                    stashes.append(Stash(sid, getattr(current, "point", 0), into, len(rounds)))
                return returned

            return restart_rounds

        def run_point(explorer: Explorer, point: int) -> None:
            current.point = point
            explorer.run_point(point, fault)

        for sid, explorer in explorers.items():
            explorer.recordings = Recordings(explorer)  # a first pass, as measure() makes
            explorer.restart_rounds = wrap(sid, explorer.restart_rounds)  # type: ignore[method-assign]
        try:
            with ThreadPoolExecutor(jobs, thread_name_prefix="bench-stash") as pool:
                futures = []
                for sid, chosen in points.items():
                    explorers[sid].plan_kills(chosen)
                    futures += [pool.submit(run_point, explorers[sid], p) for p in chosen]
                for future in futures:
                    try:
                        future.result()
                    except Exception as error:  # printed below the limit's table
                        errors.append(f"{type(error).__name__}: {error}")
        finally:
            for explorer in explorers.values():
                del explorer.__dict__["restart_rounds"]
        return sorted(stashes, key=lambda s: (s.scenario, s.point, s.world))

    def warm_workload(self, scenario: Scenario) -> tuple[float, list[str]]:
        """Seconds of one run of ``scenario``'s workload in this process on a fresh copy of
        its snapshot (the median of :data:`WORKLOAD_RUNS`, after an untimed warm-up run),
        and what raised there."""
        if scenario.id not in self.workloads:
            explorer = self.explorer(scenario, self.variant, False)
            times: list[float] = []
            raised: list[str] = []
            for number in range(WORKLOAD_RUNS + 1):
                world = explorer.fresh_world(f"warm-workload{number}")  # not timed
                with as_a_child_would(explorer, world) as view:
                    started = time.perf_counter()
                    try:
                        explorer.scenario.workload(view)
                    except Exception as error:
                        raised.append(f"{scenario.name} workload: {type(error).__name__}: {error}")
                    seconds = time.perf_counter() - started
                if number:
                    times.append(seconds)
                shutil.rmtree(world.parent, ignore_errors=True)
            self.workloads[scenario.id] = statistics.median(times), raised
        return self.workloads[scenario.id]

    # -- one child --------------------------------------------------------------------------

    def tiny_children(self, fresh: bool, count: int) -> tuple[list[float], list[float], int]:
        """World copy and child (start to reaped) times of the tiny phase killed at its end."""
        explorer = self.explorer(self.tiny, "default", fresh)
        after_last = explorer.points  # N+1: SIGKILL right after the last operation
        copies, children, killed = [], [], 0
        for number in range(count):
            started = time.perf_counter()
            world = explorer.fresh_world(f"raw{number:03d}")
            copied = time.perf_counter()
            run = explorer.run_child(world, world.parent / "crash", "workload", crash_at=after_last)
            copies.append(copied - started)
            children.append(time.perf_counter() - copied)
            killed += run.exit.killed
            shutil.rmtree(world.parent, ignore_errors=True)
        return copies, children, killed

    def empty_children(self, fresh: bool, count: int) -> list[float]:
        """A child running an empty phase: what starting, setting up and reaping one costs."""
        times = []
        for number in range(count):
            run_dir = self.work / f"empty-{int(fresh)}-{number}"
            run_dir.mkdir()
            job = ChildJob(self.tiny, "restart", str(self.work), str(run_dir), probe=None)
            started = time.perf_counter()
            self.launchers[fresh].run(job, 60)
            times.append(time.perf_counter() - started)
        return times

    def preloaded(self) -> tuple[list[str], list[str]]:
        """Which of the preload modules a fork server child finds imported, and which not."""
        world = self.work / "preload-check"
        world.mkdir()
        check = dataclasses.replace(TINY, name="bench-preload", workload=_tiny_report_modules)
        job = ChildJob(
            check,
            "workload",
            str(world),
            str(world),
            env={"MODULES": " ".join(self.preload)},
            probe=None,
        )
        self.launchers[False].run(job, 60)
        out = world / "preloaded.txt"
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


def print_limits(per_fault: dict[str, Timing], limits: dict[str, Limit], cores: int) -> None:
    """The measured points/s of each fault kind beside its limit (when measured), how
    close it comes, and how busy the sweep kept the cores."""
    jobs = jobs_label(next(iter(per_fault.values())).jobs)
    print(
        f"against the limit ({FORK}, {jobs}; limit/s = {cores} cores / the program's own "
        "cost per point, run warm with no harness):"
        if limits
        else f"cores busy ({FORK}, {jobs}; CPU time of each sweep, its children included):"
    )
    header = ["fault", "points", "seconds", "points/s"]
    if limits:
        header += ["limit/s", "efficiency"]
    header += ["cores busy"]
    if limits:
        header += ["program ms/point (restart only)"]
    rows = [header]
    for fault, timing in per_fault.items():
        row = [fault, str(timing.points), f"{timing.seconds:.2f}", f"{timing.rate:.1f}"]
        limit = limits.get(fault)
        busy = f"{timing.busy(cores):.0%}"
        if limit is None:
            rows.append([*row, busy])
        elif limit.missing is not None or limit.per_point <= 0:
            why = limit.missing or "nothing recovered"
            rows.append([*row, "n/a", "n/a", busy, f"n/a: {why}"])
        else:
            rows.append(
                [
                    *row,
                    f"{limit.rate(cores):.1f}",
                    f"{timing.rate / limit.rate(cores):.0%}",
                    busy,
                    f"{limit.per_point * 1000:.1f} ({limit.restart_per_point * 1000:.1f})",
                ]
            )
    right = [False, True, True, True, *([True, True] if limits else []), True]
    print_table(rows, [*right, False] if limits else right)
    for limit in limits.values():
        if limit.raised:
            print(
                f"warning: the limit of {limit.fault}: {len(limit.raised)} phase run(s) raised "
                f"in this process (of {limit.restarts} restarts, plus the workload runs), so "
                "its cost may not be the one the harness's children had; first: "
                + limit.raised[0].splitlines()[0]
            )
        for problem in dict.fromkeys(limit.errors):
            print(f"error (the limit's untimed pass, {limit.fault}): {problem}")


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
        action="append",
        default=[],
        help="scenario file, folder or path.py::name, repeatable (default: every bundled one)",
    )
    parser.add_argument("--variant", default="correct", help="engine variant (default: correct)")
    parser.add_argument(
        "--points",
        type=int,
        help="a seeded sample of this many crash points per scenario (default: every point)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=default_jobs(),
        help="parallel jobs; a 1-job run of the fork server is measured too (default: as "
        "crashkit run, one per core plus one)",
    )
    parser.add_argument(
        "--faults",
        default=",".join(kinds),
        help=f"fault kinds, comma separated; the first makes the main table (default: "
        f"{','.join(kinds)})",
    )
    parser.add_argument(
        "--fault-points",
        type=int,
        default=FAULT_SAMPLE,
        help=f"points per scenario for the kinds after the first (default {FAULT_SAMPLE})",
    )
    parser.add_argument(
        "--children", type=int, default=10, help="samples per raw child measurement (default 10)"
    )
    parser.add_argument(
        "--no-black-box",
        dest="black_box",
        action="store_false",
        help="skip the black-box row (kasten as a command under the syscall probe)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2 samples per raw child measurement (a smoke test)",
    )
    parser.add_argument(
        "--limit",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="per fault kind, the program's own cost per point in this warm process and the "
        "points/s it allows on these cores, next to the measured points/s (default: on)",
    )
    args = parser.parse_args(argv)
    if (
        args.jobs < 1
        or args.children < 1
        or args.fault_points < 1
        or (args.points is not None and args.points < 1)
    ):
        parser.error("--jobs, --points, --fault-points and --children must be at least 1")
    if args.quick:
        args.children = min(args.children, 2)
    return args


def main(argv: Sequence[str]) -> int:
    kinds = fault_kinds()
    args = parse(argv, kinds)
    requested = [f.strip() for f in args.faults.split(",") if f.strip()]
    faults = [f for f in requested if f in kinds]
    skipped = {
        f: f"not a fault kind (crashkit.FAULTS has {', '.join(kinds)})"
        for f in requested
        if f not in faults
    }
    if not faults:
        print(f"no supported fault kind among {requested}; choose among {', '.join(kinds)}")
        return 2
    try:
        if args.scenario:
            scenarios = [
                s
                for spec in args.scenario
                for s in ([resolve(spec, [])] if "::" in spec else load_scenarios([spec]))
            ]
        else:
            scenarios = load_scenarios([BUNDLED])
        scenarios = [s for s in scenarios if args.variant in s.variants]
        if not scenarios:
            print(f"no scenario has the variant {args.variant!r}")
            return 2
        bench = Bench(scenarios, args.variant)
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
    first = faults[0]
    load = os.getloadavg()
    began = time.perf_counter()

    # Setup and golden run of both modes first: not part of the timed points.
    for scenario in bench.scenarios:
        for _, fresh in MODES:
            bench.explorer(scenario, args.variant, fresh)
    offered = {
        s.id: bench.explorer(s, args.variant, False).points_for(first) for s in bench.scenarios
    }
    points = {sid: sample(every, args.points, args.seed) for sid, every in offered.items()}
    total, chosen = sum(map(len, offered.values())), sum(map(len, points.values()))
    how = "every one" if chosen == total else f"a seeded sample, seed {args.seed}"
    print(
        f"crashkit benchmark: {len(bench.scenarios)} scenario(s) [{args.variant}]; python "
        f"{platform.python_version()}, {os.cpu_count()} cores, load average "
        + " ".join(f"{x:.2f}" for x in load)
    )
    print(
        f"crash points: {chosen} of {total} ({how}) in "
        + ", ".join(f"{s.name} {len(points[s.id])}" for s in bench.scenarios)
    )
    print(
        "setup + golden run (not in points/s): "
        + ", ".join(f"{mode} {bench.prepared_seconds(fresh):.2f} s" for mode, fresh in MODES)
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

    # 1 and 2: the same points under both modes with J jobs; the fork server with 1 job too
    # (with its steps timed). A 1-job fresh-interpreter run is made when J is 1.
    runs = [(FORK, False, args.jobs), (FRESH, True, args.jobs)]
    if args.jobs > 1:
        runs.append((FORK, False, 1))
    timings = [bench.measure(mode, fresh, first, jobs, points) for mode, fresh, jobs in runs]
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
        f"ratio fork server / fresh interpreter (points/s): {jobs_label(args.jobs)} "
        f"{ratio(by[(FORK, args.jobs)].rate, by[(FRESH, args.jobs)].rate)}"
    )
    if args.jobs > 1:
        print(
            f"parallel speedup ({jobs_label(args.jobs)} / 1 job): fork server "
            f"{ratio(by[(FORK, args.jobs)].rate, by[(FORK, 1)].rate)}"
        )
    fork = by[(FORK, args.jobs)]
    if len(bench.scenarios) > 1:
        print(f"by scenario ({FORK}, {jobs_label(args.jobs)}, {first}; one pool, so approximate):")
        previous = 0.0
        for scenario in sorted(bench.scenarios, key=lambda s: fork.by_scenario.get(s.id, 0)):
            done = fork.by_scenario.get(scenario.id, previous)
            print(f"  {scenario.name}: {len(points[scenario.id])} points, done at {done:.2f} s")
            previous = done

    # Per fault kind: fork server, J jobs, a sample of each kind's own points.
    per_fault = {first: fork}
    chosen = {first: points}
    for fault in faults[1:]:
        try:
            chosen_fault = {
                s.id: sample(
                    bench.explorer(s, args.variant, False).points_for(fault),
                    min(args.fault_points, args.points or args.fault_points),
                    args.seed,
                )
                for s in bench.scenarios
            }
            chosen_fault = {sid: p for sid, p in chosen_fault.items() if p}
            if not chosen_fault:
                skipped[fault] = "no crash points in these scenarios"
                continue
            per_fault[fault] = bench.measure(FORK, False, fault, args.jobs, chosen_fault)
            chosen[fault] = chosen_fault
        except (CrashkitError, NotImplementedError) as error:
            skipped[fault] = f"not supported by this runner ({type(error).__name__}: {error})"
    print(
        f"points/s by fault kind ({FORK}, {jobs_label(args.jobs)}): "
        + ", ".join(f"{f} {t.rate:.2f} ({t.points} points)" for f, t in per_fault.items())
    )
    limits: dict[str, Limit] = {}
    if args.limit:
        for fault in per_fault:
            try:
                limits[fault] = bench.limit(fault, args.jobs, chosen[fault])
            except (CrashkitError, NotImplementedError, OSError) as error:
                missing = f"{type(error).__name__}: {error}".splitlines()[0]
                limits[fault] = Limit(fault, per_fault[fault].points, missing=missing)
    print_limits(per_fault, limits, os.cpu_count() or 1)
    for fault, why in skipped.items():
        print(f"skipped fault kind {fault}: {why}")
    for t in [*timings, *per_fault.values()]:
        for problem in dict.fromkeys(t.errors):
            print(f"error ({t.mode}, {t.fault}, {jobs_label(t.jobs)}): {problem}")
    if any(t.findings for t in timings) and not any(
        s.expects_findings(args.variant) for s in bench.scenarios
    ):
        print("warning: a correct variant had findings; those points may not be typical")

    if args.black_box:
        print()
        black_box(bench, args, first, fork)

    print()
    print(f"where a point's time goes (the 1-job run, {first}, mean per point):")
    print_steps(by[(FORK, 1)])

    # 3: the raw cost of one child.
    n = args.children
    raw = {fresh: bench.tiny_children(fresh, n) for _, fresh in MODES}
    empty = {fresh: bench.empty_children(fresh, n) for _, fresh in MODES}
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
            f"{mode} {bench.prepared[(bench.tiny.id, fresh)]:.2f} s" for mode, fresh in MODES
        )
        + ")"
    )
    rows = [
        ["what", FORK, FRESH, "design"],
        ["empty phase child", spread(empty[False]), spread(empty[True]), ""],
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


def black_box(bench: Bench, args: argparse.Namespace, fault: str, inprocess: Timing) -> None:
    """The same kasten scenarios in black-box mode (``kasten_blackbox.py`` beside them:
    kasten run as a command under the syscall probe), side by side with the in-process run; and
    the probe's own cost on one kasten sync (the same command with and without it)."""
    try:
        import kasten_blackbox  # beside the bundled scenarios, on the path once they loaded
    except ImportError as error:
        print(f"black box: skipped ({error})")
        return
    scenarios = [
        kasten_blackbox.black_box(s)
        for s in bench.scenarios
        if any(p.endswith("kasten") for p in s.program)
    ]
    if not scenarios:
        print("black box: skipped (no kasten scenario among these)")
        return
    launcher = make_launcher("forkserver", [])
    timing = Timing(BLACK_BOX, fault, args.jobs, 0)
    plain: list[float] = []
    probed: list[float] = []
    try:
        explorers = []
        for number, scenario in enumerate(scenarios):
            folder = bench.work / f"bb{number:02d}-{scenario.name}"
            explorer = Explorer(scenario, args.variant, launcher, folder, str(ROOT))
            explorer.prepare()
            explorers.append(explorer)
        chosen = [
            (e, p) for e in explorers for p in sample(e.points_for(fault), args.points, args.seed)
        ]
        timing.points = len(chosen)
        started = time.perf_counter()
        with ThreadPoolExecutor(args.jobs, thread_name_prefix="bench-bb") as pool:
            for explorer in explorers:
                explorer.plan_kills([p for e, p in chosen if e is explorer])
            futures = [pool.submit(e.run_point, p, fault) for e, p in chosen]
            for future in futures:
                try:
                    timing.findings += not future.result().passed
                except Exception as error:  # keep measuring; printed below
                    timing.errors.append(f"{type(error).__name__}: {error}")
        timing.seconds = time.perf_counter() - started
        for explorer in explorers[:2]:
            for repeat in range(max(3, args.children // 2)):
                plain.append(_one_sync(explorer, f"plain{repeat}", probed=False))
                probed.append(_one_sync(explorer, f"probed{repeat}", probed=True))
    finally:
        launcher.close()
    rows = [["mode", "fault", "jobs", "points", "seconds", "points/s", "findings"]]
    for t in (inprocess, timing):
        rows.append([t.mode, t.fault, str(t.jobs), str(t.points), f"{t.seconds:.2f}",
                     f"{t.rate:.2f}", str(t.findings)])  # fmt: skip
    print(f"black box: kasten as a command (`crashkit-kasten --dir notes sync`), {fault}:")
    print_table(rows, [False, False, True, True, True, True, True])
    print(f"ratio in-process / black box (points/s): {ratio(inprocess.rate, timing.rate)}")
    print(
        f"syscall probe overhead, one kasten sync command (median of {len(plain)}): without "
        f"{ms(statistics.median(plain))}, under the probe {ms(statistics.median(probed))} "
        f"({ratio(statistics.median(probed), statistics.median(plain))})"
    )
    for problem in dict.fromkeys(timing.errors):
        print(f"error (black box): {problem}")


def _one_sync(explorer: Explorer, name: str, *, probed: bool) -> float:
    """Seconds of one run of a black-box scenario's workload command in this process, in a
    fresh copy of its world with its fake remote served, under the syscall probe or not;
    both must reach the golden run's state (else the figure would time a failure)."""
    golden = explorer.prepare()
    world = explorer.fresh_world(name)
    with as_a_child_would(explorer, world) as view:
        started = time.perf_counter()
        if probed:
            with Session([str(world)], lambda op: None):
                explorer.scenario.workload(view)
        else:
            explorer.scenario.workload(view)
        seconds = time.perf_counter() - started
        for _ in golden.rounds:  # the golden state is the one after its restarts
            explorer.scenario.restart(view)
    if explorer.observe(world).state != golden.state:  # both plain JSON data
        raise CrashkitError(f"{explorer.scenario.name}: the timed sync did not do the work")
    return seconds


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
