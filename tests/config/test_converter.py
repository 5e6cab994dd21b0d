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


def test_a_value_where_a_table_belongs_is_named_by_what_was_expected() -> None:
    """A string in ``set = ["x"]`` read ``set[0]: invalid value``, and
    ``last_breaking_version_requiring_restart = "1.0.0"`` read ``invalid value (expected
    firestream_core.config.model.BreakingVersionConfig | None)``: a Python class, not a key."""
    from firestream_core.config.model import ReleaseKeys

    given = {"set": ["x", {"key": "a", "value": 1}], "yaml_files_content": [5],
             "last_breaking_version_requiring_restart": "1.0.0"}
    keys, problems = structure(given, ReleaseKeys, "deployments.web[0]")
    assert keys is None
    assert sorted(problems) == [
        "deployments.web[0].last_breaking_version_requiring_restart: expected a table "
        "(version, requires_uninstall, pre_upgrade_commands)",
        "deployments.web[0].set[0]: expected a table (key, value)",
        "deployments.web[0].yaml_files_content[0]: expected a table (filename, yaml_content)",
    ]


def test_values_a_values_file_cannot_hold_are_named_by_key_before_any_helm_call() -> None:
    """``t = 07:32:00`` made validate, plan and template fail with ``unexpected RepresenterError``
    (no file, no key), and ``f = inf`` passed validate, then plan failed with ``unexpected
    ValueError: Out of range float values are not JSON compliant``."""
    import datetime

    from firestream_core.config.model import ReleaseKeys

    given = {"values": {"when": datetime.time(7, 32), "ok": {"day": datetime.date(1979, 5, 27)}}}
    assert structure(given, ReleaseKeys, "deployments.web[0]")[1] == [
        "deployments.web[0].values.when: is a TOML local time, which a values file cannot hold: write it as a string"]
    given = {"values": {"n": {"a": [1.5, float("-inf")]}}}
    assert structure(given, ReleaseKeys, "defaults")[1] == [
        "defaults.values.n.a[1]: is not a finite number (inf or nan), which helm's values cannot hold: "
        "write it as a string"]
    keys, problems = structure({"values": {"d": datetime.datetime(1979, 5, 27, 7, 32)}}, ReleaseKeys, "x")
    assert problems == [] and keys is not None  # a date-time is a YAML timestamp: kept


def test_a_string_or_table_where_an_array_belongs_is_refused_not_read_as_its_letters() -> None:
    """A chart type's option ``hosts: tuple[str, ...]`` given ``hosts = "a.example.com"`` became
    ``('a', '.', 'e', ...)`` and ``{a = 1}`` became ``('a',)``, with no problem reported: cattrs
    iterates whatever it is given. Release keys had their own checks; options had none."""
    import attrs

    @attrs.frozen
    class Options:
        hosts: tuple[str, ...] = ()
        ports: list[int] = attrs.field(factory=list)
        zones: frozenset[str] = frozenset()

    assert structure({"hosts": "a.example.com", "ports": {"a": 1}, "zones": "eu"}, Options, "deployments.api")[1] == [
        "deployments.api.hosts: expected an array of strings, got a string",
        "deployments.api.ports: expected an array, got a table",
        "deployments.api.zones: expected an array of strings, got a string",
    ]
    assert structure({"hosts": ["a", 5]}, Options, "x")[1] == ["x.hosts[1]: expected a string, got an integer"]
    given = {"hosts": ["a.example.com"], "ports": [80], "zones": ["eu", "eu"]}
    assert structure(given, Options, "x") == (Options(("a.example.com",), [80], frozenset({"eu"})), [])
    # what unstructuring the options gives back (plugins --check) is read again
    assert structure({"hosts": ("a",), "zones": {"eu"}}, Options, "x")[1] == []


def test_an_options_class_using_attrs_own_validators_gets_readable_problems_never_a_secret() -> None:
    """A chart type's options checked by attrs' own validators (``attrs.validators.in_``,
    ``matches_re``): the problem was the validator's argument tuple, the attribute's whole repr and
    the refused value included, an ``admin_password`` in clear; and only the first was named."""
    import attrs

    @attrs.frozen
    class Options:
        admin_password: str | None = attrs.field(
            default=None, validator=attrs.validators.optional(attrs.validators.matches_re(r"^[A-Z].{11,}$")))
        mode: str = attrs.field(default="fast", validator=attrs.validators.in_(["fast", "safe"]))

    obj, problems = structure({"admin_password": "lowercase-secret-pw", "mode": "slow"}, Options,
                              "deployments.widget[0]")
    assert obj is None
    assert problems == [
        "deployments.widget[0].admin_password: 'admin_password' must match regex '^[A-Z].{11,}$' ('***' doesn't)",
        "deployments.widget[0].mode: 'mode' must be in ['fast', 'safe'] (got 'slow')",
    ]
