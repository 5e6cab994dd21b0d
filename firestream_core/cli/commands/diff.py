"""``firestream diff``: the manifest changes apply would make, object by object.

Secret data and configured values are never shown (``<hidden>`` /
``<hidden, changed>``). A release needing CRDs that a dependency has not yet
installed is shown as ``known after '<dependency>' is applied``.

Exit codes: 0 on success (1 when a release could not be rendered); with
``--detailed-exitcode`` 0 means no changes, 2 changes, 1 an error.
"""

from __future__ import annotations

import argparse
import sys

from firestream_core.cli.commands.plan import (
    add_override_arguments,
    add_target_arguments,
    load_project,
    selection,
)

EXAMPLES = """
firestream diff
firestream diff -l tier=app --context 5
firestream diff --detailed-exitcode --json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    add_override_arguments(parser)
    parser.add_argument("--detailed-exitcode", action="store_true",
                        help="exit 0 when there are no changes, 2 when there are, 1 on error")
    parser.add_argument("--json", action="store_true", help="print the diffs as JSON")
    parser.add_argument("--context", type=int, default=3, metavar="N",
                        help="lines of context around each change (default 3)")


def run(args: argparse.Namespace) -> int:
    """Print the diffs."""
    from firestream_core.cli.logs import redact
    from firestream_core.errors import FirestreamError
    from firestream_core.ops.diff import format_diffs

    if not 0 <= args.context <= 10_000:
        raise FirestreamError(f"argument --context: {args.context} is out of range: expected 0 to 10000 lines")
    project = load_project(args)
    diffs = project.diff(selection(args, project), context=max(0, args.context))
    if args.json:
        from firestream_core.cli.jsonout import dumps

        print(redact(dumps("diff", [d.to_dict() for d in diffs], has_changes=any(d.has_changes for d in diffs))))
    else:
        from firestream_core.cli.progress import use_color

        color = use_color(args, sys.stdout)
        print(redact(format_diffs(diffs, color=color)), end="")
    if any(d.status == "error" for d in diffs):
        return 1
    if args.detailed_exitcode and any(d.has_changes for d in diffs):
        return 2
    return 0
