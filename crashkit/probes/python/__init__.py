"""The Python probe: sees every durable operation of a Python program, in order.

The probe patches, once per worker process and before the program's modules
are imported, every public route Python offers to make state durable:

* files (:mod:`.files`): ``open``/``io.open`` (so ``pathlib`` and ``tempfile``
  too), ``os.open``, ``os.write``/``pwrite``/``writev``/``pwritev``/``sendfile``,
  ``os.truncate``/``ftruncate``, ``os.rename``/``replace``, ``os.unlink``/``remove``,
  ``os.mkdir``/``rmdir``, ``os.link``/``symlink``, ``os.fsync``/``fdatasync``
  (``shutil`` and ``os.makedirs`` go through these);
* SQLite through the stdlib ``sqlite3`` (:mod:`.sqlite`): a statement that makes
  state durable (COMMIT, ``Connection.commit``, leaving ``with conn:``, or a
  write statement outside a transaction);
* HTTP through httpx (:mod:`.http`): every POST/PATCH/PUT/DELETE sent by a
  ``Client`` or ``AsyncClient``;
* explicit markers (:mod:`.markers`): :func:`point`.

Every patch reports to the active :class:`Probe` (:mod:`.core`);
:mod:`.patches` installs them all (:func:`install_patches`, at import of the
worker, so even a module that did ``from os import replace`` sees the patched
function) and they do nothing until a :class:`Probe` is activated in a child.
Only operations on paths inside the world count: crashkit's own files, the fake
remote's store (which runs under :func:`crashkit.probes.quiet.quiet`) and
anything outside the world are never points. :mod:`.inprocess` is this probe
behind :class:`crashkit.probes.Probe`.

What is not seen: writes through ``mmap``, C extensions that call the OS
directly (SQLite's own file I/O is represented by its statements), and
subprocesses the program starts.
"""

from crashkit.probes.python.core import (
    Decide,
    InjectedOSError,
    InjectedResponse,
    LoseResponse,
    Payload,
    Probe,
    Sink,
    _Real,
    kill_self,
)
from crashkit.probes.python.inprocess import PYTHON_PROBE, PythonProbe
from crashkit.probes.python.markers import point
from crashkit.probes.python.patches import (
    activate,
    deactivate,
    install_patches,
    uninstall_patches,
)

__all__ = [
    "PYTHON_PROBE",
    "Decide",
    "InjectedOSError",
    "InjectedResponse",
    "LoseResponse",
    "Payload",
    "Probe",
    "PythonProbe",
    "Sink",
    "_Real",
    "activate",
    "deactivate",
    "install_patches",
    "kill_self",
    "point",
    "uninstall_patches",
]
