"""The HTML crash-point report: one self-contained page rendered from a sweep's results.

The page is rendered from plain records, those of one or more results files
(:func:`merge_results`), never from live engine objects, so a report can be made
again later, from shards, or against a previous run. Inside, by concept:

* :mod:`~crashkit.output.report.records`: several results files read as one;
* :mod:`~crashkit.output.report.rows`: one strip per variant and fault, each variant
  judged once by :func:`crashkit.model.outcome.verdict` (as by the CLI and the plugin);
* :mod:`~crashkit.output.report.trend`: what changed against a previous run;
* :mod:`~crashkit.output.report.header`, :mod:`~crashkit.output.report.sections`: the
  page's facts, banner, trend lists and journal audit;
* :mod:`~crashkit.output.report.data`: the JSON the page's script draws strips from;
* :mod:`~crashkit.output.report.text`: program output made safe, names for people;
* :mod:`~crashkit.output.report.render`: the Jinja page and its crash-safe write.

Everything a program under test printed reaches the page either through Jinja's
autoescape or through ``textContent`` in the script, never as markup.

Layer: like all of :mod:`crashkit.output`, this package imports only
:mod:`crashkit.model`, :mod:`crashkit.errors` and :mod:`crashkit.output` itself
(``tests/unit/test_layers.py`` holds the rule).
"""

from crashkit.output.report.records import merge_results
from crashkit.output.report.render import render_report, write_report
from crashkit.output.report.text import point_ranges

__all__ = ["merge_results", "point_ranges", "render_report", "write_report"]
