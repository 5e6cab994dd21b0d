"""config.paths: how a place in firestream.toml and a problem are worded."""

from __future__ import annotations

from firestream_core.config.paths import join_path, problems_hint, quote_key, type_name, unknown_key


def test_places_are_written_as_toml_dotted_keys() -> None:
    assert join_path("", "settings") == "settings"
    assert join_path("deployments.generic", 0) == "deployments.generic[0]"
    assert join_path("deployments.generic[0].values", "image.tag") == 'deployments.generic[0].values."image.tag"'
    assert quote_key('say "hi"') == '"say \\"hi\\""'
    assert quote_key("web-1_a") == "web-1_a"


def test_types_are_named_as_toml_names_them() -> None:
    assert [type_name(v) for v in (True, 1, 1.5, "x", [], {})] == [
        "a boolean", "an integer", "a float", "a string", "an array", "a table"]


def test_an_unknown_key_suggests_a_close_one_only() -> None:
    known = ["concurrency", "fail_fast", "on_validation_failure"]
    assert unknown_key("settings", "concurency", known) == (
        "settings.concurency: unknown key; did you mean 'concurrency'?")
    assert unknown_key("settings", "colour", known) == "settings.colour: unknown key"


def test_the_hint_line_collects_plugin_hints_then_the_key_reference() -> None:
    assert problems_hint(["settings.x: unknown key"], ["pip install a", "pip install a"]) == (
        "pip install a; see docs/configuration.md for every key")
    assert problems_hint(["settings.concurrency: must not be negative"]) is None
