"""Observing a world: the scenario's ``observe``, made plain data or a problem.

A state is compared and stored as JSON data, so it is normalized once (tuples become
lists) when it is taken, and a state JSON cannot hold is a problem named with the fix.

Observing happens in the parent: before recovery, and after each restart round (the
last observation is the settled state; nothing observes it again). Measured, a kasten
world takes about a millisecond to observe here; observing in a process forked from each
restart child instead took 5-9 ms of a core per round (the fork, its copy-on-write
faults and its exit), so it would cost more than it spares the parent.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Observation", "not_plain", "observe"]


@dataclass(frozen=True)
class Observation:
    """A world's observed state, or why there is none."""

    state: Mapping[str, Any] | None
    #: Why observing failed (None: it did not): the message of an ``observe`` finding.
    problem: str | None = None


def observe(observe_world: Callable[[Any], Mapping[str, Any]], world: Any) -> Observation:
    """``observe_world(world)`` as plain JSON data, or the problem: it raised, or it
    returned what the results file cannot hold as it is."""
    try:
        state = dict(observe_world(world))
    except Exception:
        return Observation(None, "observing the world raised:\n" + traceback.format_exc())
    problem = not_plain(state)
    if problem:
        return Observation(
            None,
            f"observe returned {problem}, which JSON cannot hold: states are compared "
            "and stored as plain data; return str, int, float, bool, None, lists and "
            "dicts with str keys (e.g. a sorted list for a set, .isoformat() for a "
            "datetime, .hex() for bytes)",
        )
    normalized: dict[str, Any] = json.loads(json.dumps(state))
    return Observation(normalized)


def not_plain(value: Any, where: str = "the state") -> str | None:
    """Where ``value`` holds something that is not plain JSON data, and what (None: all is)."""
    if value is None or isinstance(value, str | int | float | bool):
        if isinstance(value, float) and value != value:
            return f"NaN at {where}"  # never equal to itself: no state would ever settle
        return None
    if isinstance(value, list | tuple):
        inside = (not_plain(item, f"{where}[{n}]") for n, item in enumerate(value))
        return next((problem for problem in inside if problem), None)
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"a {type(key).__name__} key {key!r} in {where}"
            problem = not_plain(item, f"{where}[{key!r}]")
            if problem:
                return problem
        return None
    return f"a {type(value).__name__} at {where}"
