"""``firestream test``: run the deployed releases' ``helm test`` hooks; keep the results in the state.

Exit 0 when every tested release passed (or has no tests), 1 when a test
failed or could not run.
"""

from __future__ import annotations

import argparse
import json

EXAMPLES = """
firestream test
firestream test --target api --timeout 5m
firestream test --json --no-record
"""


def _duration(text: str) -> str:
    """``--timeout``'s value, checked before anything is loaded or asked of the cluster."""
    from firestream_core.config.converter import MAX_DURATION_SECONDS
    from firestream_core.model import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds > MAX_DURATION_SECONDS:  # as a release's own timeout in the config
        raise argparse.ArgumentTypeError(f"duration {text!r} is over the bound of 24h")
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from firestream_core.cli.commands.plan import add_target_arguments

    add_target_arguments(parser)
    parser.add_argument("--timeout", metavar="DURATION", default=None, type=_duration,
                        help="per release (default: the release's timeout)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--no-record", action="store_true", help="do not write the results into the state")


def run(args: argparse.Namespace) -> int:
    """Run the tests and print the results."""
    from firestream_core.cli.commands.plan import load_project, selection
    from firestream_core.deploy.helm_tests import format_test_results

    project = load_project(args)
    results = project.test(selection(args, project), record=not args.no_record, timeout=args.timeout)
    if args.json:
        print(json.dumps({"ok": all(r.ok for r in results), "releases": [r.to_dict() for r in results]},
                         indent=2))
    else:
        print(format_test_results(results), end="")
    return 0 if all(r.ok for r in results) else 1
