"""crashkit as a user meets it: the wheel built from this checkout, installed into a fresh
virtual environment outside the repository, used there without PYTHONPATH.

Slow (a wheel build and an install from the package index): about a minute or two.
"""

from __future__ import annotations

import json
import os
import pathlib
import shlex
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOY = ROOT / "tests" / "toys" / "toy_store.py"

pytestmark = pytest.mark.slow

#: What the copy of the checkout the wheel is built from leaves out.
UNSHIPPED = (".git", ".venv", ".tox", "build", "dist", "reports", "*.egg-info", "__pycache__")
UNSHIPPED += (".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis")


def run(args: list[str] | str, cwd: pathlib.Path, env: dict[str, str], **kwargs):
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, check=False, **kwargs
    )
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[pathlib.Path, dict[str, str]]:
    """A virtual environment outside the repository with the wheel and its demo extra."""
    base = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # Built from a copy: a build leaves build/ and *.egg-info behind, never in the checkout.
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*UNSHIPPED))
    built = run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(base), str(source)],
        base,
        env,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = base.glob("crashkit-*.whl")
    venv = base / "venv"
    assert run([sys.executable, "-m", "venv", str(venv)], base, env).returncode == 0
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    done = run([*pip, f"{wheel}[demo]", "pytest-xdist"], base, env)
    assert done.returncode == 0, done.stderr
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return venv, env


def test_the_wheel_has_no_top_level_kasten_and_tells_its_version(installed, tmp_path):
    venv, env = installed
    version = run(["crashkit", "--version"], tmp_path, env)
    assert version.returncode == 0 and version.stdout.startswith("crashkit 0.")
    python = str(venv / "bin" / "python")
    probe = "import importlib.util as u; print(u.find_spec('kasten'))"
    assert run([python, "-c", probe], tmp_path, env).stdout.strip() == "None"
    assert (venv / "bin" / "crashkit-kasten").exists() and not (venv / "bin" / "kasten").exists()
    assert run(["crashkit"], tmp_path, env).returncode == 0  # a bare crashkit: its help


def test_crashkit_run_in_an_empty_folder_sweeps_the_demo(installed, tmp_path):
    _, env = installed
    # A sampled sweep of every bundled scenario and variant (the whole one takes minutes).
    swept = run(["crashkit", "run", "--sample", "1", "--artifacts", "none"], tmp_path, env)
    assert swept.returncode == 0, swept.stdout + swept.stderr
    lines = (tmp_path / "reports/results.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    scenarios = {r["scenario"] for r in records if r["type"] == "point"}
    assert {"conflict", "push", "pull", "merge", "results_file"} <= scenarios
    assert (tmp_path / "reports/index.html").is_file()


def test_a_user_project_passes_pytest_xdist_crashkit_run_and_the_replay_line(installed, tmp_path):
    _, env = installed
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "toy_store.py").write_text(TOY.read_text())  # the project's own module
    (project / "pyproject.toml").write_text(
        '[project]\nname = "mystore"\nversion = "0"\n\n'
        '[tool.pytest.ini_options]\npythonpath = ["."]\n'
    )
    (project / "tests" / "test_store.py").write_text(
        "import toy_store\n\nstore = toy_store.toy('store', 'ignore-wal')\n"
    )
    for args in (["pytest", "-q"], ["pytest", "-q", "-n", "2"]):
        done = run(args, project, env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "passed" in done.stdout
    swept = run(["crashkit", "run", "tests/", "--artifacts", "none"], project, env)
    assert swept.returncode == 0, swept.stdout + swept.stderr
    lines = (project / "reports/results.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    failing = [r for r in records if r["type"] == "point" and r["outcome"] == "fail"]
    assert failing, "the known-buggy variant is caught"
    replay = shlex.split(failing[0]["replay"])
    assert replay[:2] == ["crashkit", "replay"]
    replayed = run(replay, project, env)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr  # a known bug
    assert "FINDING" in replayed.stdout
