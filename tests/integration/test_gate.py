"""``crashkit gate``: CI's verdict on a sharded sweep's merged results, 0 clean, 1 findings,
2 the sweep went wrong (a shard left no results, a variant could not be explored)."""

from __future__ import annotations

import pathlib
import shutil

import pytest

from crashkit.cli import main

TOYS = pathlib.Path(__file__).parents[1] / "toys" / "toy_store.py"


@pytest.fixture
def project(tmp_path, monkeypatch):
    shutil.copy(TOYS, tmp_path)
    (tmp_path / "test_toys.py").write_text(
        "import toy_store\n"
        "store = toy_store.toy('store', 'ignore-wal')\n"
        "strict = toy_store.toy('strict', 'ignore-wal', expect_findings=[])\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def shards(scenario: str, count: int) -> list[str]:
    files = []
    for i in range(1, count + 1):
        files.append(f"r{i}.jsonl")
        argv = ["run", "test_toys.py", "-s", scenario, "-q", "--shard", f"{i}/{count}"]
        main([*argv, "--results", files[-1], "--report", "none", "--artifacts", "none"])
    return files


def test_a_clean_sweep_passes_and_writes_its_summary(project, capsys):
    summary = project / "summary.md"
    assert main(["gate", *shards("store", 2), "--shards", "2", "--summary", str(summary)]) == 0
    text = summary.read_text()
    assert text.startswith("## crashkit: every correct variant is clean")
    assert "| store | ignore-wal | caught " in text
    assert "| store | correct | clean | clean |" in text


def test_findings_exit_1_and_list_the_replay_lines(project, capsys):
    assert main(["gate", *shards("strict", 2), "--shards", "2"]) == 1
    out = capsys.readouterr().out
    assert "strict[ignore-wal] has findings" in out
    assert "crashkit replay test_toys.py::strict --variant ignore-wal --point" in out


def test_a_shard_without_results_is_an_error(project, capsys):
    files = shards("store", 3)
    assert main(["gate", *files[:2], "--shards", "3"]) == 2
    assert "shard(s) 3/3 of 3 left no results" in capsys.readouterr().out
