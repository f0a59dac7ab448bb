"""A phase that is a program: any language, its whole process tree (black-box mode).

A :class:`Command` stands wherever a scenario takes a phase (setup, workload, restart).
In a child crashkit runs it under the syscall probe (:mod:`crashkit.probes.syscall`):
every thread, fork and exec of it is seen, and crashed, at its system calls. Python
phases and commands mix freely in one scenario: a Python setup and observe, a command
as workload and restart, for example.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crashkit.errors import ScenarioError
from crashkit.probes.syscall import REMOTE_VARIABLE, WORLD_VARIABLE

if TYPE_CHECKING:
    from crashkit.scenario.scenario import World

__all__ = ["Command", "CommandFailed"]


class CommandFailed(Exception):
    """A command ended with an exit status its scenario does not accept."""

    def __init__(self, argv: Sequence[str], status: int, accepted: Collection[int]) -> None:
        super().__init__(list(argv), status, sorted(accepted))
        self.argv = list(argv)
        self.status = status
        self.accepted = sorted(accepted)

    def __str__(self) -> str:
        how = (
            f"was killed by signal {-self.status}"
            if self.status < 0
            else (f"exited with status {self.status}")
        )
        return (
            f"{' '.join(self.argv)} {how} (accepted: {', '.join(map(str, self.accepted))}); "
            "its output is above"
        )


@dataclass(frozen=True)
class Command:
    """A program run as a phase, e.g. ``Command(["kasten", "--dir", "notes", "sync"])``.

    Args:
        argv: the program and its arguments. ``{world}`` is replaced by the world's root
            as the program sees it, ``{remote}`` by the base URL of the fake remote the
            scenario serves (see :meth:`crashkit.FakeNotion.serve`), ``{python}`` by
            this interpreter.
        env: extra environment variables (placeholders allowed), over the variant's.
        cwd: the working folder, relative to the world's root.
        ok: exit statuses that mean the phase is done; any other is the phase failing,
            as an exception is for a Python phase.
    """

    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str = "."
    ok: Collection[int] = (0,)

    def __post_init__(self) -> None:
        if isinstance(self.argv, str) or not self.argv:
            raise ScenarioError(
                repr(self.argv),
                "a command's argv must be a non-empty list of strings",
                'split it: Command(["sqlite3", "state.db", "VACUUM"]), not one string',
            )
        bad = [a for a in self.argv if not isinstance(a, str)]
        if bad:
            raise ScenarioError(
                repr(list(self.argv)), f"argv holds non-strings {bad!r}", "pass each as a str"
            )
        if os.path.isabs(self.cwd) or ".." in self.cwd.split("/"):
            raise ScenarioError(
                repr(self.cwd),
                "a command's cwd must lie inside the world",
                'give it relative to the world\'s root, e.g. cwd="notes"',
            )
        object.__setattr__(self, "argv", tuple(self.argv))
        object.__setattr__(self, "env", dict(self.env))
        object.__setattr__(self, "ok", frozenset(self.ok))

    def __call__(self, world: World) -> None:
        """Run the command in ``world``: under the syscall probe when a child records."""
        from crashkit.probes.syscall.session import active, run_plain

        remote = os.environ.get(REMOTE_VARIABLE, "")
        if not remote and any("{remote}" in a for a in [*self.argv, *self.env.values()]):
            raise ScenarioError(
                str(self),
                "uses {remote}, but no fake remote is served here (setup runs without the "
                "scenario's context, and so does a phase whose context serves nothing)",
                "serve one in the scenario's context, e.g. "
                "context=lambda world: FakeNotion(world.path('remote.sqlite3')).serve(); "
                "a setup command cannot use {remote}",
            )
        values = {"{world}": str(world.root), "{remote}": remote, "{python}": sys.executable}
        argv = [_fill(a, values) for a in self.argv]
        env = {**os.environ, **{k: _fill(v, values) for k, v in self.env.items()}}
        env[WORLD_VARIABLE] = str(world.root)
        cwd = str(world.root / self.cwd)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # the program's output follows crashkit's in the same file
        session = active()
        status = session.run(argv, env, cwd) if session else run_plain(argv, env, cwd)
        if status not in self.ok:
            raise CommandFailed(argv, status, self.ok)

    def __str__(self) -> str:
        return subprocess.list2cmdline(list(self.argv))


def _fill(text: str, values: Mapping[str, str]) -> str:
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def is_command(phase: object) -> bool:
    """Whether a phase is a :class:`Command`."""
    return isinstance(phase, Command)
