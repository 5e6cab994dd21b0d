"""Start-up cost of the ``firestream`` command, side by side with a bare interpreter.

Runs, interleaved so that machine noise hits every case alike, N times each:

* ``python -c pass`` (the floor),
* ``firestream --version`` (target: within 1.5x of the floor),
* ``firestream plugins`` (target: within 2.5x, with the installed plugins:
  the five built-in chart plugins in a bootstrapped checkout),
* ``firestream validate`` on a generated 10-release project (target: within 2.5x),

and prints the medians, the ratio to the floor and whether each target is
met. Not a test: timings belong here, never in assertions.

The cases run in two environments, interleaved, each against its own
``python -c pass``: firestream *as installed* (a fresh environment with
firestream-core and the five chart plugins installed from wheels of this
checkout, ``bench/installed.py``, as an operator's pip installs them), and
this interpreter's environment (a bootstrapped ``.venv``, where the editable
installs' path finders add about 14 ms to every interpreter's start,
``python -c pass`` included, which flatters every ratio). ``--environment``
picks one. Three more rows without a target are floors: ``python -c 'import
re'`` is what the console script pip writes imports before any firestream
code runs; ``python + CLI libs`` imports what every command but
``--version`` is built on (argparse, logging, json, and that ``re``);
``python + config libs`` what a config check is built on (attrs, cattrs,
pluggy, tomllib, logging, argparse): the part of ``validate``'s time no
change to firestream's own code removes.

With ``--compare-tree DIR`` (a checkout of an earlier commit, e.g. ``git
worktree add --detach /tmp/fs-before <commit>``) the three firestream
commands also run from that checkout, interleaved with the others: a copy of
the console script that imports that checkout's ``firestream_core`` (put first
on ``sys.path``, this environment's editable finder for it set aside), with
the same interpreter and installed plugins.

    python bench/startup.py [-n 30] [--json] [--compare-tree DIR] [--environment installed|current|both]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEN_RELEASES = "\n".join(
    ['[project]\nname = "startup"\n\n[repositories]\nfixtures = "http://127.0.0.1:9/fixtures"\n']
    + [
        f'[[deployments.generic]]\nname = "r{i}"\nchart = "tiny-app"\nrepository = "fixtures"\n'
        f'version = "0.1.0"\nnamespace = "default"\n'
        + (f'depends_on = ["r{i - 1}"]\n' if i % 3 else "")
        for i in range(10)
    ]
)


BEFORE_SCRIPT = """import re
import sys
sys.path.insert(0, {tree!r})
sys.meta_path[:] = [f for f in sys.meta_path if "firestream_core" not in getattr(f, "__module__", "")]
from firestream_core.cli.main import main
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
    sys.exit(main())
"""
"""The console script pip writes, importing ``firestream_core`` from another checkout."""


def _firestream(python: str) -> list[str]:
    """The installed console script next to ``python``, else ``python -m``."""
    script = Path(python).with_name("firestream")
    if script.exists():
        return [str(script)]
    found = shutil.which("firestream") if python == sys.executable else None
    return [found] if found else [python, "-m", "firestream_core.cli.main"]


def _time(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)  # noqa: S603
    elapsed = time.perf_counter() - start
    if r.returncode not in (0, 1):  # plugins exits 1 when a plugin is broken: still timed
        raise SystemExit(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.decode()[-500:]}")
    return elapsed


def _plugin_count(fs: list[str], env: dict[str, str]) -> tuple[int, int]:
    out = subprocess.run([*fs, "plugins", "--json"], capture_output=True, text=True, env=env)  # noqa: S603
    try:
        doc = json.loads(out.stdout)
    except json.JSONDecodeError:
        return 0, 0
    entry_points = [p for p in doc["plugins"] if not p.get("builtin")]
    return len(entry_points), len(doc["broken"])


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="fs-startup-"))
    try:
        return _main(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


ENVIRONMENTS = ("installed", "current")
LABEL = {"installed": "installed", "current": ".venv"}


def _main(workdir: Path) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=30, help="runs per case (default 30)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--compare-tree", metavar="DIR",
                        help="also run the commands from this checkout, interleaved")
    parser.add_argument("--environment", choices=(*ENVIRONMENTS, "both"), default="both",
                        help="installed: a fresh environment with wheels of this checkout "
                        "(bench/installed.py); current: this interpreter's environment; "
                        "both (default): the two, interleaved, each against its own python -c pass")
    args = parser.parse_args()

    # As installed: bytecode cached (this environment may set PYTHONDONTWRITEBYTECODE,
    # which would make every run recompile every module) and no plugin disabled.
    drop = {"FIRESTREAM_DISABLE_PLUGINS", "PYTHONDONTWRITEBYTECODE"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    project = workdir / "firestream.toml"
    project.write_text(TEN_RELEASES)
    environments = ENVIRONMENTS if args.environment == "both" else (args.environment,)
    where: dict[str, str] = {}
    cases: dict[str, dict[str, list[str]]] = {}
    for name in environments:
        if name == "installed":
            from installed import describe, prepare

            python = str(prepare(workdir / "env"))
            where[name] = describe(Path(python))
        else:
            python = sys.executable
            where[name] = f"firestream in this interpreter's environment ({sys.prefix}, editable installs)"
        fs = _firestream(python)
        group = {
            "python -c pass": [python, "-c", "pass"],
            # no target: what pip's console script imports before any firestream code runs
            "python -c 'import re'": [python, "-c", "import re"],
            "firestream --version": [*fs, "--version"],
            "firestream plugins": [*fs, "plugins"],
            # no target: the libraries every command but --version is built on (its parser, its
            # log lines, JSON), and the console script's own import re
            "python + CLI libs": [python, "-c", "import re, argparse, logging, json"],
            "firestream validate": [*fs, "validate", "-f", str(project)],
            # no target: what importing the libraries a config check is built on costs by itself
            "python + config libs": [python, "-c", "import attrs, cattrs, pluggy, tomllib, logging, argparse"],
        }
        if args.compare_tree:
            script = workdir / "firestream-before"
            script.write_text(BEFORE_SCRIPT.format(tree=str(Path(args.compare_tree).resolve())))
            for case in ("firestream --version", "firestream plugins", "firestream validate"):
                group[f"before: {case[11:]}"] = [python, str(script), *group[case][len(fs):]]
        cases[name] = group
    flat = {(e, c): argv for e, group in cases.items() for c, argv in group.items()}
    for argv in flat.values():  # warm the file cache, the plugin cache and the bytecode
        _time(argv, env)
        _time(argv, env)
    samples: dict[tuple[str, str], list[float]] = {k: [] for k in flat}
    for _ in range(args.n):
        for key, argv in flat.items():
            samples[key].append(_time(argv, env))

    med = {k: statistics.median(v) * 1000 for k, v in samples.items()}
    plugins, broken = _plugin_count(_firestream(sys.executable), env)
    results = {}
    for e in environments:
        floor = med[(e, "python -c pass")]
        results[e] = {
            "floor": floor,
            "targets": {
                "firestream --version": (med[(e, "firestream --version")] <= 1.5 * floor, "<= 1.5x bare python"),
                "firestream plugins": (med[(e, "firestream plugins")] <= 2.5 * floor, "<= 2.5x bare python"),
                "firestream validate": (med[(e, "firestream validate")] <= 2.5 * floor,
                                        "<= 2.5x bare python (10 releases)"),
            },
        }
    if args.json:
        print(json.dumps({
            "runs": args.n,
            "entry_point_plugins": plugins,
            "broken_plugins": broken,
            "environments": {e: {
                "where": where[e],
                "median_ms": {c: med[(e, c)] for c in cases[e]},
                "ratio": {c: med[(e, c)] / results[e]["floor"] for c in cases[e]},
                "targets_met": {k: ok for k, (ok, _) in results[e]["targets"].items()},
            } for e in environments},
        }, indent=2))
        return 0

    print(f"{args.n} runs each, every case of every environment interleaved; {plugins} entry-point plugins "
          "installed" + (f", {broken} broken" if broken else ""))
    for e in environments:
        print(f"\n[{LABEL[e]}] {where[e]}")
        print(f"{'case':<24}{'median':>10}{'ratio':>8}  target")
        for case in cases[e]:
            ms = med[(e, case)]
            ok, what = results[e]["targets"].get(case, (None, ""))
            verdict = "" if ok is None else f"{what}: {'met' if ok else 'MISSED'}"
            print(f"{case:<24}{ms:>8.1f}ms{ms / results[e]['floor']:>7.2f}x  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
