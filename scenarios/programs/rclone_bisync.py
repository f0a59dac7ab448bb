"""``rclone bisync``, crashed in black-box mode: two local folders, edits on both sides and
a deletion (the world of :mod:`replicas`).

Setup makes ``one/`` and ``two/`` equal and runs ``rclone bisync --resync`` once (the
documented first run), then edits both sides. The workload is one ``rclone bisync one two
--workdir work``; a restart is ``rclone_work.sh recover``: delete a stale lock file, run
bisync again, and, only when that run ends critically, do the ``--resync`` the
documentation prescribes, noting that it was demanded.

What a user holds it to: both replicas equal after recovery, no edit or deletion lost,
and the next run not demanding a manual ``--resync``.

The installed version's documentation (rclone 1.60, ``man rclone``, "Bisync"): bisync "is
EXPERIMENTAL"; "If bisync should crash or hang, the lock file will remain in place and
block any further runs of bisync for the same paths. Delete the lock file as part of
debugging the situation"; "Certain bisync critical errors, such as file copy/move failing,
will result in a bisync lockout of following runs ... The recovery is to do a --resync
again"; exit status 2 is "a critically aborted run (requires a --resync to recover)".
Nothing there promises that an interrupted run resumes; it says what to do when it does
not.

Needs the stable world path (a private mount namespace: root or CAP_SYS_ADMIN): rclone names
its state after the replicas' absolute paths, so in the fallback every run would see
unknown replicas.

Not a ``test_*.py`` file, so the default sweep leaves it out:
``crashkit run scenarios/programs/rclone_bisync.py --fault kill --fault powerloss``.
"""

from __future__ import annotations

import pathlib

import replicas

from crashkit import About, Command, Scenario, World

SCRIPT = str(pathlib.Path(__file__).parent / "rclone_work.sh")


def rclone_env(root: str) -> dict[str, str]:
    """No user configuration or cache outside the world."""
    return {
        "HOME": f"{root}/home",
        "RCLONE_CONFIG": f"{root}/home/rclone.conf",
        "RCLONE_CACHE_DIR": f"{root}/home/cache",
        "TMPDIR": f"{root}/tmp",
        "LC_ALL": "C",
    }


def no_resync_demanded(world: World) -> None:
    """The run after the crash did not end critically (exit 2: needs a manual --resync)."""
    assert not world.path("resync-demanded").exists(), (
        "the run after the crash aborted critically and demanded a manual --resync"
    )


def bisync(mode: str) -> Command:
    env = {**rclone_env("{world}"), "PYTHON": "{python}", "REPLICAS": replicas.__file__}
    return Command(["sh", SCRIPT, mode], env=env)


ABOUT = About(
    "rclone",
    ("rclone", "version"),
    documented={
        "*/*/no_resync_demanded": (
            'rclone(1), Bisync, "Error handling": "Certain bisync critical errors, such as '
            "file copy/move failing, will result in a bisync lockout of following runs. ... "
            'The recovery is to do a --resync again."'
        ),
    },
    summary=(
        "rclone bisync between two local folders, edits on both sides and a deletion. "
        "Restart: delete a stale lock file (as the manual says), run bisync again, and "
        "--resync only when that run ends critically (exit 2). The installed version's "
        'bisync prints "bisync is EXPERIMENTAL. Don\'t use in production!"; its manual '
        "says nothing of interrupted runs beyond the lock file and the critical lockout."
    ),
)

rclone_bisync = Scenario(
    name="rclone_bisync",
    setup=bisync("setup"),
    workload=bisync("work"),
    restart=bisync("recover"),
    observe=replicas.observe,
    invariants=[replicas.replicas_equal, replicas.nothing_lost, no_resync_demanded],
    # Every run rewrites its listings (stamped with the time), takes a lock file, and
    # writes and removes temporary files.
    bookkeeping=["work/*", "tmp/*"],
    about=ABOUT,
    timeout=60,
)
