"""config.converter and config.model: one cattrs converter, its errors as ``dotted.path: message``."""

from __future__ import annotations

from firestream_core.config.converter import structure
from firestream_core.config.model import Settings


def test_a_table_becomes_its_frozen_model_with_defaults() -> None:
    assert structure({"concurrency": 2}, Settings, "settings") == (
        Settings(concurrency=2, fail_fast=False, on_validation_failure="fail"), [])


def test_every_problem_of_a_table_is_named_by_its_path_never_by_value() -> None:
    settings, problems = structure({"concurrency": -1, "fail_fast": "yes"}, Settings, "settings")
    assert settings is None
    assert problems == [
        "settings.concurrency: must not be negative",
        "settings.fail_fast: expected a boolean (true or false), got a string",
    ]
