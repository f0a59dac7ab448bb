"""The fake Notion remote, on the generic fake remote of :mod:`crashkit.remotes`.

:mod:`~crashkit.remotes.notion.store` holds Notion's tables (pages and blocks as one tree
of nodes, deterministic ids and clock), :mod:`~crashkit.remotes.notion.api` Notion's routes,
objects, rich text and error objects, and :mod:`~crashkit.remotes.notion.fake` the public
:class:`~crashkit.remotes.notion.fake.FakeNotion` with its direct Python API.

Layer: as :mod:`crashkit.remotes`; modules here may import the generic modules of
:mod:`crashkit.remotes` (not its ``__init__``, which registers this package),
:mod:`crashkit.errors` and :mod:`crashkit.probes.quiet`, and nothing else of crashkit.
"""
