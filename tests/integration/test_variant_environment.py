"""A variant's environment is in force before the program is imported.

A program that reads its bug switch at import time must run each variant as that
variant, under every launcher: otherwise every buggy variant sweeps clean, silently.
"""

from __future__ import annotations

import dataclasses
import pathlib

import pytest

from crashkit import LAUNCHERS, Sweep, load_scenarios

TOY = pathlib.Path(__file__).parents[1] / "toys" / "toy_config.py"


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_a_program_reading_its_bug_switch_at_import_runs_as_each_variant(launcher):
    summaries = Sweep(load_scenarios([TOY]), launcher=launcher, jobs=2).run()
    by_variant = {s.variant: s for s in summaries}
    assert by_variant["correct"].failed == 0 and by_variant["correct"].points > 0
    # Killed between its two writes, the in-place variant leaves half a file.
    assert by_variant["inplace"].failed >= 1
    assert by_variant["inplace"].by_invariant["whole"] >= 1


def test_a_scenario_passed_as_an_object_is_unpickled_under_its_variant(monkeypatch):
    """A scenario built in code travels to the child as an object, whose unpickling
    imports the program: the variant's environment must already be there."""
    monkeypatch.syspath_prepend(str(TOY.parent))
    loaded = load_scenarios([TOY])[0]
    # No file to load it again from, and nothing preloaded: unpickling imports the program.
    scenario = dataclasses.replace(loaded, source=None, preload=())
    summaries = Sweep([scenario], jobs=2).run()
    assert {s.variant: s.failed > 0 for s in summaries} == {"correct": False, "inplace": True}
