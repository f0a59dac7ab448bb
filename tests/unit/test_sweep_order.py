"""The order a sweep submits its points in: one variant after another, in turn."""

from crashkit.engine.sweep import _round_robin


def test_points_are_taken_from_each_variant_in_turn_each_keeping_its_order():
    queues = [["a1", "a2", "a3"], ["b1"], [], ["c1", "c2"]]
    assert _round_robin(queues, 4) == ["a1", "b1", "c1", "a2", "c2", "a3"]


def test_only_width_variants_are_interleaved_at_a_time():
    queues = [["a1", "a2"], ["b1", "b2"], ["c1", "c2"], ["d1"]]
    assert _round_robin(queues, 2) == ["a1", "b1", "a2", "b2", "c1", "d1", "c2"]


def test_nothing_is_lost_or_repeated_even_when_items_are_none():
    queues = [[None, 0], [None], [False, "", None]]
    taken = _round_robin(queues, 2)
    assert sorted(map(repr, taken)) == sorted(map(repr, [x for q in queues for x in q]))
