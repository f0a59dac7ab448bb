"""The crashkit command: run, points, replay, and its errors."""

from __future__ import annotations

import json
import pathlib

import pytest

from crashkit.cli import main

TOYS = pathlib.Path(__file__).parents[1] / "toys" / "toy_store.py"


def test_run_sweeps_prints_a_summary_and_writes_results(tmp_path, capsys):
    results = tmp_path / "results.jsonl"
    outputs = ["--report", str(tmp_path / "index.html"), "--artifacts", str(tmp_path / "a")]
    argv = ["run", str(TOYS), "-s", "store", "-s", "raises", "--results", str(results), "-q"]
    code = main([*argv, *outputs])  # no output outside tmp_path: not the project's report
    out = capsys.readouterr().out
    assert code == 0, out  # the only findings are in variants known to be buggy
    assert "clean" in out and "caught" in out
    assert "recovery-raises" in out
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert lines[0]["type"] == "run" and lines[0]["format"] == 1
    assert {line["type"] for line in lines} == {"run", "trace", "audit", "point", "end"}
    assert lines[-1]["type"] == "end" and lines[-1]["points"] == sum(
        1 for line in lines if line["type"] == "point"
    )


def test_run_exits_non_zero_when_a_correct_variant_has_findings(tmp_path, capsys):
    outputs = ["--report", str(tmp_path / "index.html"), "--artifacts", str(tmp_path / "a")]
    argv = ["run", str(TOYS), "-s", "ignores_wal", "-V", "ignore-wal", "-q", *outputs]
    code = main([*argv, "--results", str(tmp_path / "r.jsonl")])
    assert code == 0  # known bug: expected
    scenario = tmp_path / "test_strict.py"
    scenario.write_text(
        f"import sys; sys.path.insert(0, {str(TOYS.parent)!r})\n"
        "import toy_store\n"
        "strict = toy_store.toy('strict', 'ignore-wal', expect_findings=[])\n"
    )
    code = main(["run", str(scenario), "--results", str(tmp_path / "r2.jsonl"), "-q", *outputs])
    assert code == 1
    assert "failing" in capsys.readouterr().out


def test_points_lists_every_operation_with_its_caller(capsys):
    assert main(["points", f"{TOYS}::store", "-V", "correct"]) == 0
    out = capsys.readouterr().out
    assert "p01" in out and "sql.commit" in out and "fs.rename" in out
    assert "sync, " in out and "toy_store.py:" in out
    assert "end" in out  # the point after the last operation


def test_replay_keeps_the_crashed_world_and_shows_the_finding(tmp_path, capsys):
    keep = tmp_path / "kept"
    code = main(
        ["replay", f"{TOYS}::ignores_wal", "-V", "ignore-wal", "--point", "2", "--keep", str(keep)]
    )
    out = capsys.readouterr().out
    assert code == 0  # a known bug's finding does not fail a replay
    assert "FINDING crash-equivalence" in out and "-new value" in out
    assert (keep / "world" / "value.txt").read_text() == "old\n"
    assert (keep / "crash" / "trace.jsonl").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["points", "no_such_scenario"], "no_such_scenario"),
        (["replay", f"{TOYS}::store", "--point", "999"], "has no point 999"),
        (["replay", f"{TOYS}::store", "-V", "nope", "--point", "1"], "has no variant 'nope'"),
        (["run", "does/not/exist"], "no such file or folder"),
    ],
)
def test_bad_input_is_a_clear_error_not_a_traceback(argv, message, capsys):
    assert main(argv) == 2
    out = capsys.readouterr().out
    assert message in out and "Traceback" not in out


def test_failing_points_are_kept_and_can_be_judged_again(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert (
        main(["run", str(TOYS), "-s", "ignores_wal", "-V", "ignore-wal", "-q", "--report", "none"])
        == 0
    )
    kept = sorted((tmp_path / "reports" / "artifacts").iterdir())
    assert 0 < len(kept) <= 5  # at most five per variant and fault
    text = (tmp_path / "reports/results.jsonl").read_text()
    records = [json.loads(line) for line in text.splitlines()]
    failing = [r for r in records if r["type"] == "point" and r["outcome"] == "fail"]
    assert {r["artifacts"] for r in failing} - {None} == {f"artifacts/{p.name}" for p in kept}
    capsys.readouterr()
    assert main(["recheck"]) == 0  # nothing changed since the run
    assert "0 changed" in capsys.readouterr().out

    assert main(["report", "reports/results.jsonl", "--recheck"]) == 0
    assert f"{len(kept)} artifact(s) re-checked, 0 changed" in capsys.readouterr().out

    world = kept[0] / "world"
    (world / "value.txt").write_text("new value\n")  # someone "repairs" the stored world
    assert main(["recheck", str(kept[0])]) == 1
    assert "-> changed" in capsys.readouterr().out
    # crashkit report re-checks the stored run too, and the report shows each verdict
    report = tmp_path / "rechecked.html"
    argv = ["report", "reports/results.jsonl", "--recheck", "-o", str(report)]
    assert main(argv) == 1
    assert f"{len(kept)} artifact(s) re-checked, 1 changed" in capsys.readouterr().out
    assert "(changed)" in report.read_text() and "same as when it ran" in report.read_text()

    manifest = kept[0] / "artifact.json"
    manifest.write_text(manifest.read_text().replace('"format": 1', '"format": 99'))
    assert main(["recheck", str(kept[0])]) == 2
    assert "artifact format 99" in capsys.readouterr().out


def test_serve_notion_answers_the_official_sdk_on_loopback(tmp_path):
    import subprocess
    import sys

    import notion_client

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crashkit.cli",
            "serve-notion",
            "--store",
            str(tmp_path / "n.sqlite3"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().split()[4]
        root = server.stdout.readline().split()[-1]
        client = notion_client.Client(auth="secret_crashkit", base_url=url, retry=False)
        page = client.pages.create(
            parent={"page_id": root}, properties={"title": {"title": [{"text": {"content": "x"}}]}}
        )
        assert client.pages.retrieve(page["id"])["id"] == page["id"]
        assert url.startswith("http://127.0.0.1:")
    finally:
        server.send_signal(2)  # Ctrl-C
        assert server.wait(timeout=10) == 0
        server.stdout.close()
