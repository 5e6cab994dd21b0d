"""``firestream new chart NAME [--dir DIR]``: a chart plugin package, ready to test and publish.

Writes ``DIR/firestream-chart-NAME/`` (see :mod:`firestream_core.scaffold`)
and prints the next steps. Refuses an invalid name or an existing target
without writing anything. Warns (and still writes) when an installed plugin
already provides the chart type ``NAME``: two plugins registering one chart
type make it unusable until one is uninstalled.
"""

from __future__ import annotations

import argparse
import logging

KINDS = ("chart",)


EXAMPLES = """
firestream new chart redis
firestream new chart my-app --dir ~/src
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``KIND`` (``chart``), ``NAME`` and ``--dir``."""
    parser.add_argument("kind", choices=KINDS, metavar="KIND", help="what to create: chart")
    parser.add_argument(
        "name",
        metavar="NAME",
        help="the chart type's name: lower-case letters, digits and '-' (e.g. redis, my-app)",
    )
    parser.add_argument(
        "--dir",
        default=".",
        metavar="DIR",
        help="existing folder to create firestream-chart-NAME/ in (default: the current one)",
    )


def _already_provided(name: str, disabled: list[str]) -> str | None:
    """Who already provides chart type ``name`` among the installed plugins, if anyone."""
    from firestream_core.plugin.manager import get_plugin_manager

    manager = get_plugin_manager(disabled=disabled)
    reg = manager.chart_types.get(name)
    if reg is not None:
        return reg.origin
    clash = manager.conflicts.get(name)
    return " and ".join(r.origin for r in clash) if clash else None


def run(args: argparse.Namespace) -> int:
    """Generate the package; 0 on success (errors raise ``ScaffoldError``, exit 1)."""
    from firestream_core.scaffold import chart_names, new_chart_plugin

    names = chart_names(args.name)  # a bad name is refused before plugins are loaded
    target = new_chart_plugin(names.name, args.dir)
    who = _already_provided(names.name, list(getattr(args, "disable_plugin", []) or []))
    if who:
        logging.getLogger("firestream").warning(
            "chart type '%s' is already provided by plugin %s; installing both makes "
            "'%s' unusable until one is uninstalled",
            names.name,
            who,
            names.name,
        )
    print(f"created {target}/")
    print(f"  {names.package}/chart.py     the chart, its presets and options")
    print(f"  {names.package}/__init__.py  the hooks (validate; the others in comments)")
    print("  tests/                       discovery and a real helm 3/4 deploy on an emulated cluster")
    print("  .github/workflows/           test, and publish to PyPI with trusted publishing")
    print("next:")
    print(f"  cd {target}")
    print("  python -m pip install -e '.[test]'")
    print("  python -m pytest")
    return 0
