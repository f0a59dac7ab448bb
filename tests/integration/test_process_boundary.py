"""What a child process loads: the model, the probe, the faults, the scenario, the child
itself; never the engine, the launchers, the output, the options or the front ends."""

from __future__ import annotations

import importlib
import json
import pathlib

import pytest

from crashkit import LAUNCHERS
from crashkit.launch import make_launcher
from crashkit.model.process import ChildJob

TOYS = pathlib.Path(__file__).parents[1] / "toys"
PARENT_ONLY = (
    "crashkit.engine",
    "crashkit.launch",
    "crashkit.output",
    "crashkit.options",
    "crashkit.cli",
    "crashkit.pytest_plugin",
    "crashkit.remotes",
    "jinja2",
)


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_a_child_loads_nothing_of_the_parent_s_side(tmp_path, launcher, monkeypatch):
    monkeypatch.syspath_prepend(str(TOYS))
    scenario = importlib.import_module("toy_boundary").boundary
    job = ChildJob(scenario, "workload", str(tmp_path), str(tmp_path))
    exit = make_launcher(launcher, ["toy_boundary"]).run(job, timeout=60)
    assert exit.status == 0, (tmp_path / "output.txt").read_text()
    loaded = json.loads((tmp_path / "modules.json").read_text())
    assert not [m for m in loaded if m.startswith(PARENT_ONLY)]
    assert "crashkit.child.run" in loaded and "crashkit.probes.python" in loaded
