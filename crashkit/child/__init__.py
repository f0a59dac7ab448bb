"""What runs inside a child process, and nothing else.

A child runs one phase of a scenario (setup, workload or restart) in a world,
under a probe, and strikes its fault at its crash point: :mod:`.run` is its entry
point, :mod:`.forkserver` the warm server that forks children, :mod:`.spawned` the
entry of a child started as a fresh interpreter, :mod:`.worker` what every such
process imports first.

The parent never imports this package: it hands a plain
:class:`~crashkit.model.process.ChildJob` to a launcher (:mod:`crashkit.launch`),
and reads the run folder the child filled. The child may import
:mod:`crashkit.model`, :mod:`crashkit.probes`, the child half of
:mod:`crashkit.faults` and :mod:`crashkit.scenario` (it loads the scenario to run
its phase), and nothing of the engine, launchers, output or front ends.
"""
