"""The bundled kasten scenarios in black-box mode: kasten run as a command.

Each scenario of ``crashkit/demo/scenarios/test_*.py`` again, with the same world, variants,
invariants and journal, but its workload and restart are the ``kasten`` command line
(``crashkit-kasten --dir notes sync``, in a fresh interpreter each time) against the fake Notion
served on 127.0.0.1, crashed through the syscall probe instead of the Python one. The
verdicts must be the same as in-process; the points are finer (each system call
instead of each Python-level operation; SQLite transactions at their boundaries).

Not a ``test_*.py`` file, so the default sweep leaves it out (every kasten command
starts an interpreter): ``crashkit run crashkit/demo/scenarios/kasten_blackbox.py``.
"""

from __future__ import annotations

import dataclasses
import sys

import test_conflict
import test_delete_gc
import test_merge
import test_mixed
import test_pull
import test_push
import test_recovery
from kasten_world import NOTES, _fake

from crashkit import Command, Scenario

#: One sync, as a user runs it; the remote's address comes from the served fake.
SYNC = Command(
    [sys.executable, "-m", "crashkit.demo.kasten", "--dir", NOTES, "sync"],
    env={"KASTEN_REMOTE": "{remote}"},
    ok=(0, 1),  # 1: a note skipped or the remote failed; the journal keeps what is unfinished
)


def black_box(scenario: Scenario) -> Scenario:
    """``scenario`` with kasten run as a command against the fake served on loopback."""
    return dataclasses.replace(
        scenario,
        name=f"{scenario.name}-cmd",
        workload=SYNC,
        restart=SYNC,
        context=lambda world: _fake(world).serve(),
        program=(),
        preload=(),
        source=None,
    )


conflict = black_box(test_conflict.conflict)
delete_gc = black_box(test_delete_gc.delete_gc)
merge = black_box(test_merge.merge)
mixed = black_box(test_mixed.mixed)
pull = black_box(test_pull.pull)
push = black_box(test_push.push)
recovery = black_box(test_recovery.recovery)
