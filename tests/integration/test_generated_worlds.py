"""Generated scenarios end to end, on a toy whose bug only worlds of two items or more
reach: the CLI finds it, shrinks the world to ``["", ""]``, keeps the world in the
results, replays it from the replay line alone, and tries it first on the next run; the
plugin makes one item per variant and fault; bad input stops with exit status 2."""

from __future__ import annotations

import json
import pathlib
import shlex

import hypothesis
import pytest

from crashkit.cli import main
from crashkit.scenario.generated import decode_world

TOY = pathlib.Path(__file__).parents[1] / "toys" / "toy_generated.py"


@pytest.fixture
def here(tmp_path, monkeypatch):
    """Run in ``tmp_path``: hypothesis's example database (.hypothesis/) and the outputs
    go there, never into the project."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(*extra: str) -> int:
    outputs = ["--results", "r.jsonl", "--report", "index.html", "--artifacts", "art"]
    return main(["run", str(TOY), "-q", "--seed", "3", *outputs, *extra])


def _records(kind: str) -> list[dict]:
    lines = pathlib.Path("r.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["type"] == kind]


def test_a_finding_is_shrunk_to_the_smallest_world_and_replays_from_its_line(here, capsys):
    assert _run("-V", "early-done", "--examples", "40") == 0  # a known bug: expected
    out = capsys.readouterr().out
    assert "crash-equivalence after" in out and '["", ""]' in out
    (search,) = _records("generated")
    assert search["invariant"] == "crash-equivalence" and search["world"] == ["", ""]
    assert search["worlds"] >= search["found_after"] >= 1
    failing = [p for p in _records("point") if p["outcome"] == "fail"]
    assert failing and all(p["world"] == ["", ""] for p in failing)
    assert all("world" not in p for p in _records("point") if p["outcome"] == "pass")
    assert "Generated worlds" in (here / "index.html").read_text()
    replay = shlex.split(search["replay"])
    assert replay[:2] == ["crashkit", "replay"] and decode_world(replay[-1]) == ["", ""]
    capsys.readouterr()
    assert main([*replay[1:], "--keep", str(here / "kept")]) == 0  # expected: known bug
    assert "FINDING crash-equivalence" in capsys.readouterr().out


@pytest.fixture
def default_profile():
    """Hypothesis's own default profile: where CI is set (as on CI machines) hypothesis
    loads its "ci" profile, which keeps no example database and derandomizes."""
    previous = hypothesis.settings._current_profile
    hypothesis.settings.load_profile("default")
    yield
    hypothesis.settings.load_profile(previous)


def test_a_failing_world_is_tried_first_on_the_next_run(here, capsys, default_profile):
    assert _run("-V", "early-done", "--examples", "40") == 0
    assert _run("-V", "early-done", "--examples", "40") == 0
    (search,) = _records("generated")
    assert search["found_after"] == 1  # hypothesis's database replayed the shrunk world
    assert search["world"] == ["", ""]


def test_the_correct_variant_is_clean_and_the_budget_stops_drawing(here, capsys):
    assert _run("-V", "correct", "--examples", "6") == 0
    (search,) = _records("generated")
    assert search["invariant"] is None and 1 <= search["worlds"] <= 6
    assert _run("-V", "correct", "--examples", "500", "--budget", "1") == 0
    (search,) = _records("generated")
    assert search["worlds"] < 500  # the budget, not the examples, ended it
    out = capsys.readouterr().out
    assert "clean" in out
    assert "no points" not in out  # each world had its own points: the fault struck


def test_a_fault_with_no_point_in_any_world_says_so(here, capsys):
    # The toy's writes are under a sector: a torn write has nothing to tear.
    assert _run("-V", "correct", "--examples", "3", "-f", "torn") == 0
    assert "no points" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", str(TOY), "--examples", "0"], "'0' is not a whole number of at least 1"),
        (["replay", f"{TOY}::items", "--point", "1"], "is a generated scenario"),
        (["replay", f"{TOY}::items", "--point", "1", "--world", "z:%%"], "not a world crashkit"),
        (["replay", f"{TOY}::items", "--point", "1", "--world", "w.json"], "no such file"),
    ],
)
def test_bad_input_is_exit_status_2_with_the_fix(here, capsys, argv, message):
    with pytest.raises(SystemExit) if "--examples" in argv else _nothing():
        code = main(argv)
        assert code == 2
    captured = capsys.readouterr()
    assert message in (captured.out + captured.err).replace("\n", " ")


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_a_pyproject_budget_applies_to_generated_scenarios(here, capsys):
    (here / "pyproject.toml").write_text("[tool.crashkit]\nexamples = 0\n")
    assert _run("-V", "correct") == 2
    assert "examples = 0: 0 is less than 1" in capsys.readouterr().out


STRICT = """
import toy_generated

strict = toy_generated.crashkit.Generated(
    name="strict",
    world=toy_generated.st.lists(toy_generated.st.text(alphabet="ab", max_size=4), max_size=5),
    build=toy_generated.build,
    variants={"correct": {}, "early-done": {"TOY_BUG": "early-done"}},
)
"""


def test_the_plugin_makes_one_item_per_variant_and_fault_and_shows_the_shrunk_world(pytester):
    pytester.makepyfile(toy_generated=TOY.read_text())
    pytester.makepyfile(test_worlds="from toy_generated import items\n", test_strict=STRICT)
    args = ["-p", "no:randomly", "--crashkit-report", "none", "--crashkit-seed", "3"]
    collected = pytester.runpytest_subprocess(*args, "--collect-only", "-q")
    assert sorted(line for line in collected.outlines if "::" in line) == [
        "test_strict.py::strict[correct-kill-worlds]",
        "test_strict.py::strict[early-done-kill-worlds]",
        "test_worlds.py::items[correct-kill-worlds]",
        "test_worlds.py::items[early-done-kill-worlds]",
    ]
    result = pytester.runpytest_subprocess(*args, "--crashkit-examples", "15", "-rA")
    result.assert_outcomes(passed=2, failed=1, xfailed=1)
    text = result.stdout.str()
    assert "crash-equivalence found after" in text
    assert '[\n ""' in text or '["", ""]' in text  # the shrunk world as data
    assert "FINDING crash-equivalence" in text and "--- golden/items" in text
    assert "replay: crashkit replay test_strict.py::strict --variant early-done" in text
    assert "--world z:" in text
    assert "rerun:  pytest 'test_strict.py::strict[early-done-kill-worlds]'" in text
    assert "generated items[correct] kill: " in text  # the session's summary
    assert "generated strict[early-done] kill:" in text and "of a shrunk world" in text


BOOM = """
from hypothesis import strategies as st

import crashkit


def build(items):
    def setup(world):
        world.path("items.txt").write_text("")

    def workload(world):
        if "boom" in items:
            raise RuntimeError("cannot save an item called boom")
        world.path("items.txt").write_text(",".join(items))

    def restart(world):
        pass

    def observe(world):
        return {"items": world.path("items.txt").read_text()}

    return crashkit.Scenario(
        name="boom",
        setup=setup,
        workload=workload,
        restart=restart,
        observe=observe,
        crash_equivalence=False,
    )


boom = crashkit.Generated(
    name="boom",
    world=st.lists(st.sampled_from(["a", "boom"]), max_size=3),
    build=build,
    variants={"default": {}},
)
"""


def test_a_world_the_program_cannot_run_uncrashed_replays_as_that_finding(here, capsys):
    scenario = here / "toy_boom.py"
    scenario.write_text(BOOM)
    outputs = ["--results", "r.jsonl", "--report", "none", "--artifacts", "none"]
    assert main(["run", str(scenario), "-q", "--seed", "1", *outputs, "--examples", "20"]) == 1
    (search,) = _records("generated")
    assert search["invariant"] == "dry-run" and search["world"] == ["boom"]
    capsys.readouterr()
    replay = shlex.split(search["replay"])
    assert main(replay[1:]) == 1  # the finding again, not a broken scenario (exit 2)
    out = capsys.readouterr().out
    assert "FINDING dry-run" in out and "cannot save an item called boom" in out
