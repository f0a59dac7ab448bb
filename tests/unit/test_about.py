"""A scenario's bookkeeping files and what it says about a real program."""

from __future__ import annotations

from crashkit import About, Scenario


def _scenario(**kwargs) -> Scenario:
    def nothing(world):
        return {}

    return Scenario("s", nothing, nothing, nothing, nothing, **kwargs)


def test_writes_to_bookkeeping_files_leave_a_round_quiet_and_others_do_not():
    scenario = _scenario(bookkeeping=["work/*", "*.lck"])
    assert scenario.is_bookkeeping("work/a..b.path1.lst")
    assert scenario.is_bookkeeping("work/x.lst-new -> work/x.lst")
    assert scenario.is_bookkeeping("run.lck")
    assert not scenario.is_bookkeeping("one/a.txt")
    assert not scenario.is_bookkeeping("work/x.lst -> one/x.lst")  # both names must be
    assert not _scenario().is_bookkeeping("work/a")


def test_bookkeeping_and_about_of_the_wrong_shape_are_scenario_errors():
    import pytest

    from crashkit import ScenarioError

    with pytest.raises(ScenarioError, match="not a list of glob patterns"):
        _scenario(bookkeeping="work/*")
    with pytest.raises(ScenarioError, match=r"not a crashkit\.About"):
        _scenario(about={"program": "git"})


def test_a_finding_is_a_documented_limit_only_where_the_documentation_says_so():
    about = About(
        "git",
        ("git", "--version"),
        documented={"default/powerloss/*": "core.fsync: risks losing recent work"},
    )
    assert about.limit("default", "powerloss", "fsck_clean") == (
        "core.fsync: risks losing recent work"
    )
    assert about.limit("fsync-all", "powerloss", "fsck_clean") is None
    assert about.limit("default", "kill", "fsck_clean") is None


def _records():
    about = About(
        "tool",
        ("echo", "tool 1.0"),
        documented={"*/powerloss/*": "the manual: unsynced work may be lost"},
        summary="one run of tool",
    ).to_json()
    op = {"index": 3, "kind": "fs.write", "target": "a.txt", "function": "tool, write"}
    trace = {
        "type": "trace",
        "scenario": "tool_run",
        "scenario_id": "programs/tool.py::tool_run",
        "variant": "default",
        "points": [1, 2, 3, 4],
        "operations": [{**op, "index": i} for i in (1, 2, 3)],
        "program": about,
    }

    def point(fault, k, invariants):
        return {
            "type": "point",
            "scenario": "tool_run",
            "scenario_id": trace["scenario_id"],
            "variant": "default",
            "fault": fault,
            "point": k,
            "points": 4,
            "outcome": "fail" if invariants else "pass",
            "findings": [{"invariant": i, "message": f"{i} failed\nmore"} for i in invariants],
            "op": {**op, "index": k},
            "replay": f"crashkit replay programs/tool.py::tool_run --point {k}",
        }

    return [
        {**trace, "fault": "kill"},
        {**trace, "fault": "powerloss"},
        point("kill", 1, []),
        point("kill", 3, ["equal", "nothing_lost"]),
        point("powerloss", 2, ["nothing_lost"]),
    ]


def test_a_program_s_page_says_what_was_swept_and_which_findings_its_manual_names():
    from crashkit.output.report.programs import program_pages

    (page,) = program_pages(_records(), [])
    assert page["name"] == "tool" and page["version"] == "tool 1.0"
    assert [(s["fault"], s["points"], s["failed"]) for s in page["swept"]] == [
        ("kill", 2, 1),
        ("powerloss", 1, 1),
    ]
    groups = {(g["fault"], g["invariant"]): g for g in page["groups"]}
    assert groups[("powerloss", "nothing_lost")]["documented"].startswith("the manual")
    assert groups[("kill", "nothing_lost")]["documented"] is None
    assert groups[("kill", "equal")]["points"][0]["replay"].endswith("--point 3")
    assert page["undocumented"] == 1  # point 3 under kill, once for its two invariants


def test_the_report_renders_a_page_per_program():
    from crashkit.output.report import render_report

    html = render_report(_records())
    assert 'id="program-tool"' in html and "not documented" in html
    assert (
        "documented limit" in html
        and "crashkit replay programs/tool.py::tool_run --point 3" in html
    )
