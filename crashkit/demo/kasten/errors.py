"""Errors kasten raises.

Every error kasten raises on purpose derives from :class:`KastenError`.
Errors caused by what a user typed also derive from the fitting builtin::

    KastenError
    ├── NotInitializedError(FileNotFoundError)  DIR has no .kasten/ state yet
    ├── ConfigError(ValueError)                 a configuration value is wrong
    ├── LinkError(ValueError)                   a file or page cannot be linked
    ├── NoteError(ValueError)                   a linked file cannot be read as a note
    ├── SchemaError(RuntimeError)               state.db is newer than this kasten
    ├── StateError(RuntimeError)                a state file kasten wrote is damaged
    └── RemoteError(RuntimeError)               the remote refused or failed a request

Each error keeps the problem and the fix apart, so the CLI can print both
without a traceback.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "KastenError",
    "LinkError",
    "NotInitializedError",
    "NoteError",
    "RemoteError",
    "SchemaError",
    "StateError",
]


class KastenError(Exception):
    """Base class of every error kasten raises on purpose.

    Args:
        problem: what is wrong, showing the offending value.
        fix: what to do instead (may be empty).
    """

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(problem, fix)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.problem}\n  fix: {self.fix}" if self.fix else self.problem


class NotInitializedError(KastenError, FileNotFoundError):
    """The folder has no ``.kasten/`` state: ``kasten init`` was never run there."""


class ConfigError(KastenError, ValueError):
    """A configuration value (file, environment or argument) is invalid."""


class LinkError(KastenError, ValueError):
    """A file or page cannot be linked (bad path, already linked, bad page id)."""


class NoteError(KastenError, ValueError):
    """A linked file cannot be read as a note (it is not UTF-8 text)."""


class SchemaError(KastenError, RuntimeError):
    """The state database has a schema this version of kasten does not know."""


class StateError(KastenError, RuntimeError):
    """A state file kasten wrote (the poll cursor) is damaged: kasten does not guess past it."""


class RemoteError(KastenError, RuntimeError):
    """The remote answered a request with an error, or the request never got an answer.

    Args:
        problem: the request and what went wrong.
        fix: what to do about it.
        status: the HTTP status, or None when no response arrived.
        code: Notion's error code (``object_not_found``, ``rate_limited`` ...), or "".
    """

    def __init__(
        self, problem: str, fix: str = "", status: int | None = None, code: str = ""
    ) -> None:
        super().__init__(problem, fix)
        self.args = (problem, fix, status, code)
        self.status = status
        self.code = code

    @property
    def answered(self) -> bool:
        """Whether the remote answered: False for a timeout or a dropped connection, after
        which the request may or may not have been applied."""
        return self.status is not None
