"""crashkit's pytest plugin: scenarios become one test item per crash point.

:mod:`.hooks` is the plugin pytest loads (the ``pytest11`` entry point): options,
markers and thin hooks that import the rest only when a scenario is collected;
:mod:`.names` the option names; :mod:`.session` the per-process state (options
built from the same sources as ``crashkit run``, the seed, the explorers, the
results file and report); :mod:`.items` the crash point items.

Layer: a front end, beside :mod:`crashkit.cli`; it imports the engine and below.
"""
