"""The one cattrs converter for firestream's config, and its errors as dotted paths.

``converter()`` structures TOML data into the models (``forbid_extra_keys=True``,
strict scalars: a string is never taken for a number). ``structure(data, cls,
path)`` returns the object or every problem as ``path: message``, walking
cattrs' exception groups (cattrs' own messages, which may quote the value,
become ``invalid value (expected T)``). cattrs is imported on first use, not
with this module.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import attrs

from firestream_core.config.model import (
    CHOICES,
    ChartVersion,
    Command,
    Duration,
    NonNegativeInt,
    RepositoryURL,
    SetScalar,
    StrictVersion,
    Table,
)
from firestream_core.config.paths import join_path, type_name, unknown_key
from firestream_core.plugin.options import OptionValueError

if TYPE_CHECKING:
    import cattrs


class _Problem(ValueError):
    """A structuring failure with a ready message (raised by the converter's hooks)."""


def _expect(value: Any, types: tuple[type, ...], what: str) -> None:
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise _Problem(f"expected {what}, got {type_name(value)}")


def _structure_str(value: Any, _t: Any) -> str:
    _expect(value, (str,), "a string")
    return value


def _structure_bool(value: Any, _t: Any) -> bool:
    _expect(value, (bool,), "a boolean (true or false)")
    return value


def _structure_int(value: Any, _t: Any) -> int:
    _expect(value, (int,), "an integer")
    return value


def _structure_float(value: Any, _t: Any) -> float:
    _expect(value, (int, float), "a number")
    return float(value)


def _structure_nonneg(value: Any, _t: Any) -> int:
    _expect(value, (int,), "an integer")
    if value < 0:
        raise _Problem("must not be negative")
    return value


def _structure_duration(value: Any, _t: Any) -> str:
    from firestream_core.model import parse_duration

    _expect(value, (str,), "a duration such as '300s'")
    try:
        parse_duration(value)
    except ValueError as exc:
        raise _Problem(str(exc)) from None
    return value


def _structure_chart_version(value: Any, _t: Any) -> str:
    from firestream_core.model import check_version

    _expect(value, (str,), "a version string")
    try:
        return check_version(value)
    except ValueError as exc:
        raise _Problem(str(exc)) from None


def _structure_strict_version(value: Any, _t: Any) -> str:
    from firestream_core.model import SemVer

    _expect(value, (str,), "a version string")
    try:
        SemVer.parse(value)
    except ValueError as exc:
        raise _Problem(f"{exc}: expected e.g. '2.0.0'") from None
    return value


def _structure_set_scalar(value: Any, _t: Any) -> str:
    _expect(value, (str, int, float, bool), "a string, number or boolean")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _structure_command(value: Any, _t: Any) -> tuple[str, ...]:
    import shlex

    if isinstance(value, str):
        try:
            argv = shlex.split(value)
        except ValueError as exc:
            raise _Problem(f"cannot split the command: {exc}") from None
    elif isinstance(value, list) and all(isinstance(a, str) for a in value):
        argv = list(value)
    else:
        raise _Problem(f"expected a command string or an array of strings, got {type_name(value)}")
    if not argv or not argv[0].strip():
        raise _Problem("a command must name a program")
    return tuple(argv)


def _structure_url(value: Any, _t: Any) -> str:
    from urllib.parse import urlsplit

    _expect(value, (str,), "a repository URL")
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http", "oci") or not parts.netloc:
        raise _Problem("expected an https://, http:// or oci:// URL")
    if parts.username or parts.password:
        raise _Problem(
            "credentials must not be written in a repository URL "
            "(use 'helm registry login' or the helm credentials environment)"
        )
    return value


def _choice(kind: Any) -> Any:
    choices = CHOICES[kind]

    def structure(value: Any, _t: Any) -> str:
        _expect(value, (str,), "a string")
        low = value.lower()
        if low not in choices:
            listed = ", ".join(f"'{c}'" for c in choices[:-1]) + f" or '{choices[-1]}'"
            raise _Problem(f"invalid value '{value}': expected {listed}")
        return low

    return structure


@functools.cache
def converter() -> cattrs.Converter:
    """The one cattrs converter for firestream's config (unknown keys forbidden)."""
    import cattrs

    c = cattrs.Converter(forbid_extra_keys=True)
    c.register_structure_hook(str, _structure_str)
    c.register_structure_hook(bool, _structure_bool)
    c.register_structure_hook(int, _structure_int)
    c.register_structure_hook(float, _structure_float)
    c.register_structure_hook(NonNegativeInt, _structure_nonneg)
    c.register_structure_hook(Duration, _structure_duration)
    c.register_structure_hook(ChartVersion, _structure_chart_version)
    c.register_structure_hook(StrictVersion, _structure_strict_version)
    c.register_structure_hook(SetScalar, _structure_set_scalar)
    c.register_structure_hook(Command, _structure_command)
    c.register_structure_hook(RepositoryURL, _structure_url)
    for kind in CHOICES:
        c.register_structure_hook(kind, _choice(kind))

    def table(value: Any, _t: Any) -> dict[str, Any]:
        _expect(value, (dict,), "a table")
        return value

    c.register_structure_hook(Table, table)

    return c


def structure(data: Any, cls: type, path: str) -> tuple[Any, list[str]]:
    """``data`` structured into ``cls`` with the converter: (object or None, problems)."""
    try:
        return converter().structure(data, cls), []
    except Exception as exc:
        problems: list[str] = []
        _collect(exc, path, cls, problems)
        return None, problems


def _collect(exc: BaseException, path: str, cls: Any, out: list[str]) -> None:
    """Walk cattrs' exception groups into ``path: message`` lines."""
    from cattrs.errors import (
        AttributeValidationNote,
        ClassValidationError,
        ForbiddenExtraKeysError,
        IterableValidationError,
        IterableValidationNote,
    )

    if isinstance(exc, ClassValidationError | IterableValidationError):
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            if isinstance(note, AttributeValidationNote):
                sub_cls = _field_type(exc, note.name)
                _collect(sub, join_path(path, note.name), sub_cls, out)
            elif isinstance(note, IterableValidationNote):
                _collect(sub, join_path(path, note.index), None, out)
            else:  # pragma: no cover - cattrs gives one of the two notes
                _collect(sub, path, None, out)
        for sub in without:
            _collect(sub, path, cls, out)
    elif isinstance(exc, ForbiddenExtraKeysError):
        known = [a.name for a in attrs.fields(exc.cl)] if attrs.has(exc.cl) else []
        for key in sorted(exc.extra_fields):
            out.append(unknown_key(path, key, known))
    elif isinstance(exc, KeyError):
        out.append(f"{path}: required key missing")
    elif isinstance(exc, _Problem):
        out.append(f"{path}: {exc}")
    elif isinstance(exc, OptionValueError):
        out.append(f"{join_path(path, exc.option)}: {exc.message}")
    elif isinstance(exc, (ValueError, TypeError)):
        # cattrs' own messages may quote the value; do not repeat it
        expected = f" (expected {_describe(cls)})" if cls is not None else ""
        out.append(f"{path}: invalid value{expected}")
    else:  # pragma: no cover - programming error in a hook
        out.append(f"{path}: {type(exc).__name__}")


def _field_type(exc: Any, name: str) -> Any:
    cl = getattr(exc, "cl", None)
    if cl is not None and attrs.has(cl):
        for a in attrs.fields(cl):
            if a.name == name:
                return a.type
    return None


def _describe(t: Any) -> str:
    return getattr(t, "__name__", None) or str(t)
