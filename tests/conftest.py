"""Fixtures shared by every test folder."""

from __future__ import annotations

import logging

import pytest


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
