"""crash_equivalence is configurable: on by default (the recovered world equals the golden
one), off, or a function saying what "equivalent" means for the program, e.g. a store
whose restart may lose a write it never acknowledged."""

from __future__ import annotations

import pytest

from crashkit import Scenario, ScenarioError, Sweep
from crashkit.scenario.invariants import crash_equivalence


def setup(world):
    world.path("value.txt").write_text("old\n")


def workload(world):
    import os

    with open("value.txt.tmp", "w") as f:
        f.write("new\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace("value.txt.tmp", "value.txt")  # acknowledged only once this returns


def restart(world):
    """Recovery drops an unfinished write: the old value stays, which is legitimate."""
    import os

    if os.path.exists("value.txt.tmp"):
        os.unlink("value.txt.tmp")


def observe(world):
    return {"value": world.path("value.txt").read_text()}


def old_or_new(golden, recovered):
    assert recovered["value"] in ("old\n", golden["value"]), f"got {recovered['value']!r}"


def must_be_new(golden, recovered):
    assert recovered == golden, "the write was lost"


def store(**kwargs) -> Scenario:
    return Scenario(
        name="store", setup=setup, workload=workload, restart=restart, observe=observe, **kwargs
    )


def failures(scenario: Scenario) -> dict[str, int]:
    (summary,) = Sweep([scenario], jobs=2).run()
    return dict(summary.by_invariant)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (True, {"crash-equivalence": 4}),
        (False, {}),
        (old_or_new, {}),
        (must_be_new, {"crash-equivalence": 4}),
    ],
    ids=["default", "off", "function-that-holds", "function-that-fails"],
)
def test_crash_equivalence_on_off_or_a_function(setting, expected):
    assert failures(store(crash_equivalence=setting)) == expected


def test_the_function_s_message_and_a_diff_make_the_finding():
    finding = crash_equivalence(must_be_new, {"value": "new\n"}, {"value": "old\n"})
    assert finding is not None and finding.invariant == "crash-equivalence"
    assert finding.message.startswith("must_be_new: the write was lost")
    assert "-new" in finding.diff and "+old" in finding.diff


def test_a_function_that_raises_is_named_as_a_broken_check():
    def broken(golden, recovered):
        return recovered["missing"]

    finding = crash_equivalence(broken, {}, {})
    assert finding is not None
    assert "broken raised KeyError instead of failing an assert" in finding.message


def test_a_function_that_returns_false_is_a_finding():
    assert crash_equivalence(lambda g, r: False, {"a": 1}, {"a": 2}) is not None
    assert crash_equivalence(lambda g, r: None, {"a": 1}, {"a": 2}) is None


def test_a_setting_that_is_neither_a_bool_nor_a_function_says_what_to_pass():
    with pytest.raises(ScenarioError, match="neither True, False nor a function") as error:
        store(crash_equivalence="loose")
    assert "def equivalent(golden, recovered)" in str(error.value)
