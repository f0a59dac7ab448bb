"""One durable operation, as the probe records it and the engine compares it."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

#: Operation kinds that change local files (a round that performs one is not quiet).
FILE_MUTATIONS = frozenset(
    {
        "fs.create",
        "fs.trunc",
        "fs.write",
        "fs.truncate",
        "fs.rename",
        "fs.unlink",
        "fs.mkdir",
        "fs.rmdir",
    }
)
#: Operation kinds that change the remote.
REMOTE_MUTATIONS = frozenset({"http.post", "http.patch", "http.put", "http.delete"})
#: The pseudo-operation of point N+1: the crash comes after the last durable operation.
END = "end"


@dataclass(frozen=True)
class Operation:
    """A durable operation: what it is, what it touches, and who in the program asked for it.

    ``index`` is 1-based in the order the run performed them. ``target`` is relative
    to the world's root for files and databases, ``METHOD /path`` for HTTP requests,
    and the label for explicit ``crashkit.point`` markers.
    """

    index: int
    kind: str
    target: str
    function: str = "?"
    file: str = "?"
    line: int = 0
    #: Extra facts that do not take part in the determinism check (byte counts, the SQL text).
    detail: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def signature(self) -> tuple[str, str, str]:
        """What must be equal between the dry run and a rerun at the same index."""
        return (self.kind, chosen_at_random(self.target), self.function)

    @property
    def mutates_world(self) -> bool:
        """Whether this operation writes a local file or changes the remote.

        SQLite's own files, as the syscall probe sees them, do not count, as the Python
        probe's commits do not: a connection creates and removes its WAL file even to
        read, a program may run ``CREATE TABLE IF NOT EXISTS`` or an ``INSERT OR IGNORE``
        on every start, and what a commit changes shows in the observed state.
        """
        if "sqlite" in self.detail:
            return False
        return self.kind in FILE_MUTATIONS or self.kind in REMOTE_MUTATIONS

    @property
    def where(self) -> str:
        """``function, file:line`` for messages (``process, syscall`` for the syscall probe)."""
        if self.line == 0 and self.detail.get("probe") == "syscall":
            return f"{self.function}, {self.file}"
        return f"{self.function}, {self.file}:{self.line}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Operation:
        return cls(**data)

    def describe(self) -> str:
        """One line for humans: ``p07 fs.write notes.md in handle_conflict, engine.py:212``."""
        return f"p{self.index:02d} {self.kind} {self.target} in {self.where}"


def end_operation(index: int) -> Operation:
    """The pseudo-operation for the point after the last durable operation."""
    return Operation(index=index, kind=END, target="after the last operation", function="-")


#: A run of letters and digits that mixes digits with letters, or both cases, six or more
#: long: mkstemp's ``XXXXXX`` (git's ``tmp_obj_dkv3LV``), a process id beside a name
#: (``.tmp-15901-pack-...``), a random hex suffix.
_RANDOM = re.compile(
    r"(?<![A-Za-z0-9])(?=[A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{6,}(?![A-Za-z0-9])"
    r"|(?<![A-Za-z0-9])(?=[A-Za-z0-9]*[a-z])(?=[A-Za-z0-9]*[A-Z])[A-Za-z0-9]{6,}(?![A-Za-z0-9])"
    r"|(?<![A-Za-z0-9])[0-9]{3,}(?![A-Za-z0-9])"
    # mkstemp's six characters closing a name after a separator, whatever they drew
    # (``packs_TVWDXY`` has no digit and one case)
    r"|(?<=[_.-])[A-Za-z0-9]{6}(?=$|/|\s)"
)


def chosen_at_random(target: str) -> str:
    """``target`` with the parts a program may choose afresh in every run masked: temporary
    names (``mkstemp``), process ids. Two runs doing the same thing then compare equal,
    though each picked its own temporary file (content-derived names, such as git's object
    names, are masked too: the check gets only slightly weaker)."""
    return _RANDOM.sub("*", target)
