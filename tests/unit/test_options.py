"""The options object: every source parsed and checked in one place."""

from __future__ import annotations

import pytest

from crashkit import FAULTS, LAUNCHERS, Options, UsageError
from crashkit.options import load_settings


def test_defaults_sweep_every_kill_point_with_the_fork_server():
    options = Options()
    assert options.faults == ("kill",) and options.sample is None
    assert options.launcher == "forkserver" and options.wants_report


def test_generated_worlds_budgets_come_from_every_source(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.crashkit]\nexamples = 200\nbudget = 900\n")
    options = load_settings(tmp_path, {"examples": None, "budget": None})
    assert (options.examples, options.budget) == (200, 900.0)
    assert load_settings(tmp_path, {"examples": "5"}).examples == 5
    assert Options().examples == 20 and Options().budget is None


def test_replace_parses_like_the_command_line():
    options = Options().replace(faults=["kill,error"], shard="2/4", sample="3", jobs=None)
    assert options.faults == ("kill", "error") and options.shard == (2, 4)
    assert options.sample == 3 and options.jobs is None
    assert Options().replace(faults="all").faults == tuple(FAULTS)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"faults": "kil"}, "unknown fault kind"),
        ({"sample": 0}, "0 is less than 1; e.g. sample = 20"),
        ({"seed": "x"}, "'x' is not a whole number"),
        ({"launcher": "docker"}, f"choose among {', '.join(LAUNCHERS)}"),
        ({"kill_each_point": "maybe"}, "is not true or false"),
        ({"examples": 0}, "0 is less than 1; e.g. examples = 200"),
        ({"budget": "-5"}, "-5.0 is not more than 0; e.g. budget = 600"),
    ],
)
def test_a_bad_value_is_a_usage_error_with_an_example(change, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        Options().replace(**change)


def test_sources_apply_in_order_tool_crashkit_then_pytest_ini_then_flags(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        "[tool.crashkit]\nsample = 5\nseed = 1\nmax-rounds = 3\n"
        "[tool.pytest.ini_options]\ncrashkit_sample = '4'\n"
    )
    nested = tmp_path / "sub"
    nested.mkdir()
    options = load_settings(nested, {"seed": 9, "jobs": None})
    assert (options.sample, options.seed, options.max_rounds) == (4, 9, 3)


def test_a_pytest_ini_file_is_read_as_pytest_reads_it(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\ncrashkit_faults = kill,torn\n")
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\ncrashkit_sample='2'\n")
    options = load_settings(tmp_path, {})
    assert options.faults == ("kill", "torn") and options.sample is None  # pytest.ini wins


def test_an_unreadable_pyproject_is_named(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.crashkit\n")
    with pytest.raises(UsageError, match=r"pyproject.toml: not readable TOML"):
        load_settings(tmp_path, {})
