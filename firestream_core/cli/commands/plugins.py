"""``firestream plugins [--json] [--check]``: the installed chart plugins.

Lists every loaded plugin (name, distribution, version, chart types, hooks)
and every broken one with its cause (its traceback with ``-v``). Exits 1
when a plugin is broken, two plugins register the same chart type, or
``--check`` finds a problem, so scripts and CI can rely on it.
"""

from __future__ import annotations

import argparse
import sys

EXAMPLES = """
firestream plugins
firestream plugins --check
firestream plugins --json | jq '.plugins[].name'
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--json`` and ``--check``."""
    parser.add_argument("--json", action="store_true", help="print JSON for machines")
    parser.add_argument(
        "--check",
        action="store_true",
        help="also build every chart type's defaults and presets and check them; "
        "report all problems at once",
    )


def run(args: argparse.Namespace) -> int:
    """List the plugins; 0 when every plugin is usable, 1 otherwise."""
    from firestream_core.plugin.manager import get_plugin_manager

    manager = get_plugin_manager(disabled=args.disable_plugin)
    if args.check:  # imports every plugin and the config layer: only when asked
        from firestream_core.config.plugin_check import check_plugins

        problems = check_plugins(manager)
    else:
        problems = manager.problems()
    infos = manager.plugin_infos()
    if args.json:
        import json

        from firestream_core.cli.jsonout import document

        doc = document("plugins", [], **{
            "plugins": [i.to_dict() for i in infos],
            "broken": [
                {**b.to_dict(), **({"traceback": b.traceback} if args.verbose else {})}
                for b in manager.broken
            ],
            "disabled": [n for n in manager.disabled if n not in manager.unknown_disabled()],
            "problems": problems,
        })
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 1 if problems else 0

    rows = [("NAME", "DISTRIBUTION", "VERSION", "CHART TYPES", "HOOKS")]
    for i in infos:
        rows.append(
            (
                i.name,
                i.distribution or "-",
                i.version or "-",
                ", ".join(i.chart_types) or "-",
                ", ".join(i.hooks) or "-",
            )
        )
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    for r in rows:
        print("  ".join(r[c].ljust(widths[c]) for c in range(4)) + "  " + r[4])
    unknown = manager.unknown_disabled()  # warned about: nothing was disabled by them
    disabled = [n for n in manager.disabled if n not in unknown]
    if disabled:
        print(f"\ndisabled: {', '.join(disabled)}")
    if manager.broken:
        print("\nbroken plugins:")
        for b in manager.broken:
            print(f"  {b.origin}: {b.cause}")
            if args.verbose and b.traceback:
                print("    " + b.traceback.rstrip().replace("\n", "\n    "))
    other = [p for p in problems if p not in {b.message for b in manager.broken}]
    if other:
        print("\nproblems:")
        for p in other:
            print(f"  {p}")
    if args.check and not problems:
        print(f"\nchecked {len(infos)} plugins and {len(manager.chart_types)} chart types: no problems")
    return 1 if problems else 0
