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
"""

from __future__ import annotations

import argparse
import logging

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
    if checked.charts is not None and checked.charts.secrets:
        from firestream_core.tools.redact import Redactor

        add_redactor(Redactor(checked.charts.secrets))
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
    levels = graph.levels()
    if want_json:
        print(dumps("validate", [
            {"name": c.chart_info.name, "namespace": c.chart_info.namespace_name, "chart_type": c.chart_type,
             "depends_on": list(c.chart_info.depends_on)} for c in charts],
            file=str(config.path), valid=True, environment=config.environment, levels=len(levels),
            problems=[]))
        return 0
    print(
        f"{config.path} is valid: {len(charts)} release{'s' if len(charts) != 1 else ''} "
        f"in {len(levels)} level{'s' if len(levels) != 1 else ''}"
    )
    return 0


def _line(message: str) -> int | None:
    import re

    m = re.search(r":(\d+):\d+: invalid TOML", message)
    return int(m.group(1)) if m else None
