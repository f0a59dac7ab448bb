"""Fixtures for all tiers: pytester, and a check that the suite leaves the checkout's
reports/ alone."""

from __future__ import annotations

import pathlib

import pytest

pytest_plugins = ["pytester"]

REPORTS = pathlib.Path(__file__).resolve().parents[1] / "reports"


def _snapshot() -> dict[str, int]:
    if not REPORTS.is_dir():
        return {}
    return {str(p): p.stat().st_mtime_ns for p in REPORTS.rglob("*") if p.is_file()}


@pytest.fixture(autouse=True, scope="session")
def _the_project_s_reports_are_left_alone():
    """crashkit's own tests write their outputs in temporary folders, never over the
    reports/ of the checkout they run in (a user's last sweep may be there)."""
    before = _snapshot()
    yield
    after = _snapshot()
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    assert not changed, f"the test suite wrote into {REPORTS}: {changed[:10]}"
