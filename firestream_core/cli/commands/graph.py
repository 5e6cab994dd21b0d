"""``firestream graph [--format text|dot|mermaid]``: the deploy order and its levels.

Text lists the parallel levels (a level needs only earlier levels); ``dot``
is for Graphviz (``firestream graph --format dot | dot -Tsvg``) and
``mermaid`` for Markdown pages. An arrow points from a release to the
releases that depend on it.
"""

from __future__ import annotations

import argparse

EXAMPLES = """
firestream graph
firestream graph --format dot | dot -Tsvg > graph.svg
firestream graph web --format mermaid
firestream graph --json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--format`` and optional target releases."""
    from firestream_core.graph import FORMATS

    parser.add_argument("--format", choices=(*FORMATS, "json"), default="text",
                        help="output format (default: text)")
    parser.add_argument("--json", dest="format", action="store_const", const="json",
                        help="the same as --format json")
    parser.add_argument(
        "releases",
        nargs="*",
        metavar="RELEASE",
        help="show only these releases and what they depend on",
    )


def run(args: argparse.Namespace) -> int:
    """Print the graph."""
    from firestream_core.config.build import build_charts
    from firestream_core.config.load import load_config
    from firestream_core.graph import build_graph
    from firestream_core.plugin.manager import get_plugin_manager

    manager = get_plugin_manager(disabled=args.disable_plugin)
    config = load_config(args.file, manager, getattr(args, "environment", None))
    charts = build_charts(config, manager, resolve_secrets=False)  # the shape only
    graph = build_graph(charts, str(config.path))
    if args.releases:
        graph = graph.subgraph(args.releases, include_deps=True)
    if args.format == "json":
        from firestream_core.cli.jsonout import dumps

        depth = graph.depth()
        by_name = {c.chart_info.name: c for c in charts}
        print(dumps("graph", [
            {"name": n, "namespace": by_name[n].chart_info.namespace_name, "chart_type": by_name[n].chart_type,
             "depends_on": list(graph.deps[n]), "dependents": graph.dependents(n), "level": depth[n] + 1}
            for n in graph.order()], file=str(config.path), levels=len(graph.levels())))
        return 0
    print(graph.render(args.format), end="")
    return 0
