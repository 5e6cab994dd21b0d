"""``firestream template``: render every release locally with ``helm template``.

Releases are rendered in dependency order. Without ``--output-dir`` the
manifests go to stdout, each introduced by a ``# release: NAME`` comment;
with it, one ``<release>.yaml`` per release (mode 0600: rendered Secrets hold
values).
"""

from __future__ import annotations

import argparse

EXAMPLES = """
firestream template
firestream template --target api --set image.tag=dev
firestream template --output-dir rendered/
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from firestream_core.cli.commands.plan import add_override_arguments, add_target_arguments

    add_target_arguments(parser)
    add_override_arguments(parser)
    parser.add_argument("--output-dir", metavar="DIR", default=None,
                        help="write <release>.yaml files there instead of printing")


def run(args: argparse.Namespace) -> int:
    """Render and print (or write) the manifests."""
    from firestream_core.cli.commands.plan import load_project, selection

    project = load_project(args)
    rendered = project.template(args.output_dir, targets=selection(args, project))
    if args.output_dir:
        for name in rendered:
            print(f"{name}: {args.output_dir}/{name}.yaml")
        return 0
    for name, text in rendered.items():
        print(f"---\n# release: {name}")
        print(text.rstrip("\n"))
    return 0
