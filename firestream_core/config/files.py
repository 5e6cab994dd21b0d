"""The values-and-files pass: every file the config names is read and checked.

``file_problems(config)`` looks at ``[defaults]`` and every release:

* each ``values_files`` entry, resolved relative to the project folder, is a
  readable regular file (not a folder, not a device such as ``/dev/zero``),
  at most ``MAX_FILE_BYTES``, UTF-8 text, YAML whose document is a mapping
  (an empty file is an empty mapping);
* each ``yaml_files_content[].yaml_content`` is YAML whose document is a mapping;
* a local chart (``path``, or a ``chart`` that starts with ``./``, ``../``
  or ``/``) is a chart folder (holding ``Chart.yaml``) or a chart archive
  (``.tgz``, a gzip tar, read as helm reads it); the chart's ``Chart.yaml`` passes
  helm's checks, and it holds in ``charts/`` each of the ``dependencies`` it lists, as
  helm requires before it installs or renders it (:func:`missing_dependencies`).

Messages name the entry's dotted path, the path as written and as resolved;
they never hold a file's content.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firestream_core.config.paths import first_leaf, join_path, not_finite
from firestream_core.model import is_local_chart
from firestream_core.tools.readfile import VALUES_FILE_LIMIT

if TYPE_CHECKING:
    from firestream_core.config.model import ProjectConfig, ReleaseKeys

MAX_FILE_BYTES = VALUES_FILE_LIMIT
"""The largest values file read (8 MiB; ``tools.readfile.VALUES_FILE_LIMIT``)."""


def file_problems(config: ProjectConfig) -> list[str]:
    """Every problem with the files ``[defaults]`` and the releases name, in file order.

    A chart folder or values file that several releases name is checked once
    per pass, and its problem is reported at each of them.
    """
    chart = functools.cache(functools.partial(chart_path_problem, config.project_dir))
    values = functools.cache(functools.partial(values_file_problem, config.project_dir))
    out = _table_problems(config.defaults, "defaults", chart, values)
    for rc in config.releases:
        out += _table_problems(rc, rc.where, chart, values)
    return out


def _table_problems(
    keys: ReleaseKeys, where: str, chart: Callable[[str], str | None], values: Callable[[str], str | None]
) -> list[str]:
    out: list[str] = []
    if keys.path is not None and keys.path.strip():
        out += _at(join_path(where, "path"), chart(keys.path))
    elif keys.chart is not None and is_local_chart(keys.chart):
        out += _at(join_path(where, "chart"), chart(keys.chart))
    for i, f in enumerate(keys.values_files or ()):
        if f.strip():
            out += _at(join_path(join_path(where, "values_files"), i), values(f))
    for i, g in enumerate(keys.yaml_files_content or ()):
        problem = yaml_mapping_problem(g.yaml_content)
        if problem:
            out.append(f"{join_path(join_path(where, 'yaml_files_content'), i)}.yaml_content: {problem}")
    return out


def _at(where: str, problem: str | None) -> list[str]:
    return [f"{where}: {problem}"] if problem else []


def _resolve(project_dir: Path, given: str) -> Path:
    return (project_dir / os.path.expanduser(given)).absolute()


def values_file_problem(project_dir: Path, given: str) -> str | None:
    """What is wrong with one ``values_files`` entry, a readable YAML mapping (naming both
    paths), or None."""
    path = _resolve(project_dir, given)
    _, problem = read_values_file(path)
    if problem is None:
        return None
    if problem == "not found":
        return f"values file '{given}' ({path}) not found (paths are relative to {project_dir})"
    return f"values file '{given}' ({path}) {problem}"


def read_values_file(path: Path) -> tuple[str, None] | tuple[None, str]:
    """``(text, None)`` when the file at ``path`` is a values file helm can read, else
    ``(None, problem)``, the problem worded to follow the file's name.

    The checks of a ``values_files`` entry, made on a ``--values FILE`` too: a regular
    file (a symlink is checked as its target; not a folder, not a device such as
    ``/dev/zero``, not a FIFO), at most ``MAX_FILE_BYTES``, UTF-8, one YAML document
    holding a mapping.
    """
    from firestream_core.tools.readfile import UnreadableFile, read_bounded

    try:
        data = read_bounded(path, MAX_FILE_BYTES)
    except UnreadableFile as exc:
        return None, exc.reason
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"is not UTF-8 text (byte {exc.start})"
    problem = yaml_mapping_problem(text)
    return (None, problem) if problem else (text, None)


def yaml_mapping_problem(text: str) -> str | None:
    """None when ``text`` is YAML holding a mapping (or nothing); else what is wrong."""
    import yaml

    from firestream_core.tools.values import ExcessiveAliasing, load_values_yaml_all

    try:
        docs = load_values_yaml_all(text)
    except ExcessiveAliasing as exc:  # a "billion laughs": refused before it is expanded
        return str(exc)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or type(exc).__name__
        return f"is not valid YAML{where}: {reason}"
    except RecursionError:
        return "is not valid YAML: nested too deeply"
    except Exception as exc:  # noqa: BLE001 - PyYAML raises others on hostile input
        return f"is not valid YAML: {type(exc).__name__}"
    if len(docs) <= 1 and (not docs or docs[0] is None or isinstance(docs[0], dict)):
        # what load_document would parse again (for the secrets, the plan, the helm call)
        from firestream_core.tools.values import remember_document

        try:
            remember_document(text, docs[0] if docs else None)
        except RecursionError:  # an alias inside the node it names: values without end
            return "is not valid YAML: nested too deeply"
    docs = [d for d in docs if d is not None]
    if len(docs) > 1:
        return "holds several YAML documents; helm reads one mapping"
    if docs and not isinstance(docs[0], dict):
        return f"is YAML holding {_kind(docs[0])}, not a mapping of values"
    if docs:
        found = first_leaf(docs[0], not_finite, lambda path, k: f"{path}.{k}" if path else str(k))
        if found is not None:  # helm: "error converting YAML to JSON: json: unsupported value: +Inf"
            at = found[0]
            return f"holds a number that is not finite (.inf or .nan) at '{at}', which helm cannot read: quote it"
    return None


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def chart_path_problem(project_dir: Path, given: str) -> str | None:
    """What is wrong with a local chart, a folder holding ``Chart.yaml`` or a ``.tgz`` chart
    archive (naming both paths), or None."""
    path = _resolve(project_dir, given)
    label = f"chart path '{given}' ({path})"
    if not path.exists():
        return f"{label} not found (paths are relative to {project_dir})"
    if path.is_dir():
        if not (path / "Chart.yaml").is_file():
            return f"{label} is a folder without Chart.yaml, not a chart"
        return _chart_folder_problem(label, path)
    if not path.is_file():
        return f"{label} is not a chart folder or archive"
    return _chart_folder_problem(label, path)


_HELM_VERSION = r"^v?[0-9]+(\.[0-9]+)?(\.[0-9]+)?(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
"""A chart version helm accepts (Masterminds semver's ``NewVersion``: ``1``, ``1.2`` and ``v1.2.3``
included); compiled on first use (``re`` caches it), not when a command imports the module."""


def _chart_folder_problem(label: str, chart: Path) -> str | None:
    from firestream_core.tools.chartfiles import UnreadableArchive

    try:
        missing = missing_dependencies(chart)
    except OSError as exc:
        return f"{label} cannot be read: {exc.strerror}"
    except UnreadableArchive as exc:
        return f"{label} {exc}"
    except ValueError as exc:
        return f"{label}: {exc}"
    if not missing:
        return None
    fetch = (f"fetch them with 'helm dependency build {chart}'" if chart.is_dir()
             else "run 'helm dependency build' on the chart's folder, then package it again")
    return (f"{label}: dependencies the chart lists are not in its charts/ folder: "
            f"{', '.join(missing)}; helm refuses to install or render the chart without them ({fetch})")


def missing_dependencies(folder: Path) -> list[str]:
    """The names of ``folder/Chart.yaml``'s ``dependencies`` that its ``charts/`` folder does not hold.

    ``folder`` may be a chart archive (``.tgz``), read as helm reads one
    (:func:`~firestream_core.tools.chartfiles.archive_files`): the same checks on the
    ``Chart.yaml``, ``requirements.yaml`` and ``charts/`` it holds.

    First ``Chart.yaml`` is checked as helm checks it before it installs, upgrades or
    renders a folder (``Metadata.Validate``), and ``ValueError`` names what it refuses: a
    file that is not YAML or not a mapping, no ``name`` or ``version``, a version that is not
    one (``1``, ``1.2`` and ``v1.2.3`` are), a ``type`` other than ``application`` or
    ``library``, a library chart (not installable), a dependency without a name or two
    with one name or alias.

    Then the check helm makes next (``action.CheckDependencies``): each dependency's
    ``name`` is the name of a chart in ``charts/``, a folder holding a ``Chart.yaml`` or a
    chart archive, whatever the folder or file is called (``alias`` and ``condition`` do
    not matter: a dependency its condition turns off must be there too). An apiVersion v1
    chart lists them in ``requirements.yaml``, which helm 3 and 4 still read (its list
    replaces ``Chart.yaml``'s). A subchart that cannot be read counts as absent.

    :raises ValueError: what helm refuses, named.
    :raises OSError: an archive cannot be read.
    """
    if folder.is_dir():
        meta = _chart_yaml(folder / "Chart.yaml", required=True)
        return _missing(meta, lambda: _chart_yaml(folder / "requirements.yaml", required=False),
                        lambda: _subchart_names(folder / "charts"))
    from firestream_core.tools.chartfiles import archive_files

    files = archive_files(folder, _wanted_member)  # what helm would load of the archive
    if "Chart.yaml" not in files:
        raise ValueError("the archive holds no Chart.yaml (helm: Chart.yaml file is missing)")
    meta = _mapping("Chart.yaml", files["Chart.yaml"], required=True)
    return _missing(meta, lambda: _mapping("requirements.yaml", files.get("requirements.yaml"), required=False),
                    lambda: _archive_subchart_names(files))


def _missing(meta: dict[str, Any], read_requirements: Callable[[], dict[str, Any]],
             present: Callable[[], set[str]]) -> list[str]:
    """helm's checks of a chart's metadata and dependencies (a folder's or an archive's): the
    names listed that ``present()``, the subcharts' names, does not hold."""
    _check_metadata(meta)
    deps = meta.get("dependencies")
    requirements = read_requirements()
    if requirements.get("dependencies") is not None:
        deps = requirements["dependencies"]
        _check_dependencies(deps, "requirements.yaml")
    if not deps:
        return []
    found = present()
    return [n for n in dict.fromkeys(d["name"] for d in deps) if n not in found]


def _archive_subchart_names(files: dict[str, bytes]) -> set[str]:
    """The names of the subcharts among an archive's ``charts/`` members (:func:`_wanted_member`)."""
    names = set()
    for member, data in files.items():
        if member.startswith("charts/"):
            name = _archive_chart_name(data) if member.endswith(".tgz") else _chart_name(data)
            if name:
                names.add(name)
    return names


def _wanted_member(name: str) -> bool:
    """An archive member :func:`missing_dependencies` reads: the chart's own ``Chart.yaml`` and
    ``requirements.yaml``, a subchart archive in ``charts/`` or a subchart folder's ``Chart.yaml``
    (helm skips a ``charts/`` entry whose name starts with ``_`` or ``.``)."""
    if name in ("Chart.yaml", "requirements.yaml"):
        return True
    parts = name.split("/")
    if parts[0] != "charts" or len(parts) < 2 or parts[1][:1] in ("_", "."):
        return False
    return (len(parts) == 2 and parts[1].endswith(".tgz")) or (len(parts) == 3 and parts[2] == "Chart.yaml")


def _mapping(name: str, raw: bytes | None, *, required: bool) -> dict[str, Any]:
    """A chart file's bytes as its first YAML document, a mapping ({} for an absent optional one)."""
    if raw is None:
        return {}
    meta = _first_document(name, raw[: MAX_FILE_BYTES + 1])
    if meta is None and not required:
        return {}
    if not isinstance(meta, dict):
        raise ValueError(f"{name} holds {_kind(meta)}, not a mapping")
    return meta


def _chart_yaml(file: Path, *, required: bool) -> dict[str, Any]:
    try:
        raw = file.read_bytes()[: MAX_FILE_BYTES + 1]
    except FileNotFoundError:
        if required:
            raise ValueError(f"{file.name} cannot be read: not found") from None
        return {}
    except OSError as exc:
        raise ValueError(f"{file.name} cannot be read: {exc.strerror}") from None
    return _mapping(file.name, raw, required=required)


def _first_document(name: str, raw: bytes) -> Any:
    """The first YAML document of ``raw``, as helm reads a chart's ``Chart.yaml`` (the values
    files' reader: its aliases bounded as helm bounds them); ``ValueError`` naming ``name``."""
    import yaml

    from firestream_core.tools.values import ExcessiveAliasing, load_values_yaml_all

    try:
        docs = load_values_yaml_all(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{name} is not UTF-8 text") from None
    except ExcessiveAliasing as exc:
        raise ValueError(f"{name} {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValueError(f"{name} is not valid YAML{where}") from None
    except RecursionError:
        raise ValueError(f"{name} is not valid YAML: nested too deeply") from None
    return docs[0] if docs else None


def _check_metadata(meta: dict[str, Any]) -> None:
    name, version, kind = meta.get("name"), meta.get("version"), meta.get("type")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("Chart.yaml has no name (helm: chart.metadata.name is required)")
    if version is None or version == "":
        raise ValueError("Chart.yaml has no version (helm: chart.metadata.version is required)")
    if isinstance(version, bool) or not isinstance(version, str | int | float) or not re.match(_HELM_VERSION, str(version)):
        raise ValueError(f"Chart.yaml's version {str(version)!r} is not a version helm accepts (such as 1.2.3)")
    if kind not in (None, "", "application", "library"):
        raise ValueError(f"Chart.yaml's type {kind!r} is neither application nor library")
    if kind == "library":
        raise ValueError("it is a library chart (type: library), which helm does not install: "
                         "name the application chart that depends on it")
    _check_dependencies(meta.get("dependencies"), "Chart.yaml")


def _check_dependencies(deps: Any, file: str) -> None:
    if deps is None:
        return
    if not isinstance(deps, list) or not all(isinstance(d, dict) and isinstance(d.get("name"), str)
                                             and d["name"].strip() for d in deps):
        raise ValueError(f"{file}'s dependencies must be a list of tables, each with a name")
    seen: set[str] = set()
    for d in deps:
        key = d.get("alias") or d["name"]
        if key in seen:
            raise ValueError(f"{file} lists more than one dependency with name or alias {key!r}")
        seen.add(key)


def _subchart_names(charts: Path) -> set[str]:
    names: set[str] = set()
    try:
        entries = sorted(charts.iterdir())
    except OSError:
        return names
    for entry in entries:
        if entry.name[:1] in (".", "_"):  # helm skips these names in charts/
            continue
        if entry.is_dir():
            try:
                name = _chart_name((entry / "Chart.yaml").read_bytes()[: MAX_FILE_BYTES + 1])
            except OSError:
                name = None
        elif entry.is_file() and entry.name.endswith(".tgz"):
            name = _archive_chart_name(entry)
        else:
            name = None
        if name:
            names.add(name)
    return names


def _archive_chart_name(source: Path | bytes) -> str | None:
    """The name in a subchart archive's ``Chart.yaml``; None when helm could not load it."""
    from firestream_core.tools.chartfiles import archive_files

    try:
        data = archive_files(source, lambda name: name == "Chart.yaml").get("Chart.yaml")
    except (OSError, ValueError):
        return None
    return _chart_name(data) if data is not None else None


def _chart_name(data: bytes) -> str | None:
    try:
        meta = _first_document("Chart.yaml", data[: MAX_FILE_BYTES + 1])
    except ValueError:
        return None
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else None
