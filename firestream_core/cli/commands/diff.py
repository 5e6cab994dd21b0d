"""``firestream diff``: the manifest changes apply would make, object by object.

Secret data and configured values are never shown (``<hidden>`` /
``<hidden, changed>``). A release needing CRDs that a dependency has not yet
installed is shown as ``known after '<dependency>' is applied``.

Exit codes: 0 on success (1 when a release could not be rendered); with
``--detailed-exitcode`` 0 means no changes, 2 changes, 1 an error.
"""

from __future__ import annotations

import argparse
import json
import sys

from firestream_core.cli.commands.plan import add_target_arguments, load_project


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    parser.add_argument("--detailed-exitcode", action="store_true",
                        help="exit 0 when there are no changes, 2 when there are, 1 on error")
    parser.add_argument("--json", action="store_true", help="print the diffs as JSON")
    parser.add_argument("--context", type=int, default=3, metavar="N",
                        help="lines of context around each change (default 3)")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="colour the diff (default: on a terminal)")


def run(args: argparse.Namespace) -> int:
    """Print the diffs."""
    from firestream_core.cli.logs import redact
    from firestream_core.ops.diff import diff_project, format_diffs

    project = load_project(args)
    diffs = diff_project(project, args.targets or None, include_deps=args.include_deps,
                         context=max(0, args.context))
    if args.json:
        print(redact(json.dumps({
            "has_changes": any(d.has_changes for d in diffs),
            "releases": [d.to_dict() for d in diffs],
        }, indent=2)))
    else:
        color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
        print(redact(format_diffs(diffs, color=color)), end="")
    if any(d.status == "error" for d in diffs):
        return 1
    if args.detailed_exitcode and any(d.has_changes for d in diffs):
        return 2
    return 0
