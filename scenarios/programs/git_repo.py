"""git, crashed in black-box mode: two commits, a branch update and a ``git gc``.

The world: ``repo/`` (a repository on ``main`` with one commit and a branch ``stable``),
``home/`` (``$HOME``, so no user configuration leaks in), ``acked`` (the steps whose git
command returned 0, fsynced as they come: see ``git_work.sh``). The workload is
``git_work.sh work``; a restart is ``git_work.sh recover``: what a user does after a
crash (remove the stale ``.lock`` files git's own message tells them to remove, check
that every acknowledged step is still there, then finish the session: each step is
redone only when it is missing, and a redone commit is the same commit, dates being
fixed).

What a user holds git to, after any crash and that recovery:

- ``git fsck --full`` is clean;
- no acknowledged commit is lost (checked before recovery redoes anything);
- the refs (``HEAD``, ``main``, ``stable``) resolve to commits;
- and the recovered repository equals the uncrashed run's (crash equivalence).

Variants: ``default`` keeps git's own ``core.fsync`` default (``committed,-loose-object``:
"risks losing recent work in the event of an unclean system shutdown", git-config(1));
``fsync-all`` sets ``core.fsync=all`` and ``core.fsyncMethod=fsync`` through
``GIT_CONFIG_COUNT``.

Not a ``test_*.py`` file, so the default sweep leaves it out:
``crashkit run scenarios/programs/git_repo.py --fault kill --fault powerloss --fault error``.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
from collections.abc import Mapping

from crashkit import About, Command, Scenario, World

SCRIPT = str(pathlib.Path(__file__).parent / "git_work.sh")

#: Fixed names and dates, so every run makes the same commits (the same object names).
IDENTITY = {
    "GIT_AUTHOR_NAME": "crashkit",
    "GIT_AUTHOR_EMAIL": "crashkit@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+0000",
    "GIT_COMMITTER_NAME": "crashkit",
    "GIT_COMMITTER_EMAIL": "crashkit@example.invalid",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+0000",
}


def git_env(root: str) -> dict[str, str]:
    """The environment every git of the scenario runs with: no system or user
    configuration, ``$HOME`` inside the world, fixed identities and dates."""
    return {
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": f"{root}/home",
        "XDG_CONFIG_HOME": f"{root}/home/.config",
        "LC_ALL": "C",
        **IDENTITY,
    }


def _git(world: World, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **git_env(str(world.root)), **world.env, "GIT_OPTIONAL_LOCKS": "0"}
    return subprocess.run(
        ["git", *args],
        cwd=world.path("repo"),
        env=env,
        capture_output=True,
        text=True,
        check=check,
    )


def setup(world: World) -> None:
    world.path("home").mkdir()
    world.path("repo").mkdir()
    world.path("acked").write_text("")
    _git(world, "init", "-q", "-b", "main")
    _git(world, "config", "gc.auto", "0")  # no automatic gc: the workload's gc is the one
    _git(world, "config", "maintenance.auto", "false")
    world.path("repo", "README").write_text("a repository crashkit crashes\n")
    _git(world, "add", "README")
    _git(world, "commit", "-q", "-m", "initial")
    _git(world, "branch", "stable")


def _out(world: World, *args: str) -> str:
    """What ``git args`` prints, or its failure as text (a broken repository is a state
    to compare, not an error of observing)."""
    done = _git(world, *args, check=False)
    if done.returncode:
        return f"git {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}"
    return done.stdout


def observe(world: World) -> Mapping[str, object]:
    return {
        "refs": _out(world, "for-each-ref", "--format=%(refname) %(objectname)"),
        "head": _out(world, "symbolic-ref", "HEAD"),
        "log": _out(world, "log", "--format=%H %s", "main"),
        "status": _out(world, "status", "--porcelain"),
        "files": {
            name: world.path("repo", name).read_text()
            for name in ("README", "a.txt", "b.txt")
            if world.path("repo", name).is_file()
        },
        "acked": world.path("acked").read_text(),
    }


def fsck_clean(world: World) -> None:
    """``git fsck --full`` finds nothing wrong."""
    done = _git(world, "fsck", "--full", "--no-progress", check=False)
    assert done.returncode == 0, f"git fsck --full failed ({done.returncode}):\n{done.stderr}"


def no_acknowledged_commit_lost(world: World) -> None:
    """What recovery found missing of the steps whose git command had returned 0."""
    lost = world.path("lost")
    found = lost.read_text() if lost.exists() else ""
    assert not found, f"acknowledged before the crash, missing after it:\n{found}"


def refs_readable(world: World) -> None:
    """HEAD, main and stable resolve to commits."""
    for ref in ("HEAD", "main", "stable"):
        done = _git(world, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False)
        assert done.returncode == 0, f"{ref} does not resolve to a commit: {done.stderr.strip()}"


def git_session(mode: str) -> Command:
    return Command(["sh", SCRIPT, mode], env=git_env("{world}"))


#: core.fsync=all with fsync(2) as the method, set for every git in the tree.
FSYNC_ALL = {
    "GIT_CONFIG_COUNT": "2",
    "GIT_CONFIG_KEY_0": "core.fsync",
    "GIT_CONFIG_VALUE_0": "all",
    "GIT_CONFIG_KEY_1": "core.fsyncMethod",
    "GIT_CONFIG_VALUE_1": "fsync",
}

#: git's own words on what its settings promise (git-config(1) of the installed version).
ABOUT = About(
    "git",
    ("git", "--version"),
    documented={
        "default/powerloss/*": (
            'git-config(1), core.fsync: "The default on most platforms is equivalent to '
            "core.fsync=committed,-loose-object, which has good performance, but risks "
            'losing recent work in the event of an unclean system shutdown."'
        ),
    },
    summary=(
        "Two commits, a branch update and a git gc in a repository inside the world. "
        "Restart is what a user does after a crash: remove the stale .lock files git's own "
        "message says to remove, check every acknowledged step (its git command had "
        "returned 0) is still there, then finish the session. Variants: git's default "
        "core.fsync, and core.fsync=all with core.fsyncMethod=fsync."
    ),
)

git_repo = Scenario(
    name="git_repo",
    setup=setup,
    workload=git_session("work"),
    restart=git_session("recover"),
    observe=observe,
    invariants=[fsck_clean, no_acknowledged_commit_lost, refs_readable],
    variants={"default": {}, "fsync-all": FSYNC_ALL},
    about=ABOUT,
    timeout=60,
)
