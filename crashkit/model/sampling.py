"""Seeded samples of crash points: the same seed chooses the same points everywhere."""

from __future__ import annotations

import random

__all__ = ["sample_points", "select_points"]


def select_points(points: int, sample: int | None = None, seed: int = 0) -> list[int]:
    """Point 0 (no crash) and 1..points, or a seeded sample of ``sample`` of the latter."""
    return [0, *sample_points(list(range(1, points + 1)), sample, seed)]


def sample_points(points: list[int], sample: int | None, seed: int) -> list[int]:
    """``points``, or a seeded sample of ``sample`` of them, in order."""
    if sample is not None and sample < len(points):
        return sorted(random.Random(seed).sample(points, sample))
    return list(points)
