"""Sphinx configuration: the API reference from the docstrings, the docs/*.md pages as chapters.

Why Sphinx + autodoc (and MyST for the Markdown pages) rather than MkDocs +
mkdocstrings: firestream's docstrings are reStructuredText (``:param:``,
``:class:`` roles, ``::`` literal blocks), the way pluggy, pytest and tox write
theirs; autodoc reads them as they are, and Sphinx resolves the roles, while
mkdocstrings would need every docstring rewritten to Google or NumPy style.
MyST lets the existing Markdown pages be the chapters unchanged.

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``
(``tests/docs/test_reference.py`` runs it with warnings as errors).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

project = "firestream"
author = "the firestream authors"
copyright = "the firestream authors"  # noqa: A001 - Sphinx's name

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}
# attrs classes and the lazy surface: show what a name is, not where pluggy put it
autodoc_inherit_docstrings = True
napoleon_google_docstring = False
napoleon_numpy_docstring = False

html_theme = "alabaster"
html_title = "firestream"
# the reference is built offline in the test suite: no intersphinx downloads
suppress_warnings = ["myst.header"]
