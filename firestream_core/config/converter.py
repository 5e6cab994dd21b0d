"""The one cattrs converter for firestream's config, and its errors as dotted paths.

``converter()`` structures TOML data into the models (``forbid_extra_keys=True``,
strict scalars: a string is never taken for a number). ``structure(data, cls,
path)`` returns the object or every problem as ``path: message``, walking
cattrs' exception groups (cattrs' own messages, which may quote the value,
become what was expected in TOML's words: ``expected a table (key, value)``). cattrs is imported on first use, not
with this module.
"""

from __future__ import annotations

import functools
from collections.abc import MutableSequence, MutableSet, Sequence, Set
from typing import TYPE_CHECKING, Any

import attrs

from firestream_core.config.model import (
    CHOICES,
    ChartRef,
    ChartVersion,
    Command,
    Duration,
    LabelValue,
    NonNegativeInt,
    RepositoryURL,
    SetScalar,
    StrictVersion,
    Table,
)
from firestream_core.config.paths import first_leaf, join_path, not_finite, type_name, unknown_key
from firestream_core.model import SemVer, check_version, parse_duration
from firestream_core.tools.sensitivity import url_has_credentials

if TYPE_CHECKING:
    import cattrs


MAX_DURATION_SECONDS = 24 * 3600
"""The bound of every duration in the file (``timeout``, ``retry_delay``, ``lease_duration``)."""


class _Problem(ValueError):
    """A structuring failure with a ready message (raised by the converter's hooks);
    ``under``: the place inside the value it is about (``a.b[1]``), joined to its path."""

    def __init__(self, message: str, under: str = "") -> None:
        super().__init__(message)
        self.under = under


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
    _expect(value, (str,), "a duration such as '300s'")
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise _Problem(str(exc)) from None
    if seconds > MAX_DURATION_SECONDS:
        raise _Problem(f"duration {value!r} is over the bound of 24h")
    return value


def _structure_chart_version(value: Any, _t: Any) -> str:
    _expect(value, (str,), "a version string")
    try:
        return check_version(value)
    except ValueError as exc:
        raise _Problem(str(exc)) from None


def _structure_strict_version(value: Any, _t: Any) -> str:
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


def _structure_label(value: Any, _t: Any) -> str:
    if not isinstance(value, str):
        raise _Problem(f"expected a string, got {type_name(value)} (labels are compared as text: quote it)")
    return value


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
    try:
        parts = urlsplit(value)
        bool(parts.username or parts.password)  # parses the netloc: a bad one is refused here
    except ValueError as exc:  # e.g. an unclosed '[' in the host
        raise _Problem(f"not a URL: {exc}") from None
    if parts.scheme not in ("https", "http", "oci"):
        scheme = f"scheme '{parts.scheme}' is not supported" if parts.scheme else "no scheme"
        raise _Problem(f"{scheme}: expected an https://, http:// or oci:// URL")
    if url_has_credentials(value):
        raise _Problem(_CREDENTIALS_IN_URL)
    problem = url_problem(value)
    if problem:
        raise _Problem(problem)
    return value


def repository_url_problem(value: str) -> str | None:
    """What is wrong with ``value`` as a ``[repositories]`` URL (scheme, host, credentials in it),
    in the words the file's check uses, or None: for a URL given elsewhere (``import --repo-url``)."""
    try:
        _structure_url(value, RepositoryURL)
    except _Problem as exc:
        return str(exc)
    return None


def url_problem(value: str, *, chart: bool = False) -> str | None:
    """What is wrong with an ``https://`` / ``oci://`` URL (the offending part quoted), or None.

    :param chart: an ``oci://`` chart reference, which must name a chart after the host.
    """
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        return f"not a URL: {exc}"
    scheme = parts.scheme
    if not host:
        return f"no host after '{scheme}://'"
    bad = next((c for c in host if c.isspace() or c in "\\\"<>{}|^`"), None)
    if bad is not None:
        return f"the host '{host}' contains {'a space' if bad.isspace() else repr(bad)}"
    if any(c.isspace() for c in parts.path):
        return f"the path '{parts.path}' contains a space"
    if chart and not parts.path.strip("/"):
        return f"no chart after the host '{host}' (expected e.g. 'oci://{host}/charts/web')"
    return None


_CREDENTIALS_IN_URL = (
    "credentials must not be written in a URL: it is shown on helm's command line and in logs; "
    "give them in [registries.\"<host>\"] (username, password_env or password_file: they reach "
    "helm on stdin) or through helm's own credentials (docs/secrets.md)"
)


def _structure_chart_ref(value: Any, _t: Any) -> str:
    _expect(value, (str,), "a string")
    if url_has_credentials(value):
        raise _Problem(_CREDENTIALS_IN_URL)
    return str(value)


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


def _unrepresentable(values: dict[str, Any]) -> tuple[str, str] | None:
    """What in a ``values`` table TOML can hold but a values file cannot (named by its key,
    never by its value), or None: a local time (``t = 07:32:00``: PyYAML cannot write one)
    and a float that is not finite (``inf``, ``nan``: helm's values are JSON). Dates and
    date-times are written as YAML timestamps, which helm reads as strings. Returned as
    ``(problem, key)``."""
    import datetime

    found = first_leaf(values, lambda v: isinstance(v, datetime.time) or not_finite(v),
                       lambda path, k: join_path(path, str(k)))
    if found is None:
        return None
    path, value = found
    if isinstance(value, datetime.time):
        return "is a TOML local time, which a values file cannot hold: write it as a string", path
    return "is not a finite number (inf or nan), which helm's values cannot hold: write it as a string", path


_ARRAYS: dict[Any, Any] = {list: list, MutableSequence: list, tuple: tuple, Sequence: tuple,
                           set: set, MutableSet: set, frozenset: frozenset, Set: frozenset}
"""An array type's origin -> what it is built as."""


def _array_type(t: Any) -> bool:
    """``list[X]``, ``tuple[X, ...]``, ``Sequence[X]``, ``set[X]``, ``frozenset[X]``: a TOML array
    of one kind of item (a fixed-length ``tuple[X, Y]`` is left to cattrs)."""
    import typing

    args = typing.get_args(t)
    if typing.get_origin(t) is tuple:
        return len(args) == 2 and args[1] is Ellipsis
    return typing.get_origin(t) in _ARRAYS and len(args) == 1


def _array_hook(c: cattrs.Converter, t: Any) -> Any:
    """The structuring of an array type: an array only (cattrs reads a string as its letters
    and a table as its keys, so ``hosts = "a.example.com"`` became ``('a', '.', ...)``), each
    item through its own hook, a wrong one named by its index."""
    import typing

    from cattrs.errors import IterableValidationError, IterableValidationNote

    item = typing.get_args(t)[0]
    build = _ARRAYS[typing.get_origin(t)]

    def structure(value: Any, _t: Any) -> Any:
        # a tuple or set: what unstructuring a chart type's options gives back (plugins --check)
        if not isinstance(value, list | tuple | set | frozenset):
            expected = "an array of strings" if item is str and isinstance(value, str) else "an array"
            raise _Problem(f"expected {expected}, got {type_name(value)}")
        hook = c.get_structure_hook(item)
        out, errors = [], []
        for i, v in enumerate(value):
            try:
                out.append(hook(v, item))
            except Exception as exc:
                exc.__notes__ = [*getattr(exc, "__notes__", []),
                                 IterableValidationNote(f"Structuring {t} @ index {i}", i, item)]
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring {t!r}", errors, t)
        return build(out)

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
    c.register_structure_hook(LabelValue, _structure_label)
    c.register_structure_hook(Command, _structure_command)
    c.register_structure_hook(RepositoryURL, _structure_url)
    c.register_structure_hook(ChartRef, _structure_chart_ref)
    for kind in CHOICES:
        c.register_structure_hook(kind, _choice(kind))

    def table(value: Any, _t: Any) -> dict[str, Any]:
        _expect(value, (dict,), "a table")
        problem = _unrepresentable(value)
        if problem:
            raise _Problem(*problem)
        return value

    c.register_structure_hook(Table, table)

    c.register_structure_hook_factory(_array_type, lambda t: _array_hook(c, t))

    labels_default = c.get_structure_hook(dict[str, LabelValue])

    def labels(value: Any, t: Any) -> dict[str, str]:
        _expect(value, (dict,), "a table of label = value")
        return labels_default(value, t)

    c.register_structure_hook_func(lambda t: t == dict[str, LabelValue], labels)

    return c


def structure(data: Any, cls: type, path: str) -> tuple[Any, list[str]]:
    """``data`` structured into ``cls`` with the converter: (object or None, problems)."""
    try:
        return converter().structure(data, cls), []
    except Exception as exc:
        problems: list[str] = []
        _collect(exc, path, cls, problems)
        # cattrs wraps the options class's refusal in one ClassValidationError
        subs = exc.exceptions if isinstance(exc, BaseExceptionGroup) else ()
        first = _refused_option(exc) or next((o for e in subs if (o := _refused_option(e))), None)
        if first and attrs.has(cls) and isinstance(data, dict):
            problems += _other_option_problems(cls, data, path, first)
        if isinstance(data, dict) and problems:
            # a validator's message may quote the value it refused: one under a secret-looking
            # key (an option ``admin_password``) is hidden, as everywhere else
            from firestream_core.plugin.options import names_something
            from firestream_core.tools.redact import Redactor

            names = {f.name for f in attrs.fields(cls) if names_something(f)} if attrs.has(cls) else set()
            hide = Redactor()
            hide.add_values({k: v for k, v in data.items() if k not in names})
            problems = [hide.redact(p) for p in problems]
        return None, problems


def _refused_option(exc: BaseException) -> str | None:
    """The option a validator refused: a :class:`~firestream_core.plugin.options.OptionValueError`'s
    ``option``, or the attribute attrs' own validators (``attrs.validators.in_``, ``matches_re``)
    pass as their exception's second argument."""
    option = getattr(exc, "option", None)
    if isinstance(option, str):
        return option
    refused = _attrs_validator_refusal(exc)
    return refused[0] if refused is not None else None


def _attrs_validator_refusal(exc: BaseException) -> tuple[str, str] | None:
    """``(option, message)`` of an error raised by one of attrs' own validators, whose arguments are
    ``(message, attribute, expected, value)``: its ``str()`` is that tuple, the attribute's whole
    repr included. None for any other error."""
    args: tuple[Any, ...] = getattr(exc, "args", ())
    if len(args) > 1 and isinstance(args[0], str) and isinstance(args[1], attrs.Attribute):
        return args[1].name, args[0]
    return None


def _other_option_problems(cls: type, data: dict[str, Any], path: str, first: str) -> list[str]:
    """The options class's validators stop at the first value they refuse: run the others'
    on their own values so every bad option is named at once (the types are already right)."""
    out: list[str] = []
    for field in attrs.fields(cls):
        if field.name == first or field.name not in data or field.validator is None:
            continue
        try:
            value = converter().structure(data[field.name], field.type)
            field.validator(None, field, value)
        except Exception as exc:  # noqa: BLE001 - each refused value becomes one problem line
            refused = _attrs_validator_refusal(exc)
            if refused is not None:
                out.append(f"{join_path(path, refused[0])}: {refused[1].splitlines()[0]}")
            elif option := getattr(exc, "option", None):
                out.append(f"{join_path(path, option)}: {str(exc).splitlines()[0]}")
    return out


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
                _collect(sub, join_path(path, note.index), _element_type(exc), out)
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
        out.append(f"{path}.{exc.under}: {exc}" if exc.under else f"{path}: {exc}")
    elif isinstance(exc, (ValueError, TypeError)) and (refused := _attrs_validator_refusal(exc)):
        # one of attrs' own validators (attrs.validators.in_, matches_re): its message, at its option
        out.append(f"{join_path(path, refused[0])}: {refused[1].splitlines()[0]}")
    elif isinstance(exc, (ValueError, TypeError)) and (option := getattr(exc, "option", None)):
        # a chart-type option's validator (plugin/options.py): names the option, bound and value
        out.append(f"{join_path(path, option)}: {str(exc).splitlines()[0]}")
    elif isinstance(exc, (ValueError, TypeError)) and _attrs_class(cls) is not None and str(exc):
        # an attrs validator of an options class refused a value: its own message
        out.append(f"{path}: {str(exc).splitlines()[0]} (in {_describe(_attrs_class(cls))})")
    else:
        # cattrs' own messages may quote the value; do not repeat it. A value of the wrong
        # shape (a string where a table belongs: cattrs asked it for its keys) is named by
        # what was expected, in the file's words, never by a Python class
        out.append(f"{path}: expected {_expected(cls)}" if _expected(cls) else f"{path}: invalid value")


def _element_type(exc: Any) -> Any:
    """The element type of the array cattrs was structuring (``tuple[SetValueConfig, ...]``)."""
    import typing

    args = [a for a in typing.get_args(getattr(exc, "cl", None)) if a is not Ellipsis]
    return args[0] if len(args) == 1 else None


def _expected(t: Any) -> str | None:
    """What a value of type ``t`` is in TOML's words (``a table (key, value)``, ``an array``),
    or None when that cannot be said."""
    import typing
    from collections.abc import Mapping

    cl = _attrs_class(t)
    if cl is not None:
        return f"a table ({', '.join(a.name for a in attrs.fields(cl) if not a.name.startswith('_'))})"
    origin = typing.get_origin(t)
    if origin in (list, tuple, Sequence):
        return "an array"
    if origin in (dict, Mapping):
        return "a table"
    return {str: "a string", bool: "a boolean (true or false)", int: "an integer", float: "a number"}.get(t)


def _field_type(exc: Any, name: str) -> Any:
    cl = getattr(exc, "cl", None)
    if cl is not None and attrs.has(cl):
        for a in attrs.fields(cl):
            if a.name == name:
                return a.type
    return None


def _attrs_class(t: Any) -> Any:
    """``t`` when it is an attrs class, the attrs class of an ``X | None``, else None."""
    import typing

    if t is not None and attrs.has(t):
        return t
    found = [a for a in typing.get_args(t) if a is not type(None) and attrs.has(a)]
    return found[0] if len(found) == 1 else None


def _describe(t: Any) -> str:
    return getattr(t, "__name__", None) or str(t)
