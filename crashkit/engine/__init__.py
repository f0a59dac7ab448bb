"""The parent's engine: explore a scenario variant point by point, and sweep many.

:mod:`.explorer` runs one variant (setup, golden run, any crash point);
:mod:`.recovery` judges its children; :mod:`.recording` answers every kill point
from one recording run; :mod:`.sweep` runs many variants in parallel and writes
results as they come; :mod:`.artifacts` keeps the worlds of failing points;
:mod:`.records` and :mod:`.result` are the results lines it writes.

Layer: above everything but the front ends. It imports :mod:`crashkit.model`,
:mod:`crashkit.faults`, :mod:`crashkit.launch` (never :mod:`crashkit.child`),
:mod:`crashkit.scenario`, :mod:`crashkit.output`, :mod:`crashkit.options` and
:mod:`crashkit.errors`.
"""

from crashkit.engine.explorer import Explorer
from crashkit.engine.result import Golden, PointResult
from crashkit.engine.sweep import Sweep, VariantSummary

__all__ = ["Explorer", "Golden", "PointResult", "Sweep", "VariantSummary"]
