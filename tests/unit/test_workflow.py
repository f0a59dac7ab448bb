"""The nightly workflow cannot run here, so it is checked for validity instead."""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"


def test_the_nightly_workflow_is_valid_against_the_github_workflow_schema():
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.fail("check-jsonschema is not installed: pip install -e '.[test]'")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(WORKFLOW),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflow_runs_the_commands_this_project_has():
    text = WORKFLOW.read_text()
    assert "crashkit run --fault all --shard ${{ matrix.shard }}/4" in text
    assert "crashkit report reports/shards/*.jsonl --merged reports/results.jsonl" in text
    assert "schedule:" in text and "workflow_dispatch:" in text


def test_tox_has_the_promised_environments():
    text = (ROOT / "tox.ini").read_text()
    for env in ("[testenv]", "[testenv:lint]", "[testenv:type]", "[testenv:nightly]"):
        assert env in text


def test_the_nightly_workflow_sweeps_each_real_program_under_kill_and_powerloss():
    text = WORKFLOW.read_text()
    assert "--fault kill --fault powerloss --fault error" in text
    for program, scenario in (
        ("git", "git_repo.py"),
        ("rclone", "rclone_bisync.py"),
        ("unison", "unison_sync.py"),
    ):
        assert f"{{program: {program}, scenario: {scenario}}}" in text
        assert (ROOT / "scenarios" / "programs" / scenario).is_file()
    assert "apt-get install" in text and "git rclone unison" in text
