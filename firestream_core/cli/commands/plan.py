"""``firestream plan``: what apply would change, release by release, and why.

Exit codes: 0 on success; with ``--detailed-exitcode`` 0 means no changes,
2 means changes, 1 an error. The plan names the keys whose values changed
and shows each as ``old -> new``, sensitive values as ``(sensitive)``
(docs/secrets.md; ``--json`` too). ``--out FILE`` also saves the plan
(actions, desired-state digests, the cluster revisions it saw, the
environment, kube context and server, the ``--set`` paths and ``--values``
files; no value) for ``firestream apply FILE``, and prints that command in
full (``--set PATH=<value>``: never the value). A release a plugin refuses to deploy as
configured (a PostgreSQL major crossed without ``major_upgrade``) is listed
under ``Refused:`` and the exit code is 1 (no plan is saved).
"""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLES = """
firestream plan
firestream plan -l tier=db --include-dependents
firestream plan -e prod --set replicaCount=3
firestream plan --detailed-exitcode  # 0 no changes, 2 changes, 1 error
firestream plan --json
"""


def add_target_arguments(parser: argparse.ArgumentParser, *, destroy: bool = False) -> None:
    """``--target NAME`` / ``-l SELECTOR`` (repeatable), ``--include-deps`` and
    ``--include-dependents``: shared by every command that works on some releases."""
    parser.add_argument("--target", dest="targets", metavar="NAME", action="append", default=[],
                        help="only this release (repeatable)")
    parser.add_argument("-l", "--selector", dest="selectors", metavar="SELECTOR", action="append",
                        default=[],
                        help="only the releases whose labels match: key=value, key!=value; a comma "
                        "means and, a repeated -l means or (labels name, namespace, chart and type "
                        "are implicit)")
    if destroy:
        parser.add_argument("--include-deps", "--include-dependents", dest="include_deps",
                            action="store_true",
                            help="with a selection: also destroy the releases that depend on it "
                            "(first, in reverse order)")
        parser.add_argument("--force", action="store_true",
                            help="destroy the selection even when deployed releases depend on it")
        return
    parser.add_argument("--include-deps", action="store_true",
                        help="with a selection: also the releases it depends on")
    parser.add_argument("--include-dependents", action="store_true",
                        help="with a selection: also the releases that depend on it")


def _set_pair(text: str) -> tuple[str, str]:
    key, eq, value = text.partition("=")
    if not eq or not key.strip():
        raise argparse.ArgumentTypeError(f"expected PATH=VALUE, got {text!r}")
    return key.strip(), value


def add_override_arguments(parser: argparse.ArgumentParser) -> None:
    """``--set PATH=VALUE`` and ``--values FILE`` (repeatable): one-off values on top of
    every (selected) release's own, shown in the plan (the paths and files, never a value)."""
    parser.add_argument("--set", dest="set_values", metavar="PATH=VALUE", type=_set_pair, action="append",
                        default=[], help="set a value on every selected release, last (repeatable)")
    parser.add_argument("--values", dest="values_files", metavar="FILE", action="append", default=[],
                        help="a values file applied to every selected release after its own (repeatable)")


def plan_header(project: Any) -> str:
    """The plan's first lines when it is not the plain project: environment, kube context,
    state and the command line's overrides (``--set`` paths, ``--values`` files)."""
    parts = []
    if project.config.environment:
        parts.append(f"environment {project.config.environment}")
    if project.kube_context:
        parts.append(f"kube context {project.kube_context}")
    lines = []
    if parts:
        lines.append(f"{project.path}: " + ", ".join(parts) + f" (state {project.state_backend().describe()})")
    if project.overrides:
        lines.append("overrides: " + ", ".join(project.overrides))
    return "\n".join(lines) + "\n\n" if lines else ""


def plan_json(project: Any, plan: Any, hooks_json: str | None = None) -> str:
    """``plan --json`` in the read commands' shape (:mod:`firestream_core.cli.jsonout`);
    ``hooks_json``: the plan with its releases' hooks (``--hooks``)."""
    import json

    from firestream_core.cli.jsonout import dumps

    doc = json.loads(hooks_json) if hooks_json else plan.to_dict()
    releases = doc.pop("releases")
    return dumps("plan", releases, file=str(project.path), environment=project.config.environment,
                 kube_context=project.kube_context, overrides=list(project.overrides), **doc)


def selection(args: argparse.Namespace, project: Any) -> list[str] | None:
    """The releases ``--target`` / ``-l`` / ``--include-*`` name (None: all of them).

    For destroy, dependents are added by the plan itself (``--include-deps``).
    """
    if hasattr(args, "force"):  # destroy: the plan itself adds the dependents
        if args.include_deps and not (args.targets or args.selectors):
            project.select((), (), include_deps=True)  # refused: nothing selected
        return project.select(args.targets, args.selectors)  # type: ignore[no-any-return]
    return project.select(  # type: ignore[no-any-return]
        args.targets, args.selectors, include_deps=args.include_deps,
        include_dependents=getattr(args, "include_dependents", False))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    add_override_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.add_argument("--hooks", action="store_true",
                        help="also show the helm hooks of each changed release's chart (rendered with hooks on)")
    parser.add_argument("--detailed-exitcode", action="store_true",
                        help="exit 0 when there are no changes, 2 when there are, 1 on error")
    parser.add_argument("--out", metavar="FILE", default=None,
                        help="also save the plan to FILE (JSON, no values) for 'firestream apply FILE'")


def target_flags(args: argparse.Namespace) -> list[str]:
    """``-f``, ``--kubeconfig`` and ``--kube-context`` as given (``-f`` only when the file is not
    the one found without it): what a later command needs to reach the same project and cluster."""
    from firestream_core.cli.main import find_project_file

    flags = []
    if args.file != find_project_file(None):
        flags += ["-f", args.file]
    if args.kubeconfig:
        flags += ["--kubeconfig", args.kubeconfig]
    if args.kube_context:
        flags += ["--kube-context", args.kube_context]
    return flags


def load_project(args: argparse.Namespace) -> Any:
    """The ``Project`` named by the global flags, its secrets registered with the log redactor.

    A secret equal to one of the project's names is not hidden: each is warned about here.
    """
    from firestream_core.cli.logs import add_redactor, show_plugin_loggers
    from firestream_core.project import Project

    project = Project.load(
        args.file,
        helm_binary=args.helm_binary,
        kubectl_binary=getattr(args, "kubectl_binary", None),
        kubeconfig=args.kubeconfig,
        kube_context=args.kube_context,
        disabled_plugins=args.disable_plugin,
        environment=getattr(args, "environment", None),
        set_values=getattr(args, "set_values", ()),
        values_files=getattr(args, "values_files", ()),
    )
    add_redactor(project.redactor)
    show_plugin_loggers(project.manager.plugin_packages())
    clashes = project.name_clashes()  # secrets equal to a name: printed wherever it is (docs/secrets.md)
    if clashes:
        import logging

        for warning in clashes:
            logging.getLogger("firestream").warning("%s", warning)
    return project


def run(args: argparse.Namespace) -> int:
    """Print the plan."""
    import sys

    from firestream_core.cli.progress import format_plan, use_color

    project = load_project(args)
    # as apply: an upgrade the API server will refuse (an immutable field), a change whose chart
    # does not render with its values, is shown refused
    plan = project.refuse_before_apply(project.plan(selection(args, project)))
    if getattr(args, "hooks", False):
        from firestream_core.ops.helm_hooks import (
            print_plan_hooks,  # which helm hooks each change fires
        )

        _, helm, kubectl = project.tools()
        target = project.hooks_input()
        if not args.json:
            print(plan_header(project) + format_plan(plan, color=use_color(args, sys.stdout)), end="")
            print(print_plan_hooks(target, plan, False, helm, kubectl), end="")
        else:
            print(plan_json(project, plan, print_plan_hooks(target, plan, True, helm, kubectl)))
    elif args.json:
        from firestream_core.cli.logs import redact

        print(redact(plan_json(project, plan)))
    else:
        print(plan_header(project) + format_plan(plan, color=use_color(args, sys.stdout)), end="")
    if plan.problems:
        from firestream_core.errors import PrerequisiteError

        raise PrerequisiteError("the plan refuses " + "; ".join(p for _, p in plan.problems))
    if getattr(args, "out", None):
        from firestream_core.deploy.saved import apply_command

        saved = project.save_plan(plan, args.out, include_deps=args.include_deps)
        if not args.json:
            command = apply_command(saved, args.out, flags=target_flags(args), values_files=args.values_files)
            print(f"Plan saved to {args.out}: '{command}' carries out exactly this plan.")
    if args.detailed_exitcode:
        return 2 if plan.has_changes else 0
    return 0
