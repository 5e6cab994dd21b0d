"""``firestream validate [-f firestream.toml]``: config, plugins and graph, no cluster.

Exit 0 when the project is valid; otherwise every problem is listed (one
``ConfigError``) and the exit code is non-zero. Broken plugins that no
release uses are reported as warnings only.
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
                        help="print the result as JSON (also when invalid: valid=false and the problems)")


def run(args: argparse.Namespace) -> int:
    """Load and check the project; print a summary."""
    from firestream_core.cli.logs import add_redactor
    from firestream_core.config.build import build_charts
    from firestream_core.config.load import load_config
    from firestream_core.errors import ConfigError
    from firestream_core.graph import build_graph
    from firestream_core.plugin.manager import get_plugin_manager

    log = logging.getLogger("firestream")
    manager = get_plugin_manager(disabled=args.disable_plugin)
    try:
        config = load_config(args.file, manager, getattr(args, "environment", None))
        charts = build_charts(config, manager)
    except ConfigError as exc:
        if not getattr(args, "json", False):
            raise
        from firestream_core.cli.jsonout import dumps
        from firestream_core.cli.logs import redact

        print(dumps("validate", [], file=str(args.file), valid=False, message=redact(str(exc).splitlines()[0]),
                    problems=[redact(p) for p in exc.problems]))
        return 1
    if charts.secrets:
        from firestream_core.tools.redact import Redactor

        add_redactor(Redactor(charts.secrets))
    graph = build_graph(charts, str(config.path))
    used = {c.chart_type for c in charts}
    for b in manager.broken:
        if b.name not in used:
            log.warning("%s (no release uses it)", b.message)
    levels = graph.levels()
    if getattr(args, "json", False):
        from firestream_core.cli.jsonout import dumps

        print(dumps("validate", [
            {"name": c.chart_info.name, "namespace": c.chart_info.namespace_name, "chart_type": c.chart_type,
             "depends_on": list(c.chart_info.depends_on)} for c in charts],
            file=str(config.path), valid=True, environment=config.environment, levels=len(levels)))
        return 0
    print(
        f"{config.path} is valid: {len(charts)} release{'s' if len(charts) != 1 else ''} "
        f"in {len(levels)} level{'s' if len(levels) != 1 else ''}"
    )
    return 0

