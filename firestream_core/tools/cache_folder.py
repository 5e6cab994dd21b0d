"""Where firestream keeps what it writes between and during runs: ``$FIRESTREAM_CACHE_DIR``.

The plugin cache (``plugin/cache.py``), the code cache (``cli/codecache.py``) and the
run's own helm repositories (``tools/helm_repos.py``) all live there. Only ``os``:
``firestream plugins`` reads its cache through this module at start-up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["CACHE_DIR_ENV", "cache_dir"]

CACHE_DIR_ENV = "FIRESTREAM_CACHE_DIR"
"""The variable naming the folder of firestream's caches."""


def cache_dir(environ: Mapping[str, str]) -> str:
    """The folder of firestream's caches: ``$FIRESTREAM_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/firestream``, else ``~/.cache/firestream``.

    A string, as every path of the light commands: those that read a cache
    (``firestream plugins``) import no ``pathlib`` (4 ms of an installed ``plugins``).

    >>> cache_dir({"FIRESTREAM_CACHE_DIR": "/var/cache/fs", "XDG_CACHE_HOME": "/x"})
    '/var/cache/fs'
    >>> cache_dir({"XDG_CACHE_HOME": "/x"})
    '/x/firestream'
    """
    if environ.get(CACHE_DIR_ENV):
        return environ[CACHE_DIR_ENV]
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "firestream")
