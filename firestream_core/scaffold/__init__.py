"""``firestream new chart NAME``: a ready-to-publish chart plugin package.

:func:`new_chart_plugin` writes ``firestream-chart-NAME/`` from the templates
in ``templates/chart/``:

* ``pyproject.toml`` - setuptools (>= 77), ``firestream-core`` dependency,
  the ``firestream.charts`` entry point, keywords, the SPDX license
  ``Apache-2.0`` with ``LICENSE``, only classifiers PyPI knows, and a
  ``test`` extra (``firestream-testing``, pytest, build, twine,
  trove-classifiers);
* ``firestream_chart_NAME/`` - ``chart.py`` (a ``HelmChart`` subclass with
  ``default()`` and a ``development()`` preset, an options class, the
  ``ChartType``) and ``__init__.py`` (``register_chart_types``, one
  overridden stage, ``validate``, and the other hooks in comments);
* ``tests/test_plugin.py`` (discovered, listed by ``firestream plugins
  --json``, sound under ``--check``), ``tests/test_deploy.py`` (the real
  helm 3 and 4 against the test kit's emulated cluster, through the config
  and through the lifecycle alone, each under both majors),
  ``tests/test_package.py`` (wheel and sdist built, ``twine check --strict``)
  and ``tests/conftest.py`` (the stand-in chart served as the kit's
  ``deploy_chart_repo``);
* ``charts/NAME/`` - the tiny chart the deploy test serves;
* ``README.md``, ``.gitignore``, ``.github/workflows/test.yml`` and
  ``publish.yml`` (PyPI trusted publishing).

Templates are plain files with ``__UPPER__`` placeholders (no template
engine: helm's ``{{ }}`` and GitHub's ``${{ }}`` pass through untouched) and
a ``.tmpl`` suffix, so neither pytest, ruff nor setuptools treat them as
code. ``_github`` and ``_gitignore`` stand for ``.github`` and ``.gitignore``,
because setuptools' package-data globs skip dot files.

The package is rendered into a temporary folder next to the target and
renamed into place: either the whole package appears or nothing does.
"""

from __future__ import annotations

import keyword
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from firestream_core.errors import FirestreamError

__all__ = [
    "DIST_PREFIX",
    "NAME_MAX",
    "ChartNames",
    "ScaffoldError",
    "chart_names",
    "new_chart_plugin",
    "render_chart_plugin",
]

DIST_PREFIX = "firestream-chart-"
"""Every generated distribution is ``firestream-chart-<NAME>``."""

NAME_MAX = 53
"""A chart type's name is also its default release name, which helm caps at 53."""

_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_PLACEHOLDER = re.compile(r"__[A-Z][A-Z_]*[A-Z]__")
_SUFFIX = ".tmpl"
_DOT_NAMES = {"_github": ".github", "_gitignore": ".gitignore"}
"""Template names standing for dot names (setuptools' package-data globs skip dot files)."""
_RESERVED = {"generic": "it is firestream's built-in chart type"}


class ScaffoldError(FirestreamError):
    """The chart plugin cannot be generated (bad name, target exists, ...)."""


@dataclass(frozen=True)
class ChartNames:
    """Every spelling of a chart plugin's name the templates need.

    :ivar name: the chart type, entry-point and chart name (``my-app``).
    :ivar dist: the distribution name (``firestream-chart-my-app``).
    :ivar package: the import name (``firestream_chart_my_app``).
    :ivar class_prefix: the class-name prefix (``MyApp`` -> ``MyAppChart``).
    :ivar snake: ``my_app``, for identifiers such as validation names.
    """

    name: str
    dist: str
    package: str
    class_prefix: str
    snake: str

    def placeholders(self) -> dict[str, str]:
        """Placeholder -> value (versions of the running core included)."""
        from firestream_core.plugin.markers import PLUGIN_API_VERSION
        from firestream_core.version import __version__

        return {
            "__NAME__": self.name,
            "__DIST__": self.dist,
            "__PACKAGE__": self.package,
            "__CLASS__": self.class_prefix,
            "__SNAKE__": self.snake,
            "__CORE_VERSION__": __version__,
            "__API__": str(PLUGIN_API_VERSION),
        }


def chart_names(name: str) -> ChartNames:
    """Check ``name`` and derive the package's names from it.

    A name is a DNS-1123 label starting with a letter (it names a chart
    type, a helm chart, a default release and, with ``-`` as ``_``, a Python
    package): lower-case letters, digits and ``-``, at most ``NAME_MAX``.

    :raises ScaffoldError: with the rule that is broken and a suggestion.
    """
    given = name
    if name.startswith(DIST_PREFIX) and len(name) > len(DIST_PREFIX):
        rest = name[len(DIST_PREFIX):]
        raise ScaffoldError(
            f"give the chart type's name, not the distribution's: '{given}'",
            hint=f"firestream new chart {rest}  (creates {DIST_PREFIX}{rest}/)",
        )
    if not name:
        raise ScaffoldError("the chart name must not be empty")
    if len(name) > NAME_MAX:
        raise ScaffoldError(
            f"chart name '{given}' is {len(name)} characters long, at most {NAME_MAX} allowed "
            "(it is also the default release name)"
        )
    if not _NAME.match(name):
        suggestion = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
        suggestion = re.sub(r"^[^a-z]+", "", suggestion)
        raise ScaffoldError(
            f"chart name '{given}' is invalid: use lower-case letters, digits and '-', "
            "starting with a letter and ending with a letter or digit",
            hint=f"firestream new chart {suggestion}" if suggestion else None,
        )
    if name in _RESERVED:
        raise ScaffoldError(f"chart name '{name}' cannot be used: {_RESERVED[name]}")
    snake = name.replace("-", "_")
    prefix = "".join(part[:1].upper() + part[1:] for part in name.split("-") if part)
    package = f"firestream_chart_{snake}"
    assert package.isidentifier() and prefix.isidentifier() and not keyword.iskeyword(prefix)
    return ChartNames(name, f"{DIST_PREFIX}{name}", package, prefix, snake)


def _template_root() -> Traversable:
    return resources.files(__package__) / "templates" / "chart"


def _walk(folder: Traversable, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Traversable]]:
    out: list[tuple[tuple[str, ...], Traversable]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name == "__pycache__":
            continue
        if entry.is_dir():
            out.extend(_walk(entry, (*prefix, entry.name)))
        elif entry.name.endswith(_SUFFIX):
            out.append(((*prefix, entry.name), entry))
    return out


def _substitute(text: str, values: Mapping[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def _target_part(part: str, values: Mapping[str, str]) -> str:
    part = _substitute(part, values)
    if part.endswith(_SUFFIX):
        part = part[: -len(_SUFFIX)]
    return _DOT_NAMES.get(part, part)


def render_chart_plugin(name: str) -> dict[str, str]:
    """The generated package as relative POSIX path -> file text (nothing written).

    :raises ScaffoldError: the name is invalid.
    """
    values = chart_names(name).placeholders()
    files: dict[str, str] = {}
    for parts, entry in _walk(_template_root()):
        path = "/".join(_target_part(p, values) for p in parts)
        text = _substitute(entry.read_text(encoding="utf-8"), values)
        leftover = _PLACEHOLDER.search(path) or _PLACEHOLDER.search(text)
        if leftover:  # a misspelt placeholder would otherwise ship as is
            raise ScaffoldError(
                f"template {'/'.join(parts)} holds an unknown placeholder {leftover.group(0)}"
            )
        files[path] = text
    return files


def new_chart_plugin(name: str, directory: str | os.PathLike[str] = ".") -> Path:
    """Write ``<directory>/firestream-chart-<name>/`` and return its path.

    :param name: the chart type's name (see :func:`chart_names`).
    :param directory: an existing folder to create the package in.
    :raises ScaffoldError: invalid name, missing ``directory`` or an existing
        target; nothing is written then, and nothing is left behind when
        writing fails half-way.
    """
    names = chart_names(name)
    parent = Path(directory)
    if parent.exists() and not parent.is_dir():
        raise ScaffoldError(f"'{parent}' is not a directory", hint="pass --dir a folder to create the package in")
    if not parent.is_dir():
        raise ScaffoldError(f"directory '{parent}' does not exist", hint="create it first, or pass --dir")
    target = parent / names.dist
    if target.exists() or target.is_symlink():
        raise ScaffoldError(
            f"'{target}' already exists; nothing was written",
            hint="choose another --dir, or move the existing folder away",
        )
    files = render_chart_plugin(name)
    staging = Path(tempfile.mkdtemp(prefix=f".{names.dist}.", suffix=".tmp", dir=parent))
    try:
        built = staging / names.dist
        for rel, text in files.items():
            path = built.joinpath(*rel.split("/"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        if target.exists() or target.is_symlink():  # created while we were writing
            raise ScaffoldError(f"'{target}' already exists; nothing was written")
        os.rename(built, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
