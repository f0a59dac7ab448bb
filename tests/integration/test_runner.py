"""The runner crashes a real child at every point, restarts it, and reports what broke.

These tests run the toy program in ``toys/toy_store.py`` in real child processes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

import crashkit
from crashkit import ScenarioError, Sweep, load_scenarios
from crashkit.engine.explorer import Explorer
from crashkit.engine.workdir import new_work_dir
from crashkit.launch import make_launcher
from crashkit.output.results import ResultsWriter, read_results
from crashkit.scenario.scenario import Scenario

TOYS = pathlib.Path(__file__).parents[1] / "toys" / "toy_store.py"


def toy(name: str) -> Scenario:
    (scenario,) = load_scenarios([TOYS], [name])
    return scenario


@pytest.fixture(scope="module")
def store_sweep(tmp_path_factory):
    results = tmp_path_factory.mktemp("results") / "results.jsonl"
    with ResultsWriter(results) as writer:
        summaries = Sweep([toy("store")], jobs=2, results=writer).run()
    return {s.variant: s for s in summaries}, read_results(results)


def points_of(records, variant):
    return {r["point"]: r for r in records if r["type"] == "point" and r["variant"] == variant}


def test_the_correct_program_passes_every_point(store_sweep):
    summaries, records = store_sweep
    correct = summaries["correct"]
    trace = next(r for r in records if r["type"] == "trace" and r["variant"] == "correct")
    n = len(trace["operations"])
    assert n >= 6  # commit, create, write, fsync, rename, commit
    assert correct.points == n + 2  # point 0 (no crash), 1..N, N+1
    assert correct.failed == 0 and correct.ok
    assert sorted(points_of(records, "correct")) == list(range(n + 2))


def test_every_point_names_its_operation_and_caller(store_sweep):
    _, records = store_sweep
    point = points_of(records, "correct")[1]
    assert point["op"]["kind"] == "sql.commit"
    assert point["op"]["function"] == "sync"
    assert point["op"]["file"].endswith("toy_store.py")
    assert point["replay"] == (
        f"crashkit replay {point['scenario_id']} --variant correct --point 1"
    )
    last = points_of(records, "correct")[point["points"]]  # N+1: after the last operation
    assert last["op"]["kind"] == "end"


def test_a_torn_inplace_write_that_the_journal_replays_is_healed_not_reported(store_sweep):
    summaries, records = store_sweep
    trace = next(r for r in records if r["type"] == "trace" and r["variant"] == "inplace")
    writes = [op for op in trace["operations"] if op["kind"] == "fs.write"]
    assert len(writes) == 2  # the value is written in two halves: a torn state exists
    assert summaries["inplace"].failed == 0  # but the journal is replayed: no false finding


def test_recovery_that_ignores_the_journal_is_caught_by_several_invariants():
    (summary_correct, summary_bug) = Sweep([toy("ignores_wal")], jobs=2).run()
    assert summary_correct.failed == 0
    assert {"journal-drained", "crash-equivalence"} <= set(summary_bug.by_invariant)


def test_crash_equivalence_shows_a_diff_against_the_golden_state(tmp_path):
    explorer = Explorer(toy("ignores_wal"), "ignore-wal", make_launcher(), new_work_dir())
    result = explorer.run_point(2)  # journal committed, value never written
    finding = next(f for f in result.findings if f.invariant == "crash-equivalence")
    assert "-new value" in finding.diff and "+old" in finding.diff
    assert "golden/value" in finding.diff


def test_nondeterminism_is_reported_with_both_records_never_as_a_flake():
    summaries = Sweep(
        [toy("nondeterministic")], variants=["nondeterministic"], jobs=2, kill_each_point=True
    ).run()
    # The workload flips a coin; across all points some runs must disagree with the dry run.
    (summary,) = summaries
    assert summary.by_invariant.get("deterministic", 0) > 0


def test_a_recording_run_that_strays_from_the_dry_run_is_reported_where_it_does(tmp_path):
    runs = tmp_path / "runs"

    def workload(world):
        count = int(runs.read_text()) if runs.exists() else 0
        runs.write_text(str(count + 1))  # outside the world: not an operation
        world.path("a.txt").write_text("a")
        if count:  # the dry run writes b.txt, the recording run c.txt
            world.path("c.txt").write_text("c")
        else:
            world.path("b.txt").write_text("b")
        world.path("d.txt").write_text("d")

    scenario = Scenario(
        name="strays", setup=print, workload=workload, restart=print, observe=lambda w: {}
    )
    explorer = Explorer(scenario, "default", make_launcher(), new_work_dir())
    try:
        trace = explorer.prepare().trace
        results = {p: explorer.run_point(p) for p in range(1, explorer.points + 1)}
    finally:
        explorer.close()
    strays = {op.index for op in trace if op.target == "b.txt"}  # created, then written
    assert strays
    for point, result in results.items():
        invariants = {f.invariant for f in result.findings}
        assert invariants == ({"deterministic"} if point in strays else set()), (point, result)
    message = results[min(strays)].findings[0].message
    assert "b.txt" in message and "c.txt" in message


def test_a_hang_in_recovery_is_a_finding_and_leaves_no_process(tmp_path):
    scenario = toy("hangs")
    explorer = Explorer(scenario, "hang", make_launcher(), new_work_dir())
    result = explorer.run_point(1)
    assert [f.invariant for f in result.findings] == ["no-hang"]
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    assert "time.sleep" not in out and str(result.duration) not in out
    assert not [line for line in out.splitlines() if "crashkit-child" in line]


def test_an_exception_in_recovery_is_a_finding_with_its_traceback():
    explorer = Explorer(toy("raises"), "raise", make_launcher(), new_work_dir())
    result = explorer.run_point(3)
    (finding,) = result.findings
    assert finding.invariant == "recovery-raises"
    assert "RuntimeError: recovery exploded" in finding.message
    assert "Traceback" in finding.message


def test_a_restart_that_always_writes_never_converges():
    explorer = Explorer(toy("never_quiet"), "never-quiet", make_launcher(), new_work_dir())
    golden = explorer.prepare()
    assert [f.invariant for f in golden.findings] == ["converges"]
    assert len(golden.rounds) == 3  # max_rounds=2 plus the confirming restart
    assert "counter.txt" in golden.findings[0].message


def test_a_fresh_interpreter_gives_the_same_trace_as_the_fork_server():
    scenario = toy("store")
    forked = Explorer(scenario, "correct", make_launcher(), new_work_dir()).prepare()
    fresh = Explorer(scenario, "correct", make_launcher("spawn"), new_work_dir()).prepare()
    assert [op.signature for op in forked.trace] == [op.signature for op in fresh.trace]
    assert forked.state == fresh.state


def test_resume_runs_only_the_points_not_yet_in_the_results(tmp_path):
    results = tmp_path / "r.jsonl"
    scenario = toy("store")
    with ResultsWriter(results) as writer:
        Sweep([scenario], variants=["correct"], results=writer, sample=2, seed=1).run()
    first = {r["point"] for r in read_results(results) if r["type"] == "point"}
    with results.open("a") as f:
        f.write('{"type": "point", "torn')  # a sweep killed mid-line
    with ResultsWriter(results, resume=True) as writer:
        sweep = Sweep([scenario], variants=["correct"], results=writer)
        sweep.run()
    records = read_results(results)
    points = [r["point"] for r in records if r["type"] == "point"]
    assert sorted(points) == sorted(set(points))  # no point ran twice
    assert set(points) - first and first <= set(points)


def test_work_folders_are_removed(tmp_path):
    Sweep([toy("store")], variants=["correct"], sample=1, work_base=str(tmp_path)).run()
    assert list(tmp_path.iterdir()) == []


def test_work_folders_of_killed_sweeps_are_cleaned_up(tmp_path):
    child = subprocess.Popen(["sleep", "0"])
    child.wait()
    stale = tmp_path / f"crashkit-{child.pid}-abc"
    stale.mkdir()
    mine = new_work_dir(str(tmp_path))
    assert not stale.exists() and mine.exists()


def _processes_inside(folder: pathlib.Path) -> list[int]:
    """Pids of processes whose current folder lies under ``folder`` (children run in worlds)."""
    pids = []
    for proc in pathlib.Path("/proc").iterdir():
        try:
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if cwd.startswith(str(folder)):
            pids.append(int(proc.name))
    return pids


def _describe(pid: int) -> str:
    """A lingering process, for the failure message: its state, parent and command."""
    try:
        status = dict(
            line.split(":\t", 1)
            for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines()
            if ":\t" in line
        )
        command = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError as error:
        return f"{pid}: gone ({error})"
    return f"{pid}: {status.get('State')} ppid {status.get('PPid')} {command.decode()[:200]}"


def _start_sweep(folder: pathlib.Path, argv: list[str], **kwargs) -> subprocess.Popen:
    """A sweep in a subprocess whose worlds go under ``folder``; its output in sweep.log."""
    env = dict(os.environ, TMPDIR=str(folder))
    with (folder / "sweep.log").open("w") as log:
        return subprocess.Popen([sys.executable, *argv], env=env, stdout=log, stderr=log, **kwargs)


def _wait_for_a_child(folder: pathlib.Path, sweep: subprocess.Popen) -> None:
    """Until a child of the sweep runs in a world (seen once: a short one may be gone by
    the time anyone looks again)."""
    deadline = time.monotonic() + 60
    seen: list[int] = []
    while not seen and time.monotonic() < deadline and sweep.poll() is None:
        seen = _processes_inside(folder)
        time.sleep(0.05)
    log = (folder / "sweep.log").read_text()
    assert seen, f"no child started in a world ({sweep.poll()}): {log}"


def test_a_killed_sweep_leaves_no_child_running(tmp_path):
    script = tmp_path / "sweep.py"
    script.write_text(
        "from crashkit import Sweep, load_scenarios\n"
        f"Sweep(load_scenarios([{str(TOYS)!r}], ['hangs']), variants=['hang']).run()\n"
    )
    sweep = _start_sweep(tmp_path, [str(script)], start_new_session=True)
    try:
        _wait_for_a_child(tmp_path, sweep)
    finally:
        os.killpg(sweep.pid, signal.SIGKILL)  # the sweep and its fork server, killed outright
        sweep.wait()
    deadline = time.monotonic() + 5
    while _processes_inside(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _processes_inside(tmp_path)
    assert left == [], [_describe(pid) for pid in left]  # children die with their parent


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "has space"}, "short identifier"),
        ({"workload": None}, "workload=None is not callable"),
        ({"variants": {}}, "variants is empty"),
        ({"expect_findings": ["nope"]}, "unknown variants ['nope']"),
        ({"max_rounds": 0}, "max_rounds=0"),
        ({"invariants": [42]}, "invariant 42 is not callable"),
    ],
)
def test_malformed_scenarios_say_what_is_wrong_and_how_to_fix_it(kwargs, message):
    parts = dict(name="x", setup=print, workload=print, restart=print, observe=lambda w: {})
    parts.update(kwargs)
    with pytest.raises(ScenarioError, match="fix:") as error:
        Scenario(**parts)
    assert message in str(error.value)


def test_a_setup_that_raises_is_reported_as_a_broken_scenario(tmp_path):
    def setup(world):
        raise ValueError("no initial files")

    scenario = Scenario(
        name="broken", setup=setup, workload=print, restart=print, observe=lambda w: {}
    )
    (summary,) = Sweep([scenario]).run()
    assert not summary.ok
    assert "setup raised" in summary.error and "no initial files" in summary.error


def test_the_journal_audit_lists_writes_no_open_entry_covers():
    correct, unjournaled = (
        Explorer(toy("unjournaled"), v, make_launcher(), new_work_dir()).prepare()
        for v in ("correct", "no-journal")
    )
    assert correct.uncovered == []
    described = [u.describe() for u in unjournaled.uncovered]
    assert described, "the unjournaled write was not flagged"
    assert all("_write_atomic, " in line and "toy_store.py:" in line for line in described)
    assert {u.op.kind for u in unjournaled.uncovered} >= {"fs.create", "fs.write", "fs.rename"}
    assert all(u.reason == "no open journal entry covers it" for u in unjournaled.uncovered)


def test_ctrl_c_stops_the_sweep_at_once_and_keeps_the_results(tmp_path):
    results = tmp_path / "results.jsonl"
    argv = [
        "-m",
        "crashkit.cli",
        "run",
        str(TOYS),
        "-s",
        "hangs",
        "-V",
        "hang",
        "--results",
        str(results),
        "--report",
        "none",
        "--artifacts",
        "none",
        "-q",
    ]
    sweep = _start_sweep(tmp_path, argv)
    try:
        _wait_for_a_child(tmp_path, sweep)
        sweep.send_signal(signal.SIGINT)
        assert sweep.wait(timeout=10) == 130  # not after every hanging point timed out
    finally:
        sweep.kill()
        sweep.wait()
    assert _processes_inside(tmp_path) == []
    assert results.read_text().startswith('{"type": "run"')


def test_the_fork_server_preloads_the_scenario_module(tmp_path):
    (scenario,) = load_scenarios([TOYS.parent / "toy_preload.py"])
    explorer = Explorer(
        scenario,
        "default",
        make_launcher("forkserver", scenario.preload_modules()),
        tmp_path,
        keep_worlds=True,
    )
    explorer.prepare()
    imported_in, ran_in = json.loads((tmp_path / "golden" / "world" / "pids.json").read_text())
    assert imported_in != ran_in  # imported once, in the fork server, not in each child


def test_a_scenario_loaded_by_a_relative_reference_is_still_found_by_path(tmp_path, monkeypatch):
    from crashkit.scenario.scenario import ScenarioRef

    monkeypatch.chdir(tmp_path)
    relative = os.path.relpath(TOYS)
    ScenarioRef(relative, "ignores_wal").load()  # as `crashkit recheck` does, from elsewhere
    names = {s.name for s in load_scenarios([TOYS])}
    assert {"store", "ignores_wal", "hangs"} <= names


def _every_point(scenario: Scenario, variant: str = "default", **kwargs):
    """The explorer (closed) and the results of every crash point, in order."""
    explorer = Explorer(scenario, variant, make_launcher(), new_work_dir(), **kwargs)
    try:
        explorer.prepare()
        return explorer, [explorer.run_point(p) for p in range(1, explorer.points + 1)]
    finally:
        explorer.close()


def _printing_scenario() -> Scenario:
    def workload(world):
        for name in ("a", "b"):
            path = world.path(f"{name}.txt")
            if path.exists() and path.read_text() == name:
                continue  # a restart finishing the job
            print(f"writing {name}", flush=True)
            with open(path, "w") as file:
                file.write(name)
                file.flush()
                os.fsync(file.fileno())

    def observe(world):
        return {p.name: p.read_text() for p in sorted(world.root.iterdir())}

    return Scenario(
        name="prints", setup=print, workload=workload, restart=workload, observe=observe
    )


def test_recorded_kill_points_show_the_output_written_before_them_and_share_equal_states():
    explorer, found = _every_point(_printing_scenario())
    trace = explorer.prepare().trace
    results = {r.point: r for r in found}
    kinds = [op.kind for op in trace]
    assert kinds == ["fs.create", "fs.write", "fs.fsync"] * 2
    assert results[1].output == "writing a\n"
    assert results[4].output == "writing a\nwriting b\n"
    # A kill right after an fsync leaves what a kill right before it left: one recovery.
    assert "the same crash state as p03" in results[4].injection
    assert "the same crash state as p06" in results[7].injection
    assert "same crash state" not in results[3].injection + results[5].injection
    assert results[4].rounds == results[3].rounds and results[4].op == trace[3]
    assert all(r.passed for r in results.values()), results


def test_asking_for_the_same_kill_point_again_recovers_it_again():
    explorer = Explorer(toy("ignores_wal"), "ignore-wal", make_launcher(), new_work_dir())
    try:
        first, second = explorer.run_point(2), explorer.run_point(2)
    finally:
        explorer.close()
    assert explorer.recordings._generation == 2  # the state was used up: recorded again
    assert first is not second
    assert [f.invariant for f in first.findings] == [f.invariant for f in second.findings]
    assert first.findings  # the known bug, seen both times


def test_recorded_and_killed_points_agree_on_a_buggy_program():
    outcomes = {}
    for record in (True, False):
        explorer = Explorer(
            toy("ignores_wal"),
            "ignore-wal",
            make_launcher(),
            new_work_dir(),
            record_kills=record,
        )
        try:
            outcomes[record] = [
                (r.point, sorted({f.invariant for f in r.findings}))
                for r in map(explorer.run_point, range(1, explorer.points + 1))
            ]
        finally:
            explorer.close()
    assert outcomes[True] == outcomes[False]
    assert any(invariants for _, invariants in outcomes[True])


def test_invariants_asking_for_fixtures_get_their_values_or_a_clear_error():
    from crashkit import UsageError

    seen = []

    def value_known(world, expected):
        seen.append(expected)
        assert world.path("value.txt").read_text().strip() == expected

    store = toy("store")  # the module's own object: changed only in a copy
    scenario = dataclasses.replace(store, invariants=(*store.invariants, value_known))
    assert scenario.fixture_names() == ("expected",) and store.fixture_names() == ()
    explorer = Explorer(scenario, "correct", make_launcher(), new_work_dir())
    try:
        with pytest.raises(UsageError, match=r"fixture.*expected.*run it with pytest"):
            explorer.run_point(2)
        assert explorer.run_point(2, fixtures={"expected": "new value"}).passed
        failed = explorer.run_point(0, fixtures={"expected": "other"})  # the golden run too
        assert [f.invariant for f in failed.findings] == ["value_known"]
    finally:
        explorer.close()
    assert seen == ["new value", "other"]
    (summary,) = Sweep([scenario], variants=["correct"]).run()  # no pytest: no fixtures
    assert not summary.ok and "pytest" in summary.error and "expected" in summary.error


def test_an_invariant_that_takes_no_world_is_a_scenario_error():
    def no_world():
        pass

    with pytest.raises(ScenarioError, match="takes no world"):
        Scenario(
            name="x",
            setup=print,
            workload=print,
            restart=print,
            observe=dict,
            invariants=[no_world],
        )


def test_worlds_go_where_the_environment_says_else_to_memory_with_room(monkeypatch, tmp_path):
    from crashkit.engine import workdir

    monkeypatch.setenv("CRASHKIT_WORK_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    assert workdir.default_work_base() == tmp_path / "mine"
    monkeypatch.delenv("CRASHKIT_WORK_DIR")
    assert workdir.default_work_base() == tmp_path / "tmp"
    monkeypatch.delenv("TMPDIR")
    monkeypatch.setattr(workdir, "_MEMORY_FOLDER", tmp_path)
    monkeypatch.setattr(workdir, "_MEMORY_NEEDED", 0)
    assert workdir.default_work_base() == tmp_path
    monkeypatch.setattr(workdir, "_MEMORY_NEEDED", 1 << 62)  # a small /dev/shm: not there
    assert workdir.default_work_base() != tmp_path


def _runs(counter: pathlib.Path) -> int:
    """How many times the workload ran before (a file outside the world: no operation)."""
    count = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(count + 1))
    return count


def _both_modes(scenario: Scenario, plan=None) -> dict[bool, list[tuple[int, list[str]]]]:
    outcomes = {}
    for record in (True, False):
        explorer = Explorer(
            scenario, "default", make_launcher(), new_work_dir(), record_kills=record
        )
        try:
            explorer.prepare()
            if plan is not None:
                explorer.plan_kills(plan)
            outcomes[record] = [
                (r.point, sorted({f.invariant for f in r.findings}))
                for r in map(explorer.run_point, range(1, explorer.points + 1))
            ]
            if record:
                outcomes["generations"] = explorer.recordings._generation
                outcomes["literal"] = set(explorer.recordings._current.literal)
        finally:
            explorer.close()
    return outcomes


def _files(world) -> dict:
    return {p.name: p.read_text() for p in sorted(world.root.iterdir()) if p.is_file()}


def test_a_recording_that_raises_half_way_answers_the_later_points_from_one_recording(tmp_path):
    counter = tmp_path / "runs"

    def workload(world):
        dry = _runs(counter) < 2  # the dry run and its second, then the recording
        for name in "abcdef":
            if name == "d" and not dry and _runs(tmp_path / "recording") == 0:
                raise RuntimeError("only the first recording gives up here")
            world.path(name).write_text(name)

    def restart(world):
        for name in "abcdef":
            if not world.path(name).exists() or world.path(name).read_text() != name:
                world.path(name).write_text(name)

    scenario = Scenario(
        name="gives_up", setup=print, workload=workload, restart=restart, observe=_files
    )
    explorer, results = _every_point(scenario)
    assert explorer.recordings._generation == 1  # not one recording per unreached point
    failed = [r.point for r in results if r.findings]
    assert failed == list(range(7, explorer.points + 1))  # c's two operations done, then d
    assert all("raised before reaching it" in r.findings[0].message for r in results[6:])


def test_states_around_a_marker_are_shared_only_when_nothing_changed_in_between(tmp_path):
    import subprocess

    def workload(world):
        world.path("a").write_text("a")
        crashkit.point("before-helper")
        subprocess.run(["sh", "-c", "echo b > b"], check=True)  # the probe does not see it
        world.path("c").write_text("c")

    def restart(world):
        if world.path("b").exists() and not world.path("c").exists():
            raise RuntimeError("b without c")
        world.path("b").write_text("b\n")
        if not world.path("c").exists():
            world.path("c").write_text("c")

    scenario = Scenario(
        name="helper", setup=print, workload=workload, restart=restart, observe=_files
    )
    outcomes = _both_modes(scenario)
    assert outcomes[True] == outcomes[False]
    assert any("recovery-raises" in found for _, found in outcomes[True])


def test_a_state_naming_the_recording_world_s_path_is_run_the_literal_way():
    def workload(world):
        journal = world.path("journal")
        journal.write_text(str(world.path("tmp")))  # an absolute path, written down
        world.path("tmp").write_text("x")
        pathlib.Path(journal.read_text()).rename(world.path("done"))
        journal.unlink()

    def restart(world):
        journal = world.path("journal")
        if journal.exists():
            pending = pathlib.Path(journal.read_text())
            if pending.exists():
                pending.rename(world.path("done"))
            else:
                world.path("done").write_text("x")
            journal.unlink()
        world.path("tmp").unlink(missing_ok=True)

    scenario = Scenario(
        name="abspath", setup=print, workload=workload, restart=restart, observe=_files
    )
    outcomes = _both_modes(scenario)
    # Recovered in another folder, the written-down path would point into the recording's
    # world: those points run as a child killed there, so both modes agree.
    assert outcomes[True] == outcomes[False]
    assert outcomes["literal"]  # the points after the journal was written


def test_a_recording_with_an_operation_past_the_dry_run_s_last_is_nondeterministic(tmp_path):
    counter = tmp_path / "runs"

    def workload(world):
        world.path("a").write_text("a")
        if _runs(counter):
            world.path("extra").write_text("x")

    scenario = Scenario(
        name="extra", setup=print, workload=workload, restart=print, observe=lambda w: {}
    )
    result = _every_point(scenario)[1][-1]
    assert [f.invariant for f in result.findings] == ["deterministic"]
    assert "extra" in result.findings[0].message


def test_a_point_outside_the_plan_is_recorded_not_reported(tmp_path):
    outcomes = _both_modes(_printing_scenario(), plan=[1, 2])
    assert outcomes[True] == outcomes[False]
    assert all(not found for _, found in outcomes[True])


def test_a_recording_that_hangs_gives_a_hang_finding_from_there_on(tmp_path):
    counter = tmp_path / "runs"

    def workload(world):
        first = _runs(counter) == 0
        world.path("a").write_text("a")
        if not first:
            time.sleep(60)  # the recording hangs where the dry run went on
        world.path("b").write_text("b")

    def restart(world):
        for name in "ab":
            if not world.path(name).exists() or world.path(name).read_text() != name:
                world.path(name).write_text(name)

    scenario = Scenario(
        name="stalls",
        setup=print,
        workload=workload,
        restart=restart,
        observe=_files,
        timeout=1,
    )
    explorer, results = _every_point(scenario)
    invariants = [sorted({f.invariant for f in r.findings}) for r in results]
    reached = [r.point for r in results if not r.findings]
    assert reached and reached == list(range(1, len(reached) + 1))  # before the stall
    assert all(found == ["no-hang"] for found in invariants[len(reached) :]), invariants
    assert explorer.recordings._generation == 1


def test_a_shared_state_still_checks_what_the_recording_did_at_its_own_point(tmp_path):
    counter = tmp_path / "runs"

    def workload(world):
        with open(world.path("a"), "w") as file:
            file.write("a")
            file.flush()
            os.fsync(file.fileno())  # the dry run ends here; the recording writes once more
        if _runs(counter):
            world.path("extra").write_text("x")

    scenario = Scenario(
        name="tail", setup=print, workload=workload, restart=print, observe=lambda w: {}
    )
    _, results = _every_point(scenario)
    # N+1's state equals N's (an fsync in between), but the recording did not end there.
    assert [f.invariant for f in results[-1].findings] == ["deterministic"]


def test_hard_links_and_folder_symlinks_survive_a_recorded_state():
    def workload(world):
        world.path("data").write_text("v1")
        os.link(world.path("data"), world.path("alias"))
        os.symlink(world.root, world.path("here"))  # names the world's own folder
        world.path("data").write_text("v2")

    def restart(world):
        data, alias = world.path("data"), world.path("alias")
        if alias.exists() and data.stat().st_nlink != 2:
            raise RuntimeError("alias is no longer a link of data")  # a split copy
        if not data.exists():
            data.write_text("v1")
        if not alias.exists():
            os.link(data, alias)
        if not world.path("here").is_symlink():
            os.symlink(world.root, world.path("here"))
        if data.read_text() != "v2":
            data.write_text("v2")

    def observe(world):
        return {"data": world.path("data").read_text(), "alias": world.path("alias").read_text()}

    scenario = Scenario(
        name="links", setup=print, workload=workload, restart=restart, observe=observe
    )
    outcomes = _both_modes(scenario)
    assert outcomes[True] == outcomes[False]
    assert all(not found for _, found in outcomes[True]), outcomes[True]
    assert outcomes["literal"]  # the states with the symlink to the world's own folder
