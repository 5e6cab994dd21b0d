"""``firestream destroy``: uninstall the releases in reverse dependency order.

``--target NAME`` / ``-l SELECTOR`` limit it to some releases. A release that a
still-deployed release depends on is refused, naming the dependents, unless
``--include-deps`` (they are destroyed too, first) or ``--force``.
Confirmation as for ``apply``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from firestream_core.cli.commands.apply import (
    add_run_arguments,
    check_run_arguments,
    confirm,
    execute,
    record_only,
    still_the_plan,
)
from firestream_core.cli.commands.plan import (
    add_target_arguments,
    load_project,
    plan_header,
    selection,
)

EXAMPLES = """
firestream destroy --target web
firestream destroy --target db --include-deps --yes  # its dependents first
firestream destroy -l tier=cache --force --yes
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser, destroy=True)
    add_run_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Plan the removal, confirm, destroy."""
    from contextlib import nullcontext

    from firestream_core.cli.progress import format_plan, use_color

    check_run_arguments(args)
    project = load_project(args)
    with nullcontext() if args.dry_run else project.lock("firestream destroy", timeout=args.lock_timeout):
        def make_plan() -> Any:
            return project.plan(selection(args, project), args.include_deps, destroy=True, force=args.force)

        plan = make_plan()
        print(plan_header(project) + format_plan(plan, color=use_color(args, sys.stdout)), end="")
        if not plan.has_changes:
            record_only(args, project, plan)  # the entries of releases uninstalled by hand go
            print("Nothing to destroy.")
            return 0
        if not confirm("Destroy these releases?", args, "destroy"):
            print("Cancelled: nothing was changed.")
            return 1
        return execute(args, project, still_the_plan(args, plan, make_plan, "destroy"), destroy=True)
