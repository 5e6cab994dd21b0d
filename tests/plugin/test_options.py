"""The option validators chart plugins share (``firestream_core.plugin.options``)."""

from __future__ import annotations

import attrs
import pytest

from firestream_core.plugin.options import at_least, env_var_name, secret_name


@attrs.frozen
class Options:
    auth_secret: str | None = attrs.field(default=None, validator=secret_name)
    password_env: str | None = attrs.field(default=None, validator=env_var_name)
    password_length: int = attrs.field(default=32, validator=at_least(16))


def test_valid_options_pass() -> None:
    assert Options("db-auth.v1", "PG_PASSWORD", 16) == Options("db-auth.v1", "PG_PASSWORD", 16)
    assert Options().auth_secret is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"auth_secret": "Bad_Name"}, "auth_secret = 'Bad_Name' is not a valid Secret name"),
        ({"auth_secret": "a" * 254}, "is not a valid Secret name"),
        ({"password_env": "1PASSWORD"}, "password_env = '1PASSWORD' is not an environment variable name"),
        ({"password_length": 15}, "password_length = 15 is below the minimum of 16"),
    ],
)
def test_invalid_options_name_the_option(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("(", r"\(")):
        Options(**kwargs)


def test_the_config_names_the_option_the_bound_and_the_value(tmp_path) -> None:  # noqa: ANN001
    from firestream_core.config.converter import structure

    _, problems = structure({"password_length": 4}, Options, "deployments.postgresql[0]")
    assert problems == ["deployments.postgresql[0].password_length: password_length = 4 is below the minimum of 16"]
    _, problems = structure({"auth_secret": "Bad_Name"}, Options, "deployments.postgresql[0]")
    assert problems == ["deployments.postgresql[0].auth_secret: auth_secret = 'Bad_Name' is not a valid Secret "
                        "name (lower-case letters, digits, '-' and '.', at most 253 characters)"]
