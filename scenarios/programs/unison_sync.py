"""unison, crashed in black-box mode: two local replicas in batch mode, edits on both sides
(the world of :mod:`replicas`).

Setup seeds ``one/`` and ``two/`` alike and runs unison once, so its archives (in
``unison/``, ``$UNISON``) know both; then each side is edited. The workload is one
``unison one two -batch -auto``; a restart is ``unison_work.sh recover``: run it again,
with ``-ignorelocks`` (noted in ``intervention-demanded``) only when the interrupted run
left its lock files.

What a user holds it to: the replicas equal, no edit or deletion lost, and the archives
usable by the next run without manual intervention.

The installed version's manual (unison 2.52, "Invariants"): "At every moment, each path
in each replica has either (1) its original contents ... or (2) its correct final
contents"; "the information stored on disk about Unison's private state can be either (1)
unchanged, or (2) updated to reflect those paths that have been successfully
synchronized"; "it is safe to interrupt Unison at any time, either manually or
accidentally"; "If Unison is interrupted, it may sometimes leave temporary working files
(with suffix .tmp) in the replicas. It is safe to delete these files"; and on
``ignorelocks``: "by default, when Unison sees these lock files it will stop and request
manual intervention". The manual speaks of interruptions, not of power cuts.

Needs the stable world path (a private mount namespace: root or CAP_SYS_ADMIN): unison names
its state after the replicas' absolute paths, so in the fallback every run would see
unknown replicas.

Not a ``test_*.py`` file, so the default sweep leaves it out:
``crashkit run scenarios/programs/unison_sync.py --fault kill --fault powerloss``.
"""

from __future__ import annotations

import pathlib

import replicas

from crashkit import About, Command, Scenario, World

SCRIPT = str(pathlib.Path(__file__).parent / "unison_work.sh")


def unison_env(root: str) -> dict[str, str]:
    """Archives, profile and log inside the world; a fixed host name for the archives."""
    return {
        "UNISON": f"{root}/unison",
        "HOME": f"{root}/home",
        "UNISONLOCALHOSTNAME": "crashkit",
        "LC_ALL": "C",
    }


def archives_usable(world: World) -> None:
    """The run after the crash did not find lock files demanding manual intervention."""
    demanded = world.path("intervention-demanded")
    assert not demanded.exists(), (
        "the interrupted run left lock files; unison demanded manual intervention: "
        + demanded.read_text().strip()
    )


def unison(mode: str) -> Command:
    env = {**unison_env("{world}"), "PYTHON": "{python}", "REPLICAS": replicas.__file__}
    return Command(["sh", SCRIPT, mode], env=env)


ABOUT = About(
    "unison",
    ("unison", "-version"),
    documented={
        "*/*/archives_usable": (
            'unison(1), ignorelocks: "by default, when Unison sees these lock files it will '
            'stop and request manual intervention."'
        ),
    },
    summary=(
        "unison between two local replicas in batch mode (-batch -auto), edits on both "
        "sides and a deletion. Restart: run it again (with -ignorelocks, noted, only when "
        'lock files were left). Its manual: "it is safe to interrupt Unison at any time, '
        'either manually or accidentally", with temporary .tmp files and lock files as the '
        "stated exceptions."
    ),
)

unison_sync = Scenario(
    name="unison_sync",
    setup=unison(mode="setup"),
    workload=unison("work"),
    restart=unison("recover"),
    observe=replicas.observe,
    invariants=[replicas.replicas_equal, replicas.nothing_lost, archives_usable],
    # Every run appends to its log; archives are rewritten when inode numbers moved
    # (each world is a copy).
    bookkeeping=["unison/*"],
    about=ABOUT,
    timeout=60,
)
