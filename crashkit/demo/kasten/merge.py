"""Three-way merge of markdown bodies, local wins where both sides changed the same lines.

Built on ``merge3`` (the diff3 algorithm from bzr/breezy). A region both
sides changed differently is a conflict: the local lines are kept, the remote
ones dropped, and the conflict is counted so the engine can record it.
"""

from __future__ import annotations

from dataclasses import dataclass

import merge3

__all__ = ["MergeResult", "merge_bodies"]


@dataclass(frozen=True)
class MergeResult:
    """The merged body and how many overlapping hunks were resolved in favor of local."""

    text: str
    conflicts: int

    @property
    def detail(self) -> str | None:
        """A short description for the conflict marker and the log, or None if clean."""
        if not self.conflicts:
            return None
        hunks = "hunk" if self.conflicts == 1 else "hunks"
        return f"{self.conflicts} overlapping {hunks} resolved local-wins"


def merge_bodies(base: str, local: str, remote: str) -> MergeResult:
    """Merge the changes ``base -> local`` and ``base -> remote`` line by line."""
    base_lines, local_lines, remote_lines = (_lines(text) for text in (base, local, remote))
    merger = merge3.Merge3(base_lines, local_lines, remote_lines)
    merged: list[str] = []
    conflicts = 0
    for region in merger.merge_regions():
        kind, *bounds = region
        if kind == "unchanged":
            merged.extend(base_lines[bounds[0] : bounds[1]])
        elif kind in ("a", "same"):
            merged.extend(local_lines[bounds[0] : bounds[1]])
        elif kind == "b":
            merged.extend(remote_lines[bounds[0] : bounds[1]])
        else:  # "conflict": base_start, base_end, a_start, a_end, b_start, b_end
            merged.extend(local_lines[bounds[2] : bounds[3]])
            conflicts += 1
    return MergeResult("".join(merged), conflicts)


def _lines(text: str) -> list[str]:
    # Every line ends with a newline, so a last line without one does not
    # differ from the same line followed by more text.
    if text and not text.endswith("\n"):
        text += "\n"
    return text.splitlines(keepends=True)
