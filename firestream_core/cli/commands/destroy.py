"""``firestream destroy``: uninstall the releases in reverse dependency order.

``--target NAME`` limits it to some releases (``--include-deps`` adds the
releases that depend on them, which cannot outlive them). Confirmation as
for ``apply``.
"""

from __future__ import annotations

import argparse

from firestream_core.cli.commands.apply import (
    add_run_arguments,
    check_run_arguments,
    confirm,
    execute,
)
from firestream_core.cli.commands.plan import add_target_arguments, load_project


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    add_run_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Plan the removal, confirm, destroy."""
    from contextlib import nullcontext

    from firestream_core.cli.progress import format_plan

    check_run_arguments(args)
    project = load_project(args)
    with nullcontext() if args.dry_run else project.lock("firestream destroy", timeout=args.lock_timeout):
        plan = project.plan(args.targets or None, args.include_deps, destroy=True)
        print(format_plan(plan), end="")
        if not plan.has_changes:
            print("Nothing to destroy.")
            return 0
        if not confirm("Destroy these releases?", args, "destroy"):
            print("Cancelled: nothing was changed.")
            return 1
        return execute(args, project, plan, destroy=True)
