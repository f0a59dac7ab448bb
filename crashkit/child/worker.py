"""Imported first by every new crashkit process (a fork server, or a fresh interpreter).

Patching here, before the program's modules are imported, means that even a
module that bound ``from os import replace`` at import time gets the probed
function. The patches stay inert until a child activates its probe.

The process is given the parent's ``sys.path`` through its environment, so that
scenario files, importable only through their own folder, are found (and preloaded
by a fork server) too.
"""

import os
import sys

from crashkit.model.process import PATH_VARIABLE
from crashkit.probes import PROBES

for _probe in PROBES.values():  # each prepares the process before the program is imported
    _probe.install()
for _entry in reversed(os.environ.pop(PATH_VARIABLE, "").split(os.pathsep)):
    if _entry and _entry not in sys.path:
        sys.path.insert(0, _entry)

from crashkit.child import run as _child  # noqa: E402  (warm: every child runs it)

__all__ = ["_child"]
