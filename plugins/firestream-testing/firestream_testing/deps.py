"""What the test kit needs beyond firestream-core, and what to say when it is missing.

The API emulator runs on aiohttp and kmock, which ``firestream-testing``
declares; a checkout or a ``--no-deps`` install can lack them. The emulator's
command line and the ``kube`` fixtures then say which package to install,
never a traceback.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

DISTRIBUTION = "firestream-testing"
EMULATOR_MODULES = ("aiohttp", "kmock")


def missing_modules(modules: Sequence[str] = EMULATOR_MODULES) -> list[str]:
    """The ``modules`` that cannot be imported here (found without importing them)."""
    lacking = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            lacking.append(name)
    return lacking


def emulator_hint(lacking: Sequence[str]) -> str:
    """One line: what the emulator lacks and the package that brings it."""
    return (f"the Kubernetes API emulator needs {', '.join(lacking)}, not installed here; "
            f"install the test kit with its dependencies: pip install {DISTRIBUTION}")
