"""Every test run keeps firestream's caches in a folder of its own, never in the user's ``~/.cache``.

firestream keeps a plugin cache and a code cache (docs/cli.md, "Caches") in
``$FIRESTREAM_CACHE_DIR``, else ``~/.cache/firestream``. A test run, its
``firestream`` subprocesses included, must neither read what the user's own
runs left there nor leave its own files behind (one plugin cache per
interpreter and ``sys.path``: a suite would leave dozens). This autouse
session fixture points ``FIRESTREAM_CACHE_DIR`` at a temporary folder of the
run for as long as it lasts; a helper that builds a child's environment from
scratch should pass it on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

CACHE_DIR_ENV = "FIRESTREAM_CACHE_DIR"


@pytest.fixture(autouse=True, scope="session")
def _firestream_caches_in_a_temporary_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    saved = os.environ.get(CACHE_DIR_ENV)
    folder = str(tmp_path_factory.mktemp("firestream-cache"))
    os.environ[CACHE_DIR_ENV] = folder
    try:
        yield folder
    finally:
        if saved is None:
            os.environ.pop(CACHE_DIR_ENV, None)
        else:
            os.environ[CACHE_DIR_ENV] = saved
