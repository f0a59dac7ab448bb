"""Errors crashkit raises.

Every error crashkit raises on purpose derives from :class:`CrashkitError`.
Errors caused by what a user wrote also derive from the fitting builtin, so
``except ValueError`` keeps working for callers that do not know crashkit::

    CrashkitError
    ├── ScenarioError(ValueError)          a scenario is malformed or misused
    ├── ProbeError(RuntimeError)           the probe could not be installed / used
    ├── NondeterminismError(RuntimeError)  a rerun did not match the dry run's trace
    ├── ChildError(RuntimeError)           a child process failed in a way that is not a finding
    ├── ResultsError(ValueError)           a results file is unreadable or of another format
    └── UsageError(ValueError)             a command-line value is malformed

Errors cross process boundaries (a child reports to the runner), so each one
keeps its structured fields in ``args`` and pickles cleanly.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ChildError",
    "CrashkitError",
    "NondeterminismError",
    "ProbeError",
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


class ProbeError(CrashkitError, RuntimeError):
    """The probe could not intercept or report an operation."""


class NondeterminismError(CrashkitError, RuntimeError):
    """A rerun performed a different durable operation than the dry run at the same index.

    Args:
        index: the 1-based operation index where the traces diverge.
        expected: the dry run's record of operation ``index`` (a dict).
        actual: the rerun's record at the same index (a dict, or None if it ended early).
    """

    def __init__(self, index: int, expected: Any, actual: Any) -> None:
        super().__init__(index, expected, actual)
        self.index = index
        self.expected = expected
        self.actual = actual

    def __str__(self) -> str:
        return (
            f"the program is nondeterministic: operation {self.index} was "
            f"{self.expected!r} in the dry run but {self.actual!r} in this run"
        )


class ChildError(CrashkitError, RuntimeError):
    """A child process could not be started or talked to (not a finding about the program)."""


class ResultsError(CrashkitError, ValueError):
    """A results file cannot be read: wrong format version, truncated beyond repair, or not JSON."""


class UsageError(CrashkitError, ValueError):
    """A command-line value is malformed; the message shows the right form."""
