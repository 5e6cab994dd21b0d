"""``firestream validate [-f firestream.toml] [--json]``: every bad input at once, no cluster.

Three passes run and report together (``config/project_check.py``): the
structure (TOML, tables, keys, types, bounds, names, URLs, chart types and
their options), values and files (values files and ``yaml_files_content``
read and checked to be YAML mappings, local charts checked to be charts),
and the build and graph (presets, ``secret_values``, duplicate names,
repositories, ``depends_on``). Exit 0 when the project is valid; otherwise
every problem is listed (one ``ConfigError``) and the exit code is 1. With
``--json`` the problems are printed on stdout as a list of ``{path, message,
file, line}`` (``[]`` when valid). Broken plugins that no release uses are
reported as warnings only.

A valid project also gets the plugins' notes, decided from the config alone
(each plugin's ``contribute_values`` with ``context.offline``: no cluster):
e.g. that a preset's ServiceMonitor is on only if its CRD exists at apply
time, or that the project's prometheus-operator release provides it. They are
printed as ``note: release '<name>': ...`` lines (``notes`` in ``--json``) and
never change the exit code.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from firestream_core.model import HelmChart
    from firestream_core.plugin.manager import FirestreamPluginManager
    from firestream_core.tools.redact import Redactor

EXAMPLES = """
firestream validate
firestream validate -e prod
firestream validate --json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--json`` besides the global options (``-f``)."""
    parser.add_argument("--json", action="store_true",
                        help="print the result as JSON: valid, the releases, and problems as a list of "
                             "{path, message, file, line}")


def run(args: argparse.Namespace) -> int:
    """Check the project; print a summary (or, with ``--json``, the one JSON shape of read
    commands with ``valid`` and ``problems`` as a list of ``{path, message, file, line}``)."""
    from firestream_core.cli.jsonout import dumps
    from firestream_core.cli.logs import add_redactor
    from firestream_core.config.project_check import Problem, check_project
    from firestream_core.errors import ConfigError
    from firestream_core.graph import build_graph
    from firestream_core.plugin.manager import get_plugin_manager

    log = logging.getLogger("firestream")
    manager = get_plugin_manager(disabled=args.disable_plugin)
    want_json = getattr(args, "json", False)
    try:
        checked = check_project(args.file, manager, environment=getattr(args, "environment", None))
    except ConfigError as exc:  # unreadable or not TOML: one problem, no path
        if not want_json:
            raise
        problem = Problem("", str(exc), str(args.file), _line(str(exc)))
        print(dumps("validate", [], file=str(args.file), valid=False, problems=[problem.to_dict()]))
        return 1
    clashes: list[str] = []
    redactor: Redactor | None = None
    if checked.charts is not None and checked.charts.secrets:
        from firestream_core.tools.redact import Redactor
        from firestream_core.tools.sensitivity import identifiers, name_clashes

        redactor = Redactor(checked.charts.secrets)
        redactor.keep_readable(identifiers(checked.charts))  # names are never masked
        add_redactor(redactor)
        clashes = name_clashes(checked.charts, redactor.readable_secrets())
    if not checked.ok:
        if want_json:
            print(dumps("validate", [], file=str(args.file), valid=False,
                        problems=[p.to_dict() for p in checked.as_problems()]))
            return 1
        raise checked.error()
    config, charts = checked.config, checked.charts
    assert config is not None and charts is not None
    graph = build_graph(charts, str(config.path))
    used = {c.chart_type for c in charts}
    for b in manager.broken:
        if b.name not in used:
            log.warning("%s (no release uses it)", b.message)
    for warning in clashes:  # a secret equal to a name is printed wherever that name is
        log.warning("%s", warning)
    levels = graph.levels()
    notes = offline_notes(list(charts), manager, config.path.parent, redactor=redactor)
    if want_json:
        print(dumps("validate", [
            {"name": c.chart_info.name, "namespace": c.chart_info.namespace_name, "chart_type": c.chart_type,
             "depends_on": list(c.chart_info.depends_on)} for c in charts],
            file=str(config.path), valid=True, environment=config.environment, levels=len(levels),
            problems=[], notes=[{"release": name, "message": text} for name, text in notes]))
        return 0
    print(
        f"{config.path} is valid: {len(charts)} release{'s' if len(charts) != 1 else ''} "
        f"in {len(levels)} level{'s' if len(levels) != 1 else ''}"
    )
    for name, text in notes:
        print(f"note: release '{name}': {text}")
    return 0


def offline_notes(
    charts: list[HelmChart], manager: FirestreamPluginManager, project_dir: Path, *,
    redactor: Redactor | None = None,
) -> list[tuple[str, str]]:
    """``(release, note)`` for what the plugins say of each release from the config alone.

    Each plugin's ``contribute_values`` runs with ``context.offline`` (no helm, no
    kubectl): what needs the cluster is said as a condition
    (:func:`~firestream_core.plugin.helpers.needs_crd`). A hook that fails
    offline only loses its notes (``plan`` runs it for real). With ``redactor`` (the project's
    secrets) a secret a plugin put in a note is hidden, as the plan hides it.
    """
    from firestream_core.errors import FirestreamError

    log = logging.getLogger("firestream")
    releases = {c.chart_info.name: c.chart_type for c in charts}
    out: list[tuple[str, str]] = []
    for chart in charts:
        name = chart.chart_info.name
        if not manager.contributes_values(releases[name]):
            continue  # firestream's own say nothing offline: no desired state, no plugin imported
        from firestream_core.deploy.desired import desired_states

        try:
            desired = desired_states([chart], manager=manager, project_dir=project_dir,
                                     releases=releases, offline=True, redactor=redactor)[name]
        except FirestreamError as exc:
            log.debug("release '%s': no offline notes: %s", name, exc)
            continue
        out += [(name, text) for text in desired.notes]
        out += [(name, f"the plan refuses it: {p.removeprefix(f'release {name!r}: ')}") for p in desired.problems]
    return out


def _line(message: str) -> int | None:
    import re

    m = re.search(r":(\d+):\d+: invalid TOML", message)
    return int(m.group(1)) if m else None
