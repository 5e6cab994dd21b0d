"""The ``firestream`` command: ``main`` parses and lazily imports
``commands/<name>.py``; ``logs`` and ``progress`` are what it prints.
"""
