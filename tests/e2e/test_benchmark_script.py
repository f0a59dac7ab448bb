"""The benchmark script runs end to end and prints its tables (its numbers are not checked)."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_points.py"


@pytest.mark.slow
def test_the_benchmark_sweeps_scenarios_in_both_modes_and_prints_ratios_and_child_costs():
    run = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--scenario",
            "crashkit/demo/scenarios/test_pull.py",
            "--scenario",
            "crashkit/demo/scenarios/test_push.py",
            "--points",
            "2",
            "--jobs",
            "1",
            "--quick",
            "--faults",
            "kill,no-such-fault",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = run.stdout
    assert run.returncode == 0, out + run.stderr
    assert re.search(
        r"^crash points: 4 of \d+ \(a seeded sample, seed 0\) in pull 2, push 2$", out, re.M
    ), out
    assert "setup + golden run (not in points/s): fork server" in out
    header = re.search(
        r"^\s*mode\s+fault\s+jobs\s+points\s+seconds\s+points/s\s+findings$", out, re.M
    )
    assert header, out
    for mode in ("fork server", "fresh interpreter"):
        # mode, fault, jobs and points are the settings; seconds and points/s are any number
        assert re.search(rf"^\s*{mode}\s+kill\s+1\s+4\s+[\d.]+\s+[\d.]+\s+\d+$", out, re.M), out
    assert re.search(
        r"^ratio fork server / fresh interpreter \(points/s\): 1 job [\d.]+x$", out, re.M
    )
    assert re.search(r"^points/s by fault kind \(fork server, 1 job\): kill [\d.]+", out, re.M)
    assert "skipped fault kind no-such-fault: not a fault kind" in out
    assert "where a point's time goes" in out
    assert re.search(r"^  pull: 2 points, done at [\d.]+ s$", out, re.M), out
    for row in ("empty phase child", "world copy + tiny phase child", "python -c"):
        assert re.search(rf"^\s*{re.escape(row)}\s", out, re.M), out
    assert re.search(
        r"^ratio fresh interpreter / fork server \(one tiny child\): [\d.]+x$", out, re.M
    )
