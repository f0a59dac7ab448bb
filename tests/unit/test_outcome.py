"""One point identity, one shard function, one verdict."""

from __future__ import annotations

import pytest

from crashkit import UsageError
from crashkit.model.outcome import PointId, Verdict, in_shard, parse_shard, verdict


def test_a_point_s_identity_is_read_from_its_results_line():
    record = {"scenario_id": "s.py::a", "variant": "v", "fault": "recovery-crash", "point": 7}
    assert PointId.of(record) == PointId("s.py::a", "v", "recovery-crash", 7)
    nested = PointId.of({**record, "nested": 3})
    assert nested.nested == 3 and nested.top == PointId.of(record)
    assert str(nested) == "s.py::a|v|recovery-crash|p7/r03"


def test_shards_partition_the_points_and_keep_nested_points_with_their_point():
    points = [PointId("s", "v", f, p) for f in ("kill", "error") for p in range(40)]
    shards = [{p for p in points if in_shard(p, (i, 3))} for i in (1, 2, 3)]
    assert set().union(*shards) == set(points)
    assert sum(map(len, shards)) == len(points)
    nested = PointId("s", "v", "kill", 5, nested=2)
    assert in_shard(nested, (1, 3)) == in_shard(nested.top, (1, 3))
    assert in_shard(nested, None)


@pytest.mark.parametrize("value", ["0/4", "5/4", "2", "a/b", "-1/2"])
def test_a_bad_shard_names_the_right_form(value):
    with pytest.raises(UsageError, match="write I/N"):
        parse_shard(value)


@pytest.mark.parametrize(
    ("expected", "meant", "swept", "failed", "broken", "answer"),
    [
        (False, set(), {"kill"}, 0, False, Verdict.CLEAN),
        (False, set(), {"kill"}, 2, False, Verdict.FAILING),
        (True, set(), {"kill"}, 2, False, Verdict.CAUGHT),
        (True, {"powerloss"}, {"kill"}, 1, False, Verdict.CAUGHT),
        (True, {"powerloss"}, {"kill"}, 0, False, Verdict.NOT_SWEPT),
        (True, {"powerloss"}, {"kill", "powerloss"}, 0, False, Verdict.NOT_CAUGHT),
        (True, set(), {"kill"}, 0, False, Verdict.NOT_CAUGHT),
        (False, set(), {"kill"}, 0, True, Verdict.BROKEN),
    ],
)
def test_the_verdict_of_a_variant(expected, meant, swept, failed, broken, answer):
    got = verdict(expected=expected, meant=meant, swept=swept, failed=failed, broken=broken)
    assert got is answer
    assert got.ok == (answer not in (Verdict.FAILING, Verdict.BROKEN))


def test_temporary_names_and_process_ids_do_not_make_a_trace_nondeterministic():
    from crashkit.model.operation import Operation

    def op(target: str) -> Operation:
        return Operation(1, "fs.create", target, "git, openat")

    assert (
        op("repo/.git/objects/56/tmp_obj_dkv3LV").signature
        == op("repo/.git/objects/56/tmp_obj_ty6J1h").signature
    )
    assert (
        op("pack/.tmp-15901-pack-cc28.idx").signature
        == op("pack/.tmp-20211-pack-cc28.idx").signature
    )
    assert op("info/packs_uJewQz -> info/packs").signature == op(
        "info/packs_TVWDXY -> info/packs"
    ).signature
    assert op("notes/a.md").signature != op("notes/b.md").signature
    assert op("value.txt").signature != op("value.txt.tmp").signature
