"""attrs validators for chart-type options (``ChartType.options`` classes).

A chart plugin's options are read from ``[[deployments.<type>]]`` by the
config loader, which reports a validator's ``ValueError`` with the key's
dotted path. These are the checks several plugins need::

    @attrs.frozen
    class MyOptions:
        auth_secret: str | None = attrs.field(default=None, validator=secret_name)
        password_env: str | None = attrs.field(default=None, validator=env_var_name)
        password_length: int = attrs.field(default=32, validator=at_least(16))

Messages name the option, and never hold a secret: the values checked are
names (of a Secret, of an environment variable) and numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"  # compiled on first use, not at import
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"

__all__ = ["OptionValueError", "at_least", "env_var_name", "names_env_var", "names_something", "secret_name"]


class OptionValueError(ValueError):
    """An option's value refused by a validator; the config shows it as
    ``<release path>.<option>: <message>``.

    :ivar option: the option's name.
    :ivar message: why, naming the option, the bound and the value (names and numbers only).

    >>> import attrs
    >>> @attrs.frozen
    ... class Options:
    ...     password_length: int = attrs.field(default=32, validator=at_least(16))
    >>> try:
    ...     Options(password_length=4)
    ... except OptionValueError as exc:
    ...     (exc.option, exc.message)
    ('password_length', 'password_length = 4 is below the minimum of 16')
    """

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option
        self.message = message


def secret_name(_inst: Any, attribute: Any, value: str | None) -> None:
    """An attrs validator: None, or a valid Kubernetes Secret name (DNS subdomain, at most
    253 characters). Use it as is: ``attrs.field(default=None, validator=secret_name)``.

    >>> import attrs
    >>> @attrs.frozen
    ... class Options:
    ...     auth_secret: str | None = attrs.field(default=None, validator=secret_name)
    >>> Options(auth_secret="db-auth").auth_secret
    'db-auth'
    >>> Options(auth_secret="DB_Auth")
    Traceback (most recent call last):
    ...
    firestream_core.plugin.options.OptionValueError: auth_secret = 'DB_Auth' is not a valid Secret name (lower-case letters, digits, '-' and '.', at most 253 characters)
    """
    if value is not None and (len(value) > 253 or not re.fullmatch(_DNS_SUBDOMAIN, value)):
        raise OptionValueError(
            attribute.name,
            f"{attribute.name} = {value!r} is not a valid Secret name "
            "(lower-case letters, digits, '-' and '.', at most 253 characters)",
        )


def env_var_name(_inst: Any, attribute: Any, value: str | None) -> None:
    """An attrs validator: None, or the name of an environment variable. Use it as is:
    ``attrs.field(default=None, validator=env_var_name)``.

    >>> import attrs
    >>> @attrs.frozen
    ... class Options:
    ...     password_env: str | None = attrs.field(default=None, validator=env_var_name)
    >>> Options(password_env="DB_PASSWORD").password_env
    'DB_PASSWORD'
    >>> Options(password_env="db-password")
    Traceback (most recent call last):
    ...
    firestream_core.plugin.options.OptionValueError: password_env = 'db-password' is not an environment variable name
    """
    if value is not None and not re.fullmatch(_ENV_NAME, value):
        raise OptionValueError(
            attribute.name, f"{attribute.name} = {value!r} is not an environment variable name"
        )


def at_least(minimum: int) -> Callable[[Any, Any, int], None]:
    """An **attrs validator** refusing an integer below ``minimum``.

    ``at_least(16)`` returns the validator; give it to ``attrs.field``::

        password_length: int = attrs.field(default=32, validator=at_least(16))

    The config reports ``deployments.db[0].password_length: password_length = 4
    is below the minimum of 16``.

    >>> import attrs
    >>> @attrs.frozen
    ... class Options:
    ...     password_length: int = attrs.field(default=32, validator=at_least(16))
    >>> Options().password_length, Options(password_length=20).password_length
    (32, 20)
    >>> Options(password_length=4)
    Traceback (most recent call last):
    ...
    firestream_core.plugin.options.OptionValueError: password_length = 4 is below the minimum of 16
    """

    def check(_inst: Any, attribute: Any, value: int) -> None:
        if value < minimum:
            raise OptionValueError(
                attribute.name, f"{attribute.name} = {value!r} is below the minimum of {minimum}"
            )

    return check


def names_something(field: Any) -> bool:
    """True when an options class's attrs field names something (its validator is
    :func:`secret_name` or :func:`env_var_name`): its value is a name, never hidden as a secret
    even when its key looks secret (postgresql's ``auth_secret``, ``password_env``).

    >>> import attrs
    >>> @attrs.frozen
    ... class Options:
    ...     auth_secret: str | None = attrs.field(default=None, validator=secret_name)
    ...     admin_password: str | None = None
    >>> [names_something(f) for f in attrs.fields(Options)]
    [True, False]
    """
    return any(v in (secret_name, env_var_name) for v in _validators(field))


def names_env_var(field: Any) -> bool:
    """True when an options class's attrs field names an environment variable (its validator
    is :func:`env_var_name`: postgresql's ``password_env``), whose value the project reads."""
    return env_var_name in _validators(field)


def _validators(field: Any) -> tuple[Any, ...]:
    validator = getattr(field, "validator", None)
    return tuple(getattr(validator, "_validators", (validator,)))  # attrs.validators.and_ keeps them
