"""``firestream apply``: show the plan, confirm, deploy in dependency order, summarise.

On a terminal the plan must be confirmed (``--yes`` skips the question);
without a terminal ``--yes`` is required. A live display shows each
release's stage on a terminal; the summary table (release, action, result,
duration) is always printed. A no-op release whose state entry is missing or
stale while the cluster already matches its desired state (helm finished
after a killed firestream) is recorded, with a line saying so, even when
there is nothing else to do.

``firestream apply PLAN`` carries out a plan saved by ``plan --out PLAN``
exactly: the plan is made again and compared with the file, and a release
whose cluster revision, desired state or action changed since is refused by
name, before anything runs. Exit 0 when every release succeeded, 1 when one
failed or was skipped because of a failure, 130 when interrupted (Ctrl-C:
running helm processes are stopped, the state keeps what finished, the lock
is released); SIGTERM takes the same path and exits 143 (see ``cli.py``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from firestream_core.cli.commands.plan import add_target_arguments, load_project


def _concurrency(text: str) -> int:
    """``--concurrency``: 0 (no limit) or more; anything else is a usage error (exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no limit) or positive, not {value}")
    return value


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """``--yes``, ``--concurrency``, ``--fail-fast``, ``--dry-run`` (apply and destroy)."""
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--concurrency", type=_concurrency, metavar="N", default=None,
                        help="releases at once (default: [settings] concurrency or 4; 0 = no limit)")
    parser.add_argument("--fail-fast", action="store_true", default=None,
                        help="start nothing new after the first failure")
    parser.add_argument("--dry-run", action="store_true",
                        help="run helm with --dry-run: nothing changes, the state is not written")
    parser.add_argument("--lock-timeout", type=float, metavar="SECONDS", default=0.0,
                        help="wait this long for a lock another run holds (default 0: refuse at once)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan_file", nargs="?", metavar="PLAN",
                        help="a plan saved by 'firestream plan --out PLAN': carry out exactly that plan, "
                        "refused when the cluster or the config changed since")
    add_target_arguments(parser)
    add_run_arguments(parser)
    parser.add_argument("--repair-drift", action="store_true",
                        help="also upgrade releases whose live objects drifted from their manifest "
                        "(see 'firestream drift')")


def confirm(question: str, args: argparse.Namespace, what: str) -> bool:
    """True when ``--yes`` was given or the user says yes on a terminal.

    :raises FirestreamError: stdin is not a terminal and ``--yes`` was not given.
    """
    from firestream_core.errors import FirestreamError

    if args.yes or args.dry_run:
        return True
    if not sys.stdin.isatty():
        raise FirestreamError(
            f"refusing to {what} without confirmation: stdin is not a terminal",
            hint="pass --yes to confirm non-interactively",
        )
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


def recorded_lines(plan: Any) -> str:
    """One line per release the run records because the cluster already matches it (an entry
    that only lacked the newer digest fields is refreshed silently)."""
    return "".join(
        f"Recorded '{c.name}' in the state: the cluster already matches its desired state "
        f"(revision {c.installed.revision if c.installed else '?'}; {c.reason}).\n"
        for c in plan.to_record if c.reason.startswith("matches the cluster")
    )


def record_only(args: argparse.Namespace, project: Any, plan: Any) -> None:
    """A plan with no change may still have releases to record (``Plan.to_record``): record them."""
    if not plan.to_record or args.dry_run:
        return
    project.apply(plan, concurrency=args.concurrency, fail_fast=args.fail_fast)
    print(recorded_lines(plan), end="")


def execute(args: argparse.Namespace, project: Any, plan: Any, *, destroy: bool) -> int:
    """Run ``plan`` with live progress and print the summary; return the exit code."""
    from firestream_core.cli.progress import LiveProgress, format_summary

    kwargs: dict[str, Any] = {
        "plan": plan,
        "concurrency": args.concurrency,
        "fail_fast": args.fail_fast,
        "dry_run": args.dry_run,
    }
    with LiveProgress(plan, sys.stderr) as progress:
        if destroy:
            result = project.destroy(on_event=progress, **kwargs)
        else:
            result = project.apply(on_event=progress, **kwargs)
    print()
    print(format_summary(result), end="")
    if not destroy and not args.dry_run:
        print(recorded_lines(plan), end="")
    return result.exit_code


def planned(args: argparse.Namespace, project: Any) -> Any:
    """The plan to carry out: made now, or a saved one checked against now (``apply PLAN``)."""
    from firestream_core.errors import FirestreamError

    saved = getattr(args, "plan_file", None)
    if saved is None:
        return project.plan(args.targets or None, args.include_deps)
    if args.targets or args.include_deps or getattr(args, "repair_drift", False):
        raise FirestreamError("apply PLAN carries out the saved plan as it is: "
                              "--target, --include-deps and --repair-drift do not apply")
    return project.saved_plan(saved)


def run(args: argparse.Namespace) -> int:
    """Plan (or read a saved plan and check it), confirm, apply."""
    from contextlib import nullcontext

    from firestream_core.cli.progress import format_plan

    project = load_project(args)
    with nullcontext() if args.dry_run else project.lock("firestream apply", timeout=args.lock_timeout):
        plan = planned(args, project)
        if getattr(args, "repair_drift", False):
            # drifted no-op releases -> upgrade "drift repair", checked with the plan's tools
            plan, _ = project.repair_drift(plan)
        print(format_plan(plan), end="")
        if not plan.has_changes:
            record_only(args, project, plan)
            print("Nothing to do.")
            return 0
        if not confirm("Apply these changes?", args, "apply"):
            print("Cancelled: nothing was changed.")
            return 1
        return execute(args, project, plan, destroy=False)
