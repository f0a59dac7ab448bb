"""What a new user meets first: the bare command, its version, and the embedded default
swept from a folder that holds nothing."""

from __future__ import annotations

import importlib.metadata
import json

import pytest

from crashkit import cli
from crashkit.cli import main


def test_a_bare_crashkit_prints_its_help_and_exits_0(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "usage: crashkit" in out and "run" in out and "replay" in out


def test_version_names_the_installed_distribution(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"crashkit {importlib.metadata.version('crashkit')}"


def test_run_in_an_empty_folder_sweeps_the_embedded_default(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["run", "-s", "push", "-V", "correct", "--sample", "2", "-q", "--report", "none"]
    assert main(argv) == 0
    assert "push" in capsys.readouterr().out
    lines = (tmp_path / "reports/results.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    points = [r for r in records if r["type"] == "point"]
    assert points and {(r["scenario"], r["variant"]) for r in points} == {("push", "correct")}


def test_the_embedded_default_without_the_demo_extra_says_how_to_install_it(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "DEMO_MODULES", ("notion_client", "no_such_module_anywhere"))
    assert main(["run", "-q"]) == 2
    out = " ".join(capsys.readouterr().out.split())
    assert "needs no_such_module_anywhere" in out and "pip install 'crashkit[demo]'" in out
    assert not (tmp_path / "reports").exists()  # nothing ran
