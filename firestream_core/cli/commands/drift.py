"""``firestream drift``: whether each deployed release's live objects still match its manifest.

Reports, per release, the objects that are missing or whose fields (those
the chart sets) were changed in the cluster; Secret data and configured
values are never shown. Exit 0 when nothing drifted, 2 when something did,
1 on error. ``firestream apply --repair-drift`` puts drifted releases back.
"""

from __future__ import annotations

import argparse

EXAMPLES = """
firestream drift
firestream drift -l tier=db --json
firestream apply --repair-drift  # put drifted releases back
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from firestream_core.cli.commands.plan import add_target_arguments

    add_target_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    """Print the drift of every deployed release."""
    from firestream_core.cli.commands.plan import load_project, selection
    from firestream_core.ops.drift import format_drift

    project = load_project(args)
    drifts = project.drift(selection(args, project))
    if args.json:
        from firestream_core.cli.jsonout import dumps

        print(dumps("drift", [d.to_dict() for d in drifts], drifted=any(d.drifted for d in drifts)))
    else:
        print(format_drift(drifts), end="")
    if any(d.status == "error" for d in drifts):
        return 1
    return 2 if any(d.drifted for d in drifts) else 0
