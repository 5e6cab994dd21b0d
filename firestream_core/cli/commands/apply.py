"""``firestream apply``: show the plan, confirm, deploy in dependency order, summarise.

On a terminal the plan must be confirmed (``--yes`` skips the question);
without a terminal ``--yes`` is required. A live display shows each
release's stage on a terminal; the summary table (release, action, result,
duration) is always printed. A no-op release whose state entry is missing or
stale while the cluster already matches its desired state (helm finished
after a killed firestream) is recorded, with a line saying so, even when
there is nothing else to do.

``firestream apply PLAN`` carries out a plan saved by ``plan --out PLAN``
exactly: it runs in the plan's environment (``-e`` may only repeat it) and
refuses, before any cluster call, another kube context or cluster server or
other ``--set`` paths / ``--values`` files than the plan's; then the plan is
made again and compared with the file, and a release whose namespace,
cluster revision, desired state or action changed since is refused by name,
before anything runs. Exit 0 when every release succeeded, 1 when one
failed or was skipped because of a failure, 130 when interrupted (Ctrl-C:
running helm processes are stopped, the state keeps what finished, the lock
is released); SIGTERM takes the same path and exits 143 (see ``cli/main.py``).
With ``--detailed-exitcode`` (as in helmfile) a successful apply that changed
something exits 2, one with nothing to do 0.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from firestream_core.cli.commands.plan import (
    add_override_arguments,
    add_target_arguments,
    load_project,
    plan_header,
    selection,
    target_flags,
)

EXAMPLES = """
firestream apply
firestream apply --yes --target api --include-deps
firestream apply -e staging -l tier!=db --yes
firestream apply --yes --detailed-exitcode  # 0 nothing changed, 2 changed, 1 error
"""


def _concurrency(text: str) -> int:
    """``--concurrency``: a whole number (its range is checked by ``check_run_arguments``)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


MAX_LOCK_TIMEOUT = 24 * 3600.0
"""The longest ``--lock-timeout`` (seconds): the bound of every duration in the config."""


def check_run_arguments(args: argparse.Namespace) -> None:
    """The range of ``--concurrency`` and ``--lock-timeout``, before anything is read or contacted.

    A value that is not a number is argparse's usage error (exit 2); a number
    out of range is this error (exit 1, as with ``--detailed-exitcode``), naming the flag.

    :raises FirestreamError: a value out of range.
    """
    from firestream_core.errors import FirestreamError

    if args.concurrency is not None and args.concurrency < 0:
        raise FirestreamError(
            f"argument --concurrency: must be 0 (no limit) or positive, not {args.concurrency}"
        )
    check_lock_timeout(args.lock_timeout)


def check_lock_timeout(seconds: float) -> None:
    """``--lock-timeout`` in range (every command that takes the project lock), before anything
    is read or contacted.

    :raises FirestreamError: out of range, naming the flag.
    """
    import math

    from firestream_core.errors import FirestreamError

    if not math.isfinite(seconds) or seconds < 0 or seconds > MAX_LOCK_TIMEOUT:
        raise FirestreamError(
            f"argument --lock-timeout: {seconds:g} is out of range: expected 0 to {MAX_LOCK_TIMEOUT:g} "
            "seconds (0: refuse at once when the lock is held)"
        )


def add_lock_timeout_argument(parser: argparse.ArgumentParser) -> None:
    """``--lock-timeout SECONDS``: apply, destroy, rollback and import wait that long for the lock."""
    parser.add_argument("--lock-timeout", type=float, metavar="SECONDS", default=0.0,
                        help="wait this long for a lock another run holds (default 0: refuse at once)")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """``--yes``, ``--concurrency``, ``--fail-fast``, ``--dry-run`` (apply and destroy)."""
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--concurrency", type=_concurrency, metavar="N", default=None,
                        help="releases at once (default: [settings] concurrency or 4; 0 = no limit)")
    parser.add_argument("--fail-fast", action="store_true", default=None,
                        help="start nothing new after the first failure")
    parser.add_argument("--dry-run", action="store_true",
                        help="run helm with --dry-run: nothing changes, the state is not written")
    add_lock_timeout_argument(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan_file", nargs="?", metavar="PLAN",
                        help="a plan saved by 'firestream plan --out PLAN': carry out exactly that plan, "
                        "refused when the cluster or the config changed since")
    add_target_arguments(parser)
    add_override_arguments(parser)
    add_run_arguments(parser)
    parser.add_argument("--repair-drift", action="store_true",
                        help="also upgrade releases whose live objects drifted from their manifest "
                        "(see 'firestream drift')")
    parser.add_argument("--detailed-exitcode", action="store_true",
                        help="exit 0 when there was nothing to change, 2 when changes were applied, "
                        "1 on error")


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
    try:
        answer = input(f"{question} [y/N] ").strip().lower()
    except EOFError:  # Ctrl-D at the prompt (or the terminal went away): no answer is a no
        print()
        return False
    return answer in ("y", "yes")


def still_the_plan(args: argparse.Namespace, shown: Any, make_plan: Any, command: str) -> Any:
    """After a person confirmed ``shown`` at the prompt: the plan made again, refused unless it
    is exactly the one shown (:func:`~firestream_core.deploy.saved.check_unchanged`). Reading a
    plan takes minutes, and the lock keeps only other firestream runs out: a ``helm`` command
    or an edited values file in the meantime would make apply do what the screen did not show.
    With ``--yes`` (no prompt, no wait) the plan is carried out as made."""
    if args.yes or args.dry_run:
        return shown
    from firestream_core.deploy.saved import check_unchanged

    fresh = make_plan()
    check_unchanged(shown, fresh, command=command)
    return fresh


def recorded_lines(plan: Any) -> str:
    """One line per release the run records because the cluster already matches it (an entry
    that only lacked the newer digest fields is refreshed silently), or removes from the state
    because helm no longer runs it (a destroy)."""
    from firestream_core.deploy.plan import NOT_DEPLOYED_FORGOTTEN

    return "".join(
        f"Recorded '{c.name}' in the state: the cluster already matches its desired state "
        f"(revision {c.installed.revision if c.installed else '?'}; {c.reason}).\n"
        if c.reason.startswith("matches the cluster") else
        f"Removed '{c.name}' from the state: helm no longer runs it.\n"
        for c in plan.to_record if c.reason.startswith(("matches the cluster", NOT_DEPLOYED_FORGOTTEN))
    )


def record_only(args: argparse.Namespace, project: Any, plan: Any) -> None:
    """A plan with no change may still have releases to record (``Plan.to_record``): record them
    (or, in a destroy plan, remove their entries)."""
    if not plan.to_record or args.dry_run:
        return
    run = project.destroy if plan.destroy else project.apply
    result = run(plan=plan, concurrency=args.concurrency, fail_fast=args.fail_fast, replan=False)
    if result.state_error is not None:
        raise result.state_error
    print(recorded_lines(plan), end="")


def execute(args: argparse.Namespace, project: Any, plan: Any, *, destroy: bool) -> int:
    """Run ``plan`` with live progress and print the summary; return the exit code."""
    import gc

    from firestream_core.cli.progress import LiveProgress, format_summary, use_color

    # Everything made so far (modules, the project, the plan) lives until the command ends:
    # out of the collector's sight, the run's collections and the interpreter's exit do not
    # walk it again (one CLI process, one run: nothing frozen is garbage before the end).
    # Only in the console script: a program calling main() in-process keeps living.
    if getattr(args, "one_shot", False):
        gc.freeze()

    kwargs: dict[str, Any] = {
        "plan": plan,
        "concurrency": args.concurrency,
        "fail_fast": args.fail_fast,
        "dry_run": args.dry_run,
        "replan": False,  # made under this lock a moment ago, checked again after the prompt
    }
    with LiveProgress(plan, sys.stderr, quiet=bool(args.quiet)) as progress:
        if destroy:
            result = project.destroy(on_event=progress, **kwargs)
        else:
            result = project.apply(on_event=progress, **kwargs)
    print()
    print(format_summary(result, color=use_color(args, sys.stdout)), end="")
    if result.state_error is not None and result.exit_code == 1:
        raise result.state_error  # after the summary: its one error line and hint, exit 1
    if not destroy and not args.dry_run:
        print(recorded_lines(plan), end="")
    return result.exit_code


def read_plan_file(args: argparse.Namespace) -> Any:
    """``apply PLAN``: the saved plan, read before the project is loaded; its environment is the
    run's when ``-e`` is not given (a different one is refused later, naming it). None without PLAN.

    :raises FirestreamError: a selection or ``--repair-drift`` given with PLAN; not a saved plan.
    """
    from firestream_core.errors import FirestreamError

    if getattr(args, "plan_file", None) is None:
        return None
    if (args.targets or args.selectors or args.include_deps or getattr(args, "include_dependents", False)
            or getattr(args, "repair_drift", False)):
        raise FirestreamError("apply PLAN carries out the saved plan as it is: --target, -l, "
                              "--include-deps, --include-dependents and --repair-drift do not apply "
                              "(the --set and --values it was made with do)")
    from firestream_core.deploy.saved import read_saved

    saved = read_saved(args.plan_file)
    if args.environment is None:
        args.environment = saved.environment
    return saved


def planned(args: argparse.Namespace, project: Any, saved: Any = None) -> Any:
    """The plan to carry out: made now, or ``saved`` checked against now (``apply PLAN``)."""
    if saved is None:
        return project.plan(selection(args, project))
    return project.saved_plan(saved)


def run(args: argparse.Namespace) -> int:
    """Plan (or read a saved plan and check it), confirm, apply."""
    from contextlib import nullcontext

    from firestream_core.cli.progress import format_plan, use_color

    check_run_arguments(args)
    saved = read_plan_file(args)
    project = load_project(args)
    if saved is not None:
        # another environment, cluster or overrides: refused before the lock (a state Lease in
        # the wrong cluster) and before any cluster call
        project.check_saved_target(saved, args.plan_file, flags=target_flags(args))

    def make_plan() -> Any:
        plan = planned(args, project, saved)
        if getattr(args, "repair_drift", False):
            # drifted no-op releases -> upgrade "drift repair", checked with the plan's tools
            plan, _ = project.repair_drift(plan)
        # an upgrade the API server will refuse (an immutable field), a change whose chart does
        # not render, is shown refused, and stopped; --yes renders only the creates a plugin
        # writes to the cluster for before helm (a plain one fails inside helm, nothing of it
        # installed: docs/usage.md, "What plan renders")
        return project.refuse_before_apply(plan, creates=not args.yes)

    with nullcontext() if args.dry_run else project.lock("firestream apply", timeout=args.lock_timeout):
        plan = make_plan()
        print(plan_header(project) + format_plan(plan, color=use_color(args, sys.stdout)), end="")
        if not plan.has_changes:
            record_only(args, project, plan)
            print("Nothing to do.")
            return 0
        if not confirm("Apply these changes?", args, "apply"):
            print("Cancelled: nothing was changed.")
            return 1
        plan = still_the_plan(args, plan, make_plan, "apply")
        code = execute(args, project, plan, destroy=False)
        if code == 0 and getattr(args, "detailed_exitcode", False):
            return 2  # changes were applied (helmfile's apply --detailed-exitcode)
        return code
