"""``firestream status``: each release's helm status, revision, chart version and last validations."""

from __future__ import annotations

import argparse

EXAMPLES = """
firestream status
firestream status --json | jq '.releases[] | {key, status}'
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    """Print the releases' status (one ``helm list`` call)."""
    from firestream_core.cli.commands.plan import load_project
    from firestream_core.cli.progress import format_status

    statuses = load_project(args).status()
    if args.json:
        from firestream_core.cli.jsonout import dumps

        print(dumps("status", [s.to_dict() for s in statuses]))
    else:
        print(format_status(statuses), end="")
    return 0
