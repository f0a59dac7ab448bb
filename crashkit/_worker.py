"""Imported first by every worker (the fork server, or a fresh interpreter).

Patching here, before the program's modules are imported, means that even a
module that bound ``from os import replace`` at import time gets the probed
function. The patches stay inert until a child activates its probe.
"""

from crashkit import _probe

_probe.install_patches()

from crashkit import _child  # noqa: E402  (warm: every child runs it)

__all__ = ["_child"]
