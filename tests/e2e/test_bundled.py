"""The bundled scenarios against the reference engine: the proof that crashkit works.

The correct engine is clean at every kill point of every bundled scenario (the mixed
one sampled); each seeded variant is caught, exhaustively, by the smallest scenario
that exercises its window, and the five that a kill cannot see are clean under a kill
and caught by their own fault; the journal audit flags exactly the two unjournaled
write paths of the seed. The nightly job sweeps everything under every fault.
"""

from __future__ import annotations

import pathlib

import pytest

from crashkit import Sweep, load_scenarios
from crashkit.demo import kasten

SCENARIOS = pathlib.Path(__file__).resolve().parents[2] / "crashkit" / "demo" / "scenarios"

#: The smallest bundled scenario whose workload opens each variant's window.
CAUGHT_IN = {
    "conflict-no-wal": "conflict",
    "wal-delete-before-push": "conflict",
    "inplace-write": "conflict",
    "push-not-idempotent": "conflict",
    "recovery-ignores-wal": "pull",
    "gc-no-wal": "delete_gc",
}

#: The variants a kill cannot see: the smallest scenario and the fault that catch each.
CAUGHT_BY_FAULT = {
    "rename-without-fsync": ("pull", "powerloss"),
    "inplace-pwrite": ("pull", "torn"),
    "retry-duplicates": ("push", "lost-response"),
    "error-drops-wal": ("push", "error"),
    "recovery-deletes-first": ("conflict", "recovery-crash"),
}

pytestmark = pytest.mark.slow


def _sweep(names, variants, sample=None, faults=("kill",)):
    summaries, audits = [], {}

    def keep_audit(explorer):
        audits[(explorer.scenario.name, explorer.variant)] = explorer.prepare().uncovered

    summaries = Sweep(
        load_scenarios([SCENARIOS], names),
        variants=variants,
        jobs=2,
        sample=sample,
        faults=faults,
        on_prepared=keep_audit,
    ).run()
    return {(s.scenario.name, s.variant): s for s in summaries}, audits


@pytest.fixture(scope="module")
def correct():
    names = [n for n in ("pull", "push", "merge", "conflict", "delete_gc", "recovery")]
    summaries, audits = _sweep(names, ["correct"])
    mixed, mixed_audits = _sweep(["mixed"], ["correct"], sample=12)
    return {**summaries, **mixed}, {**audits, **mixed_audits}


@pytest.fixture(scope="module")
def buggy():
    summaries = {}
    audits = {}
    for scenario in sorted(set(CAUGHT_IN.values())):
        variants = [v for v, s in CAUGHT_IN.items() if s == scenario]
        found, found_audits = _sweep([scenario], variants)
        summaries.update(found)
        audits.update(found_audits)
    return summaries, audits


def test_every_variant_has_a_scenario_here():
    # The bugs of shape are found from generated worlds only (kasten_generated.py).
    shapes = set(kasten.SHAPE_VARIANTS)
    assert set(CAUGHT_IN) | set(CAUGHT_BY_FAULT) == set(kasten.VARIANTS) - shapes


@pytest.mark.parametrize("variant", sorted(CAUGHT_BY_FAULT))
def test_a_variant_a_kill_cannot_see_is_caught_by_its_fault(variant):
    scenario, fault = CAUGHT_BY_FAULT[variant]
    summaries, _ = _sweep([scenario], [variant], faults=("kill", fault))
    summary = summaries[(scenario, variant)]
    assert summary.error is None, summary.error
    assert summary.by_fault["kill"] == 0, f"{variant} must be clean under a plain kill"
    assert summary.by_fault[fault] > 0, f"{variant} was not caught by {fault} in {scenario}"


def test_the_correct_engine_is_clean_at_every_point(correct):
    summaries, _ = correct
    assert len(summaries) == 7
    for (scenario, _), summary in summaries.items():
        assert summary.error is None, summary.error
        assert summary.points > 2, scenario
        assert summary.failed == 0, f"{scenario}: {dict(summary.by_invariant)}"


@pytest.mark.parametrize("variant", sorted(CAUGHT_IN))
def test_each_seeded_variant_is_caught(buggy, variant):
    summaries, _ = buggy
    summary = summaries[(CAUGHT_IN[variant], variant)]
    assert summary.error is None, summary.error
    assert summary.failed > 0, f"{variant} was not caught in {CAUGHT_IN[variant]}"
    assert summary.passed > 0, "a variant should fail only inside its window"


def test_the_journal_audit_flags_the_seed_bugs_and_nothing_in_the_correct_engine(correct, buggy):
    _, clean = correct
    _, audits = buggy
    assert all(not uncovered for uncovered in clean.values()), {
        k: [u.describe() for u in v] for k, v in clean.items() if v
    }
    merged = audits[("conflict", "conflict-no-wal")]
    assert {u.op.kind for u in merged} >= {
        "fs.rename",
        "http.patch",
    }  # the merged file and its push
    assert any(u.op.target.endswith("meeting.md") for u in merged if u.op.kind == "fs.rename")
    late = audits[("conflict", "wal-delete-before-push")]
    assert late and {u.op.kind for u in late} <= {"http.patch", "http.delete"}  # only the push


def test_recorded_kill_states_find_what_a_child_killed_at_each_point_finds(tmp_path):
    """The recorded crash states are the kill model, not an approximation of it: every
    point of the conflict scenario fails or passes alike, with the same invariants."""
    from crashkit.output.results import ResultsWriter, read_results

    variants = ["correct", "conflict-no-wal", "wal-delete-before-push", "inplace-write"]
    outcomes = {}
    for each_point in (False, True):
        results = tmp_path / f"each-{each_point}.jsonl"
        with ResultsWriter(results) as writer:
            Sweep(
                load_scenarios([SCENARIOS], ["conflict"]),
                variants=variants,
                jobs=2,
                results=writer,
                kill_each_point=each_point,
            ).run()
        outcomes[each_point] = sorted(
            (r["variant"], r["point"], sorted({f["invariant"] for f in r["findings"]}))
            for r in read_results(results)
            if r["type"] == "point"
        )
    assert outcomes[False] == outcomes[True]
    failing = {variant for variant, _, invariants in outcomes[False] if invariants}
    assert failing == set(variants) - {"correct"}


def test_crashkit_s_own_results_file_survives_every_kill_tear_and_power_cut():
    """The self-sweep: ResultsWriter and --resume crashed at every point; the resume of
    old, which kept a torn tail, is caught by the torn fault."""
    scenarios = load_scenarios([SCENARIOS], ["results_file"])
    faults = ["kill", "torn", "powerloss"]
    summaries = {s.variant: s for s in Sweep(scenarios, faults=faults, jobs=2).run()}
    correct = summaries["correct"]
    assert correct.failed == 0 and correct.points > 0 and correct.error is None
    assert summaries["no-repair"].by_fault["torn"] >= 1
