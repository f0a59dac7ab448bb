"""The HTML report rendered from results records: what it shows, and that it is safe.

Fast: no browser (``test_report_browser.py`` opens the page in Chromium). Records
are made by hand with the builders in ``scripts/make_sample_results.py``, and
once by a real sweep of the toy program.
"""

from __future__ import annotations

import html
import importlib.util
import json
import os
import pathlib
import re
from typing import Any

import pytest

from crashkit import Sweep, load_scenarios
from crashkit.output.report import merge_results, point_ranges, render_report, write_report
from crashkit.output.results import ResultsWriter, read_results

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOYS = ROOT / "tests" / "toys" / "toy_store.py"
TOY_FAULTS = ROOT / "tests" / "toys" / "toy_faults.py"
ATTACK = "<script>alert(1)</script></script><b>bold</b>"


def _load_sample() -> Any:
    spec = importlib.util.spec_from_file_location(
        "make_sample_results", ROOT / "scripts" / "make_sample_results.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


s = _load_sample()
OPS, _ = s.note_ops("push", "correct", 6)  # points 0..7


def data_of(page: str) -> dict[str, Any]:
    """The JSON the page's script draws from."""
    match = re.search(
        r'<script type="application/json" id="crashkit-data">(.*?)</script>', page, re.S
    )
    assert match, "no embedded data"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def resolve(data: dict[str, Any], value: str | int) -> str:
    """A string of the page's data: long ones are stored once and referred to by number."""
    return data["strings"][value] if isinstance(value, int) else value


def text_of(page: str) -> str:
    """Visible text, roughly: style, scripts and tags dropped, entities decoded, spaces folded."""
    body = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def sweep(variant: str = "correct", *, fail: dict[int, list[dict]] | None = None, **kw: Any):
    """A trace and a point record per point 0..7 of the push scenario (``fail``: findings)."""
    fail = fail or {}
    records = [s.trace("push", variant, OPS, **kw)]
    records += [s.point("push", variant, k, OPS, findings=fail.get(k, []), **kw) for k in range(8)]
    return records


def crash_eq(message: str = "the recovered world differs", diff: str = "") -> dict:
    return s.finding("crash-equivalence", message, diff)


@pytest.fixture(scope="module")
def toy_records(tmp_path_factory):
    """A real sweep of two toy scenarios (one clean, one known-buggy variant)."""
    results = tmp_path_factory.mktemp("toys") / "results.jsonl"
    scenarios = load_scenarios([TOYS], ["store", "ignores_wal"])
    with ResultsWriter(results) as writer:
        Sweep(scenarios, jobs=2, results=writer).run()
    return read_results(results)


# -- what the page shows ------------------------------------------------------------


def test_the_header_says_what_ran():
    records = [s.run_record(commit="abc1234"), *sweep(), *sweep("regressed", fault="torn")]
    records.append(s.end_record(duration=4.0, points=16))
    page = render_report(records, title="nightly sweep")
    top = page.split('<header class="top">', 1)[1].split("</header>", 1)[0]
    header = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", top)))
    assert "<title>nightly sweep</title>" in page
    for fact in ("date 2026-11-26 02:00 UTC", "commit abc1234", "scenarios 1", "variants 2"):
        assert fact in header
    assert "faults kill, torn" in header
    assert "points 16" in header
    assert "duration 4.0 s" in header
    assert "points / s 4.0" in header


def test_without_an_end_record_the_duration_is_an_estimate():
    page = render_report([s.run_record(), *sweep()])
    assert "≈ 0.2 s" in page  # 8 points of 0.05 s on 2 cpus


def test_a_correct_variant_that_fails_is_the_first_thing_said():
    records = [s.run_record(), *sweep(), *sweep("regressed", fail={3: [crash_eq()]})]
    page = render_report(records)
    verdict = page.split('id="verdict"', 1)[1].split("</div>", 1)[0]
    assert "1 variant broken" in verdict and "push / regressed" in verdict
    assert 'class="badge bad">failing<' in page


def test_a_known_buggy_variant_caught_is_not_red_and_one_not_caught_is_flagged():
    caught = sweep("wal-delete-before-push", fail={6: [crash_eq()]}, expected=True)
    missed = sweep("conflict-no-wal", expected=True)
    page = render_report([s.run_record(), *sweep(), *caught, *missed])
    assert "Every correct variant is clean." not in page  # one known bug was not caught
    assert "1 known-buggy variant no longer caught" in page
    assert ">caught<" in page
    cells = {tuple(c[:3]) for c in data_of(page)["rows"][2]["cells"]}  # correct, conflict, wal
    assert (6, None, "x") in cells  # an expected failure has its own color


def test_a_variant_traced_but_never_run_says_so():
    page = render_report([s.run_record(), s.trace("push", "correct", OPS)])
    assert 'class="badge none">not run<' in page
    assert [c[2] for c in data_of(page)["rows"][0]["cells"]] == ["n"] * 8


def test_every_point_is_a_cell_labeled_by_its_operation_and_caller():
    data = data_of(render_report(sweep("regressed", fail={3: [crash_eq()]})))
    (row,) = data["rows"]
    assert [c[0] for c in row["cells"]] == list(range(8))
    assert [c[2] for c in row["cells"]] == ["p", "p", "p", "f", "p", "p", "p", "p"]
    ops = data["traces"][row["trace"]]
    assert ops[3] == ["fs.write", "notes/n001.md.tmp", "write_atomic", "kasten/files.py", 24]
    assert ops[0][0] == "none" and ops[7][0] == "end"


def test_a_failing_point_carries_what_triage_needs():
    diff = "--- golden/a\n+++ recovered/a\n@@ -1 +1 @@\n-new\n+old\n"
    rounds = [s.round_record(1, 3, ["p02 fs.write a in sync"]), s.round_record(2)]
    records = sweep("regressed", fail={3: [crash_eq(diff=diff)]})
    records[4].update(output="Traceback: boom\n", source="os.replace(tmp, path)", rounds=rounds)
    records[4]["artifacts"] = "artifacts/push/p03"
    data = data_of(render_report(records))
    (detail,) = data["details"]
    assert detail["op"][:3] == ["fs.write", "notes/n001.md.tmp", "write_atomic"]
    assert resolve(data, detail["source"]) == "os.replace(tmp, path)"
    assert detail["findings"][0][0] == "crash-equivalence"
    assert resolve(data, detail["findings"][0][2]) == diff
    assert [r[0] for r in detail["rounds"]] == [1, 2]
    assert resolve(data, detail["rounds"][0][3][0]) == "p02 fs.write a in sync"
    assert detail["output"] == "Traceback: boom\n"
    assert (
        detail["replay"]
        == "crashkit replay scenarios/test_push.py::push --variant regressed --point 3"
    )
    assert detail["artifacts"] == "artifacts/push/p03"


def test_repeated_diffs_are_stored_once():
    diff = "--- golden/a\n+++ recovered/a\n" + "-x\n+y\n" * 20
    data = data_of(render_report(sweep("bad", fail={k: [crash_eq(diff=diff)] for k in range(8)})))
    assert data["strings"].count(diff) == 1
    assert {d["findings"][0][2] for d in data["details"]} == {data["strings"].index(diff)}


def test_a_real_toy_sweep_renders(toy_records):
    page = render_report(toy_records)
    data = data_of(page)
    points = [r for r in toy_records if r["type"] == "point"]
    failed = [r for r in points if r["outcome"] == "fail"]
    assert sum(len(row["cells"]) for row in data["rows"]) == len(points)
    assert len(data["details"]) == len(failed) > 0
    assert {"journal-drained", "crash-equivalence"} <= {
        f[0] for d in data["details"] for f in d["findings"]
    }
    for name in ("store", "ignores_wal", "ignore-wal", "tests/toys/toy_store.py::store"):
        assert name in page
    assert "Every correct variant is clean." in page


def test_a_real_sweep_of_several_faults_renders(tmp_path):
    """Recovery-crash writes a record per nested point; lost-response offers no point here."""
    results = tmp_path / "results.jsonl"
    scenarios = load_scenarios([TOY_FAULTS], ["recovery_deletes_first"])
    faults = ("kill", "lost-response", "recovery-crash")
    with ResultsWriter(results) as writer:
        Sweep(
            scenarios,
            variants=["recovery-deletes-first"],
            faults=faults,
            jobs=2,
            sample=3,
            results=writer,
        ).run()
    records = read_results(results)
    page = render_report(records)
    data = data_of(page)
    traces = {r["fault"]: r["points"] for r in records if r["type"] == "trace"}
    points = [r for r in records if r["type"] == "point"]
    ran = {(r["fault"], r["point"]) for r in points}
    assert len(ran) < len(points)  # several nested records share a point
    by_fault = dict(zip(sorted(faults), data["rows"], strict=True))
    assert [c[0] for c in by_fault["kill"]["cells"]] == [0, *traces["kill"]]
    assert [c[0] for c in by_fault["recovery-crash"]["cells"]] == traces["recovery-crash"]
    assert by_fault["lost-response"]["cells"] == []
    assert sum(c[2] != "n" for row in data["rows"] for c in row["cells"]) == len(ran)
    head = text_of(page.split('<header class="top">', 1)[1].split("</header>", 1)[0])
    assert f"points {len(ran)} of {len(traces['kill']) + 1 + len(traces['recovery-crash'])}" in head
    assert "caught" in row_text(page, "recovery-deletes-first", "recovery-crash")
    assert "no findings" in row_text(page, "recovery-deletes-first", "kill")
    assert "no points" in row_text(page, "recovery-deletes-first", "lost-response")
    assert "Every correct variant is clean." in page
    assert not re.search(r"-\d+ not run", text_of(page))


# -- escaping -----------------------------------------------------------------------


def test_program_output_cannot_break_out_of_the_page():
    records = sweep("evil" + ATTACK, fail={3: [crash_eq(ATTACK, diff=f"+{ATTACK}\n")]})
    records[4]["output"] = f"{ATTACK}\n</SCRIPT ><!--"
    records[4]["source"] = ATTACK
    records.append(
        s.audit("push", "evil" + ATTACK, [{**OPS[2], "entity": ATTACK, "reason": ATTACK}])
    )
    page = render_report(records)
    assert "<script>alert(1)" not in page
    assert "<b>bold</b>" not in page
    assert page.lower().count("</script") == 2  # the data's and the page script's own ends
    assert page.count("<script") == 2
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the variant's name, the audit
    data = data_of(page)
    (detail,) = data["details"]
    assert resolve(data, detail["findings"][0][1]) == ATTACK  # intact as data
    assert resolve(data, detail["output"]) == f"{ATTACK}\n</SCRIPT ><!--"


def test_an_error_message_is_escaped_too():
    error = {"type": "error", "scenario": "push", "scenario_id": s.scenario_id("push"),
             "variant": "broken", "error": f"setup failed: {ATTACK}"}  # fmt: skip
    page = render_report([s.run_record(), error])
    assert "<script>alert(1)" not in page
    assert "setup failed: &lt;script&gt;" in page
    assert ">error<" in page


def test_binary_looking_bytes_and_long_lines_stay_readable():
    output = "\x00\x07\x1b[31m" + "\udcff" + "x" * 100_000 + "\r\nend"
    records = sweep("bad", fail={1: [crash_eq()]})
    records[2]["output"] = output
    page = render_report(records)
    data = data_of(page)
    shown = resolve(data, data["details"][0]["output"])
    assert shown.startswith("\u2400\u2407\u241b[31m\ufffd")
    assert "more characters in the results file" in shown
    assert len(shown) < 70_000
    page.encode("utf-8")  # no lone surrogate left


def test_no_external_resources():
    page = render_report([s.run_record(), *sweep("bad", fail={2: [crash_eq("see https://x.io")]})])
    without_data = (
        page.split('<script type="application/json"', 1)[0] + page.rsplit("</script>")[-1]
    )
    assert not re.search(r"https?://", without_data)
    links = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]*)""", page)
    assert links and all(link.startswith("#") for link in links)
    assert "@import" not in page and "url(" not in page


# -- trend, coverage, audit ---------------------------------------------------------


def test_the_trend_names_newly_failing_and_newly_fixed_points():
    before = sweep("regressed", fail={5: [crash_eq()]})
    now = sweep("regressed", fail={3: [crash_eq()]})
    page = render_report(now, previous=before)
    trend = text_of(page.split('id="trend"', 1)[1].split("</section>", 1)[0])
    failing, fixed = trend.split("Newly fixed")
    assert "p03 fs.write notes/n001.md.tmp" in failing and "p05" not in failing
    assert "p05 fs.rename" in fixed and "p03" not in fixed
    flags = {c[0]: c[4] for c in data_of(page)["rows"][0]["cells"]}
    assert flags[3] & 2 and flags[5] & 4  # marked in the strip too


def test_without_a_previous_run_there_is_no_trend_section():
    assert 'id="trend"' not in render_report(sweep())


def test_coverage_lists_points_a_sampled_run_never_reached():
    records = [r for r in sweep() if r["type"] == "trace" or r["point"] in (0, 1, 5, 7)]
    page = render_report(records)
    coverage = text_of(page.split('id="coverage"', 1)[1])
    assert "p02\u2013p04, p06" in coverage
    assert "50.0 %" in coverage
    cells = data_of(page)["rows"][0]["cells"]
    assert [c[2] for c in cells] == ["p", "p", "n", "n", "n", "p", "n", "p"]


def test_point_ranges():
    assert point_ranges([1, 2, 3, 5, 8, 9]) == "p01\u2013p03, p05, p08\u2013p09"
    assert point_ranges(list(range(0, 100, 2)), limit=2) == "p00, p02, and 48 more ranges"


def test_the_journal_audit_lists_uncovered_mutations_by_caller():
    def uncovered(index: int, function: str, file: str, line: int) -> dict:
        op = OPS[index - 1]
        return {**op, "function": function, "file": file, "line": line, "entity": "n001",
                "reason": "no open journal entry covers n001"}  # fmt: skip

    entries = [
        uncovered(5, "handle_conflict", "kasten/sync.py", 314),
        uncovered(3, "handle_conflict", "kasten/sync.py", 312),
        uncovered(6, "mark_target_written", "kasten/wal.py", 63),
        uncovered(2, "write_atomic", "kasten/files.py", 22),
    ]
    page = render_report([*sweep("conflict-no-wal"), s.audit("push", "conflict-no-wal", entries)])
    audit = text_of(page.split('id="audit"', 1)[1].split('id="coverage"', 1)[0])
    callers = ("write_atomic", "handle_conflict", "mark_target_written")
    assert [audit.index(c) for c in callers] == sorted(audit.index(c) for c in callers)
    assert audit.count("handle_conflict") == 1  # one line per caller and call path
    assert "kasten/sync.py:312, 314" in audit
    assert audit.index("p03 fs.write notes/n001.md.tmp") < audit.index("p05 fs.rename")
    assert "no open journal entry covers n001" in audit
    flags = {c[0]: c[4] for c in data_of(page)["rows"][0]["cells"]}
    assert [k for k, f in flags.items() if f & 1] == [2, 3, 5, 6]  # marked in the strip


def test_the_audit_shows_who_called_the_caller_and_the_entity():
    entry = {**OPS[2], "entity": {"path": "notes/a.md", "page": None}, "reason": "uncovered"}
    entry["detail"] = {"stack": ["write_atomic (files.py:24)", "handle_conflict (sync.py:212)"]}
    page = render_report([*sweep("conflict-no-wal"), s.audit("push", "conflict-no-wal", [entry])])
    audit = text_of(page.split('id="audit"', 1)[1].split('id="coverage"', 1)[0])
    assert "← handle_conflict (sync.py:212)" in audit
    assert "path=notes/a.md" in audit and "page=" not in audit


def test_an_audit_with_nothing_uncovered_says_so():
    page = render_report([*sweep(), s.audit("push", "correct", [])])
    assert "Every audited file write and remote push was covered" in page
    assert "no journal audit" in render_report(sweep())


# -- several fault kinds -----------------------------------------------------------


def faulted(
    variant: str,
    fault: str,
    points: list[int],
    *,
    ran: list[int] | None = None,
    fail: dict[int, list[dict]] | None = None,
    **kw: Any,
) -> list[dict]:
    """A trace offering ``points`` under ``fault`` and a record for each of ``ran``."""
    fail = fail or {}
    records = [s.trace("push", variant, OPS, fault=fault, points=points, **kw)]
    records += [
        s.point("push", variant, k, OPS, fault=fault, findings=fail.get(k, []), **kw)
        for k in (points if ran is None else ran)
    ]
    return records


def row_text(page: str, variant: str, fault: str) -> str:
    """The summary matrix's cell of one variant under one fault, then the variant's verdict
    (the cells after the fault's)."""
    for line in re.findall(r"<tr class=[^>]*data-rows=.*?</tr>", page, re.S):
        cells = re.findall(r"<td[^>]*>.*?</td>", line, re.S)
        if text_of(cells[1]).split()[0] != variant:
            continue
        at = next(i for i, c in enumerate(cells) if f'data-fault="{fault}"' in c)
        verdict = next(i for i, c in enumerate(cells) if "data-fault" not in c and i > 1)
        return f" {variant} {fault} {text_of(cells[at])} | {text_of(cells[verdict])} "
    raise AssertionError(f"no summary line for {variant} / {fault}")


def test_a_known_bug_is_caught_by_some_fault_not_by_each():
    bug = "wal-delete-before-push"
    records = [s.run_record(), *sweep()]
    records += sweep(bug, expected=True)  # kill: nothing found
    records += faulted(bug, "torn", [3], fail={3: [crash_eq()]}, expected=True)
    records += sweep("conflict-no-wal", expected=True)  # found by no fault...
    records += faulted("conflict-no-wal", "torn", [3], expected=True)  # ...of the two
    page = render_report(records)
    verdict = text_of(page.split('id="verdict"', 1)[1].split("</div>", 1)[0])
    assert "1 known-buggy variant no longer caught" in verdict  # a variant, not its rows
    assert "push / conflict-no-wal" in verdict and bug not in verdict
    assert "1 known bug caught as expected" in verdict
    assert "caught" in row_text(page, bug, "torn")
    assert "no findings" in row_text(page, bug, "kill")
    assert "not caught" not in row_text(page, bug, "kill")
    assert "not caught" in row_text(page, "conflict-no-wal", "kill")
    assert "not caught" in row_text(page, "conflict-no-wal", "torn")


def test_every_known_bug_caught_somewhere_is_a_clean_sweep():
    bug = "wal-delete-before-push"
    records = [*sweep(), *sweep(bug, expected=True)]
    records += faulted(bug, "torn", [3], fail={3: [crash_eq()]}, expected=True)
    page = render_report(records)
    assert "Every correct variant is clean." in page
    assert "no longer caught" not in page


def meant_for(records: list[dict], *faults: str) -> list[dict]:
    """The records with their point lines naming the faults meant to catch the bug."""
    for record in records:
        if record["type"] == "point":
            record["expected_faults"] = sorted(faults)
    return records


def test_a_known_bug_whose_catching_fault_was_not_swept_is_not_swept_not_missed():
    """As the CLI says it: caught by powerloss, swept under kill only."""
    bug = "wal-delete-before-push"
    records = [s.run_record(), *sweep(), *meant_for(sweep(bug, expected=True), "powerloss")]
    page = render_report(records)
    verdict = text_of(page.split('id="verdict"', 1)[1].split("</div>", 1)[0])
    assert "no longer caught" not in page
    assert "Every correct variant is clean." in verdict
    assert "1 known bug not swept" in verdict
    assert "not swept (caught by powerloss)" in row_text(page, bug, "kill")
    assert "not caught" not in text_of(page)


def test_a_known_bug_missed_by_its_catching_fault_is_no_longer_caught():
    bug = "wal-delete-before-push"
    records = [*meant_for(sweep(bug, expected=True), "powerloss")]
    records += meant_for(faulted(bug, "powerloss", [3], expected=True), "powerloss")
    page = render_report(records)
    assert "1 known-buggy variant no longer caught" in page
    assert "not caught" in row_text(page, bug, "powerloss")
    assert "no findings" in row_text(page, bug, "kill")


def test_a_correct_variant_failing_under_two_faults_is_one_variant_broken():
    records = [*sweep("regressed", fail={3: [crash_eq()]})]
    records += faulted("regressed", "torn", [3], fail={3: [crash_eq()]})
    verdict = text_of(render_report(records).split('id="verdict"', 1)[1].split("</div>", 1)[0])
    assert "1 variant broken" in verdict
    assert "push / regressed / kill" in verdict and "push / regressed / torn" in verdict


def test_the_points_a_fault_offers_are_the_ones_enumerated():
    records = [s.run_record(), *sweep()]  # kill: point 0 (the golden run) and 1..7
    records += faulted("correct", "torn", [3, 5], ran=[3])  # writes only; 5 sampled out
    page = render_report(records)
    data = data_of(page)
    kill, torn = data["rows"]
    assert [c[0] for c in kill["cells"]] == list(range(8))
    assert [(c[0], c[2]) for c in torn["cells"]] == [(3, "p"), (5, "n")]  # no golden run
    head = text_of(page.split('<header class="top">', 1)[1].split("</header>", 1)[0])
    assert "points 9 of 10" in head
    coverage = text_of(page.split('id="coverage"', 1)[1])
    assert "push correct torn 2 1 50.0 % p05" in coverage
    assert "push correct kill 8 8 100.0 % all run" in coverage
    assert "1 run, 1 not run" in text_of(page.split('id="points"', 1)[1])


def test_older_files_without_offered_points_enumerate_every_point():
    records = [r for r in sweep() if r["point" if r["type"] == "point" else "type"] != 5]
    del records[0]["points"]
    coverage = text_of(render_report(records).split('id="coverage"', 1)[1])
    assert "push correct kill 8 7 87.5 % p05" in coverage


def test_a_fault_offering_no_point_says_so_and_is_not_a_point_not_run():
    records = [*sweep(), *faulted("correct", "lost-response", [])]
    page = render_report(records)
    line = row_text(page, "correct", "lost-response")
    assert "no points" in line and "not run" not in line
    assert data_of(page)["rows"][1]["cells"] == []
    strip = text_of(page.split('id="points"', 1)[1].split('id="audit"', 1)[0])
    assert "this fault offers no point on this trace" in strip
    coverage = text_of(page.split('id="coverage"', 1)[1])
    assert "no points: this fault offers none on this trace" in coverage
    assert "Every correct variant is clean." in page


def nested_sweep() -> list[dict]:
    """Recovery-crash on points 1..7: point 3 crashed in recovery at r01..r03, r02 failing."""
    records = faulted("correct", "recovery-crash", list(range(1, 8)), ran=[1, 2, 4, 5, 6, 7])
    for r in (1, 2, 3):
        found = [crash_eq("the world differs")] if r == 2 else []
        records.append(
            s.point("push", "correct", 3, OPS, fault="recovery-crash", nested=r, findings=found,
                    artifacts="artifacts/push-correct-recovery-crash-p003" if found else None)
        )  # fmt: skip
    return records


def test_nested_points_count_once_for_their_point():
    page = render_report([s.run_record(), *sweep(), *nested_sweep()])
    data = data_of(page)
    row = data["rows"][1]
    assert [c[0] for c in row["cells"]] == list(range(1, 8))  # one cell per point
    (cell,) = [c for c in row["cells"] if c[0] == 3]
    assert cell[2] == "f"  # one nested point failing fails the point
    assert [(n, status) for n, status, _, _ in cell[1]] == [(1, "p"), (2, "f"), (3, "p")]
    assert data["details"][cell[1][1][2]]["nested"] == 2
    assert cell[3] == cell[1][1][2]  # the point's details are its failing nested point's
    assert all(c[1] is None for c in data["rows"][0]["cells"])
    line = row_text(page, "correct", "recovery-crash")
    assert "failing 1 " in line  # counted by point, not by nested point
    assert 'title="7 of 7 points run, 1 failed"' in page
    strips = text_of(page.split('id="points"', 1)[1])
    assert "1 failing of 7 run · N = 6" in strips
    assert "not run" not in strips.split("recovery-crash", 1)[1].split("N = 6", 1)[0]
    head = text_of(page.split('<header class="top">', 1)[1].split("</header>", 1)[0])
    assert "points 15 " in head and " of " not in head.split("points", 1)[1].split("duration")[0]


def test_nested_points_trend_marks_their_point_and_links_to_the_nested_one():
    before = nested_sweep()
    before[-2]["outcome"], before[-2]["findings"] = "pass", []
    page = render_report(nested_sweep(), previous=before)
    trend = text_of(page.split('id="trend"', 1)[1].split("</section>", 1)[0])
    assert "p03/r02 fs.write notes/n001.md.tmp" in trend
    assert 'href="#r0-p3-n2"' in page
    (cell,) = [c for c in data_of(page)["rows"][0]["cells"] if c[0] == 3]
    assert cell[4] & 2 and cell[1][1][3] & 2 and not cell[1][0][3] & 2


def test_injection_and_artifacts_reach_the_details():
    records = sweep("regressed", fail={3: [crash_eq()]})
    records[4]["injection"] = "OSError: [Errno 28] No space left on device"
    records[4]["artifacts"] = "artifacts/push-regressed-kill-p003"
    data = data_of(render_report(records))
    (detail,) = data["details"]
    assert resolve(data, detail["injection"]) == "OSError: [Errno 28] No space left on device"
    assert detail["artifacts"] == "artifacts/push-regressed-kill-p003"
    assert detail["artifactsHref"] == "artifacts/push-regressed-kill-p003/"
    cells = data["rows"][0]["cells"]
    assert resolve(data, cells[3][5]) == "OSError: [Errno 28] No space left on device"
    assert resolve(data, cells[2][5]) == "killed right before it"  # passing points too
    assert cells[0][5] == -1  # the golden run injects nothing
    assert data["strings"].count("killed right before it") == 1


def test_an_artifacts_path_is_only_ever_a_relative_link():
    records = sweep("regressed", fail={3: [crash_eq()], 4: [crash_eq()], 5: [crash_eq()]})
    records[4]["artifacts"] = "javascript:alert(1)//"
    records[5]["artifacts"] = "/etc/passwd"
    records[6]["artifacts"] = "artifacts/a b#c?d"
    details = data_of(render_report(records))["details"]
    assert details[0]["artifactsHref"] == "javascript%3Aalert%281%29/"
    assert details[1]["artifactsHref"] is None and details[1]["artifacts"] == "/etc/passwd"
    assert details[2]["artifactsHref"] == "artifacts/a%20b%23c%3Fd/"


# -- merging shards and writing -----------------------------------------------------


def test_shards_merge_and_the_last_record_of_a_point_wins(tmp_path):
    first = [s.run_record(), *sweep()[:5], s.end_record(2.0, 4)]  # trace, points 0..3
    rerun = s.point("push", "correct", 3, OPS, findings=[crash_eq()])
    second = [s.run_record(), s.trace("push", "correct", OPS)]
    second += [s.point("push", "correct", k, OPS) for k in range(3, 8)]
    second += [rerun, s.end_record(3.0, 5)]
    paths = [
        s.write_jsonl(first, tmp_path / "a.jsonl"),
        s.write_jsonl(second, tmp_path / "b.jsonl"),
    ]
    merged = merge_results(paths)
    points = [r for r in merged if r["type"] == "point"]
    assert sorted(r["point"] for r in points) == list(range(8))
    assert next(r for r in points if r["point"] == 3)["outcome"] == "fail"
    assert sum(r["type"] == "trace" for r in merged) == 1
    page = render_report(merged)
    assert "5.0 s" in page and "2 runs" in page
    assert [c[2] for c in data_of(page)["rows"][0]["cells"]][3] == "f"


def test_write_report_replaces_the_file_atomically(tmp_path, monkeypatch):
    target = tmp_path / "reports" / "index.html"
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    assert write_report(sweep(), target) == target
    assert target.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert len(synced) == 2  # the file, then its folder
    assert oct(target.stat().st_mode & 0o777) == "0o644"

    def broken_replace(*args: Any) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", broken_replace)
    before = target.read_bytes()
    with pytest.raises(OSError, match="disk gone"):
        write_report(sweep("other"), target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["index.html"]  # no temp left


def test_a_powerloss_sweep_states_the_models_assumptions():
    trace = {
        "type": "trace",
        "scenario": "s",
        "scenario_id": "s.py::s",
        "variant": "v",
        "fault": "powerloss",
        "points": [1, 2],
        "expected_findings": False,
        "operations": [],
        "golden_rounds": [],
        "golden_state": {},
    }
    html = render_report([trace])
    assert "SQLite databases are assumed durable at each" in html
    trace["fault"] = "kill"
    assert "SQLite databases are assumed durable" not in render_report([trace])
