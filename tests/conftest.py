"""Fixtures shared by every test folder."""

from __future__ import annotations

import logging
import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _plugin_cache_in_a_temporary_folder(tmp_path_factory):
    """The plugin cache (``plugin/cache.py``) of this run, CLI subprocesses included,
    lives in a folder of its own, never in the user's ``~/.cache``."""
    saved = os.environ.get("FIRESTREAM_CACHE_DIR")
    os.environ["FIRESTREAM_CACHE_DIR"] = str(tmp_path_factory.mktemp("firestream-cache"))
    yield
    if saved is None:
        os.environ.pop("FIRESTREAM_CACHE_DIR", None)
    else:
        os.environ["FIRESTREAM_CACHE_DIR"] = saved


@pytest.fixture(autouse=True)
def _restore_firestream_logging():
    """``firestream_core.cli.main.main()`` run in-process configures the ``firestream``
    logger (own handler, no propagation, redactors): undo it after each test so
    later tests' ``caplog`` sees records again."""
    from firestream_core.cli import logs

    logger = logging.getLogger(logs.LOGGER_NAME)
    saved = (list(logger.handlers), logger.level, logger.propagate, logs._handler, list(logs._redactors))
    yield
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]
    logs._handler = saved[3]
    logs._redactors[:] = saved[4]
