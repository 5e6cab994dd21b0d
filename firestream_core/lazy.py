"""Names a module re-exports, imported on first use (PEP 562).

``firestream_core`` (the users' surface), ``firestream_core.plugin`` (the chart
authors') and ``firestream_core.project`` (the run's names) each name where their
re-exported names are defined, and their ``__getattr__`` is :func:`lazy_attribute`:
``import firestream_core`` costs none of those modules until a name is asked for.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the package root imports this)
if TYPE_CHECKING:
    from typing import Any


def lazy_attribute(namespace: dict[str, Any], where: dict[str, str], name: str) -> Any:
    """The body of a module's ``__getattr__``: ``name`` from the module
    ``firestream_core.<where[name]>``, kept in ``namespace`` (the module's globals) so
    that the next lookup finds it there.

    >>> space = {"__name__": "example"}
    >>> lazy_attribute(space, {"ConfigError": "errors"}, "ConfigError").__name__, "ConfigError" in space
    ('ConfigError', True)
    >>> lazy_attribute(space, {}, "nope")
    Traceback (most recent call last):
    AttributeError: module 'example' has no attribute 'nope'
    """
    module = where.get(name)
    if module is None:
        raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"firestream_core.{module}"), name)
    namespace[name] = value
    return value
