"""The fake Notion remote, on the generic fake remote of :mod:`crashkit.remotes`.

- :mod:`~crashkit.remotes.notion.store`: Notion's tables (pages, blocks, databases and
  data sources as one tree of nodes), deterministic ids and clock;
- :mod:`~crashkit.remotes.notion.wire`: what every route shares (error objects, ids,
  rich text, ``list`` objects);
- :mod:`~crashkit.remotes.notion.api`: the routes, page and block objects;
- :mod:`~crashkit.remotes.notion.fake`: the public
  :class:`~crashkit.remotes.notion.fake.FakeNotion` with its direct Python API.

Layer: as :mod:`crashkit.remotes`; modules here may import the generic modules of
:mod:`crashkit.remotes` (not its ``__init__``, which registers this package),
:mod:`crashkit.errors` and :mod:`crashkit.probes.quiet`, and nothing else of crashkit.
"""
