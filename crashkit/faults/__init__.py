"""Fault kinds: what happens at a crash point.

Each kind is one module holding both halves (see :mod:`.base`): what the child does
right before operation k, and how the parent recovers and checks what it left.
Every kind is listed once, in :data:`FAULTS`; the CLI's ``--fault`` choices and help,
the pytest plugin's options and point IDs, and the report take them from there.

=================  ====================================================================
kill               SIGKILL right before operation k (k = N+1: after the last one).
error              operation k fails as it would for real and the program keeps running.
lost-response      HTTP request k is applied by the remote but its answer is lost.
torn               write k (of more than one sector) persists only its sectors but the
                   last, then the process is killed.
powerloss          a kill before operation k, then the disk loses what the power-loss
                   model (:mod:`.disk`) says was not durable.
recovery-crash     a kill before operation k, then the first restart is killed too, at
                   each of its own durable operations: nested points ``p07/r03``.
=================  ====================================================================

Layer: faults run on both sides of the process boundary; they import
:mod:`crashkit.model`, :mod:`crashkit.probes` and :mod:`crashkit.errors` only. The
parent's half reaches the engine through the :class:`~.base.Recovery` protocol.

Adding a kind: a module with a :class:`~.base.FaultKind` subclass, and one line in
the tuple below.
"""

from __future__ import annotations

from collections.abc import Sequence

from crashkit.errors import UsageError
from crashkit.faults.base import ChildFault, FaultKind, Nested, Recovered, Recovery, Struck
from crashkit.faults.error import Error, injected_error
from crashkit.faults.kill import Kill
from crashkit.faults.lost_response import LostResponse
from crashkit.faults.powerloss import PowerLoss
from crashkit.faults.recovery_crash import RecoveryCrash
from crashkit.faults.torn import Torn

__all__ = [
    "FAULTS",
    "FAULT_KINDS",
    "KILL",
    "ChildFault",
    "FaultKind",
    "Nested",
    "Recovered",
    "Recovery",
    "Struck",
    "fault_kind",
    "injected_error",
    "parse_faults",
]

#: Every fault kind, by name, in the order they are swept and shown.
FAULTS: dict[str, FaultKind] = {
    kind.name: kind
    for kind in (Kill(), Error(), LostResponse(), Torn(), PowerLoss(), RecoveryCrash())
}
FAULT_KINDS = tuple(FAULTS)
#: The default fault, and the one recorded kill states answer for.
KILL = Kill.name


def fault_kind(name: str) -> FaultKind:
    """The fault kind called ``name``; UsageError naming the valid ones otherwise."""
    if name not in FAULTS:
        raise UsageError(f"{name!r} is not a fault kind; choose among {', '.join(FAULTS)}")
    return FAULTS[name]


def parse_faults(values: Sequence[str]) -> list[str]:
    """Fault kinds from comma-separated values, or ``all``; UsageError for unknown ones."""
    names = [n.strip() for v in values or [KILL] for n in str(v).split(",") if n.strip()]
    if "all" in names:
        return list(FAULT_KINDS)
    unknown = [n for n in names if n not in FAULT_KINDS]
    if unknown or not names:
        raise UsageError(
            f"unknown fault kind(s) {', '.join(unknown or names)}; choose among "
            f"{', '.join(FAULT_KINDS)} or all, e.g. kill,error"
        )
    return list(dict.fromkeys(names))
