"""``firestream.toml`` -> ``ProjectConfig`` -> one ``HelmChart`` per release.

``load_config(path)`` reads the file with ``tomllib`` and structures it with
ONE cattrs converter (``forbid_extra_keys=True``) into frozen attrs models.
Every problem is collected and reported at once as ``dotted.path: message``
(``deployments.postgresql[0].timeout: invalid duration 'soon': expected e.g.
'300s', '5m' or '1h'``) in a single ``ConfigError``. A TOML syntax error names
the file, line and column.

``build_charts(config, manager)`` turns each release into a ``HelmChart``:
the chart type's preset (or its defaults), then ``[defaults]``, then the
release's own keys; config ``values`` and resolved ``secret_values`` become
generated values files; ``depends_on`` is checked through ``graph``. The
returned list carries ``.secrets`` (every resolved secret value) for the
redactor.

Messages never contain a value from ``values``, ``set`` or ``secret_values``.

This module reads the file and holds the entry points; the rest lives in
``config_model`` (the frozen models), ``converter`` (the one cattrs converter
and its dotted-path errors), ``config_paths`` (how places and problems are
worded), ``config_parse`` (parsed TOML -> ``ProjectConfig``, chart-type
resolution), ``secret_values`` and ``charts_from_config`` (``build_charts``).
Every public name stays importable from here.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Every public name of the config stays importable from here (``__all__`` lists the main ones).
from .charts_from_config import BuiltCharts, build_charts
from .config_model import (  # noqa: F401
    DEFAULT_CONFIG_NAME,
    DEFAULTS_KEYS,
    RELEASE_KEYS,
    TOP_LEVEL_KEYS,
    Action,
    Backend,
    BreakingVersionConfig,
    ChartVersion,
    Command,
    Duration,
    GeneratedValuesConfig,
    NonNegativeInt,
    ProjectConfig,
    ProjectSection,
    ReleaseConfig,
    ReleaseKeys,
    RepositoryURL,
    SecretRef,
    SetScalar,
    Settings,
    SetValueConfig,
    StateConfig,
    StrictVersion,
    Table,
    ValidationFailureMode,
)
from .config_parse import option_fields, parse_config, resolve_chart_type  # noqa: F401
from .converter import converter, structure
from .errors import ConfigError, FirestreamError, GraphError, PluginError  # noqa: F401

if TYPE_CHECKING:
    from .plugins import FirestreamPluginManager


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed TOML; a syntax error names the file, line and column."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"configuration file not found: {path}",
            hint=f"create {DEFAULT_CONFIG_NAME} or pass -f PATH",
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"configuration path is a folder, not a file: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        reason = re.sub(r"\s*\(at (?:line \d+, column \d+|end of document)\)", "", msg)
        if m:
            line, col = m.groups()
            raise ConfigError(
                f"{path}:{line}:{col}: invalid TOML at line {line}, column {col}: {reason}"
            ) from None
        raise ConfigError(f"{path}: invalid TOML at the end of the file: {reason}") from None


def load_config(
    path: str | os.PathLike[str] = DEFAULT_CONFIG_NAME,
    manager: FirestreamPluginManager | None = None,
) -> ProjectConfig:
    """Read and check ``firestream.toml``.

    :param path: the file.
    :param manager: when given, each ``deployments`` key is also checked
        against the installed chart types and each release's remaining keys
        against its chart type's options, so that every problem is reported
        in one go (without it, ``build_charts`` does those checks).
    :raises ConfigError: the file is missing, not TOML, or invalid; every
        problem is listed in ``.problems`` as ``dotted.path: message``.
    """
    p = Path(path)
    return parse_config(read_toml(p), p, manager)


def load_project(
    path: str | os.PathLike[str] = DEFAULT_CONFIG_NAME,
    manager: FirestreamPluginManager | None = None,
) -> tuple[ProjectConfig, BuiltCharts]:
    """``load_config`` + ``build_charts`` (building a plugin manager when none is given)."""
    if manager is None:
        from .plugins import get_plugin_manager

        manager = get_plugin_manager()
    config = load_config(path)
    return config, build_charts(config, manager)


__all__ = [
    "DEFAULT_CONFIG_NAME",
    "RELEASE_KEYS",
    "BuiltCharts",
    "ConfigError",
    "GraphError",
    "ProjectConfig",
    "ReleaseConfig",
    "ReleaseKeys",
    "Settings",
    "StateConfig",
    "build_charts",
    "converter",
    "load_config",
    "load_project",
    "parse_config",
    "structure",
]
