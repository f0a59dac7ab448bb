"""Imported first by every worker (the fork server, or a fresh interpreter).

Patching here, before the program's modules are imported, means that even a
module that bound ``from os import replace`` at import time gets the probed
function. The patches stay inert until a child activates its probe.

The fork server imports the scenario modules right after this one; it is given
the parent's ``sys.path`` (which multiprocess does not pass on) so that scenario
files, importable only through their own folder, are preloaded too.
"""

import os
import sys

from crashkit.probes import python as _probe
from crashkit.launch.starters import PATH_VARIABLE

_probe.install_patches()
for _entry in reversed(os.environ.pop(PATH_VARIABLE, "").split(os.pathsep)):
    if _entry and _entry not in sys.path:
        sys.path.insert(0, _entry)

from crashkit.child import run as _child  # noqa: E402  (warm: every child runs it)

__all__ = ["_child"]
