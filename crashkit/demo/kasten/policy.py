"""What one sync does for one linked note, given both sides: a pure decision table."""

from __future__ import annotations

import enum

from .entities import Entity
from .markdown import content_hash
from .sides import Note, PageView

__all__ = ["Action", "decide"]

_EMPTY = content_hash("")


class Action(enum.Enum):
    NOTHING = "nothing"
    TOUCH = "touch"  #: the page's edit time moved but its content did not: remember the time
    PUSH = "push"
    PULL = "pull"
    MERGE = "merge"
    ADOPT = "adopt"  #: both sides already hold the same content: record it, write nothing
    DELETE = "delete"


def decide(entity: Entity, note: Note, page: PageView) -> Action:
    """The action for ``entity``; ``page`` must be fetched when the entity never synced."""
    if not entity.synced:
        return _first_sync(note, page)
    if not note.exists:
        return Action.DELETE
    local_changed = note.hash != entity.last_local_hash
    remote_changed = page.fetched and page.hash != entity.last_remote_hash
    if local_changed and remote_changed:
        return Action.ADOPT if note.hash == page.hash else Action.MERGE
    if local_changed:
        return Action.PUSH
    if remote_changed:
        return Action.PULL
    return Action.TOUCH if page.fetched else Action.NOTHING


def _first_sync(note: Note, page: PageView) -> Action:
    # Linking an empty or missing file fills it from the page; linking a note to
    # an empty page fills the page. Two different non-empty sides are merged
    # from an empty base: every overlap is a conflict, local wins.
    if not note.exists or (note.hash == _EMPTY and page.hash != _EMPTY):
        return Action.PULL
    if note.hash == page.hash:
        return Action.ADOPT
    if page.hash == _EMPTY:
        return Action.PUSH
    return Action.MERGE
