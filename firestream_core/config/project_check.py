"""The whole project checked in three passes that all run and report together.

1. **structure**: the TOML, every table and key, types, bounds, names, URLs,
   chart types and their options (``parse.parse_config_collect``);
2. **values and files**: every values file and ``yaml_files_content`` read
   and checked to be a YAML mapping, local charts checked to be charts
   (``files.file_problems``);
3. **build and graph**: presets, ``secret_values`` (a missing variable is one
   more problem), each release's chart info, duplicate names, repositories
   with no known URL, ``depends_on``, a release to destroy that one to deploy
   depends on (``build.collect_charts``).

``check_project`` is what ``validate`` and every command that loads a project
run before their first cluster call; ``load_project_checked`` raises one
``ConfigError`` with every problem. ``Problem`` is one problem as
``validate --json`` prints it: ``{path, message, file, line}``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from firestream_core.config.model import DEFAULT_CONFIG_NAME
from firestream_core.config.paths import problems_hint
from firestream_core.errors import ConfigError
from firestream_core.model import chart_repository

if TYPE_CHECKING:
    from firestream_core.config.build import BuiltCharts
    from firestream_core.config.model import ProjectConfig
    from firestream_core.plugin.manager import FirestreamPluginManager


@attrs.frozen
class Problem:
    """One problem: its dotted ``path`` in the file ('' when it has none), the message,
    the file and the line the path is written on (None when not found)."""

    path: str
    message: str
    file: str
    line: int | None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.define
class CheckedProject:
    """What ``check_project`` found: the config and charts as far as they are valid,
    and every problem (``path: message`` lines) with the hints to print."""

    path: Path
    config: ProjectConfig | None
    charts: BuiltCharts | None
    problems: list[str]
    hints: list[str]
    text: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def error(self) -> ConfigError:
        """Every problem at once; a ``PluginConfigError`` (a ``PluginError`` too) when a release
        could not be built because of its plugin (docs/library.md, "Errors")."""
        from firestream_core.errors import PluginConfigError

        cls = PluginConfigError if getattr(self.charts, "plugin_failed", False) else ConfigError
        return cls(f"{self.path} is invalid:", self.problems, hint=problems_hint(self.problems, self.hints))

    def as_problems(self) -> list[Problem]:
        """Every problem split into path and message, with the line it is written on."""
        out = []
        for p in self.problems:
            path, message = split_problem(p)
            out.append(Problem(path, message, str(self.path), line_of(self.text, path) if path else None))
        return out


def check_project(
    path: str | os.PathLike[str],
    manager: FirestreamPluginManager,
    *,
    resolve_secrets: bool = True,
    environment: str | None = None,
) -> CheckedProject:
    """The three passes over the project file ``path``; never raises for a bad project.

    :raises ConfigError: only when the file cannot be read or is not TOML (there
        is nothing further to check then).
    """
    from firestream_core.config.build import collect_charts
    from firestream_core.config.files import file_problems
    from firestream_core.config.load import parse_toml, read_config_text
    from firestream_core.config.parse import parse_config_collect

    p = Path(path)
    if p.is_dir():  # a folder names the project file in it
        p = p / DEFAULT_CONFIG_NAME
    text = read_config_text(p)  # read once: parsed here, and kept for the problems' line numbers
    data = parse_toml(text, p)
    config, problems, hints = parse_config_collect(data, p, manager, environment)
    later = file_problems(config)
    charts, build_problems, build_hints = collect_charts(
        config, manager, resolve_secrets=resolve_secrets, graph_always=True
    )
    if config.overlaid or config.moved or config.added:  # an environment's release: named where it is written
        from firestream_core.config.environments import written_at

        later = list(dict.fromkeys(written_at(x, config) for x in later))
        build_problems = list(dict.fromkeys(written_at(x, config) for x in build_problems))
    problems += later
    seen_fields = {_field_of(x) for x in problems}
    for bp in build_problems:
        # a release's chart info repeats a field already reported where it is written
        key = _field_of(bp)
        if key in seen_fields or ("defaults." + key.split(".", 1)[-1].split(".")[-1]) in seen_fields:
            continue
        problems.append(bp)
    problems += _repository_problems(config, charts, manager)
    hints += build_hints
    return CheckedProject(p, config, charts, list(dict.fromkeys(problems)), hints, text)


def load_project_checked(
    path: str | os.PathLike[str],
    manager: FirestreamPluginManager,
    *,
    resolve_secrets: bool = True,
    environment: str | None = None,
) -> tuple[ProjectConfig, BuiltCharts]:
    """The config and its charts, or one ``ConfigError`` listing every problem of the three passes."""
    checked = check_project(path, manager, resolve_secrets=resolve_secrets, environment=environment)
    if checked.problems or checked.config is None or checked.charts is None:
        raise checked.error()
    return checked.config, checked.charts


def _field_of(problem: str) -> str:
    return split_problem(problem)[0]


def _repository_problems(
    config: ProjectConfig, charts: BuiltCharts, manager: FirestreamPluginManager
) -> list[str]:
    """A chart's repository (``repository = "x"``, or the ``x/`` of ``chart = "x/name"``) with no
    URL in ``[repositories]`` nor in the chart type's defaults: firestream adds its repositories
    to a configuration of its own (``tools/helm_repos.py``), never reading the user's, so a
    repository without a URL could never be found."""
    known = dict(config.repositories)
    for chart in charts:
        try:
            ct = manager.chart_type(chart.chart_type).chart_type
        except Exception:  # noqa: BLE001 - reported by the build pass
            continue
        known.update(ct.repositories)
    out = []
    for chart, where in zip(charts, charts.paths, strict=False):
        info = chart.chart_info
        repo, explicit = chart_repository(info)
        if repo is None:
            continue
        if info.repository and info.repository not in known:
            out.append(
                f"{where}.repository: repository '{info.repository}' has no known URL; add it to "
                f"[repositories] ({info.repository} = \"https://...\")"
            )
        if not explicit and repo not in known:
            out.append(
                f"{where}.chart: the repository '{repo}' of chart '{info.chart}' has no known URL; "
                f"add it to [repositories] ({repo} = \"https://...\")"
            )
    return out


# patterns compiled on first use (re caches them): only a project with problems needs them
_PATH_HEAD = r'^((?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*")(?:\.(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*")|\[\d+\])*): '


def split_problem(problem: str) -> tuple[str, str]:
    """``'a.b[0].c: message'`` -> ``('a.b[0].c', 'message')``; ``('', problem)`` without a path."""
    m = re.match(_PATH_HEAD, problem)
    if not m:
        return "", problem
    return m.group(1), problem[m.end():]


_SEGMENT = r'([A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*")(?:\[(\d+)\])?'


def line_of(text: str, path: str) -> int | None:
    """The line (1-based) where the dotted ``path`` is written in the TOML ``text``, best effort.

    Follows table headers (``[a.b]``, ``[[a.b]]`` counted for ``[i]``) and
    ``key =`` lines; the deepest part found wins (the table's header when the
    key itself is not on a line of its own).
    """
    parts = [(m.group(1).strip('"'), int(m.group(2)) if m.group(2) else None) for m in re.finditer(_SEGMENT, path)]
    if not parts:
        return None
    lines = text.splitlines()
    best: int | None = None
    # the longest prefix that is a table header
    for n in range(len(parts), 0, -1):
        head = ".".join(k for k, _ in parts[:n])
        idx = parts[n - 1][1]
        found = _header_line(lines, head, idx)
        if found is not None:
            best = found
            rest = parts[n:]
            if rest:
                key_line = _key_line(lines, found, rest[0][0])
                if key_line is not None:
                    best = key_line
            return best + 1
    # a top-level key (or dotted keys) outside any table
    key_line = _key_line(lines, -1, parts[0][0])
    return key_line + 1 if key_line is not None else None


def _header_line(lines: list[str], head: str, index: int | None) -> int | None:
    single = re.compile(r"^\s*\[\s*" + _dotted(head) + r"\s*\]\s*(#.*)?$")
    array = re.compile(r"^\s*\[\[\s*" + _dotted(head) + r"\s*\]\]\s*(#.*)?$")
    count = -1
    for i, line in enumerate(lines):
        if index is None and single.match(line):
            return i
        if array.match(line):
            count += 1
            if index is None or count == index:
                return i
    return None


def _dotted(head: str) -> str:
    return r"\s*\.\s*".join(r'"?' + re.escape(k) + r'"?' for k in head.split("."))


def _key_line(lines: list[str], header: int, key: str) -> int | None:
    pat = re.compile(r'^\s*"?' + re.escape(key) + r'"?\s*(=|\.)')
    for i in range(header + 1, len(lines)):
        if i > header and lines[i].lstrip().startswith("[") and header >= 0:
            break
        if header < 0 and lines[i].lstrip().startswith("["):
            break
        if pat.match(lines[i]):
            return i
    return None
