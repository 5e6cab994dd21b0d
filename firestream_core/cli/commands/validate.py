"""``firestream validate [-f firestream.toml]``: config, plugins and graph, no cluster.

Exit 0 when the project is valid; otherwise every problem is listed (one
``ConfigError``) and the exit code is non-zero. Broken plugins that no
release uses are reported as warnings only.
"""

from __future__ import annotations

import argparse
import logging


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options besides the global ones (``-f``)."""


def run(args: argparse.Namespace) -> int:
    """Load and check the project; print a summary."""
    from firestream_core.cli.logs import add_redactor
    from firestream_core.config.build import build_charts
    from firestream_core.config.load import load_config
    from firestream_core.graph import build_graph
    from firestream_core.plugin.manager import get_plugin_manager

    log = logging.getLogger("firestream")
    manager = get_plugin_manager(disabled=args.disable_plugin)
    config = load_config(args.file, manager, getattr(args, "environment", None))
    charts = build_charts(config, manager)
    if charts.secrets:
        from firestream_core.tools.redact import Redactor

        add_redactor(Redactor(charts.secrets))
    graph = build_graph(charts, str(config.path))
    used = {c.chart_type for c in charts}
    for b in manager.broken:
        if b.name not in used:
            log.warning("%s (no release uses it)", b.message)
    levels = graph.levels()
    print(
        f"{config.path} is valid: {len(charts)} release{'s' if len(charts) != 1 else ''} "
        f"in {len(levels)} level{'s' if len(levels) != 1 else ''}"
    )
    return 0

