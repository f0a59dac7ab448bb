"""Launchers: how the parent starts a child process for one phase of a scenario.

This is the parent's side of the process boundary. A launcher is given a plain
:class:`~crashkit.model.process.ChildJob` and returns a plain
:class:`~crashkit.model.process.ChildExit`; it never imports the child's code (the new
process runs ``crashkit.child`` on its own). Launchers may import
:mod:`crashkit.model` and :mod:`crashkit.errors`, nothing else of crashkit.

Each launcher is one module behind :class:`Launcher`, listed once in
:data:`LAUNCHERS`; the CLI's ``--launcher`` choices and help come from there.
"""

from __future__ import annotations

from collections.abc import Sequence

from crashkit.errors import UsageError
from crashkit.launch.base import Launcher, kill_group
from crashkit.launch.forkserver import ForkServerLauncher
from crashkit.launch.spawn import SpawnLauncher

__all__ = ["DEFAULT_LAUNCHER", "LAUNCHERS", "Launcher", "kill_group", "make_launcher"]

#: Every launcher, by the name it is chosen by.
LAUNCHERS: dict[str, type[Launcher]] = {
    launcher.name: launcher for launcher in (ForkServerLauncher, SpawnLauncher)
}
DEFAULT_LAUNCHER = ForkServerLauncher.name


def make_launcher(name: str = DEFAULT_LAUNCHER, preload: Sequence[str] = ()) -> Launcher:
    """A new launcher called ``name``; UsageError naming the valid ones otherwise."""
    if name not in LAUNCHERS:
        raise UsageError(f"{name!r} is not a launcher; choose among {', '.join(LAUNCHERS)}")
    return LAUNCHERS[name](preload)
