"""What a sweep leaves behind: the results file and the HTML report rendered from it.

:mod:`crashkit.output.results` writes and reads the JSON-lines results file;
:mod:`crashkit.output.report` renders the report from its records.

Layer: output may import :mod:`crashkit.model` and :mod:`crashkit.errors` only, since
results and reports are plain records; never the engine, the child, the launchers,
the CLI, the pytest plugin or the scenario (not even inside a function), so that any
of those can import output without a circle (``tests/unit/test_layers.py`` holds the rule).
"""
