"""crashkit's pytest plugin (registered through the ``pytest11`` entry point).

Inert in a suite that defines no scenario.
"""
