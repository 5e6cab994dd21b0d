"""``firestream rollback [RELEASE ...]``: releases back to the revision of their last
successful apply recorded in the state (``--to-revision N`` for one release).

Shown as a plan first (release, revisions, why), confirmed as for ``apply``,
then each release is rolled back with ``helm rollback --wait`` (dependents
first), validated with its chart type's ``validate`` hooks and recorded in
the state as a ``rollback``. Exit 0 when every rollback succeeded (or there
was nothing to do), 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from firestream_core.ops.rollback import RollbackStep

EXAMPLES = """
firestream rollback                      # every release back to its last successful apply
firestream rollback api web --yes        # only these
firestream rollback api --to-revision 3  # one release, to a given helm revision
firestream rollback -l tier=app --dry-run
"""


def _revision(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a revision number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("a revision is 1 or more")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from firestream_core.cli.commands.apply import add_lock_timeout_argument

    parser.add_argument("releases", nargs="*", metavar="RELEASE", help="the releases (default: all)")
    parser.add_argument("-l", "--selector", dest="selectors", metavar="SELECTOR", action="append", default=[],
                        help="only the releases whose labels match (as for plan)")
    parser.add_argument("--to-revision", type=_revision, metavar="N", default=None,
                        help="this helm revision instead of the last successful apply (one release only)")
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--dry-run", action="store_true", help="show the plan only; change nothing")
    add_lock_timeout_argument(parser)


def run(args: argparse.Namespace) -> int:
    from firestream_core.cli.commands.apply import check_lock_timeout, confirm
    from firestream_core.cli.commands.plan import load_project
    from firestream_core.cli.progress import (
        format_duration,
        format_table,
        paint,
        shorten,
        use_color,
    )
    from firestream_core.ops.rollback import plan_rollback, run_rollback

    check_lock_timeout(args.lock_timeout)
    project = load_project(args)
    names = project.select(args.releases, args.selectors)
    color = use_color(args, sys.stdout)
    # a dry run changes nothing: no lock (with the kubernetes backend, no Lease nor namespace
    # created in the cluster), as for apply and destroy
    with nullcontext() if args.dry_run else project.lock("firestream rollback", timeout=args.lock_timeout):
        tools = project.tools()
        target = project.rollback_input()
        steps = plan_rollback(target, names, args.to_revision, tools[1].list_releases())
        rows = [["<" if s.is_change else ("!" if s.action == "error" else "="), s.name, s.namespace, s.action,
                 s.reason] for s in steps]
        table = format_table(["", "release", "namespace", "action", "why"], rows)
        if color:
            lines = table.split("\n")
            for i, s in enumerate(steps):
                lines[2 + i] = paint(lines[2 + i], {"rollback": "upgrade", "error": "failed"}.get(s.action, "no-op"),
                                     True)
            table = "\n".join(lines)
        changes = [s for s in steps if s.is_change]
        errors = [s for s in steps if s.action == "error"]
        print(table + f"\nRollback plan: {len(changes)} to roll back, {len(errors)} impossible.")
        if errors and args.releases:
            return 1  # a named release cannot be rolled back: do nothing
        if not changes:
            print("Nothing to do.")
            return 1 if errors else 0
        if args.dry_run:
            return 0
        if not confirm("Roll these releases back?", args, "roll back"):
            print("Cancelled: nothing was changed.")
            return 1
        if not args.yes:  # the prompt waited: roll back only what is still what was shown
            check_steps_unchanged(steps, plan_rollback(target, names, args.to_revision, tools[1].list_releases()))
        outcomes = run_rollback(target, steps, tools)
    print()
    print(format_table(["release", "result", "revision", "duration", "why"],
                       [[o.name, o.result, o.revision or "-", format_duration(o.duration),
                         "; ".join(filter(None, ("" if o.result == "ok" else shorten(o.reason),
                                                 "not recorded in the state" if o.unrecorded else "")))]
                        for o in outcomes]), end="")
    for o in outcomes:
        if o.unrecorded:  # what helm did stands; the state does not say so
            print(f"error: release '{o.name}' was rolled back (revision {o.revision or '?'}), but the state "
                  f"could not record it: {o.unrecorded}", file=sys.stderr)
    return 0 if all(o.result == "ok" and not o.unrecorded for o in outcomes) else 1


def check_steps_unchanged(shown: list[RollbackStep], fresh: list[RollbackStep]) -> None:
    """Refuse when the rollback steps made again after the prompt are not the ones shown (a
    release upgraded or rolled back by hand meanwhile: its revisions moved).

    :raises PlanMismatchError: naming each release whose step differs.
    """
    from firestream_core.errors import PlanMismatchError

    now = {s.name: s for s in fresh}
    problems = [f"release '{s.name}': the plan showed {s.action} ({s.reason}), now {now[s.name].action} "
                f"({now[s.name].reason})" if s.name in now else f"release '{s.name}': no longer in the rollback plan"
                for s in shown if now.get(s.name) != s]
    if problems:
        raise PlanMismatchError("refusing to roll back the plan shown: the cluster changed while it was shown: "
                                + "; ".join(problems), release=problems[0].split("'")[1],
                                hint="run 'firestream rollback' again to see the plan as things are now")
