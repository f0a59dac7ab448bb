"""A switch that hides crashkit's own durable operations from the probe.

The fake remote's store and crashkit's own bookkeeping run inside the child
process next to the program under test; their writes are never crash points.
Code that must stay invisible wraps itself in :func:`quiet`; the probe asks
:func:`is_quiet` before it records anything.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_state = threading.local()


@contextmanager
def quiet() -> Iterator[None]:
    """Hide every durable operation made inside this block (this thread only) from the probe."""
    _state.depth = getattr(_state, "depth", 0) + 1
    try:
        yield
    finally:
        _state.depth -= 1


def is_quiet() -> bool:
    """Whether the current thread is inside a :func:`quiet` block."""
    return getattr(_state, "depth", 0) > 0
