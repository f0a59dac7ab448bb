"""The bundled real programs (``scenarios/programs/``), a few points each, so the scenarios
cannot rot: each one's uncrashed run is clean, a point where the program recovers passes,
and the finding reported for the installed version is still found at its point. The
nightly job sweeps them whole (kill, powerloss, error).

Each test is skipped, saying so, when its program is not installed (CI installs all three
from Debian: see ``.ci/run``).
"""

from __future__ import annotations

import os
import pathlib
import shutil
from collections.abc import Callable, Iterator

import pytest

from crashkit import load_scenarios
from crashkit.engine.explorer import Explorer
from crashkit.engine.workdir import new_work_dir
from crashkit.launch import make_launcher
from crashkit.model.operation import Operation
from crashkit.probes.syscall.namespace import FORCE_FALLBACK

PROGRAMS = pathlib.Path(__file__).resolve().parents[2] / "scenarios" / "programs"

pytestmark = pytest.mark.slow


def _explore(
    file: str, program: str, variant: str = "default", stable_path: bool = False
) -> Iterator[Explorer]:
    if shutil.which(program) is None:
        pytest.skip(f"{program} is not installed (apt-get install {program})")
    if stable_path and (os.geteuid() != 0 or os.environ.get(FORCE_FALLBACK)):
        pytest.skip(
            f"{program} names its state after the replicas' absolute paths: it needs the "
            "stable world path, a private mount namespace (run as root, without "
            f"{FORCE_FALLBACK})"
        )
    (scenario,) = load_scenarios([PROGRAMS / file])
    explorer = Explorer(scenario, variant, make_launcher(), new_work_dir())
    try:
        yield explorer
    finally:
        explorer.close()


def _point(explorer: Explorer, matches: Callable[[Operation], bool]) -> int:
    """The first point whose operation ``matches``."""
    trace = explorer.prepare().trace
    return next(op.index for op in trace if matches(op))


def _findings(explorer: Explorer, point: int, fault: str = "kill") -> set[str]:
    return {f.invariant for f in explorer.run_point(point, fault).findings}


@pytest.fixture(scope="module")
def git() -> Iterator[Explorer]:
    yield from _explore("git_repo.py", "git")


@pytest.fixture(scope="module")
def rclone() -> Iterator[Explorer]:
    yield from _explore("rclone_bisync.py", "rclone", stable_path=True)


@pytest.fixture(scope="module")
def unison() -> Iterator[Explorer]:
    yield from _explore("unison_sync.py", "unison", stable_path=True)


def test_git_recovers_from_a_kill_mid_commit_and_is_wedged_by_one_inside_pack_refs(git):
    assert not git.run_point(0).findings
    ref_update = _point(git, lambda op: op.target.startswith("repo/.git/refs/heads/main.lock ->"))
    assert not _findings(git, ref_update)  # the user removes index.lock and commits again
    packed_refs = _point(
        git, lambda op: op.target == "repo/.git/packed-refs.new" and op.kind == "fs.write"
    )
    assert "recovery-raises" in _findings(git, packed_refs)  # git 2.39: packed-refs.new left


def test_rclone_bisync_survives_a_stale_lock_and_renames_both_sides_after_a_mid_copy_kill(rclone):
    assert not rclone.run_point(0).findings
    assert not _findings(rclone, 1)  # the lock file's creation: removed, the next run syncs
    # Killed with the first copied file created but not yet written (rclone 1.60 copies
    # in place): the next run keeps both sides as conflicting versions, renamed.
    copy = _point(
        rclone, lambda op: op.kind == "fs.write" and op.target.startswith(("one/", "two/"))
    )
    assert {"nothing_lost", "crash-equivalence"} <= _findings(rclone, copy)


def test_unison_resumes_a_kill_mid_transfer_and_stops_on_one_mid_archive_commit(unison):
    assert not unison.run_point(0).findings
    transfer = _point(unison, lambda op: op.target.endswith(".unison.tmp"))
    assert not _findings(unison, transfer)
    archive = _point(unison, lambda op: op.kind == "fs.create" and "/ar" in op.target)
    assert "recovery-raises" in _findings(unison, archive)
