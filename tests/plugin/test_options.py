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
