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

This module reads the file; the rest of the package holds ``model`` (the
frozen models), ``converter`` (the one cattrs converter and its dotted-path
errors), ``paths`` (how places and problems are worded), ``parse`` (parsed
TOML -> ``ProjectConfig``, chart-type resolution), ``secrets``
(``secret_values``) and ``build`` (``build_charts``).
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firestream_core.config.model import DEFAULT_CONFIG_NAME, ProjectConfig
from firestream_core.config.parse import parse_config
from firestream_core.errors import ConfigError

if TYPE_CHECKING:
    from firestream_core.plugin.manager import FirestreamPluginManager


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed TOML; a syntax error names the file, line and column."""
    return parse_toml(read_config_text(path), path)


def read_config_text(path: Path) -> str:
    """The project file's text (bounded, UTF-8); a problem reading it is one ``ConfigError``."""
    from firestream_core.tools.readfile import UnreadableFile, read_bounded

    try:
        data = read_bounded(path, MAX_CONFIG_BYTES)
    except UnreadableFile as exc:
        if exc.missing:
            raise ConfigError(
                f"configuration file not found: {path}",
                hint=f"create {DEFAULT_CONFIG_NAME} or pass -f PATH",
            ) from None
        if exc.folder:
            raise ConfigError(f"configuration path is a folder, not a file: {path}") from None
        raise ConfigError(f"configuration file {path} {exc.reason}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def parse_toml(text: str, path: Path) -> dict[str, Any]:
    """``text`` (the file at ``path``) parsed; a syntax error names the file, line and column."""
    try:
        parsed = tomllib.loads(text)
    except RecursionError:
        raise ConfigError(f"{path}: invalid TOML: arrays or tables nested too deeply") from None
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
    deep = _too_deep(parsed)
    if deep is not None:
        raise ConfigError(f"{path}: {deep}: nested more than {MAX_DEPTH} levels deep")
    return parsed


MAX_CONFIG_BYTES = 16 * 1024 * 1024
"""The largest ``firestream.toml`` read (16 MiB): a larger file, or anything but a regular
file (``/dev/zero``, a FIFO), is refused before more than that is read."""
MAX_DEPTH = 64
"""The deepest nesting of tables and arrays accepted (values are turned into YAML for helm)."""


def _too_deep(data: dict[str, Any]) -> str | None:
    """The dotted path of the first value nested deeper than ``MAX_DEPTH``, or None (no recursion)."""
    from firestream_core.config.paths import join_path

    # each entry: a value, its table's or array's path and its key there (worded only for a
    # table or array, or the value found too deep: most values are neither)
    stack: list[tuple[Any, str, Any, int]] = [(data, "", None, 0)]
    while stack:
        node, parent, key, depth = stack.pop()
        if depth > MAX_DEPTH:
            return join_path(parent, key)
        if isinstance(node, dict | list):
            where = parent if key is None else join_path(parent, key)
            items = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend((v, where, k, depth + 1) for k, v in items)
    return None


def load_config(
    path: str | os.PathLike[str] = DEFAULT_CONFIG_NAME,
    manager: FirestreamPluginManager | None = None,
    environment: str | None = None,
) -> ProjectConfig:
    """Read and check ``firestream.toml``.

    :param path: the file, or a folder holding ``firestream.toml``.
    :param manager: when given, each ``deployments`` key is also checked
        against the installed chart types and each release's remaining keys
        against its chart type's options, so that every problem is reported
        in one go (without it, ``build_charts`` does those checks).
    :raises ConfigError: the file is missing, not TOML, or invalid; every
        problem is listed in ``.problems`` as ``dotted.path: message``.
    :param environment: read it for ``[environments.<environment>]`` (``-e NAME``).
    """
    p = Path(path)
    if p.is_dir():  # a folder names the project file in it
        p = p / DEFAULT_CONFIG_NAME
    return parse_config(read_toml(p), p, manager, environment)


__all__ = ["load_config", "parse_toml", "read_config_text", "read_toml"]
