"""Every patch of the Python probe, installed and removed in one place.

Patching happens at import of the worker, before the program's modules are
imported, so that even a module that did ``from os import replace`` holds the
patched function; the patches stay inert until a probe is activated in a child.
"""

from __future__ import annotations

import builtins
import io
import os
import sqlite3

import httpx

from crashkit.probes.python.core import Probe, _Real, library_dirs, set_active
from crashkit.probes.python.files import OS_PATCHES, probed_open
from crashkit.probes.python.http import probed_async_send, probed_send
from crashkit.probes.python.sqlite import probed_connect

_installed = False

#: ``os`` functions whose original :class:`_Real` keeps under another name.
_REAL_NAMES = {"open": "os_open"}


def install_patches() -> None:
    """Patch the durable routes in this process (idempotent; inert until :func:`activate`).

    Call it before the program's modules are imported, so that names they bound with
    ``from os import ...`` are the patched ones too.
    """
    global _installed
    if _installed:
        return
    library_dirs()  # warm (see there)
    for name, function in OS_PATCHES.items():
        setattr(os, name, function)
    builtins.open = probed_open
    io.open = probed_open
    sqlite3.connect = sqlite3.dbapi2.connect = probed_connect  # type: ignore[assignment]
    httpx.Client.send = probed_send  # type: ignore[method-assign]
    httpx.AsyncClient.send = probed_async_send  # type: ignore[method-assign]
    _installed = True


def uninstall_patches() -> None:
    """Undo :func:`install_patches` (used by crashkit's own tests)."""
    global _installed
    for name in OS_PATCHES:
        setattr(os, name, getattr(_Real, _REAL_NAMES.get(name, name)))
    builtins.open = _Real.open
    io.open = _Real.open
    sqlite3.connect = sqlite3.dbapi2.connect = _Real.connect
    httpx.Client.send = _Real.send  # type: ignore[method-assign]
    httpx.AsyncClient.send = _Real.async_send  # type: ignore[method-assign]
    _installed = False


def activate(probe: Probe) -> None:
    """Make ``probe`` the one that records in this process (patches are installed if needed)."""
    install_patches()
    set_active(probe)


def deactivate() -> None:
    """Stop recording: the patches do nothing until the next :func:`activate`."""
    set_active(None)
