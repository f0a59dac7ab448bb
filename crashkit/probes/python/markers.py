"""Explicit crash points, for what no patch can see (a flush inside a C extension, say)."""

from __future__ import annotations

from crashkit.probes.python.core import active


def point(label: str) -> None:
    """Mark a crash point the probe cannot see by itself (a no-op outside crashkit).

    Args:
        label: names the point in traces and reports, e.g. ``"before-cache-flush"``.
    """
    probe = active()
    if probe is not None:
        probe.record("mark", label)
