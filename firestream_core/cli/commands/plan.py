"""``firestream plan``: what apply would change, release by release, and why.

Exit codes: 0 on success; with ``--detailed-exitcode`` 0 means no changes,
2 means changes, 1 an error. The plan names the keys whose values changed,
never a value (``--json`` too). ``--out FILE`` also saves the plan (actions,
desired-state digests, the cluster revisions it saw; no value) for
``firestream apply FILE``.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """``--target NAME`` (repeatable) and ``--include-deps``, shared by plan/apply/destroy."""
    parser.add_argument("--target", dest="targets", metavar="NAME", action="append", default=[],
                        help="only this release (repeatable)")
    parser.add_argument("--include-deps", action="store_true",
                        help="with --target: also the releases the targets depend on "
                        "(for destroy: the releases that depend on them)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.add_argument("--hooks", action="store_true",
                        help="also render the changed releases and show their chart's helm hooks")
    parser.add_argument("--detailed-exitcode", action="store_true",
                        help="exit 0 when there are no changes, 2 when there are, 1 on error")
    parser.add_argument("--out", metavar="FILE", default=None,
                        help="also save the plan to FILE (JSON, no values) for 'firestream apply FILE'")


def load_project(args: argparse.Namespace) -> Any:
    """The ``Project`` named by the global flags, its secrets registered with the log redactor."""
    from firestream_core.cli.logs import add_redactor
    from firestream_core.project import Project

    project = Project.load(
        args.file,
        helm_binary=args.helm_binary,
        kubeconfig=args.kubeconfig,
        kube_context=args.kube_context,
        disabled_plugins=args.disable_plugin,
    )
    add_redactor(project.redactor)
    return project


def run(args: argparse.Namespace) -> int:
    """Print the plan."""
    from firestream_core.cli.progress import format_plan

    project = load_project(args)
    plan = project.plan(args.targets or None, args.include_deps)
    if getattr(args, "hooks", False):
        from firestream_core.ops.helm_hooks import (
            print_plan_hooks,  # which helm hooks each change fires
        )

        if not args.json:
            print(format_plan(plan), end="")
        print(print_plan_hooks(project, plan, args.json), end="")
    elif args.json:
        print(plan.to_json())
    else:
        print(format_plan(plan), end="")
    if getattr(args, "out", None):
        from firestream_core.deploy.saved import saved_plan, write_saved

        write_saved(saved_plan(plan, config=project.path, include_deps=args.include_deps), args.out)
        if not args.json:
            print(f"Plan saved to {args.out}: 'firestream apply {args.out}' carries out exactly this plan.")
    if args.detailed_exitcode:
        return 2 if plan.has_changes else 0
    return 0
