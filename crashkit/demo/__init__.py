"""The embedded default: ``kasten``, a markdown folder <-> Notion sync engine with seeded
bug variants, and the scenarios that crash it (``scenarios/``, swept by a bare
``crashkit run``). Needs the ``demo`` extra (notion-client, merge3).

Layer: a user of crashkit like any other; imports the front door (``crashkit``) and the
plain-data layers, and nothing in crashkit imports it.
"""
