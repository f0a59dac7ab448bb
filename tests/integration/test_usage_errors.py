"""Ordinary mistakes get a clear error naming the problem and the fix, exit status 2,
before any work starts, and lose nothing."""

from __future__ import annotations

import pathlib
import socket
import subprocess
import sys

import pytest

from crashkit.cli import main

TOYS = pathlib.Path(__file__).parents[1] / "toys" / "toy_store.py"


def _run(tmp_path, *args: str) -> list[str]:
    return ["run", str(TOYS), "-s", "store", "-q", "--results", str(tmp_path / "r.jsonl"), *args]


def _fails(argv: list[str], capsys, *expected: str) -> str:
    assert main(argv) == 2
    out = " ".join(capsys.readouterr().out.split())
    for text in expected:
        assert text in out, out
    return out


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--report", "{file}/index.html"], "--report"),
        (["--artifacts", "{file}"], "--artifacts"),
        (["--previous", "{missing}"], "no such results file"),
        (["--report", "{folder}"], "is a folder"),
    ],
)
def test_output_paths_are_checked_before_the_sweep(tmp_path, capsys, flags, expected):
    (tmp_path / "a-file").write_text("keep me")
    (tmp_path / "a-folder").mkdir()
    given = {"file": tmp_path / "a-file", "folder": tmp_path / "a-folder"}
    given["missing"] = tmp_path / "missing.jsonl"
    _fails(_run(tmp_path, *[f.format(**given) for f in flags]), capsys, expected)
    assert not (tmp_path / "r.jsonl").exists()  # nothing ran, nothing was replaced
    assert (tmp_path / "a-file").read_text() == "keep me"


def test_results_naming_a_folder_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    argv = ["run", str(TOYS), "-s", "store", "-q", "--results", str(tmp_path / "out")]
    _fails(argv, capsys, "--results", "is a folder; name a file in it")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def broken(:\n", "is not valid Python (invalid syntax, line 1"),
        (
            "from crashkit import Scenario\ns = Scenario(name='s', setup=print)\n",
            "raised TypeError while being imported at line 2",
        ),
        ("import no_such_module_anywhere\n", "raised ModuleNotFoundError"),
    ],
)
def test_a_scenario_file_that_does_not_import_is_named_with_its_line(
    tmp_path, capsys, source, expected
):
    bad = tmp_path / "test_bad.py"
    bad.write_text(source)
    argv = ["run", str(bad), "-q", "--results", str(tmp_path / "r.jsonl"), "--report", "none"]
    _fails(argv, capsys, "test_bad.py", expected, "fix:")


def test_a_folder_with_no_scenarios_is_a_usage_error_not_a_green_table(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    argv = ["run", str(tmp_path / "empty"), "-q", "--results", str(tmp_path / "r.jsonl")]
    _fails(argv, capsys, "no scenarios in", "test_*.py")


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00"), "not UTF-8 text"),
        (lambda p: p.mkdir(), "is a folder, not a results file"),
    ],
)
def test_report_on_what_is_not_a_results_file(tmp_path, capsys, make, expected):
    target = tmp_path / "results.jsonl"
    make(target)
    argv = ["report", str(target), "-o", str(tmp_path / "index.html")]
    _fails(argv, capsys, expected)
    assert not (tmp_path / "index.html").exists()


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "crashkit.cli", "serve-notion", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_serve_refuses_a_port_out_of_range():
    result = _serve("--port", "70000")
    assert result.returncode == 2 and "is not a port" in result.stderr


def test_serve_refuses_a_port_in_use_and_a_store_that_is_not_one(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _serve("--port", str(port), "--store", str(tmp_path / "n.sqlite3"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "cannot listen on 127.0.0.1" in result.stdout and "choose another port" in result.stdout
    (tmp_path / "not-a-db").write_text("hello, I am not SQLite " * 100)
    result = _serve("--store", str(tmp_path / "not-a-db"))
    assert result.returncode == 2 and "not a usable SQLite store" in result.stdout
    assert (tmp_path / "not-a-db").read_text().startswith("hello")  # nothing lost
