"""Errors crashkit raises.

Every error crashkit raises on purpose derives from :class:`CrashkitError`.
Errors caused by what a user wrote also derive from the fitting builtin, so
``except ValueError`` keeps working for callers that do not know crashkit::

    CrashkitError
    ├── ScenarioError(ValueError)          a scenario is malformed or misused
    ├── ChildError(RuntimeError)           a child process failed in a way that is not a finding
    ├── ResultsError(ValueError)           a results file is unreadable or of another format
    └── UsageError(ValueError)             a command-line value is malformed

Errors cross process boundaries (a child reports to the parent), so each one
keeps its structured fields in ``args`` and pickles cleanly.
"""

from __future__ import annotations

__all__ = [
    "ChildError",
    "CrashkitError",
    "ResultsError",
    "ScenarioError",
    "UsageError",
]


class CrashkitError(Exception):
    """Base class of every error crashkit raises on purpose."""


class ScenarioError(CrashkitError, ValueError):
    """A scenario is missing a part, or a part has the wrong shape.

    Args:
        scenario: the scenario's name (or its file) so the user knows where to look.
        problem: what is wrong, showing the offending value.
        fix: what to write instead.
    """

    def __init__(self, scenario: str, problem: str, fix: str = "") -> None:
        super().__init__(scenario, problem, fix)
        self.scenario = scenario
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        text = f"scenario {self.scenario!r}: {self.problem}"
        return f"{text}\n  fix: {self.fix}" if self.fix else text


class ChildError(CrashkitError, RuntimeError):
    """A child process could not be started or talked to (not a finding about the program)."""


class ResultsError(CrashkitError, ValueError):
    """A results file cannot be read: wrong format version, truncated beyond repair, or not JSON."""


class UsageError(CrashkitError, ValueError):
    """A command-line value is malformed; the message shows the right form."""
