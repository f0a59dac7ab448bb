"""``crashkit run`` and the pytest plugin build one options object from the same sources,
and choose the same points for the same shard and seed."""

from __future__ import annotations

import json
import pathlib

import pytest

from crashkit import read_results
from crashkit.cli import main
from crashkit.model.outcome import PointId

TOYS = pathlib.Path(__file__).parents[1] / "toys" / "toy_store.py"
SCENARIOS = """
import toy_store

store = toy_store.toy("store", "ignore-wal")
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(toy_store=TOYS.read_text())
    pytester.makepyfile(test_scenarios=SCENARIOS)
    return pytester


def _points(results: pathlib.Path) -> set[PointId]:
    return {PointId.of(r).top for r in read_results(results) if r["type"] == "point"}


def _cli(project: pytest.Pytester, *args: str) -> int:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project.path)
        patch.syspath_prepend(str(project.path))
        return main(["run", "test_scenarios.py", "-q", "--artifacts", "none", *args])


@pytest.mark.parametrize("shard", ["1/3", "2/3", "3/3"])
def test_the_cli_and_the_plugin_run_the_same_points_of_a_shard(project, shard):
    common = ["--sample", "3", "--seed", "5"]
    _cli(project, "--shard", shard, "--results", "cli.jsonl", "--report", "none", *common)
    flags = [f"--crashkit-{o.lstrip('-')}" if o.startswith("--") else o for o in common]
    project.runpytest_subprocess(
        f"--crashkit-shard={shard}",
        "--crashkit-results=plugin.jsonl",
        "--crashkit-report=none",
        *flags,
    )
    cli, plugin = _points(project.path / "cli.jsonl"), _points(project.path / "plugin.jsonl")
    assert cli == plugin


def test_the_shards_of_the_cli_partition_every_point(project):
    every = None
    parts = []
    for shard in ("", "1/2", "2/2"):
        args = ["--shard", shard] if shard else []
        _cli(project, *args, "--results", f"r{shard.replace('/', '')}.jsonl", "--report", "none")
        found = _points(project.path / f"r{shard.replace('/', '')}.jsonl")
        if shard:
            parts.append(found)
        else:
            every = found
    assert parts[0] | parts[1] == every and not parts[0] & parts[1]


def test_the_cli_reads_tool_crashkit_and_the_pytest_ini_keys_and_flags_win(project):
    project.makepyprojecttoml(
        """
        [tool.crashkit]
        sample = 2
        seed = 3
        [tool.pytest.ini_options]
        crashkit_results = "from-ini.jsonl"
        crashkit_report = "none"
        """
    )
    assert _cli(project) in (0, 1)
    first = read_results(project.path / "from-ini.jsonl")
    points = [r for r in first if r["type"] == "point" and r["point"] != 0]
    assert len(points) == 2 * 2  # two variants, a sample of two each
    assert _cli(project, "--sample", "1") in (0, 1)  # the flag wins over [tool.crashkit]
    again = read_results(project.path / "from-ini.jsonl")
    assert len([r for r in again if r["type"] == "point" and r["point"] != 0]) == 2


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("[tool.crashkit]\nsampel = 2\n", "unknown crashkit setting 'sampel'"),
        ("[tool.crashkit]\nsample = 0\n", "sample = 0: 0 is less than 1; e.g. sample = 20"),
        ("[tool.crashkit]\nfaults = ['kil']\n", "unknown fault kind(s) kil"),
        ("[tool.crashkit]\nshard = '5/4'\n", "write I/N with 1 <= I <= N"),
    ],
)
def test_a_bad_project_setting_is_a_usage_error_naming_the_file(project, settings, message, capsys):
    (project.path / "pyproject.toml").write_text(settings)
    assert _cli(project, "--results", "r.jsonl") == 2
    out = " ".join(capsys.readouterr().out.split())
    assert message in out and "pyproject.toml" in out
    assert not (project.path / "r.jsonl").exists()  # nothing was replaced


def test_the_plugin_reads_tool_crashkit_too(project):
    project.makepyprojecttoml("[tool.crashkit]\nsample = 1\nseed = 4\n")
    result = project.runpytest_subprocess("--crashkit-report=none", "--collect-only", "-q")
    items = [line for line in result.outlines if "::store[" in line]
    assert len(items) == 2 * (1 + 1)  # per variant: its golden point and one sampled point


def test_the_plugin_leaves_the_user_s_scenario_as_it_was(project):
    project.makeconftest(
        """
        import test_scenarios

        def bounds():
            s = test_scenarios.store
            return f"timeout={s.timeout} max_rounds={s.max_rounds}"

        BEFORE = bounds()

        def pytest_sessionfinish(session):
            print(f"SCENARIO before {BEFORE} after {bounds()}")
        """
    )
    result = project.runpytest_subprocess(
        "-s", "--crashkit-timeout=7", "--crashkit-max-rounds=2", "--crashkit-report=none"
    )
    line = next(line for line in result.outlines if "SCENARIO" in line)
    before, after = line.split("SCENARIO before ")[1].split(" after ")
    assert before == after and "timeout=7" not in after


def test_results_lines_end_the_same_way_from_both_front_ends(project):
    _cli(project, "--results", "cli.jsonl", "--report", "none", "--sample", "1")
    project.runpytest_subprocess(
        "--crashkit-results=plugin.jsonl", "--crashkit-report=none", "--crashkit-sample=1"
    )
    ends = [
        json.loads((project.path / f).read_text().splitlines()[-1])
        for f in ("cli.jsonl", "plugin.jsonl")
    ]
    assert [sorted(e) for e in ends] == [["duration", "finished", "points", "seed", "type"]] * 2
