"""Orchestration overhead (issue 13): firestream apply beside helmfile 0.166, on a fake helm that costs nothing.

Run by hand (never a test)::

    .venv/bin/python -m firestream_testing.tools --with-helmfile   # once: installs .tools/helmfile
    .venv/bin/python bench/overhead_bench.py                        # ~10-20 min on a busy machine
    .venv/bin/python bench/overhead_bench.py --quick                # small shapes only
    .venv/bin/python bench/overhead_bench.py --only chain-40 --repeats 9   # one shape, more rounds
    git worktree add --detach /tmp/fs-main main                     # before/after, interleaved:
    .venv/bin/python bench/overhead_bench.py --compare-tree /tmp/fs-main

**firestream as installed**: by default ``firestream apply`` runs from a fresh
environment with firestream-core and the chart plugins installed from wheels
of this checkout (``bench/installed.py``), as operators run it;
``--environment current`` runs this checkout in this interpreter's
environment instead, where a bootstrapped ``.venv``'s editable installs add
about 14 ms to every interpreter's start (helmfile pays nothing alike). With
``--compare-tree`` the *before* runs use the same environment, with the other
checkout's ``firestream_core`` first on ``sys.path``.

**The fakes** are bash scripts made of builtins only (no fork per call):
``helm`` answers ``version``, ``list``, ``status``, ``show``, ``upgrade``
(the release's delay slept with ``read -t`` on a FIFO nobody writes, its
start and end logged from ``$EPOCHREALTIME``); ``kubectl`` answers an empty
list. A call costs what bash's start-up costs (a few ms, like a Go binary's
start-up), so firestream's own overhead is not hidden behind the fake's.

**Shapes**: ``wide-200`` (200 independent instant releases), ``chain-40``
(40 in a chain, 20 ms each), ``random-120`` (seeded DAG, 120 releases,
0-3 dependencies on earlier ones, 10-100 ms each), ``instant-100`` and
``instant-1000`` (independent, instant; the growth check compares them),
each at concurrency 0 (unlimited) and 8. Each cell runs ``firestream apply
--yes`` (the CLI, in a child Python that reports its own CPU time and peak
RSS) and ``helmfile sync`` in fresh folders, interleaved, and reports:

* *wall*: the command's wall time (start-up and plan included);
* *first*: from the command's launch to the first upgrade's start (start-up,
  config and plan: what no release can overlap);
* *span*: first upgrade start to last upgrade end, from the fake's log;
* *bound*: the critical path at c0, max(critical path, work / 8) at c8;
* *ratio*: span / bound (``-`` when the bound is 0);
* *ms/rel*: (span - bound) / releases: what each release adds to the run
  beyond the work itself (the fake's own calls included);
* *cpu/rel*: firestream's own CPU seconds (user + system, children not
  counted) / releases, start-up and plan included: everything firestream
  itself does per release;
* *RSS*: peak resident set of the firestream process / of helmfile;
* with ``--compare-tree DIR``: *before* wall, span and cpu/rel of the
  firestream checked out in ``DIR``, run in the same rounds, and
  *fs/before* (wall).

Then the dispatch check (in-process, the scheduler with work that records
when it was entered): the largest gap between consecutive roots of
``random-120`` and between the 20 dependents a finished release unblocks at
once. Last, a verdict line per target of issue 13: ``met`` or ``MISSED``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from firestream_core.deploy.scheduler import Scheduler, critical_path  # noqa: E402

FAKE_HELM = r"""#!/bin/bash
# fake helm: bash builtins only; a release's delay is slept with read -t on a FIFO nobody writes
case "$1" in
  version)
    case "$*" in
      *--template*) printf 'v3.19.0' ;;
      *--short*) printf 'v3.19.0+g3d8990f\n' ;;
      *) printf 'version.BuildInfo{Version:"v3.19.0", GitCommit:"3d8990f", GitTreeState:"clean", GoVersion:"go1.24.7"}\n' ;;
    esac ;;
  list) printf '[]\n' ;;
  upgrade)
    t0=$EPOCHREALTIME
    shift; [[ $1 == --install ]] && shift; name=$1; ns=default
    while (($#)); do [[ $1 == --namespace ]] && ns=$2; shift; done
    if [[ -f $FAKE_DIR/delay/$name ]]; then
      read -r d < "$FAKE_DIR/delay/$name"
      read -rt "$d" <> "$FAKE_DIR/fifo"
    fi
    printf '%s %s %s\n' "$name" "$t0" "$EPOCHREALTIME" >> "$FAKE_DIR/upgrades.log"
    printf '{"name":"%s","namespace":"%s","version":1,"info":{"status":"deployed"}}\n' "$name" "$ns" ;;
  status)
    printf '{"name":"%s","namespace":"bench","version":1,"info":{"status":"deployed"}}\n' "$2" ;;
  show) printf 'apiVersion: v2\nname: bench\nversion: 0.1.0\n' ;;
  *) printf '{}\n' ;;
esac
"""

FAKE_KUBECTL = r"""#!/bin/bash
printf '{"apiVersion": "v1", "kind": "List", "items": []}\n'
"""

FS_CHILD = """
import atexit, json, resource, sys, time
if {root!r}:
    sys.path.insert(0, {root!r})
t0 = time.monotonic()
def report(rc=None):
    u = resource.getrusage(resource.RUSAGE_SELF)
    with open({out!r}, "w") as f:
        json.dump({{"rc": rc, "cpu": u.ru_utime + u.ru_stime, "rss_kb": u.ru_maxrss, "wall": time.monotonic() - t0}}, f)
import firestream_core.cli.main as cli
if hasattr(cli, "console"):  # the console script's entry (its exit runs the atexit handlers)
    atexit.register(report)
    cli.console()
try:
    rc = cli.main()  # a checkout before console(): as its console script called it
except SystemExit as exc:
    rc = exc.code
report(rc)
"""


@dataclass
class Shape:
    name: str
    deps: dict[str, list[str]]
    durations: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.durations.values())

    def bound(self, conc: int) -> float:
        cp = critical_path(self.deps, self.durations)
        return cp if conc == 0 else max(cp, self.total / conc)

    @property
    def edges(self) -> int:
        return sum(len(d) for d in self.deps.values())


def shapes(quick: bool = False) -> list[Shape]:
    out = [
        Shape("wide-200", {f"w{i:03d}": [] for i in range(200)}, {f"w{i:03d}": 0.0 for i in range(200)}),
        Shape("chain-40", {f"c{i:02d}": ([f"c{i - 1:02d}"] if i else []) for i in range(40)},
              {f"c{i:02d}": 0.02 for i in range(40)}),
    ]
    rng = random.Random(13)
    deps: dict[str, list[str]] = {}
    durations: dict[str, float] = {}
    for i in range(120):
        name = f"r{i:03d}"
        earlier = list(deps)
        k = min(len(earlier), rng.choice((0, 1, 1, 2, 2, 2, 3)))
        deps[name] = sorted(rng.sample(earlier[-40:], k)) if k else []
        durations[name] = round(rng.uniform(0.01, 0.1), 3)
    out.append(Shape("random-120", deps, durations))
    out.append(Shape("instant-100", {f"i{i:04d}": [] for i in range(100)}, {f"i{i:04d}": 0.0 for i in range(100)}))
    if not quick:
        out.append(Shape("instant-1000", {f"i{i:04d}": [] for i in range(1000)},
                         {f"i{i:04d}": 0.0 for i in range(1000)}))
    return out


class Folder:
    """One run's folder: fake helm and kubectl, a chart, helmfile.yaml and firestream.toml."""

    def __init__(self, root: Path, shape: Shape) -> None:
        root.mkdir(parents=True)
        self.root = root
        (root / "delay").mkdir()
        os.mkfifo(root / "fifo")
        for name, seconds in shape.durations.items():
            if seconds > 0:
                (root / "delay" / name).write_text(f"{seconds}\n")
        self.helm = root / "helm"
        self.helm.write_text(FAKE_HELM)
        self.helm.chmod(0o755)
        self.kubectl = root / "kubectl"
        self.kubectl.write_text(FAKE_KUBECTL)
        self.kubectl.chmod(0o755)
        chart = root / "chart"
        (chart / "templates").mkdir(parents=True)
        (chart / "Chart.yaml").write_text("apiVersion: v2\nname: bench\nversion: 0.1.0\n")
        lines = ["releases:"]
        toml = []
        for name, ds in shape.deps.items():
            lines += [f"- name: {name}", "  namespace: bench", "  chart: ./chart"]
            toml.append(f'[[deployments.generic]]\nname = "{name}"\nnamespace = "bench"\npath = "chart"\n')
            if ds:
                lines.append("  needs: [" + ", ".join(f"bench/{d}" for d in ds) + "]")
                toml.append("depends_on = [" + ", ".join(f'"{d}"' for d in ds) + "]\n")
            toml.append("\n")
        (root / "helmfile.yaml").write_text("\n".join(lines) + "\n")
        (root / "firestream.toml").write_text("".join(toml))
        # FAKE_DIR reaches the fake helm only when named: firestream's children get an
        # allow-listed environment (docs/secrets.md)
        self.env = {**os.environ, "FAKE_DIR": str(root), "FIRESTREAM_KUBECTL_BINARY": str(self.kubectl),
                    "FIRESTREAM_PLUGIN_CACHE": "on", "FIRESTREAM_CHILD_ENV": "FAKE_DIR"}
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)

    def span(self) -> tuple[float, int]:
        rows = [line.split() for line in (self.root / "upgrades.log").read_text().splitlines()]
        starts = [float(r[1]) for r in rows]
        ends = [float(r[2]) for r in rows]
        return max(ends) - min(starts), len(rows)

    def first_upgrade(self, launched: float) -> float:
        """Seconds from ``launched`` (``time.time()`` before the command started) to the
        first upgrade's start (the fake logs ``$EPOCHREALTIME``, the same clock)."""
        rows = [line.split() for line in (self.root / "upgrades.log").read_text().splitlines()]
        return min(float(r[1]) for r in rows) - launched


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, float, int]:
    """(exit status, wall, peak RSS in kB of the child and what it waited for)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, time.monotonic() - t0, usage.ru_maxrss
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            return -9, timeout, 0
        time.sleep(0.01)


def run_firestream(f: Folder, conc: int, timeout: float, python: str, root: Path | None = None) -> dict[str, float]:
    """``firestream apply --yes`` on ``f`` by ``python``: the firestream installed in its
    environment, or the one checked out in ``root`` (put first on ``sys.path``)."""
    out = f.root / "fs-usage.json"
    code = FS_CHILD.format(root=str(root) if root else "", out=str(out))
    argv = [python, "-c", code, "apply", "--yes", "-f", str(f.root / "firestream.toml"),
            "--helm-binary", str(f.helm), "--concurrency", str(conc)]
    launched, t0 = time.time(), time.monotonic()
    proc = subprocess.Popen(argv, cwd=f.root, env=f.env, stdout=subprocess.DEVNULL,  # noqa: S603
                            stderr=open(f.root / "fs.err", "wb"))  # noqa: SIM115
    rc, _, _ = _wait(proc, timeout)
    wall = time.monotonic() - t0
    if rc != 0:
        tail = (f.root / "fs.err").read_text()[-600:]
        raise RuntimeError(f"firestream apply failed ({rc}) in {f.root}: {tail}")
    usage = json.loads(out.read_text())
    span, n = f.span()
    return {"wall": wall, "span": span, "first": f.first_upgrade(launched), "upgrades": n, "cpu": usage["cpu"],
            "rss_mb": usage["rss_kb"] / 1024}


def run_helmfile(f: Folder, helmfile: str, conc: int, timeout: float) -> dict[str, float] | None:
    argv = [helmfile, "--helm-binary", str(f.helm), "--file", "helmfile.yaml", "sync",
            "--concurrency", str(conc), "--skip-deps"]
    launched, t0 = time.time(), time.monotonic()
    proc = subprocess.Popen(argv, cwd=f.root, env=f.env, stdout=subprocess.DEVNULL,  # noqa: S603
                            stderr=open(f.root / "hf.err", "wb"))  # noqa: SIM115
    rc, _, rss = _wait(proc, timeout)
    wall = time.monotonic() - t0
    if rc == -9:
        return None
    if rc != 0:
        raise RuntimeError(f"helmfile failed ({rc}) in {f.root}: {(f.root / 'hf.err').read_text()[-600:]}")
    span, n = f.span()
    return {"wall": wall, "span": span, "first": f.first_upgrade(launched), "upgrades": n, "rss_mb": rss / 1024}


APPLY_LIBRARIES = ("attrs", "cattrs", "pluggy", "yaml", "tomllib", "logging", "argparse", "json", "subprocess",
                   "threading")
"""What ``firestream apply`` imports from outside firestream before its first release."""


def libraries_floor(python: str, runs: int = 5) -> float:
    """Median seconds of a bare interpreter importing :data:`APPLY_LIBRARIES`: the part of
    firestream's time to its first upgrade that no change to firestream's own code removes."""
    code = "import " + ", ".join(APPLY_LIBRARIES)
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        subprocess.run([python, "-c", code], check=True)  # noqa: S603
        times.append(time.monotonic() - t0)
    return statistics.median(times)


def med(rows: Sequence[Mapping[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


# -- dispatch: roots and newly unblocked releases, in-process -------------------------------------


def dispatch_gaps(shape: Shape, repeats: int) -> tuple[float, float]:
    """(largest gap between consecutive roots entering their work, same for a fan-out of 20), ms."""
    roots = [n for n, d in shape.deps.items() if not d]
    fan = {"hub": [], **{f"leaf{i:02d}": ["hub"] for i in range(20)}}
    root_gaps, fan_gaps = [], []
    for _ in range(repeats):
        for deps, names, gaps in ((shape.deps, roots, root_gaps), (fan, [f"leaf{i:02d}" for i in range(20)], fan_gaps)):
            entered: dict[str, float] = {}
            lock = threading.Lock()

            def work(name: str, entered: dict[str, float] = entered, lock: threading.Lock = lock) -> None:
                with lock:
                    entered[name] = time.monotonic()
                time.sleep(0.01)

            Scheduler(0).run(deps, work)
            times = sorted(entered[n] for n in names)
            gaps.append(max(b - a for a, b in zip(times, times[1:], strict=False)) * 1000)
    return statistics.median(root_gaps), statistics.median(fan_gaps)


# -- main ------------------------------------------------------------------------------------------


def fmt(v: float | None, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3, help="runs per cell (median; the 1,000-release verdicts too)")
    p.add_argument("--quick", action="store_true", help="no 1,000-release shape, 1 repeat")
    p.add_argument("--only", metavar="SHAPES",
                   help="only these shapes, comma-separated (e.g. chain-40,wide-200): their cells and the "
                   "verdicts they decide")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds one helmfile / firestream run may take")
    p.add_argument("--environment", choices=("installed", "current"), default="installed",
                   help="installed (default): firestream from wheels of this checkout in a fresh environment "
                   "(bench/installed.py), as operators run it; current: this checkout in this interpreter's "
                   "environment")
    p.add_argument("--compare-tree", type=Path, metavar="DIR",
                   help="also run the firestream checked out in DIR (e.g. a worktree of main), interleaved "
                   "with the others: columns 'before' and 'fs/before'")
    args = p.parse_args(argv)
    before_root: Path | None = args.compare_tree.resolve() if args.compare_tree else None
    repeats = 1 if args.quick else args.repeats
    run_shapes = shapes(args.quick)
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - {sh.name for sh in shapes()})
        if unknown:
            print(f"unknown shape(s): {', '.join(unknown)}; shapes: {', '.join(sh.name for sh in shapes())}")
            return 2
        run_shapes = [sh for sh in shapes() if sh.name in wanted]
    helmfile = shutil.which("helmfile") or str(ROOT / ".tools" / "helmfile")
    if not Path(helmfile).exists():
        print("helmfile not found: run  .venv/bin/python -m firestream_testing.tools --with-helmfile")
        return 2
    version = subprocess.run([helmfile, "--version"], capture_output=True, text=True).stdout.strip()  # noqa: S603
    load = os.getloadavg()
    print(f"{version}; python {sys.version.split()[0]}; {os.cpu_count()} cpus; "
          f"load average at start {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    tmp = Path(tempfile.mkdtemp(prefix="fs-overhead-"))
    if args.environment == "installed":
        from installed import describe, prepare

        python, fs_root = str(prepare(tmp / "env")), None
        print(describe(Path(python)))
    else:
        python, fs_root = sys.executable, ROOT
        print(f"firestream checked out in {ROOT}, in this environment ({sys.prefix})")
    for tree in (t for t in (fs_root, before_root) if t is not None):  # its bytecode, as an install leaves it
        subprocess.run([python, "-m", "compileall", "-q", str(tree / "firestream_core")], check=True,  # noqa: S603
                       stdout=subprocess.DEVNULL)
    results: dict[tuple[str, int], dict[str, dict[str, float] | None]] = {}
    header = (f"{'shape':<13}{'conc':>4} {'rel':>5} {'edges':>5} {'bound':>6} | {'fs wall':>7} {'first':>5} "
              f"{'fs span':>7} {'ratio':>5} {'ms/rel':>6} {'cpu/rel':>7} {'RSS MB':>6} | {'hf wall':>7} "
              f"{'first':>5} {'hf span':>7} {'ratio':>5} {'ms/rel':>6} {'RSS MB':>6} | fs/hf"
              + (f" | {'before wall':>11} {'span':>6} {'cpu/rel':>7} | fs/before" if before_root else ""))
    print("\n" + header + "\n" + "-" * len(header))
    counter = 0
    for shape in run_shapes:
        n = len(shape.deps)
        reps = repeats  # the per-release and growth verdicts read instant-1000: a median, not one run
        for conc in (0, 8):
            fs_runs: list[dict[str, float]] = []
            hf_runs: list[dict[str, float]] = []
            before_runs: list[dict[str, float]] = []
            hf_timeout = False
            for _ in range(reps):
                for tool in ("fs", "hf", "before") if before_root else ("fs", "hf"):
                    counter += 1
                    folder = Folder(tmp / f"{counter:03d}-{tool}-{shape.name}-c{conc}", shape)
                    if tool == "fs":
                        fs_runs.append(run_firestream(folder, conc, args.timeout, python, fs_root))
                    elif tool == "before":
                        before_runs.append(run_firestream(folder, conc, args.timeout, python, before_root))  # type: ignore[arg-type]
                    elif not hf_timeout:
                        got = run_helmfile(folder, helmfile, conc, args.timeout)
                        if got is None:
                            hf_timeout = True
                        else:
                            hf_runs.append(got)
                    shutil.rmtree(folder, ignore_errors=True)
            bound = shape.bound(conc)
            fs = {k: med(fs_runs, k) for k in fs_runs[0]}
            hf = {k: med(hf_runs, k) for k in hf_runs[0]} if hf_runs else None
            results[(shape.name, conc)] = {"fs": fs, "hf": hf, "bound": {"v": bound, "n": n}}
            fs_ratio = fs["span"] / bound if bound > 0 else None
            hf_ratio = hf["span"] / bound if hf and bound > 0 else None
            fs_per = (fs["span"] - bound) / n * 1000
            hf_per = (hf["span"] - bound) / n * 1000 if hf else None
            print(f"{shape.name:<13}{conc:>4} {n:>5} {shape.edges:>5} {bound:>6.2f} | {fs['wall']:>7.2f} "
                  f"{fs['first']:>5.2f} {fs['span']:>7.2f} {fmt(fs_ratio):>5} {fs_per:>6.2f} "
                  f"{fs['cpu'] / n * 1000:>7.2f} {fs['rss_mb']:>6.1f} | {fmt(hf['wall'] if hf else None):>7} "
                  f"{fmt(hf['first'] if hf else None):>5} "
                  f"{fmt(hf['span'] if hf else None):>7} {fmt(hf_ratio):>5} {fmt(hf_per):>6} "
                  f"{fmt(hf['rss_mb'] if hf else None, '.1f'):>6} | "
                  f"{fmt(fs['wall'] / hf['wall'] if hf else None)}"
                  + (f" | {med(before_runs, 'wall'):>11.2f} {med(before_runs, 'span'):>6.2f} "
                     f"{med(before_runs, 'cpu') / n * 1000:>7.2f} | {fs['wall'] / med(before_runs, 'wall'):.2f}"
                     if before_runs else "")
                  + ("  (helmfile timed out)" if hf_timeout else ""), flush=True)
    floor = libraries_floor(python)
    shutil.rmtree(tmp, ignore_errors=True)
    hf_firsts = [r["hf"]["first"] for r in results.values() if r["hf"]]  # type: ignore[index]
    print(f"\nstart-up floor (median of 5): python importing the libraries an apply runs on, and no "
          f"firestream code ({', '.join(APPLY_LIBRARIES)}): {floor:.3f} s; helmfile's first upgrade "
          f"(median over the cells above): {statistics.median(hf_firsts):.3f} s" if hf_firsts else "")

    rand = next(s for s in shapes(True) if s.name == "random-120")
    root_gap, fan_gap = dispatch_gaps(rand, 5)
    print(f"\ndispatch (in-process scheduler, median of 5): largest gap between consecutive roots of "
          f"random-120 entering their work {root_gap:.3f} ms; between the 20 releases one release "
          f"unblocks {fan_gap:.3f} ms")

    print("\nverdicts" + (f" (only the shapes run: {', '.join(sh.name for sh in run_shapes)})" if args.only else "")
          + ":")
    verdicts: list[tuple[str, bool]] = []
    faster = [(k, r["fs"]["wall"] < r["hf"]["wall"]) for k, r in results.items() if r["hf"]]  # type: ignore[index]
    slow = [f"{k[0]} c{k[1]}" for k, ok in faster if not ok]
    missing = [f"{k[0]} c{k[1]}" for k, r in results.items() if not r["hf"]]
    verdicts.append(("firestream faster than helmfile (wall) on every shape"
                     + (f"; slower on {', '.join(slow)}" if slow else "")
                     + (f"; helmfile did not finish {', '.join(missing)}" if missing else ""), not slow))
    for conc, factor in ((0, 1.05), (8, 1.10)) if ("random-120", 8) in results else ():
        r = results[("random-120", conc)]
        bound = r["bound"]["v"]  # type: ignore[index]
        span = r["fs"]["span"]  # type: ignore[index]
        limit = factor * bound + 0.1
        verdicts.append((f"random-120 c{conc}: span {span:.3f} s <= {factor:.2f} x bound {bound:.3f} + 0.1 = "
                         f"{limit:.3f} s", span <= limit))
    if ("instant-1000", 8) in results:
        for conc in (0, 8):
            r = results[("instant-1000", conc)]
            cpu = r["fs"]["cpu"] / 1000 * 1000  # type: ignore[index]
            verdicts.append((f"per-release work at 1,000 releases c{conc}: firestream cpu {cpu:.2f} ms <= 5 ms",
                             cpu <= 5.0))
            rss = r["fs"]["rss_mb"]  # type: ignore[index]
            verdicts.append((f"1,000-release apply c{conc}: peak RSS {rss:.1f} MB <= 120 MB", rss <= 120.0))
    if ("instant-1000", 8) in results and ("instant-100", 8) in results:
        for conc in (0, 8):
            big = results[("instant-1000", conc)]["fs"]["span"] / 1000  # type: ignore[index]
            small = results[("instant-100", conc)]["fs"]["span"] / 100  # type: ignore[index]
            verdicts.append((f"growth c{conc}: span/release at 1,000 {big * 1000:.2f} ms <= 1.5 x at 100 "
                             f"{small * 1000:.2f} ms", big <= 1.5 * small))
    verdicts.append((f"dispatch: roots {root_gap:.3f} ms and newly unblocked {fan_gap:.3f} ms apart <= 1 ms",
                     root_gap <= 1.0 and fan_gap <= 1.0))
    for text, ok in verdicts:
        print(f"  {'met   ' if ok else 'MISSED'}  {text}")
    print("(start-up targets: bench/startup.py)")
    return 0 if all(ok for _, ok in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
