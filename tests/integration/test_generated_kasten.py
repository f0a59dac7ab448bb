"""The correct kasten engine survives generated worlds under every fault, with the PR
budget: a couple of worlds per fault and a sample of their points. (The nightly budget,
200 worlds and more, runs in the nightly workflow; ``benchmarks/bench_worlds.py`` shows
each seeded variant found and shrunk.)"""

from __future__ import annotations

import json
import pathlib

import pytest

from crashkit.cli import main
from crashkit.faults import FAULT_KINDS

ROOT = pathlib.Path(__file__).parents[2]
GENERATED = ROOT / "crashkit" / "demo" / "scenarios" / "kasten_generated.py"


@pytest.mark.slow
def test_the_correct_engine_survives_generated_worlds_under_every_fault(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)  # hypothesis's database and the outputs stay here
    outputs = ["--results", "r.jsonl", "--report", "none", "--artifacts", "none"]
    budget = ["--examples", "2", "--sample", "2", "--budget", "60"]
    code = main(["run", str(GENERATED), "-V", "correct", "--fault", "all", "-q", *budget, *outputs])
    out = capsys.readouterr().out
    assert code == 0, out
    searches = [
        r
        for r in map(json.loads, (tmp_path / "r.jsonl").read_text().splitlines())
        if r["type"] == "generated"
    ]
    assert sorted(s["fault"] for s in searches) == sorted(FAULT_KINDS)
    assert all(s["worlds"] >= 1 and s["invariant"] is None for s in searches), out
