"""Invariants: what must hold in a world after recovery, and the findings when it does not.

Built-ins are configured by SQL query and hash function, not tied to one schema.
A user invariant is a plain function ``f(world)`` that asserts. Run by pytest, it
may ask for fixtures too: ``f(world, expected_pages)``.
"""

from __future__ import annotations

import difflib
import json
import sqlite3
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from crashkit.model.outcome import Finding
from crashkit.scenario.scenario import World, requested_fixtures

__all__ = [
    "Check",
    "Finding",
    "Invariant",
    "crash_equivalence",
    "diff_states",
    "hashes_match_files",
    "journal_drained",
    "query_rows",
    "remote_not_stale",
    "run_invariants",
]


@dataclass
class Check:
    """What an invariant is shown: the recovered world and how it got there."""

    world: World
    #: The recovered world's observed state.
    state: Mapping[str, Any]
    #: The golden run's observed final state (None while checking the golden run itself).
    golden: Mapping[str, Any] | None = None
    #: Per restart round: a dict with ``round``, ``mutations`` and ``changed``.
    rounds: Sequence[Mapping[str, Any]] = field(default_factory=list)
    #: Values of the pytest fixtures invariants ask for (see :func:`requested_fixtures`).
    fixtures: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Invariant(Protocol):
    """A named check; ``check`` raises AssertionError with a message when it fails."""

    @property
    def name(self) -> str: ...

    def check(self, ctx: Check) -> None: ...


def crash_equivalence(
    setting: bool | Callable[[Any, Any], Any],
    golden: Mapping[str, Any],
    state: Mapping[str, Any],
    differs: str = "the recovered world differs from the golden run's final state",
) -> Finding | None:
    """The crash-equivalence check as a scenario configures it (see
    :class:`crashkit.Scenario`): None when it holds or is switched off.

    Args:
        setting: True (the states must be equal), False (no check), or a function
            ``f(golden, recovered)`` that asserts (or returns False) when they are not
            equivalent.
    """
    if setting is False or (setting is True and state == golden):
        return None
    if setting is True:
        return Finding("crash-equivalence", differs, diff_states(golden, state))
    name = getattr(setting, "__name__", "crash_equivalence")
    try:
        holds = setting(golden, state)
    except AssertionError as error:
        message = f"{name}: {error}" if str(error) else f"{name} failed (assert without message)"
        return Finding("crash-equivalence", message, diff_states(golden, state))
    except Exception as error:
        return Finding(
            "crash-equivalence",
            f"{name} raised {type(error).__name__} instead of failing an assert: {error}\n"
            f"{traceback.format_exc()}fix: make it assert; an exception means the check "
            "itself is broken",
        )
    if holds is False:
        return Finding("crash-equivalence", f"{name} returned False", diff_states(golden, state))
    return None


def run_invariants(invariants: Sequence[Any], ctx: Check) -> list[Finding]:
    """Run every invariant; each failure (or unexpected exception) becomes a finding."""
    findings = []
    for invariant in invariants:
        name = str(
            getattr(invariant, "name", None)
            or getattr(invariant, "__name__", None)
            or type(invariant).__name__
        )
        try:
            check = getattr(invariant, "check", None)
            if callable(check):
                check(ctx)
            else:
                wanted = requested_fixtures(invariant)
                invariant(ctx.world, **{name: ctx.fixtures[name] for name in wanted})
        except AssertionError as error:
            findings.append(Finding(name, str(error) or f"{name} failed (assert without message)"))
        except Exception as error:
            findings.append(
                Finding(
                    name,
                    f"the invariant raised {type(error).__name__} instead of failing an assert: "
                    f"{error}\n{traceback.format_exc()}"
                    "fix: make invariants assert; an exception means the check itself is broken",
                )
            )
    return findings


def query_rows(
    world: World, db: str, sql: str, params: Mapping[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` against the world's database ``db`` (a world-relative path)."""
    path = world.path(db)
    if not path.exists():
        raise AssertionError(f"the database {db} does not exist in the recovered world")
    with closing(sqlite3.connect(path)) as conn:
        return [tuple(row) for row in conn.execute(sql, params or {})]


@dataclass(frozen=True)
class _SqlInvariant:
    name: str
    db: str
    sql: str
    body: Callable[[Check, list[tuple[Any, ...]]], Iterator[str]]

    def check(self, ctx: Check) -> None:
        problems = list(self.body(ctx, query_rows(ctx.world, self.db, self.sql)))
        if problems:
            raise AssertionError("\n".join(problems))


def hashes_match_files(
    db: str, sql: str, hash: Callable[[bytes], str], *, root: str = ""
) -> Invariant:
    """Every tracked entity's stored hash equals the hash of its file on disk.

    Args:
        db: the database, relative to the world.
        sql: returns ``(path, stored_hash)`` rows for the entities that must have a file;
            paths are relative to ``root`` inside the world.
        hash: maps a file's bytes to the hash the program stores.
    """

    def body(ctx: Check, rows: list[tuple[Any, ...]]) -> Iterator[str]:
        for path, stored in rows:
            file = ctx.world.path(root, path)
            if not file.exists():
                yield f"{path}: tracked with hash {_short(stored)} but the file is missing"
            elif (actual := hash(file.read_bytes())) != stored:
                yield f"{path}: stored hash {_short(stored)} != hash of the file {_short(actual)}"

    return _SqlInvariant("hashes-match-files", db, sql, body)


def remote_not_stale(
    db: str,
    sql: str,
    *,
    local: Callable[[World, str], str],
    remote: Callable[[World, str], str],
    hash: Callable[[str], str] | None = None,
) -> Invariant:
    """The remote holds what the local side holds, and the stored remote hash matches it.

    Args:
        sql: returns ``(path, remote_key, stored_remote_hash)`` rows.
        local: the comparable local content of ``path``.
        remote: the comparable remote content of ``remote_key``.
        hash: maps content to the hash the program stores; None skips the hash check.
    """

    def body(ctx: Check, rows: list[tuple[Any, ...]]) -> Iterator[str]:
        for path, key, stored in rows:
            mine, theirs = local(ctx.world, path), remote(ctx.world, key)
            if mine != theirs:
                yield f"{path}: the remote {key} is stale\n" + _text_diff(
                    mine, theirs, "local", "remote"
                )
            elif hash is not None and hash(theirs) != stored:
                yield (
                    f"{path}: stored remote hash {_short(stored)} != hash of the remote "
                    f"content {_short(hash(theirs))}"
                )

    return _SqlInvariant("remote-not-stale", db, sql, body)


def journal_drained(db: str, sql: str) -> Invariant:
    """No incomplete journal (WAL) entries remain after recovery.

    Args:
        sql: returns one row per incomplete entry (any columns: they are shown).
    """

    def body(ctx: Check, rows: list[tuple[Any, ...]]) -> Iterator[str]:
        if rows:
            yield f"{len(rows)} incomplete journal entries remain: " + "; ".join(
                map(repr, rows[:10])
            )

    return _SqlInvariant("journal-drained", db, sql, body)


def _short(value: Any) -> str:
    text = str(value)
    return text[:12] if len(text) > 16 else text


def _text_diff(a: str, b: str, left: str, right: str) -> str:
    lines = difflib.unified_diff(
        a.splitlines(keepends=True), b.splitlines(keepends=True), left, right, lineterm=""
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _flatten(state: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(state, Mapping) and state:
        flat: dict[str, Any] = {}
        for key in sorted(state, key=str):
            flat.update(_flatten(state[key], f"{prefix}/{key}" if prefix else str(key)))
        return flat
    return {prefix: state}


def diff_states(golden: Mapping[str, Any], recovered: Mapping[str, Any]) -> str:
    """A readable diff of the recovered state against the golden one ("" when equal)."""
    left, right = _flatten(golden), _flatten(recovered)
    parts = []
    for key in sorted(set(left) | set(right)):
        if key not in right:
            parts.append(f"--- {key}: only in golden: {_show(left[key])}\n")
        elif key not in left:
            parts.append(f"+++ {key}: only in recovered: {_show(right[key])}\n")
        elif left[key] != right[key]:
            if isinstance(left[key], str) and isinstance(right[key], str):
                parts.append(_text_diff(left[key], right[key], f"golden/{key}", f"recovered/{key}"))
            else:
                parts.append(
                    f"~~~ {key}:\n- golden:    {_show(left[key])}\n"
                    f"+ recovered: {_show(right[key])}\n"
                )
    return "".join(parts)


def _show(value: Any) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 400 else text[:400] + "..."
