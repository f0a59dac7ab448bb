"""Generated scenarios, in memory: the Generated object, the world's JSON and its inline
form on a command line, the scenario of one world, and what a result says about it."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from hypothesis import strategies as st

import crashkit
from crashkit.engine.result import PointResult
from crashkit.model.operation import Operation
from crashkit.model.outcome import Finding
from crashkit.scenario.generated import (
    Generated,
    GeneratedRef,
    decode_world,
    encode_world,
    generated_in,
    load_all,
    world_of,
)

TOY = Path(__file__).parents[1] / "toys" / "toy_generated.py"


def _build(items):
    return crashkit.Scenario(
        name="inner",
        setup=lambda world: None,
        workload=lambda world: None,
        restart=lambda world: None,
        observe=lambda world: {"items": items},
    )


def _generated(**changes):
    given = {"name": "g", "world": st.lists(st.integers()), "build": _build, **changes}
    return Generated(**given)


def test_a_world_travels_inline_and_comes_back_the_same():
    world = {"notes": {"ü.md": "x" * 3000}, "edits": [1, None, True]}
    blob = encode_world(world)
    assert blob.startswith("z:") and " " not in blob and len(blob) < 200
    assert decode_world(blob) == world


def test_a_world_comes_from_a_json_file_too(tmp_path):
    path = tmp_path / "world.json"
    path.write_text(json.dumps([1, 2]))
    assert decode_world(str(path)) == [1, 2]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("z:not-base64!", "not a world crashkit wrote"),
        ("z:aGVsbG8=", "not a world crashkit wrote"),  # base64, not zlib
        ("missing.json", "no such file, and not an inline world"),
    ],
)
def test_a_bad_world_is_a_usage_error_naming_the_fix(given, message):
    with pytest.raises(crashkit.UsageError, match=message):
        decode_world(given)


def test_a_world_file_that_is_not_json_says_so(tmp_path):
    path = tmp_path / "world.json"
    path.write_text("{nope")
    with pytest.raises(crashkit.UsageError, match="not a JSON file"):
        decode_world(str(path))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"world": [1, 2]}, "is not a hypothesis strategy"),
        ({"build": "nope"}, "is not callable"),
        ({"expect_findings": ["nope"]}, "expect_findings names unknown variants"),
        ({"variants": {}}, "variants is empty"),
    ],
)
def test_a_wrong_generated_scenario_is_a_scenario_error(changes, message):
    with pytest.raises(crashkit.ScenarioError, match=message):
        _generated(**changes)


def test_the_scenario_of_a_world_has_the_generated_scenarios_identity():
    generated = _generated(variants={"a": {}, "b": {"X": "1"}}, expect_findings=["b"])
    generated.source = crashkit.scenario.ScenarioRef("/x/test_g.py", "gen")
    scenario = generated.scenario_for([3, 1])
    assert scenario.name == "g" and set(scenario.variants) == {"a", "b"}
    assert scenario.expects_findings("b") and not scenario.expects_findings("a")
    assert isinstance(scenario.source, GeneratedRef)
    assert scenario.id == generated.id and scenario.id.endswith("::gen")
    assert world_of(scenario) == [3, 1]
    assert scenario.observe(None) == {"items": [3, 1]}


def test_a_build_that_raises_or_returns_no_scenario_is_a_scenario_error():
    with pytest.raises(crashkit.ScenarioError, match="build raised ZeroDivisionError"):
        _generated(build=lambda world: 1 / 0).scenario_for([])
    with pytest.raises(crashkit.ScenarioError, match="build returned 7, not a Scenario"):
        _generated(build=lambda world: 7).scenario_for([])


def test_a_world_that_cannot_be_decoded_is_a_usage_error():
    generated = _generated(decode=lambda data: data["missing"])
    with pytest.raises(crashkit.UsageError, match="cannot be decoded"):
        generated.scenario_from_json({})


def test_dataclass_worlds_are_stored_as_their_fields():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class World:
        notes: tuple[str, ...]

    generated = _generated(build=lambda world: _build(list(world.notes)))
    generated.source = crashkit.scenario.ScenarioRef("/x/test_g.py", "gen")
    assert world_of(generated.scenario_for(World(("a",)))) == {"notes": ["a"]}


def test_a_child_rebuilds_the_world_from_the_reference_alone():
    (generated,) = generated_in(TOY)
    ref = generated.scenario_for(["a", "b"]).source
    again = pickle.loads(pickle.dumps(ref)).load()  # what a child does with its job
    assert world_of(again) == ["a", "b"] and again.id == generated.id


def test_loading_finds_fixed_and_generated_scenarios_and_names_the_missing(tmp_path):
    scenarios, generated = load_all([str(TOY)])
    assert not scenarios and [g.name for g in generated] == ["items"]
    with pytest.raises(crashkit.ScenarioError, match="known scenarios: items"):
        load_all([str(TOY)], ["nope"])


def _result(scenario, findings):
    op = Operation(2, "fs.create", "items.txt.tmp", "save")
    return PointResult(scenario, "correct", "kill", 2, 5, op, findings, [], 0.1)


def test_a_failing_point_of_a_world_records_the_world_and_replays_it_exactly():
    (generated,) = generated_in(TOY)
    scenario = generated.scenario_for(["", ""])
    failing = _result(scenario, [Finding("crash-equivalence", "differs")])
    record = failing.to_json()
    assert record["world"] == ["", ""]
    replay = record["replay"]
    assert replay.startswith(f"crashkit replay {generated.id} --variant correct --point 2 ")
    assert decode_world(replay.split("--world ")[1]) == ["", ""]
    assert "world" not in _result(scenario, []).to_json()  # passing points: no copy


def test_the_report_shows_each_search_and_escapes_the_world():
    from crashkit.output.report import render_report

    search = {
        "type": "generated",
        "scenario": "items",
        "scenario_id": "t.py::items",
        "variant": "early-done",
        "fault": "kill",
        "worlds": 13,
        "points": 44,
        "duration": 15.2,
        "found_after": 3,
        "shrink_seconds": 11.0,
        "invariant": "crash-equivalence",
        "point": 2,
        "op": {"kind": "fs.create", "target": "items.txt.tmp", "function": "save"},
        "finding": {"invariant": "crash-equivalence", "message": "differs", "diff": ""},
        "world": ["<script>alert(1)</script>", ""],
        "replay": "crashkit replay t.py::items --variant early-done --point 2 --world z:x",
        "expected_findings": True,
    }
    page = render_report([{"type": "run", "format": 1}, search])
    assert "Generated worlds" in page and "p02 fs.create items.txt.tmp" in page
    assert "found after 3 worlds" in page and "--world z:x" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)" in page


def test_each_search_belongs_to_one_shard_and_a_known_bug_to_its_fault():
    from crashkit.engine.generation import searched

    generated = _generated(variants={"a": {}, "b": {}}, expect_findings={"b": ["torn"]})
    generated.source = crashkit.scenario.ScenarioRef("/x/test_g.py", "gen")
    assert searched(generated, "a", "kill") and searched(generated, "a", "torn")
    assert searched(generated, "b", "torn") and not searched(generated, "b", "kill")
    for fault in ("kill", "error", "torn"):
        owners = [i for i in (1, 2, 3) if searched(generated, "a", fault, (i, 3))]
        assert len(owners) == 1
