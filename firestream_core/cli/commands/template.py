"""``firestream template``: render every release locally with ``helm template``.

Releases are rendered in dependency order. Without ``--output-dir`` the
manifests go to stdout, each introduced by a ``# release: NAME`` comment;
with it, one ``<release>.yaml`` per release (mode 0600: rendered Secrets hold
values). What is printed never holds a secret: each Secret's ``data`` /
``stringData`` values show as ``<hidden>``, and a sensitive value (a declared
secret, a password-like key's value, a Secret's value) shows as ``***``
wherever else the chart put it (docs/secrets.md); the files are whole. Each release is rendered from the desired state apply deploys (the
values plugins contribute included); a release with such values gets a
``# note:`` line naming them, since they may name objects only apply creates
(a Secret made in ``pre_exec``).
"""

from __future__ import annotations

import argparse
import os

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
    notes: dict[str, str] = {}
    rendered = project.template(args.output_dir, targets=selection(args, project), notes=notes, masked=True)
    if args.output_dir:
        for name in rendered:
            note = f" ({notes[name]})" if name in notes else ""
            print(f"{name}: {os.path.join(args.output_dir, name + '.yaml')}{note}")  # rendered/ -> rendered/db.yaml
        return 0
    for name, text in rendered.items():
        print(f"---\n# release: {name}")
        if name in notes:
            print(f"# note: {notes[name]}")
        print(text.rstrip("\n"))
    return 0
