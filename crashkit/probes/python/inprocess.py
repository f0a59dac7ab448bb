"""The Python probe as a child drives it: the object behind :class:`crashkit.probes.Probe`."""

from __future__ import annotations

import os
from collections.abc import Sequence

from crashkit.probes.python.core import Decide, Probe, Sink
from crashkit.probes.python.patches import activate, deactivate, install_patches


class PythonProbe:
    """Sees a Python program's durable operations from inside its interpreter, by patching."""

    name = "python"
    summary = "patches open, os.*, sqlite3 and httpx inside the program's Python process"

    def install(self) -> None:
        """Patch this process; before the program's modules are imported (idempotent)."""
        install_patches()

    def start(
        self,
        world: str | os.PathLike[str],
        trace: Sink,
        decide: Decide | None = None,
        *,
        program: Sequence[str] = (),
        program_files: Sequence[str] = (),
        project_root: str | os.PathLike[str] | None = None,
        want_data: bool = False,
        escape: Sink | None = None,
    ) -> Probe:
        """Record the phase that runs next; the arguments are :class:`Probe`'s."""
        probe = Probe(
            world,
            trace,
            decide,
            program=program,
            program_files=program_files,
            project_root=project_root,
        )
        probe.want_data = want_data
        probe.escape = escape
        activate(probe)
        return probe

    def stop(self) -> None:
        """Stop recording (harmless when nothing records)."""
        deactivate()


#: The one instance, registered in :data:`crashkit.probes.PROBES`.
PYTHON_PROBE = PythonProbe()
