"""The results file stays readable whatever the program writes, and a resumed sweep
repairs what a killed one left, or refuses a damaged file with the line and the fix."""

from __future__ import annotations

import json

import pytest

from crashkit import ResultsError, read_results
from crashkit.output.results import ResultsWriter


def _point(**extra):
    record = {
        "type": "point",
        "scenario_id": "s.py::s",
        "variant": "v",
        "fault": "kill",
        "point": 1,
        "outcome": "pass",
        "findings": [],
        "op": {"index": 1, "kind": "fs.write", "target": "a"},
    }
    return {**record, **extra}


@pytest.mark.parametrize("text", ["a\u2028b", "a\u2029b", "a\u0085b", "a\rb", "lone \udcff"])
def test_any_text_a_program_prints_is_one_line_that_reads_back(tmp_path, text):
    path = tmp_path / "r.jsonl"
    with ResultsWriter(path) as writer:
        writer.write(_point(output=text))
    assert read_results(path)[1]["output"] == text
    assert len(path.read_bytes().splitlines()) == 2  # any reader splits it into two lines
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2


def test_a_file_written_with_raw_line_separators_still_reads(tmp_path):
    path = tmp_path / "r.jsonl"
    lines = [{"type": "run", "format": 1}, _point(output="x\u2028y")]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines))
    assert read_results(path)[1]["output"] == "x\u2028y"


@pytest.mark.parametrize("tail", [b'{"type": "point", "scen', b"garbage\n", b"\xff\xfe\n"])
def test_resuming_drops_a_torn_or_garbage_last_line_and_appends_after_a_whole_one(tmp_path, tail):
    path = tmp_path / "r.jsonl"
    with ResultsWriter(path) as writer:
        writer.write(_point())
    with path.open("ab") as file:
        file.write(tail)
    with ResultsWriter(path, resume=True) as writer:
        assert len(writer.earlier) == 1
        writer.write(_point(point=2))
    records = read_results(path)
    assert [r["type"] for r in records] == ["run", "point", "run", "point"]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("[1, 2, 3]", "a JSON list, not an object"),
        ('{"type": "point"}', "a point line whose 'scenario_id' is None"),
        ('{"type": "point", "scenario_id": "s", "variant": "v", "fault": "kill", '
         '"point": "7", "outcome": "pass", "findings": [], "op": {}}',
         "a point line whose 'point' is '7'"),
        ('"a string"', "a JSON str, not an object"),
        ('{"type": "nonsense"}', "no known type ('nonsense'"),
    ],
)  # fmt: skip
def test_a_line_that_is_json_but_not_a_record_is_named_with_the_fix(tmp_path, line, problem):
    path = tmp_path / "r.jsonl"
    with ResultsWriter(path) as writer:
        writer.write(_point())
    with path.open("a") as file:
        file.write(line + "\n")
        file.write(json.dumps(_point(point=3)) + "\n")
    before = path.read_bytes()
    for read in (lambda: read_results(path), lambda: ResultsWriter(path, resume=True)):
        with pytest.raises(ResultsError) as caught:
            read()
        assert f"r.jsonl:3: {problem}" in str(caught.value) and "fix:" in str(caught.value)
    assert path.read_bytes() == before  # nothing lost


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p.mkdir(), "is a folder, not a results file"),
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00"), "not UTF-8 text"),
        (lambda p: p.write_text('{"type": "point"}\n'), "the first line is not a run line"),
        (lambda p: p.write_text(""), "empty"),
    ],
)
def test_what_is_not_a_results_file_is_refused_by_name(tmp_path, make, problem):
    path = tmp_path / "r.jsonl"
    make(path)
    with pytest.raises(ResultsError, match=problem):
        read_results(path)
