"""firestream's test kit: a pytest plugin for firestream and chart-plugin authors.

Fixtures (registered through the ``pytest11`` entry point ``firestream``):
see ``docs/testing.md``.
"""
