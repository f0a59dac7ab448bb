"""Outputs go where the user says, relative to pytest's rootdir by default; a partial run
(-k, --lf, -x, node ids) merges its points into a full run's results instead of replacing
them; crashkit run imports the project's modules as pytest does (its ``pythonpath``)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from crashkit import read_results
from crashkit.model.outcome import PointId

TOYS = pathlib.Path(__file__).parents[1] / "toys" / "toy_store.py"
SCENARIOS = """
import toy_store

store = toy_store.toy("store", "ignore-wal")
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\n")
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "toy_store.py").write_text(TOYS.read_text())
    (pytester.path / "tests" / "test_scenarios.py").write_text(SCENARIOS)
    return pytester


def pytest_in(folder: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )


def points(path: pathlib.Path) -> set[PointId]:
    return {PointId.of(r) for r in read_results(path) if r["type"] == "point"}


def test_outputs_go_under_the_rootdir_from_whatever_folder_pytest_starts_in(project):
    run = pytest_in(project.path / "tests", "-q")
    assert run.returncode == 0, run.stdout
    assert (project.path / "reports/results.jsonl").is_file()
    assert (project.path / "reports/index.html").is_file()
    assert (project.path / "reports/artifacts").is_dir()  # the known bug's failing worlds
    assert not (project.path / "tests/reports").exists()


def test_outputs_given_on_the_command_line_are_under_the_folder_pytest_started_in(project):
    args = ["-q", "--crashkit-results=out/r.jsonl", "--crashkit-artifacts=out/worlds"]
    run = pytest_in(project.path / "tests", *args, "--crashkit-report=none")
    assert run.returncode == 0, run.stdout
    assert (project.path / "tests/out/r.jsonl").is_file()
    assert any((project.path / "tests/out/worlds").iterdir())
    assert not (project.path / "reports").exists()


@pytest.mark.parametrize(
    "selection",
    [["-k", "correct and p03"], ["-x", "-p", "no:xdist", "--crashkit-faults=kill"], ["NODEID"]],
    ids=["-k", "-x", "node-id"],
)
def test_a_partial_run_merges_into_the_full_run_s_results(project, selection):
    strict = "import toy_store\nstore = toy_store.toy('store', 'ignore-wal', expect_findings=[])\n"
    (project.path / "tests" / "test_scenarios.py").write_text(strict)
    full = pytest_in(project.path, "-q")
    assert full.returncode == 1
    every = points(project.path / "reports/results.jsonl")
    assert len(every) == 16
    if selection == ["NODEID"]:
        selection = ["tests/test_scenarios.py::store[correct-kill-p03-fs.write-_write_atomic]"]
    partial = pytest_in(project.path, "-q", *selection)
    assert "a partial run" in partial.stdout and "merged into the earlier results" in partial.stdout
    assert points(project.path / "reports/results.jsonl") == every
    page = (project.path / "reports/index.html").read_text()
    assert "16 <small>of" not in page and "16</dd>" in page.replace("\n", "")


def test_a_whole_run_replaces_the_results(project):
    assert pytest_in(project.path, "-q").returncode == 0
    before = (project.path / "reports/results.jsonl").read_bytes()
    assert pytest_in(project.path, "-q").returncode == 0
    after = (project.path / "reports/results.jsonl").read_bytes()
    assert after.count(b'"type": "run"') == before.count(b'"type": "run"') == 1


def test_crashkit_run_imports_the_project_s_modules_by_its_pytest_pythonpath(tmp_path):
    (tmp_path / "toy_store.py").write_text(TOYS.read_text())  # the project's own module
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_scenarios.py").write_text(SCENARIOS)
    crashkit = str(pathlib.Path(sys.executable).with_name("crashkit"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [crashkit, *args], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )

    sweep = ["run", "tests/", "-q", "--sample", "2", "--report", "none", "--artifacts", "none"]
    without = run(*sweep)  # as pytest, it needs to be told where the project's modules are
    assert without.returncode == 2 and "No module named 'toy_store'" in without.stdout
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    assert run(*sweep).returncode == 0
    replay = run("replay", "tests/test_scenarios.py::store", "-V", "ignore-wal", "-p", "2")
    assert replay.returncode == 0 and "FINDING" in replay.stdout  # a known bug's finding
