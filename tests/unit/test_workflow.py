"""The CI workflows cannot run here, so they are checked instead: valid against the
GitHub workflow schema (check-jsonschema's vendored copy, offline), the reusable one
with the inputs a project passes, crashkit's own nightly built on it."""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
REUSABLE = WORKFLOWS / "crashkit.yml"
NIGHTLY = WORKFLOWS / "nightly.yml"


@pytest.mark.parametrize("workflow", [REUSABLE, NIGHTLY], ids=lambda p: p.name)
def test_the_workflow_is_valid_against_the_github_workflow_schema(workflow):
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.fail("check-jsonschema is not installed: pip install -e '.[test]'")
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema"]
    result = subprocess.run(
        [*command, "vendor.github-workflows", str(workflow)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_can_fail(tmp_path):
    """The check above is not a formality: a workflow with a job missing runs-on fails."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    steps:\n      - run: true\n")
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema"]
    result = subprocess.run(
        [*command, "vendor.github-workflows", str(bad)], capture_output=True, check=False
    )
    assert result.returncode != 0


def test_the_reusable_workflow_takes_paths_faults_shards_and_budget():
    text = REUSABLE.read_text()
    assert "workflow_call:" in text
    for name in ("paths:", "faults:", "shards:", "budget:", "install:"):
        assert f"      {name}" in text
    # The shard count is the input alone: the matrix is planned from it.
    assert "seq -s, 1" in text and "fromJSON(needs.plan.outputs.shards)" in text
    assert 'crashkit run $PATHS --fault "$FAULTS" --shard "$SHARD"' in text
    assert "crashkit report reports/results-*.jsonl --merged reports/results.jsonl" in text
    assert "crashkit gate reports/results-*.jsonl --shards" in text  # not inline Python
    assert "GITHUB_STEP_SUMMARY" in text and "reports/artifacts-*/" in text
    assert "--status success" not in text  # the trend is against the last run, clean or not
    assert "|| echo" not in text and "python -" not in text


def test_crashkit_s_own_nightly_uses_the_reusable_workflow():
    text = NIGHTLY.read_text()
    assert "uses: ./.github/workflows/crashkit.yml" in text and "faults: all" in text
    # The embedded default's sweep is defined once, in the reusable workflow; only the
    # real programs (in a privileged Debian container it cannot give) run crashkit here.
    assert text.count("crashkit run") == 1 and "scenarios/programs/" in text
    assert "schedule:" in text and "workflow_dispatch:" in text


def test_the_nightly_sweeps_kasten_in_black_box_mode_apart():
    text = NIGHTLY.read_text()
    assert "paths: crashkit/demo/scenarios/kasten_blackbox.py" in text
    assert "name: kasten-black-box" in text  # artifacts of its own, beside the default's
    assert (ROOT / "crashkit" / "demo" / "scenarios" / "kasten_blackbox.py").is_file()
    assert "${{ inputs.name }}-shard-" in REUSABLE.read_text()


def test_tox_has_the_promised_environments_and_no_second_nightly():
    text = (ROOT / "tox.ini").read_text()
    for env in ("[testenv]", "[testenv:demo]", "[testenv:lint]", "[testenv:type]"):
        assert env in text
    assert "--fault all" not in text


def test_the_nightly_workflow_sweeps_each_real_program_under_kill_and_powerloss():
    text = NIGHTLY.read_text()
    assert "--fault kill --fault powerloss --fault error" in text
    for program, scenario in (
        ("git", "git_repo.py"),
        ("rclone", "rclone_bisync.py"),
        ("unison", "unison_sync.py"),
    ):
        assert f"{{program: {program}, scenario: {scenario}}}" in text
        assert (ROOT / "scenarios" / "programs" / scenario).is_file()
    assert "apt-get install" in text and "git rclone unison" in text
