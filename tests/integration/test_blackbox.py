"""Black-box mode through the engine: commands crashed in child processes at chosen points.

The toy is ``toys/toy_blackbox.py``, a POSIX shell sync engine (a temp file and a rename,
SQLite commits through the ``sqlite3`` command, a ``curl`` to the fake Notion on
loopback) with two seeded bugs. Each test runs a few explicit points, not a sweep.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import textwrap
import time
import uuid
from collections.abc import Iterator

import pytest
from leftovers import nothing_left, running

from crashkit import LAUNCHERS, load_scenarios
from crashkit.cli import main
from crashkit.engine.explorer import Explorer
from crashkit.engine.workdir import new_work_dir
from crashkit.launch import DEFAULT_LAUNCHER, make_launcher
from crashkit.model.operation import Operation

TOYS = pathlib.Path(__file__).parents[1] / "toys"
TOY = TOYS / "toy_blackbox.py"

pytestmark = pytest.mark.skipif(
    not (shutil.which("sqlite3") and shutil.which("curl")),
    reason="the black-box toy runs the sqlite3 and curl commands; one is not installed",
)


# -- nothing left behind ----------------------------------------------------------------


@pytest.fixture(autouse=True)
def nothing_left_behind():
    with nothing_left("a test"):
        yield


# -- explorers -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def launcher():
    launcher = make_launcher()
    yield launcher
    launcher.close()


@pytest.fixture(scope="module")
def explorers(launcher) -> Iterator[dict[str, Explorer]]:
    """One explorer per variant of the toy, prepared on first use (work folders removed
    at the end of the module)."""
    (scenario,) = load_scenarios([TOY])
    base = new_work_dir()
    made = {
        variant: Explorer(scenario, variant, launcher, base / variant)
        for variant in scenario.variants
    }
    yield made
    shutil.rmtree(base, ignore_errors=True)


def _first(trace: list[Operation], kind: str, target: str = "") -> int:
    return next(op.index for op in trace if op.kind == kind and op.target.startswith(target))


def _findings(result) -> list[str]:
    return [f.invariant for f in result.findings]


# -- verdicts at chosen points ----------------------------------------------------------


def test_the_correct_store_is_clean_at_its_kill_points(explorers):
    explorer = explorers["correct"]
    trace = explorer.prepare().trace
    rename = _first(trace, "fs.rename", "value.txt.tmp")
    push = _first(trace, "http.patch")
    points = [1, rename, push, len(trace) + 1]
    assert set(points) <= set(explorer.points_for("kill"))
    for point in points:
        result = explorer.run_point(point, "kill")
        assert result.passed, (point, result.findings)
    assert explorer.run_point(0).passed  # the golden run itself


@pytest.mark.parametrize(
    ("variant", "where", "invariant"),
    [
        # The value is renamed into place before its hash is stored, with no journal.
        ("nowal", ("fs.create", "state.db-journal"), "hashes-match-files"),
        # The journal entry is deleted, then the push is killed: nothing pushes it again.
        ("wal-delete-before-push", ("http.patch", ""), "remote_has_value"),
    ],
)
def test_each_seeded_bug_is_caught_at_its_point_and_not_before(
    explorers, variant, where, invariant
):
    explorer = explorers[variant]
    trace = explorer.prepare().trace
    point = _first(trace, *where)
    assert point in explorer.points_for("kill")
    caught = explorer.run_point(point, "kill")
    assert {"crash-equivalence", invariant} <= set(_findings(caught)), caught.findings
    assert explorer.run_point(1, "kill").passed  # before anything: nothing to lose


def test_nowal_s_finding_names_the_stale_hash(explorers):
    explorer = explorers["nowal"]
    point = _first(explorer.prepare().trace, "fs.create", "state.db-journal")
    result = explorer.run_point(point, "kill")
    messages = "\n".join(f"{f.invariant}: {f.message} {f.diff}" for f in result.findings)
    assert "value.txt" in messages, messages
    assert result.op.kind == "fs.create" and result.op.function == "sqlite3"


# -- every fault kind strikes the command --------------------------------------------


def test_an_injected_error_fails_the_call_and_the_program_sees_it(explorers):
    explorer = explorers["correct"]
    trace = explorer.prepare().trace
    write = _first(trace, "fs.write", "value.txt.tmp")
    assert write in explorer.points_for("error")
    result = explorer.run_point(write, "error")
    assert result.passed, result.findings
    assert "No space left on device" in result.injection, result.injection
    # The shell's printf saw its write fail (it says "I/O error" whatever the errno).
    assert "printf: I/O error" in result.output, result.output


def test_a_lost_response_is_applied_and_the_program_sees_the_connection_drop(explorers):
    explorer = explorers["correct"]
    trace = explorer.prepare().trace
    (push,) = explorer.points_for("lost-response")
    assert trace[push - 1].kind == "http.patch"
    result = explorer.run_point(push, "lost-response")
    assert result.passed, result.findings
    assert "the remote applied it" in result.injection, result.injection
    assert "curl: (52) Empty reply from server" in result.output, result.output
    assert any("http.patch" in m for m in result.rounds[0].mutations)  # pushed again


def test_a_torn_page_write_is_recovered_by_sqlite(explorers):
    explorer = explorers["correct"]
    trace = explorer.prepare().trace
    torn = explorer.points_for("torn")
    assert torn and all(trace[p - 1].kind == "fs.write" for p in torn)
    page = next(p for p in torn if trace[p - 1].target == "state.db")
    assert trace[page - 1].detail["inside"]  # inside a transaction: torn sees page writes
    result = explorer.run_point(page, "torn")
    assert result.passed, result.findings
    assert "only its first sectors reached the disk" in result.injection, result.injection


def test_a_power_cut_keeps_only_what_the_program_synced(explorers):
    explorer = explorers["correct"]
    trace = explorer.prepare().trace
    rename = _first(trace, "fs.rename", "value.txt.tmp")
    result = explorer.run_point(rename + 1, "powerloss")  # before the folder's fsync
    assert result.passed, result.findings
    tried = re.search(r"(\d+) state\(s\) tried", result.injection)
    assert tried and int(tried.group(1)) > 1, result.injection  # the rename kept or lost


# -- HTTP points among file points -----------------------------------------------------


def _phases(trace: list[Operation]) -> list[str]:
    """The trace as its phases: a SQLite transaction, value.txt's update, a request."""
    phases: list[str] = []
    for op in trace:
        if op.detail.get("inside"):
            continue
        name = (
            "http"
            if op.kind.startswith("http.")
            else "sqlite"
            if op.detail.get("sqlite")
            else "file"
        )
        if not phases or phases[-1] != name or name != "file":
            phases.append(name)
    return phases


def test_requests_are_points_interleaved_with_file_points_in_true_order(explorers):
    correct = explorers["correct"].prepare().trace
    early_delete = explorers["wal-delete-before-push"].prepare().trace
    assert [op.index for op in correct] == list(range(1, len(correct) + 1))
    # INSERT INTO wal; value.txt; UPDATE item; the push; DELETE FROM wal
    assert _phases(correct) == ["sqlite", "file", "sqlite", "http", "sqlite"]
    # The seeded bug deletes the journal entry first: the request comes last.
    assert _phases(early_delete) == ["sqlite", "file", "sqlite", "sqlite", "http"]
    (push,) = [op for op in correct if op.kind.startswith("http.")]
    assert push.kind == "http.patch" and push.target.startswith("PATCH /v1/pages/")
    assert push.detail["probe"] == "syscall" and push.detail["url"].startswith("http://127.0.0.1:")
    files = [op for op in correct if op.kind.startswith("fs.")]
    assert all(op.detail["probe"] == "syscall" for op in files)
    assert {op.function for op in files} >= {"sh", "sqlite3", "mv", "sync"}


def test_points_name_their_system_call_and_process(capsys):
    assert main(["points", f"{TOY}::blackbox_store", "-V", "correct"]) == 0
    out = capsys.readouterr().out
    for caller in ("sqlite3, openat", "sh, openat", "mv, renameat", "sync, fsync"):
        assert caller in out, out
    assert "http.patch" in out and "remote, request" in out
    assert (
        "fs.write" not in out.split("value.txt.tmp", 1)[0]
    )  # SQLite's page writes: no kill points


# -- programs that exit or hang at a point ------------------------------------------------

HOSTILE = """
import sys
from crashkit import Command, Scenario

MARK = {mark!r}

def setup(world):
    world.path("n").write_text("0\\n")

def observe(world):
    return {{"n": world.path("n").read_text()}}

WORK = Command(["sh", "-c", "echo 1 > n.tmp && mv n.tmp n"])
# Finding the temp file a crash left, the restart exits with status 3...
EXITS = Command([
    "sh", "-c",
    "if [ -e n.tmp ]; then echo giving up; exit 3; fi; "
    '[ "$(cat n)" = 1 ] || {{ echo 1 > n.tmp && mv n.tmp n; }}',
])
# ... or starts a grandchild in a session of its own and hangs.
HANGS = Command([
    "{{python}}", "-c",
    "import os, subprocess, sys, time\\n"
    "if os.path.exists('n.tmp'):\\n"
    "    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', sys.argv[1]],\\n"
    "                     start_new_session=True)\\n"
    "    time.sleep(300)\\n",
    MARK,
])

exits = Scenario(name="exits", setup=setup, workload=WORK, restart=EXITS, observe=observe)
# The timeout leaves a fresh interpreter (the spawn launcher) room to start on a busy machine.
hangs = Scenario(name="hangs", setup=setup, workload=WORK, restart=HANGS, observe=observe,
                 timeout=6)
"""


@pytest.fixture
def hostile(tmp_path, request):
    launcher = make_launcher(getattr(request, "param", DEFAULT_LAUNCHER))
    mark = f"crashkit-blackbox-{uuid.uuid4().hex}"
    path = tmp_path / "hostile_blackbox.py"
    path.write_text(textwrap.dedent(HOSTILE).format(mark=mark))
    made: list[Explorer] = []

    def explorer(name: str) -> Explorer:
        (scenario,) = load_scenarios([path], [name])
        made.append(Explorer(scenario, "default", launcher, new_work_dir() / name))
        return made[-1]

    yield explorer, mark
    for explorer_made in made:
        explorer_made.close()
        shutil.rmtree(explorer_made.work_dir.parent, ignore_errors=True)
    launcher.close()
    left = running(mark)
    for pid in left:  # not left to the next test either
        os.kill(pid, 9)
    assert not left, f"{len(left)} processes of the program outlived their point"


def _rename_point(explorer: Explorer) -> int:
    trace = explorer.prepare().trace
    assert [op.kind for op in trace] == ["fs.create", "fs.write", "fs.rename"]
    return 3


def test_a_restart_that_exits_at_a_point_is_a_finding_with_its_status(hostile):
    make, _ = hostile
    explorer = make("exits")
    assert explorer.run_point(1, "kill").passed  # no temp file left: the restart is fine
    result = explorer.run_point(_rename_point(explorer), "kill")
    assert _findings(result) == ["recovery-raises"]
    message = result.findings[0].message
    assert "exited with status 3" in message and "if [ -e n.tmp ]" in message


def test_a_recovery_crash_kills_the_restarting_command_at_its_own_points(hostile):
    make, _ = hostile
    explorer = make("exits")
    result = explorer.run_point(1, "recovery-crash")  # the restart does the whole work
    assert [child.nested for child in result.children] == [1, 2, 3, 4]
    # Killed after its temp file exists, the restart cannot recover from its own crash.
    failing = {child.nested: _findings(child) for child in result.children if child.findings}
    assert failing == {2: ["recovery-raises"], 3: ["recovery-raises"]}
    assert result.findings[0].message.startswith("p01/r02: restart round 1 raised")


@pytest.mark.parametrize("hostile", sorted(LAUNCHERS), indirect=True)
def test_a_restart_that_hangs_at_a_point_is_a_no_hang_finding_and_all_of_it_dies(hostile):
    """Its grandchild, in a session of its own, dies too (the fixture looks for it)."""
    make, mark = hostile
    explorer = make("hangs")
    started = time.monotonic()
    result = explorer.run_point(_rename_point(explorer), "kill")
    assert _findings(result) == ["no-hang"]
    assert "did not finish within 6" in result.findings[0].message
    assert time.monotonic() - started < 40
    deadline = time.monotonic() + 10
    while running(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    # (the fixture asserts that nothing with the mark is left)


# -- the stable world path -----------------------------------------------------------------

WHERE = """
from crashkit import Command, Scenario

def observe(world):
    return {{"where": world.path("where").read_text().split()}}

SAY = '[ -e where ] || echo "$1 $PWD $CRASHKIT_WORLD" > where'
WRITE = Command(["sh", "-c", SAY, "sh", "{{world}}"])

where = Scenario(
    name="where",
    setup=lambda world: None,
    workload=WRITE,
    restart=WRITE,
    observe=observe,
    variants={{"namespace": {{}}, "fallback": {{"{fallback}": "1"}}}},
)
"""


def test_a_command_sees_its_world_at_one_stable_path_or_says_why_not(tmp_path, launcher):
    from crashkit.probes.syscall.namespace import FORCE_FALLBACK

    path = tmp_path / "where_blackbox.py"
    path.write_text(textwrap.dedent(WHERE).format(fallback=FORCE_FALLBACK))
    (scenario,) = load_scenarios([path])
    base = new_work_dir()
    try:
        stable = Explorer(scenario, "namespace", launcher, base / "namespace")
        golden = stable.prepare()
        assert golden.state["where"] == [str(stable.stable_world)] * 3
        assert "no stable world path" not in golden.output
        assert stable.run_point(1, "kill").passed  # every run sees the same path
        fallback = Explorer(scenario, "fallback", launcher, base / "fallback")
        golden = fallback.prepare()
        seen = golden.state["where"]
        assert len(set(seen)) == 1 and seen[0] != str(fallback.stable_world)
        assert seen[0].endswith("/golden/world")
        assert f"no stable world path ({FORCE_FALLBACK}=1)" in golden.output
    finally:
        shutil.rmtree(base, ignore_errors=True)
