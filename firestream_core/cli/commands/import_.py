"""``firestream import deployment NAME``: adopt a release installed with helm.

Appends a ``[[deployments.<type>]]`` block to the project file (values that
look secret go to a 0600 values file, never inline) and records the release
in state, so the next plan shows it as ``no-op``. No value is printed.
"""

from __future__ import annotations

import argparse
import sys

EXAMPLES = """
firestream import deployment redis --namespace cache
firestream import deployment api -n shop --type generic --chart bitnami/nginx
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from firestream_core.cli.commands.apply import add_lock_timeout_argument

    parser.add_argument("kind", choices=["deployment"], help="what to import (a helm release)")
    parser.add_argument("name", help="the helm release name")
    parser.add_argument("--namespace", "-n", default=None, help="the release's namespace")
    parser.add_argument("--type", dest="chart_type", default=None, metavar="CHART_TYPE",
                        help="the chart type to file it under (default: generic)")
    parser.add_argument("--chart", default=None, metavar="REF",
                        help="chart reference to write (repo/chart, oci://...); default: the chart's name, "
                        "its repository found among helm's own repositories")
    parser.add_argument("--repository", default=None, metavar="NAME",
                        help="the repository's name, when --chart does not say it")
    parser.add_argument("--repo-url", default=None, metavar="URL",
                        help="the repository's URL, when neither [repositories] nor helm knows it "
                        "(added to [repositories])")
    add_lock_timeout_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Import the release and say where it went."""
    from firestream_core.cli.commands.apply import check_lock_timeout
    from firestream_core.cli.commands.plan import load_project

    check_lock_timeout(args.lock_timeout)
    project = load_project(args)  # --repo-url is checked by the import, before any cluster call
    result = project.import_release(args.name, args.namespace, args.chart_type, chart=args.chart,
                                    repository=args.repository, repo_url=args.repo_url,
                                    lock_timeout=args.lock_timeout)
    print(
        f"imported release '{result.name}' (namespace {result.namespace}, chart {result.chart} "
        f"{result.version}, revision {result.revision}) as [[deployments.{result.chart_type}]] "
        f"in {result.config_path}"
    )
    if result.plain_values_file:
        print(f"its values are in {result.plain_values_file}")
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0
